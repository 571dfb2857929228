"""The Pareto front of points scored on two objectives."""

from __future__ import annotations

from typing import Sequence

__all__ = ["pareto_front"]


def pareto_front(xs: Sequence[float], ys: Sequence[float], maximize: tuple[bool, bool] = (True, True)) -> list[int]:
    """Indices of the points no other point dominates, in increasing ``x``.

    A point dominates another when it is at least as good on both objectives and
    better on one (``maximize`` says which way is better for each).  Points with
    equal values are all kept.  O(n log n): sort by ``x`` best first, then a
    point is on the front when its ``y`` beats every point with a better ``x``.
    """
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values for {len(ys)} y values")
    sx = 1.0 if maximize[0] else -1.0
    sy = 1.0 if maximize[1] else -1.0
    # best x first; among equal x, best y first, so a tie in x is dominated by the best y of that x
    order = sorted(range(len(xs)), key=lambda i: (-sx * xs[i], -sy * ys[i], i))
    front: list[int] = []
    best_y = -float("inf")      # best (signed) y among points with a strictly better x
    group_y = None              # signed y of the first point of the current x group
    group_x = None
    pending = -float("inf")     # best signed y of the groups already closed
    for i in order:
        x, y = sx * xs[i], sy * ys[i]
        if x != group_x:
            best_y = max(best_y, pending)
            group_x, group_y = x, y
        pending = max(pending, y)
        if y == group_y and y > best_y:
            front.append(i)
    return sorted(front, key=lambda i: (xs[i], ys[i], i))
