"""Time the flow engine: one decode step and the whole flow simulate.

Cases (batch 1, prompt 2048, output 128, bf16, pipelined placement):

* ``llama-3.1-8b`` on one full WSE-3 wafer (756 x 1176 cores);
* ``llama-3.1-70b`` on 4 WSE-3 wafers (``wafers=4``);
* ``llama-3.1-8b`` on a wafer whose mesh is k x k WSE-3 cores (``mesh.cores_x/y`` set
  to k, with a die grid that tiles it) for k = 64, 128, 256, 512, 756, to see how the
  cost grows with cores.  (The model does not fit the small meshes; the spill is
  routed too, which is part of the cost.)

What is timed
-------------
*Decode step*: exactly the work :func:`wafersim.engines.flow.simulate` does for
one decode step, and nothing else::

    timer = _Timer(system, mesh, placement, dtype)
    out = timer.run(lower_pass(placement, model, scenario, tokens, ctx, tokens * ctx))

i.e. lowering the step to a dataflow program plus routing every transfer on
the mesh and timing every stage (``lower`` and ``route`` are also reported
apart).  The placement, the physical mesh and the resolved scenario are built
once beforehand, the same way ``simulate`` builds them, and are not timed:
they are set-up shared with prefill, not part of a step.  This is cleaner
than subtracting two ``simulate`` runs, whose difference would mix in the
prefill lowering and noise.  *Simulate* is the whole public call
``wafersim.simulate(..., fidelity="flow")`` (placement, decode, prefill,
result arrays).

Before timing, each case calls :func:`wafersim.engines.flow_routing.warm_up`
and runs ``simulate`` once untimed, so no compilation or first-touch cost is
counted.  Times are the median (and minimum) of ``REPEATS`` runs.

Each case runs in a fresh child process, pinned to one CPU with Numba and BLAS
limited to one thread, so that ``ru_maxrss`` (peak resident memory of the
whole process, including the interpreter, NumPy and Numba) belongs to that
case alone.  ``tracemalloc`` gives the peak of Python/NumPy allocations during
one ``simulate`` run (traced separately; tracing slows the run).

``s/Mcore`` is the decode step time divided by the cores of the mesh (in
millions); a cost linear in cores shows as a flat s/Mcore.

Targets: a full-wafer decode step under 1 s on one core; peak memory under
4 GB; cost growing no faster than linearly in cores (log-log slope of decode
step time against cores, over the three largest meshes, at most 1.1).

Run from the repository root: ``python benchmarks/bench_flow_engine.py [--write]``.
Prints a table and, with ``--write``, records it in ``benchmarks/results/flow_engine.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "flow_engine.json"
REPEATS = 3
BLOCKS = ((64, 1), (128, 2), (256, 4), (512, 8), (756, 7))   # (cores per side, dies per side)
DECODE_TARGET_S = 1.0
MEMORY_TARGET_B = 4e9
SLOPE_TARGET = 1.1

CASES = {
    "8b-wse3": dict(system="wse3", model="llama-3.1-8b", scenario={}, mapping=None),
    "70b-4xwse3": dict(system="wse3", model="llama-3.1-70b", scenario={"wafers": 4}, mapping=None),
    **{f"8b-mesh-{k}": dict(system="wse3", model="llama-3.1-8b", scenario={}, mapping=None,
                            system_set={"mesh.cores_x": k, "mesh.cores_y": k, "mesh.dies_x": d, "mesh.dies_y": d})
       for k, d in BLOCKS},
}
SINGLE_THREAD_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                     "MKL_NUM_THREADS": "1"}


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def run_case(name: str) -> dict:
    """Measure one case in this process (called in a child)."""
    import resource
    import tracemalloc

    sys.path.insert(0, str(ROOT))
    import wafersim
    from wafersim.config import build
    from wafersim.dataflow.lower import lower_pass
    from wafersim.engines.flow import _Timer, physical_mesh
    from wafersim.engines.flow_routing import warm_up
    from wafersim.mapping.placement import place
    from wafersim import MappingOptions, Scenario

    case = CASES[name]
    kw = dict(case["scenario"], fidelity="flow")

    def simulate():
        return wafersim.simulate(wafersim.load_system(case["system"], case.get("system_set")), case["model"],
                                 mapping=case["mapping"], **kw)

    warm_up()
    first = simulate()                                   # untimed: loads caches, touches memory

    # the decode step's inputs, built as wafersim.engines.flow.simulate builds them
    system, model = wafersim.load_system(case["system"], case.get("system_set")), wafersim.load_model(case["model"])
    sc = Scenario(**kw).resolved(model)
    mapping = build(MappingOptions, case["mapping"], "mapping") if case["mapping"] else MappingOptions()
    batch, wafers = int(first.summary["batch"]), int(first.summary["devices"])
    pl = place(system, model, sc, mapping, batch, wafers)
    mesh = physical_mesh(system)
    micro = min(batch, sc.layers) if mapping.placement == "pipelined" else 1
    tokens = math.ceil(batch / micro)
    ctx = sc.mean_decode_context

    step, lower, route = [], [], []
    transfers = 0
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        timer = _Timer(system, mesh, pl, sc.dtype)
        prog = lower_pass(pl, model, sc, tokens, ctx, tokens * ctx)
        t1 = time.perf_counter()
        timer.run(prog)
        t2 = time.perf_counter()
        step.append(t2 - t0); lower.append(t1 - t0); route.append(t2 - t1)
        transfers = sum(len(sb.transfers) for sb in prog.stages) + len(prog.handoff.transfers) + len(prog.io.transfers)

    sim = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        simulate()
        sim.append(time.perf_counter() - t0)

    tracemalloc.start()
    simulate()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux

    cores = int(pl.block[0] * pl.block[1]) * wafers
    return {
        "case": name, "system": case["system"], "model": case["model"], "wafers": wafers,
        "mapping": case["mapping"] or {}, "cores": cores, "regions": int(pl.regions), "transfers": int(transfers),
        "decode_step_s": _median(step), "decode_step_min_s": min(step),
        "lower_s": _median(lower), "route_s": _median(route),
        "simulate_s": _median(sim), "simulate_min_s": min(sim),
        "decode_s_per_mcore": _median(step) / (cores / 1e6), "simulate_s_per_mcore": _median(sim) / (cores / 1e6),
        "maxrss_bytes": int(maxrss_kib) * 1024, "tracemalloc_peak_bytes": int(traced_peak),
        "tpot_s": float(first.summary["tpot_s"]), "repeats": REPEATS,
    }


def _child(name: str) -> dict:
    env = dict(os.environ, **SINGLE_THREAD_ENV, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, __file__, "--case", name], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"case {name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _slope(rows: list[dict]) -> float:
    xs = [math.log(r["cores"]) for r in rows]
    ys = [math.log(r["decode_step_s"]) for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main(write: bool = False) -> dict:
    import numba
    import numpy as np

    t_start = time.perf_counter()
    rows = [_child(name) for name in CASES]
    blocks = [r for r in rows if r["case"].startswith("8b-mesh-")]
    slope_all = _slope(blocks)
    slope_top = _slope(blocks[-3:])
    spread = blocks[-1]["decode_step_s"] / blocks[0]["decode_step_s"]
    full = next(r for r in rows if r["case"] == "8b-wse3")
    peak = max(r["maxrss_bytes"] for r in rows)
    targets = {
        "full_wafer_decode_step_under_1s": {"value_s": full["decode_step_s"], "limit_s": DECODE_TARGET_S,
                                            "pass": full["decode_step_s"] < DECODE_TARGET_S},
        "peak_memory_under_4GB": {"value_bytes": peak, "limit_bytes": MEMORY_TARGET_B, "pass": peak < MEMORY_TARGET_B},
        "cost_at_most_linear_in_cores": {"loglog_slope_largest_three": slope_top, "loglog_slope_all": slope_all,
                                         "decode_ratio_largest_to_smallest_block": spread,
                                         "limit": SLOPE_TARGET, "pass": slope_top <= SLOPE_TARGET},
    }

    print(f"{'case':<16} {'cores':>9} {'regions':>7} {'transfers':>9} {'decode s':>9} {'lower s':>8} "
          f"{'route s':>8} {'s/Mcore':>8} {'simulate s':>10} {'maxrss MB':>9} {'traced MB':>9}")
    for r in rows:
        print(f"{r['case']:<16} {r['cores']:>9} {r['regions']:>7} {r['transfers']:>9} {r['decode_step_s']:>9.4f} "
              f"{r['lower_s']:>8.4f} {r['route_s']:>8.4f} {r['decode_s_per_mcore']:>8.4f} {r['simulate_s']:>10.3f} "
              f"{r['maxrss_bytes'] / 1e6:>9.0f} {r['tracemalloc_peak_bytes'] / 1e6:>9.0f}")
    print(f"decode step vs cores (8b on k x k meshes): log-log slope {slope_top:.2f} over the three largest, "
          f"{slope_all:.2f} over all; {blocks[-1]['cores'] / blocks[0]['cores']:.0f}x the cores costs {spread:.2f}x")
    for key, t in targets.items():
        print(f"{'PASS' if t['pass'] else 'FAIL'}  {key}")

    report = {
        "benchmark": "flow engine: decode step and simulate",
        "machine": {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "numba": numba.__version__,
                    "numpy": np.__version__, "platform": platform.platform(), "processor": platform.processor(),
                    "threads": "one (child pinned to one CPU, NUMBA_NUM_THREADS=1)"},
        "scenario": {"batch": 1, "prompt_tokens": 2048, "output_tokens": 128, "placement": "pipelined"},
        "cases": rows, "targets": targets, "wall_s": time.perf_counter() - t_start,
    }
    if write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        write_json(RESULTS, report)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return report


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        print(json.dumps(run_case(sys.argv[2])))
    else:
        ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        ap.add_argument("--write", action="store_true", help=f"record the figures in {RESULTS.relative_to(ROOT)}")
        main(ap.parse_args().write)
