"""Wall-clock cost of collective_time on 8 GPUs and on 16 nodes x 8 GPUs (DGX H100).

Run: ``python benchmarks/bench_collectives.py [--write]``; prints a table and, with
``--write``, records it in ``benchmarks/results/collectives.json`` (or ``--out``).  Each case is timed best-of-``--repeat``,
including graph routing (collective_time routes from scratch on every call).
"""

from __future__ import annotations

import sys

import argparse
import platform
import time
from pathlib import Path

from wafersim.engines.collectives import ALGORITHMS, CollectiveParams, available_algorithms, collective_time
from wafersim.hardware.topology import build_topology, gpu_nodes
from wafersim.presets import load_system

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

GIB = 2**30


def run(preset: str, node_counts: list[int], nbytes: float, repeat: int) -> list[dict]:
    spec = load_system(preset)
    params = CollectiveParams.from_spec(spec)
    rows = []
    for nodes in node_counts:
        t0 = time.perf_counter()
        graph = build_topology(spec, nodes)
        build_s = time.perf_counter() - t0
        gpus = gpu_nodes(graph)
        for op in ALGORITHMS:
            members = gpus[:2] if op == "point_to_point" else gpus
            for algorithm in available_algorithms(graph, members, op):
                best = float("inf")
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    cost = collective_time(graph, members, op, nbytes, params, algorithm)
                    best = min(best, time.perf_counter() - t0)
                rows.append({
                    "preset": preset, "nodes": nodes, "gpus": len(members), "op": op, "algorithm": algorithm,
                    "nbytes": nbytes, "graph_nodes": graph.number_of_nodes(), "graph_edges": graph.number_of_edges(),
                    "build_s": build_s, "wall_s": best, "predicted_time_s": cost.time_s,
                    "bus_bandwidth_bytes_per_s": cost.bus_bandwidth_bytes_per_s,
                    "bottleneck_link": list(cost.bottleneck_link) if cost.bottleneck_link else None,
                })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="dgx-h100")
    ap.add_argument("--nodes", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--bytes", type=float, default=GIB)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "collectives.json"),
                    help="where --write records the figures")
    ap.add_argument("--write", action="store_true", help="record the figures in --out")
    args = ap.parse_args()
    rows = run(args.preset, args.nodes, args.bytes, args.repeat)
    print(f"{'nodes':>5} {'gpus':>5} {'op':<15} {'alg':<7} {'wall ms':>9} {'pred ms':>9} {'busbw GB/s':>11}  bottleneck")
    for r in rows:
        print(f"{r['nodes']:>5} {r['gpus']:>5} {r['op']:<15} {r['algorithm']:<7} {r['wall_s'] * 1e3:>9.2f} "
              f"{r['predicted_time_s'] * 1e3:>9.3f} {r['bus_bandwidth_bytes_per_s'] / 1e9:>11.1f}  {r['bottleneck_link']}")
    if args.write:
        out = Path(args.out)
        write_json(out, {"python": platform.python_version(), "machine": platform.machine(),
                         "repeat": args.repeat, "rows": rows})
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
