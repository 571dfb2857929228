"""GPU topologies that scale: graph building and collective costing at 8 to 4,608 GPUs.

Run: ``python benchmarks/bench_topology_scale.py`` prints a table; ``--write`` also
writes ``benchmarks/results/topology_scale.json``.  Each case runs in a fresh Python
process, so its time includes imports and its peak resident memory is its own:

* ``job``: ``simulate(system, llama-3.1-70b, tp="auto")`` on a system of N GPUs (the
  job uses one node; only the servers it uses are built, whatever N is);
* ``graph``: building the whole link graph of N GPUs (``build_topology``);
* ``span``: the job spread over every server (tp = GPUs per node up to 8, pp = nodes),
  which builds and routes the whole graph: a Dijkstra search per pipeline stage.

Systems: 8 GPUs = one DGX H100; 72, 576, 4,608 and 72,000 GPUs = 1, 8, 64 and 1,000 GB200
NVL72 racks (at 72,000 the whole graph is refused: above topology.MAX_EDGES).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CASES = [(8, "dgx-h100", 1), (72, "gb200-nvl72", 1), (576, "gb200-nvl72", 8), (4608, "gb200-nvl72", 64),
         (72000, "gb200-nvl72", 1000)]   # the last: a one-rack job runs; the whole graph is refused

_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import wafersim
from wafersim.hardware.topology import build_topology
preset, nodes, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
spec = wafersim.load_system(preset, {"interconnect.nodes": nodes})
t1 = time.perf_counter()
out = {}
try:
    if what == "job":
        r = wafersim.simulate(spec, "llama-3.1-70b", tp="auto")
        out["tpot_s"] = r.summary["tpot_s"]
    elif what == "graph":
        g = build_topology(spec)
        out["edges"] = g.number_of_edges()
        out["graph_nodes"] = g.number_of_nodes()
    else:
        gpn = spec.interconnect.gpus_per_node
        tp = min(8, gpn)
        pp = nodes if nodes > 1 else max(1, gpn // tp)
        r = wafersim.simulate(spec, "llama-3.1-405b", tp=tp, pp=pp, layers=min(126, 2 * pp))
        out["tpot_s"] = r.summary["tpot_s"]
    out["status"] = "ok"
except wafersim.WafersimError as exc:
    out["status"] = f"refused: {exc}"
out["seconds"] = time.perf_counter() - t1
out["import_and_load_s"] = t1 - t0
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def measure(preset: str, nodes: int, what: str, timeout: float) -> dict:
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, preset, str(nodes), what], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        return {"status": f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="write benchmarks/results/topology_scale.json")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per case (default 120)")
    p.add_argument("--what", nargs="*", default=["job", "graph", "span"], choices=["job", "graph", "span"])
    ns = p.parse_args(argv)
    rows = []
    print(f"{'GPUs':>6} {'system':<12} {'case':<6} {'seconds':>8} {'peak MB':>8}  status")
    for gpus, preset, nodes in CASES:
        for what in ns.what:
            row = {"gpus": gpus, "preset": preset, "nodes": nodes, "case": what,
                   **measure(preset, nodes, what, ns.timeout)}
            rows.append(row)
            secs = f"{row['seconds']:.2f}" if "seconds" in row else "-"
            mb = f"{row['peak_rss_mb']:.0f}" if "peak_rss_mb" in row else "-"
            extra = f" ({row['edges']:,} edges)" if "edges" in row else ""
            print(f"{gpus:>6} {preset:<12} {what:<6} {secs:>8} {mb:>8}  {row['status'][:90]}{extra}", flush=True)
    if ns.write:
        from _results import write_json
        path = write_json(HERE / "results" / "topology_scale.json",
                          {"machine": platform.platform(), "python": platform.python_version(), "rows": rows})
        print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
