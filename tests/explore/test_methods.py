"""The search methods on synthetic objectives with a known optimum."""

import math

import pytest

from wafersim.explore.methods import Trace, grid_points, search
from wafersim.explore.space import Space

SPACE = Space.of({"batch": list(range(1, 21)), "wafers": list(range(1, 21)), "tp": list(range(1, 11))})
CENTRE = (13, 4, 7)


def bumpy(idx):
    """A bowl around CENTRE with ripples along the first axis: local minima a step apart."""
    return sum((a - b) ** 2 for a, b in zip(idx, CENTRE)) + 3 * math.cos(idx[0])


def optimum(f, space):
    return min(f(i) for i in space.indices())


@pytest.mark.parametrize("seed", range(10))
def test_local_finds_the_optimum_with_a_tenth_of_the_grid(seed):
    best = optimum(bumpy, SPACE)
    trace = search(SPACE, bumpy, budget=SPACE.size // 10, seed=seed)
    assert len(trace.order) == SPACE.size // 10 == len(set(trace.order))
    assert bumpy(trace.best()) == best


def test_local_beats_random_and_a_thinned_grid_on_the_same_budget():
    best = optimum(bumpy, SPACE)
    found = {m: sum(bumpy(search(SPACE, bumpy, budget=SPACE.size // 10, seed=s, method=m).best()) == best
                    for s in range(10)) for m in ("local", "random", "grid")}
    assert found["local"] == 10
    assert found["random"] < 10 and found["grid"] < 10


def test_a_feasible_region_away_from_the_start_is_found():
    """Scores as explore gives them: (0, loss) inside a feasible box, (1, distance to it) outside."""
    def score(idx):
        b, w, t = idx
        if b >= 15 and w >= 15:
            return (0, (t - 2) ** 2 - b - w)
        return (1, max(15 - b, 0) + max(15 - w, 0))

    best = min(score(i) for i in SPACE.indices())
    for seed in range(5):
        assert search(SPACE, score, budget=SPACE.size // 10, seed=seed).scores[
            search(SPACE, score, budget=SPACE.size // 10, seed=seed).best()] == best


def test_same_seed_same_points_other_seed_other_points():
    a = search(SPACE, bumpy, budget=100, seed=3)
    b = search(SPACE, bumpy, budget=100, seed=3)
    c = search(SPACE, bumpy, budget=100, seed=4)
    assert a.order == b.order and a.order != c.order


def test_a_budget_of_the_whole_space_runs_every_point_once():
    small = Space.of({"batch": [1, 2, 3], "wafers": [1, 2]})
    for method in ("local", "grid", "random"):
        trace = search(small, lambda i: i[0], budget=100, method=method)
        assert sorted(trace.order) == sorted(small.indices())


def test_every_method_stays_within_the_budget_and_never_repeats():
    for method in ("local", "grid", "random"):
        trace = search(SPACE, bumpy, budget=57, method=method, seed=1)
        assert len(trace.order) <= 57 and len(set(trace.order)) == len(trace.order)


def test_grid_points_thin_the_longest_axes_and_keep_the_ends():
    pts = grid_points(SPACE, 400)
    assert 300 < len(pts) <= 400
    kept = [sorted({p[d] for p in pts}) for d in range(3)]
    for d, values in enumerate(kept):
        assert values[0] == 0 and values[-1] == SPACE.shape[d] - 1
    assert max(map(len, kept)) - min(map(len, kept)) <= 1          # thinned evenly: 7 x 7 x 8 or so
    small = Space.of({"batch": [1, 2, 3, 4], "tp": [1, 2]})
    assert sorted({p[1] for p in grid_points(small, 4)}) == [0, 1]     # the short axis is left whole


def test_trace_ranks_ties_by_evaluation_order():
    t = Trace()
    for idx, score in (((0,), 2.0), ((1,), 1.0), ((2,), 1.0)):
        t.add(idx, score)
    assert t.best() == (1,) and t.ranked() == [(1,), (2,), (0,)]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        search(SPACE, bumpy, budget=0)
    with pytest.raises(ValueError):
        search(SPACE, bumpy, budget=10, method="annealing")
