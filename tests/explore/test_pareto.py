"""The Pareto front against a brute-force reference: every pair of points compared."""

import random

import pytest

from wafersim.explore.pareto import pareto_front


def brute_force_front(xs, ys, maximize):
    """A point is on the front when no other point is at least as good on both and better on one."""
    sx = 1 if maximize[0] else -1
    sy = 1 if maximize[1] else -1
    out = []
    for i in range(len(xs)):
        dominated = any(sx * xs[j] >= sx * xs[i] and sy * ys[j] >= sy * ys[i]
                        and (sx * xs[j] > sx * xs[i] or sy * ys[j] > sy * ys[i]) for j in range(len(xs)))
        if not dominated:
            out.append(i)
    return sorted(out)


@pytest.mark.parametrize("maximize", [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("seed", range(25))
def test_front_matches_brute_force(seed, maximize):
    rng = random.Random(seed)
    n = rng.randrange(0, 60)
    # few distinct values, so that ties in x, in y and whole duplicates are common
    xs = [float(rng.randrange(8)) for _ in range(n)]
    ys = [float(rng.randrange(8)) for _ in range(n)]
    assert sorted(pareto_front(xs, ys, maximize)) == brute_force_front(xs, ys, maximize)


def test_front_is_in_increasing_x_and_keeps_duplicates():
    xs = [1.0, 2.0, 3.0, 3.0, 0.5, 2.0]
    ys = [5.0, 4.0, 1.0, 1.0, 5.0, 3.0]
    front = pareto_front(xs, ys)
    assert front == [0, 1, 2, 3]            # (0.5, 5) is beaten by (1, 5); (2, 3) by (2, 4)
    assert [xs[i] for i in front] == sorted(xs[i] for i in front)


def test_a_trade_off_curve_is_all_front():
    xs = [float(i) for i in range(10)]
    ys = [float(10 - i) for i in range(10)]
    assert pareto_front(xs, ys) == list(range(10))
    assert pareto_front(xs, ys, (True, False)) == [9]


def test_lengths_must_match():
    with pytest.raises(ValueError):
        pareto_front([1.0], [])
