"""Layout search against grid search: does ``explore`` find the grid's optimum with a tenth of its runs?

Run: ``python benchmarks/bench_explore.py`` prints a table; ``--write`` also writes
``benchmarks/results/explore.json``.  For each case (a system, a model, a space small
enough that its full grid is affordable, an objective and constraints) the full grid
is run once to find the true optimum; then each method runs with a budget of a tenth
of the grid's points, once per seed:

* ``local``: the default search (stratified random sample, then best-first
  refinement over the discrete neighbours, then the Pareto front, then restarts);
* ``random``: the same number of points drawn at random (stratified);
* ``grid``: an evenly thinned grid of that many points (the same for every seed).

A run succeeds when its best feasible value is within 2 % of the grid optimum.  The
table gives the success rate over the seeds, the points evaluated, the evaluations
until the best was first reached (median), the worst gap to the optimum, the median
share of the grid's Pareto front (tokens/s per user against tokens/s per device) that
the search's own front reaches, and seconds per search.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from wafersim import load_model, load_system  # noqa: E402
from wafersim.explore import explore  # noqa: E402
from wafersim.explore.defaults import default_space  # noqa: E402

#: within this relative distance of the grid optimum counts as found
TOLERANCE = 0.02
#: share of the grid's points each method may evaluate
SHARE = 0.1
FIXED = {"prompt_tokens": 2048, "output_tokens": 128, "fidelity": "analytic"}

#: name, system, model, extra axes (replace the default space's), objective, constraints
CASES = [
    ("wse3-70b-per-device", "wse3", "llama-3.1-70b", {}, "per-device", ["fits_on_chip"]),
    ("wse3-70b-tpot", "wse3", "llama-3.1-70b", {}, "tpot", ["fits_on_chip"]),
    ("wse3-70b-per-kw-ttft", "wse3", "llama-3.1-70b", {}, "per-kw", ["fits_on_chip", "ttft_s<=0.3 s"]),
    ("wse3-8b-per-dollar", "wse3", "llama-3.1-8b", {}, "per-dollar", ["fits_on_chip", "tokens_per_s_per_user>=1000"]),
    ("dgx-h100-70b-throughput", "dgx-h100", "llama-3.1-70b",
     {"pp": [1, 2, 4, 8, 16, 32], "replicas": [1, 2, 4, 8]}, "throughput",
     ["fits_on_chip", "devices<=64", "ttft_s<=4 s"]),
    ("gb200-405b-per-device", "gb200-nvl72", "llama-3.1-405b",
     {"pp": [1, 2, 4, 8, 16], "replicas": [1, 2]}, "per-device", ["fits_on_chip", "ttft_s<=10 s"]),
]
METHODS = ("local", "random", "grid")


def _space(system, model, axes):
    from wafersim.explore.space import Axis
    return default_space(system, model, FIXED).with_axes([Axis(k, tuple(v)) for k, v in axes.items()])


def _best(e) -> float | None:
    ok = [p for p in e.best if p.ok]
    return e.objective.value(ok[0].metrics) if ok else None


def _close(value: float | None, optimum: float, maximize: bool) -> bool:
    if value is None:
        return False
    gap = (optimum - value) / abs(optimum) if maximize else (value - optimum) / abs(optimum)
    return gap <= TOLERANCE + 1e-12


def run_case(name, system_name, model_name, axes, objective, constraints, seeds) -> dict:
    system, model = load_system(system_name), load_model(model_name)
    space = _space(system, model, axes)
    t0 = time.perf_counter()
    full = explore(system, model, space=space, objective=objective, constraints=constraints, budget=space.size,
                   **FIXED)
    grid_s = time.perf_counter() - t0
    optimum = _best(full)
    budget = max(1, int(space.size * SHARE))
    row = {"case": name, "system": system_name, "model": model_name, "objective": objective,
           "constraints": constraints, "space": {a.key: list(a.values) for a in space.axes},
           "grid_points": space.size, "grid_seconds": grid_s, "optimum": optimum,
           "optimum_layout": full.best[0].params if full.best else None, "budget": budget, "methods": {}}
    for method in METHODS:
        hits, evals, found_at, secs, values, recall = 0, [], [], [], [], []
        for seed in (seeds if method != "grid" else seeds[:1]):
            t0 = time.perf_counter()
            e = explore(system, model, space=space, objective=objective, constraints=constraints, budget=budget,
                        seed=seed, method=method, **FIXED)
            secs.append(time.perf_counter() - t0)
            value = _best(e)
            values.append(value)
            hits += _close(value, optimum, full.objective.maximize)
            recall.append(_front_recall(e, full))
            evals.append(e.cost.evaluated)
            if e.cost.best_at:
                found_at.append(e.cost.best_at)
        runs = len(values)
        row["methods"][method] = {"runs": runs, "success_rate": hits / runs, "evaluations": max(evals),
                                  "median_best_at": statistics.median(found_at) if found_at else None,
                                  "median_seconds": statistics.median(secs),
                                  "median_front_recall": statistics.median(recall),
                                  "worst_gap": _worst_gap(values, optimum, full.objective.maximize)}
    return row


def _front_recall(e, full) -> float:
    """Share of the full grid's Pareto front whose values the search's front holds too."""
    def values(front):
        return {(p.metrics["tokens_per_s_per_user"], p.metrics["tokens_per_s_per_device"]) for p in front}
    truth = values(full.front)
    return len(truth & values(e.front)) / len(truth) if truth else 1.0


def _worst_gap(values, optimum, maximize) -> float | None:
    gaps = [None if v is None else ((optimum - v) if maximize else (v - optimum)) / abs(optimum) for v in values]
    return None if any(g is None for g in gaps) else max(gaps)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="write benchmarks/results/explore.json")
    p.add_argument("--seeds", type=int, default=10, help="seeds per method and case (default 10)")
    p.add_argument("--cases", nargs="*", default=[c[0] for c in CASES], choices=[c[0] for c in CASES],
                   help="cases to run (default all)")
    ns = p.parse_args(argv)
    seeds = list(range(ns.seeds))
    rows = []
    print(f"{'case':<26} {'grid':>6} {'budget':>6}  {'method':<7} {'found':>6} {'evals':>6} {'best at':>7} "
          f"{'worst gap':>9} {'front':>6} {'s/search':>8}")
    for case in CASES:
        if case[0] not in ns.cases:
            continue
        row = run_case(*case, seeds)
        rows.append(row)
        for method, m in row["methods"].items():
            gap = "-" if m["worst_gap"] is None else f"{m['worst_gap']:.1%}"
            at = "-" if m["median_best_at"] is None else f"{m['median_best_at']:.0f}"
            print(f"{row['case']:<26} {row['grid_points']:>6} {row['budget']:>6}  {method:<7} "
                  f"{m['success_rate']:>6.0%} {m['evaluations']:>6} {at:>7} {gap:>9} {m['median_front_recall']:>6.0%} "
                  f"{m['median_seconds']:>8.3f}",
                  flush=True)
    if ns.write:
        from _results import write_json
        path = write_json(HERE / "results" / "explore.json",
                          {"machine": platform.platform(), "python": platform.python_version(),
                           "tolerance": TOLERANCE, "share": SHARE, "seeds": ns.seeds, "cases": rows})
        print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
