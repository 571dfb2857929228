"""Points per second of a sweep: serially, on the local process pool and on a Dask LocalCluster.

Run: ``python benchmarks/bench_sweep.py [--points N] [--flow-points N] [-j N] [--write]``.

Two sweeps, each run end to end with :func:`wafersim.sweep.run_sweep` (plan,
journal, points, the collection written at the end, its per-point arrays
included), so the figures are what a user waits for:

* ``analytic``: ``--points`` points (default 1,000) of the analytic engines,
  Llama 3.1 8B on a WSE-3 (SRAM per core x batch) and on a DGX H100 (tensor
  parallelism x batch), half each;
* ``flow``: ``--flow-points`` points (default 100) of the flow engine on the
  16 x 16 ``mini-wafer`` (SRAM per core x batch, two decoder layers).

Each row also gives the share of the time the writing process spent writing
(encoding records, appending them to the journal, writing the collection:
``SweepReport.write_seconds``); in a pool or on Dask the workers encode the records.

Each is timed serially (``jobs=1``; once more without the per-point arrays,
``--no-arrays``, which shows what writing them costs), on a process pool of ``-j`` workers and
on a Dask LocalCluster of ``-j`` single-threaded worker processes (started
before the clock starts).  The flow kernels are compiled in this process
before timing; the process pool pays its start-up (processes import wafersim
and compile the flow kernels) inside the timed run, and Dask workers compile
them on their first flow point.  One process writes: the journal as points
arrive and the collection at the end, a chunk of points per journal write.  Prints points
per second and, with ``--write``, records them in ``benchmarks/results/sweep.json``.
Figures on a shared 2-core machine vary by ~30 % run to run.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

from wafersim.sweep import parse_spec, plan, run_sweep, summary_digest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

OUT = Path(__file__).with_name("results") / "sweep.json"


def _analytic(points: int) -> list[str]:
    """Two specs of about ``points`` / 2 points each: a wafer and a GPU system."""
    half = max(2, points // 2)
    n_batch = max(1, half // 10)
    return [f"""
system = "wse3"
model = "llama-3.1-8b"
[axes]
"system.core.sram_bytes" = {{ start = 40000, stop = 80000, num = 10 }}
batch = {{ start = 1, stop = {n_batch}, step = 1 }}
""", f"""
system = "dgx-h100"
model = "llama-3.1-8b"
[axes]
tp = [1, 2, 4, 8]
batch = {{ start = 1, stop = {max(1, math.ceil(half / 4))}, step = 1 }}
"""]


def _flow(points: int) -> str:
    n_batch = max(1, points // 10)
    return f"""
system = "mini-wafer"
model = "llama-3.1-8b"
[scenario]
fidelity = "flow"
layers = 2
prompt = 512
output = 16
[axes]
"system.core.sram_bytes" = {{ start = 40000, stop = 80000, num = 10 }}
batch = {{ start = 1, stop = {n_batch}, step = 1 }}
"""


def _time(plans, folder: Path, tag: str, **kw) -> tuple[float, int, list[str], float]:
    """Seconds, points, summary digests and seconds this process spent writing."""
    seconds, digests, n, writing = 0.0, [], 0, 0.0
    for i, p in enumerate(plans):
        out = folder / f"{tag}-{i}.h5"
        report = run_sweep(p, out, force=True, progress=False, **kw)
        n += report.ran
        seconds += report.seconds
        writing += report.write_seconds
        digests.append(summary_digest(out))
    return seconds, n, digests, writing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=1000, help="analytic points (default 1000)")
    ap.add_argument("--flow-points", type=int, default=100, help="flow points on mini-wafer (default 100)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="pool processes and Dask workers (default 2)")
    ap.add_argument("--no-dask", action="store_true", help="leave out the Dask LocalCluster")
    ap.add_argument("--write", action="store_true", help=f"record the figures in {OUT.relative_to(OUT.parents[2])}")
    ns = ap.parse_args(argv)
    suites = {"analytic": [plan(parse_spec(t, "analytic")) for t in _analytic(ns.points)],
              "flow": [plan(parse_spec(_flow(ns.flow_points), "flow"))]}
    from wafersim.sweep.records import run_point
    run_point(suites["flow"][0].jobs[0])          # compile the flow kernels here once, before any clock
    client = cluster = None
    if not ns.no_dask:
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=ns.jobs, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    rows = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for name, plans in suites.items():
                runners = {"serial": {"jobs": 1}, "serial-no-arrays": {"jobs": 1, "arrays": False},
                           f"pool-{ns.jobs}": {"jobs": ns.jobs}}
                if client is not None:
                    runners[f"dask-local-{ns.jobs}"] = {"client": client}
                reference = None
                for runner, kw in runners.items():
                    seconds, n, digests, writing = _time(plans, folder, f"{name}-{runner}", **kw)
                    reference = reference or digests
                    same = digests == reference
                    rows[f"{name}/{runner}"] = {"points": n, "seconds": seconds, "points_per_s": n / seconds,
                                                "write_seconds": writing, "write_share": writing / seconds,
                                                "same_summary_as_serial": same}
                    print(f"{name:<9} {runner:<16} {n:>5} points in {seconds:7.2f} s: {n / seconds:8.1f} points/s, "
                          f"writing {writing / seconds:5.1%}{'' if same else '  (summary differs from serial!)'}",
                          flush=True)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    if ns.write:
        write_json(OUT, {"machine": platform.platform(), "python": platform.python_version(), "jobs": ns.jobs,
                         "rows": rows})
        print(f"written to {OUT}")
    return 0 if all(r["same_summary_as_serial"] for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
