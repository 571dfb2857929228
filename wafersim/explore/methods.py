"""Searching a discrete space for the point of lowest score, under a budget of evaluations.

Three methods, each deterministic for a given seed:

* ``grid``: every point when the budget allows; otherwise an evenly spaced
  sub-grid of each axis that fits the budget (what a user with a loop and a
  budget would run).
* ``local`` (the default): a stratified random sample of a quarter of the
  budget, then best-first refinement over the discrete neighbours: the best
  point whose neighbours are not all evaluated has them evaluated, as long as
  its score is among the ``ELITE`` best distinct scores seen; once the elite
  have been refined, the points the ``extra`` hook names (e.g. the Pareto
  front) are refined, then, by turns, the next points down the ranking and
  fresh random points.  A score that improves keeps the search moving
  downhill; going down the ranking and drawing fresh points keep it from
  stopping in the first valley.
* ``random``: a stratified random sample of the budget (a baseline).

Scores are compared as Python values (a number, or a tuple such as
``(tier, value)``), lowest best; ties go to the point evaluated first.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .space import Space

__all__ = ["Trace", "search", "grid_points", "METHODS", "DEFAULT_BUDGET"]

METHODS = ("local", "grid", "random")
#: points a search evaluates unless told otherwise
DEFAULT_BUDGET = 256
#: share of the budget spent on the first random sample of the local method
INIT_SHARE = 0.25
#: points among the best seen whose neighbours the local method refines before anything else
ELITE = 3

Index = tuple[int, ...]


@dataclass
class Trace:
    """What a search evaluated, in order, with each point's score."""
    order: list[Index] = field(default_factory=list)
    scores: dict[Index, Any] = field(default_factory=dict)
    _ranked: list[tuple[Any, int, Index]] = field(default_factory=list)

    def add(self, idx: Index, score: Any) -> None:
        self.scores[idx] = score
        bisect.insort(self._ranked, (score, len(self.order), idx))
        self.order.append(idx)

    def best(self) -> Index | None:
        return self._ranked[0][2] if self._ranked else None

    def ranked(self, top: int | None = None) -> list[Index]:
        """The points evaluated, best first (ties: the earlier evaluated first); the ``top`` best."""
        return [idx for _, _, idx in self._ranked[:top]]


def search(space: Space, score: Callable[[Index], Any], *, budget: int, seed: int = 0, method: str = "local",
           extra: Callable[[Trace], Sequence[Index]] | None = None) -> Trace:
    """Evaluate at most ``budget`` distinct points of ``space`` with ``score`` and return the trace.

    A budget at least the size of the space evaluates every point, whatever the method."""
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}; expected one of {', '.join(METHODS)}")
    if budget < 1:
        raise ValueError(f"budget must be at least 1; got {budget}")
    trace = Trace()
    rng = random.Random(seed)

    def evaluate(idx: Index) -> None:
        if idx not in trace.scores and len(trace.order) < budget:
            trace.add(idx, score(idx))

    if budget >= space.size:
        for idx in space.indices():
            evaluate(idx)
    elif method == "grid":
        for idx in grid_points(space, budget):
            evaluate(idx)
    elif method == "random":
        for idx in _random_sample(space, budget, rng):
            evaluate(idx)
    else:
        _local(space, evaluate, trace, budget, rng, extra)
    return trace


def grid_points(space: Space, budget: int) -> list[Index]:
    """An evenly spaced sub-grid with at most ``budget`` points, both ends of each axis kept
    where it has room: axes keep all their values while the budget allows, the longest axis
    is thinned first."""
    keep = list(space.shape)
    while math.prod(keep) > budget:
        d = max(range(len(keep)), key=lambda k: (keep[k], -k))
        keep[d] -= 1
    axes = [_spread(n, k) for n, k in zip(space.shape, keep)]
    return list(itertools.product(*axes))


def _spread(n: int, k: int) -> list[int]:
    """``k`` indices out of ``range(n)``, evenly spaced, ends included when ``k > 1``."""
    if k >= n:
        return list(range(n))
    if k == 1:
        return [(n - 1) // 2]
    return sorted({round(j * (n - 1) / (k - 1)) for j in range(k)})


def _random_sample(space: Space, count: int, rng: random.Random) -> list[Index]:
    """``count`` distinct points, stratified: on each axis every value appears about equally often
    (a Latin-hypercube-like design), topped up with uniform points where strata collide."""
    count = min(count, space.size)
    columns = []
    for n in space.shape:
        col = [j % n for j in range(count)]
        rng.shuffle(col)
        columns.append(col)
    out: list[Index] = []
    seen: set[Index] = set()
    for idx in zip(*columns) if columns else []:
        if idx not in seen:
            seen.add(idx)
            out.append(idx)
    while len(out) < count:
        idx = tuple(rng.randrange(n) for n in space.shape)
        if idx not in seen:
            seen.add(idx)
            out.append(idx)
    return out


def _local(space: Space, evaluate: Callable[[Index], None], trace: Trace, budget: int, rng: random.Random,
           extra: Callable[[Trace], Sequence[Index]] | None) -> None:
    for idx in _random_sample(space, max(1, int(budget * INIT_SHARE)), rng):
        evaluate(idx)
    refined: set[Index] = set()

    def open_neighbours(idx: Index) -> list[Index]:
        return [n for n in space.neighbours(idx) if n not in trace.scores]

    go_deeper = True
    while len(trace.order) < budget:            # budget < space.size: search() ran the whole space otherwise
        target = next((idx for idx in _elite(trace) if idx not in refined), None)
        if target is None and extra is not None:
            target = next((i for i in extra(trace) if i not in refined), None)
        if target is None:
            # the elite and the extra points are refined: by turns, go on down the ranking
            # or draw a fresh random point
            if go_deeper:
                target = next((idx for idx in trace.ranked() if idx not in refined), None)
            go_deeper = not go_deeper
        if target is not None:
            refined.add(target)
            for n in open_neighbours(target):
                evaluate(n)
            continue
        while True:
            idx = tuple(rng.randrange(n) for n in space.shape)
            if idx not in trace.scores:
                break
        evaluate(idx)


def _elite(trace: Trace) -> list[Index]:
    """The points whose score is among the ``ELITE`` best distinct scores seen, best first: points
    that tie (a plateau, such as a region cap larger than the region) count once, so a tie
    never crowds the next-best point out of refinement."""
    out: list[Index] = []
    distinct = 0
    last = object()
    for score, _, idx in trace._ranked:
        if score != last:
            distinct += 1
            last = score
            if distinct > ELITE:
                break
        out.append(idx)
    return out
