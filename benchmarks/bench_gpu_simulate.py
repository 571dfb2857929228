"""Wall-clock cost of one GPU ``simulate`` call with collectives on the topology graph.

Run: ``python benchmarks/bench_gpu_simulate.py [--write]``; prints a table and, with
``--write``, records it in ``benchmarks/results/gpu_simulate.json`` (or ``--out``).  Each case is timed best-of-``--repeat``;
a call places the groups and costs its collectives.  The graph, its routes, the
collective costs and the GraphML text are kept per system spec; the untimed first
call fills those caches, so the figures are what each further point of a sweep costs.
"""

from __future__ import annotations

import sys

import argparse
import json
import platform
import time
from pathlib import Path

from wafersim.presets import load_system
from wafersim.runner import simulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

CASES = (
    ("dgx-h100", "llama-3.1-70b", {"tp": 8}, {}),
    ("dgx-h100", "llama-3.1-70b", {"tp": 4, "pp": 2}, {}),
    ("dgx-h100", "mixtral-8x7b", {"ep": 8, "batch": 16}, {}),
    ("dgx-h100", "llama-3.1-70b", {"tp": "auto"}, {}),
    ("dgx-h100", "llama-3.1-70b", {"tp": 16}, {"interconnect.nodes": 2}),
    ("dgx-h100", "llama-3.1-70b", {"tp": 8, "pp": 2}, {"interconnect.nodes": 2}),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results") / "gpu_simulate.json"),
                    help="where --write records the figures")
    ap.add_argument("--write", action="store_true", help="record the figures in --out")
    ns = ap.parse_args()
    rows = []
    for preset, model, scenario, sets in CASES:
        system = load_system(preset, sets)
        simulate(system, model, **scenario)
        best = min(_timed(system, model, scenario) for _ in range(ns.repeat))
        rows.append({"system": preset, "set": sets, "model": model, "scenario": scenario, "seconds": best})
        print(f"{preset:<10} {model:<15} {json.dumps(scenario):<28} {json.dumps(sets):<28} {best * 1e3:8.2f} ms")
    if ns.write:
        write_json(ns.out, {"machine": platform.platform(), "python": platform.python_version(), "cases": rows})
        print(f"wrote {ns.out}")


def _timed(system, model, scenario) -> float:
    t0 = time.perf_counter()
    simulate(system, model, **scenario)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
