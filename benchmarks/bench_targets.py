"""Every speed figure a design-space sweep depends on, against its target, in one run.

Run from the repository root: ``python benchmarks/bench_targets.py [--repeat N] [--only SECTION ...] [--write]``.
Prints one line per figure (value, target, PASS or over) and, with ``--write``, records
them in ``benchmarks/results/targets.json``.  Sections:

* ``analytic``: one in-process ``simulate`` call for every preset pair at batch 1 and
  ``--batch max`` (specs passed in; median of ``--repeat`` calls after a warm-up call;
  the worst pair against 0.3 ms); ``--tp auto`` and ``--gpus auto`` on gb200-nvl72 +
  llama-3.1-405b (5 ms); dgx-h100 + llama-3.1-70b at tp 8; presets passed by name
  against specs; how many memory plans ``--wafers auto --batch max`` works out for
  wse3 + llama-3.1-70b and llama-3.1-405b, a job not seen before, against the candidates
  it asks about (each once); a repeated call reuses the plans, specs and graphs of the
  calls before it, as a sweep that revisits a job does; a 1,000-point sweep mixing every preset pair at batch 1, 4 and max (1 s of
  engine time: the sum of the ``simulate`` calls of a plain loop).
* ``startup``: ``wafersim run wse3 llama-3.1-8b --json`` and ``wafersim presets`` as
  processes (0.15 s; CPU time of the process, and its wall time apart), with
  ``python -c "import numpy"`` and a bare interpreter timed in the same run as the
  floor they stand on; ``run --json`` above ``import numpy`` (50 ms: what wafersim
  costs of its own) and ``presets`` above the bare interpreter.
* ``flow``: the decode step of llama-3.1-8b on a whole WSE-3 (0.1 s) and the whole
  ``simulate`` (0.2 s); the decode step of llama-3.1-70b on four wafers (0.5 s);
  each also as a ratio to one plain NumPy pass over the same mesh (``a += b`` on two
  (wafers, ny, nx, 4) float64 arrays) timed in the same process, which tracks the
  machine's speed: compare ratios between runs on a shared machine.
* ``memory``: peak resident memory of a process that runs the flow engine on one
  wafer's ``--cores 100x100`` (150 MB; sized by default, the job would take 32 such
  wafers, one layer each) and on the whole wafer (1 GB), and of one that only loads
  the flow kernels (the floor: interpreter, NumPy, Numba and the compiled kernels); each
  run above the floor (``--cores 100x100``: 50 MB, what the run holds of its own).

With ``--write`` and ``--only``, the sections not run keep their recorded figures.

In-process times are medians of ``--repeat`` runs of this process's CPU time
(``time.process_time``: on a shared two-core machine wall time counts the neighbours'
work too); they still move by ~30 % from run to run, the ratios less.  The decode step is timed
as ``bench_flow_engine.py`` times it: lowering the step and timing every stage.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "targets.json"
SECTIONS = ("analytic", "startup", "flow", "memory")
MB = 1e6

TARGETS = {
    "analytic_batch1_worst_s": 0.3e-3, "analytic_batch_max_worst_s": 0.3e-3,
    "gb200_405b_tp_auto_s": 5e-3, "gb200_405b_gpus_auto_s": 5e-3,
    "sweep_1000_points_engine_s": 1.0,
    "startup_run_json_s": 0.15, "startup_presets_s": 0.15, "startup_run_json_above_numpy_s": 0.05,
    "flow_8b_decode_step_s": 0.1, "flow_8b_simulate_s": 0.2, "flow_70b_4_wafers_decode_step_s": 0.5,
    "flow_memory_cores_100x100_bytes": 150 * MB, "flow_memory_full_wafer_bytes": 1000 * MB,
    "flow_memory_cores_100x100_above_floor_bytes": 50 * MB,
}


#: the clock of in-process figures: this process's CPU time, which other work on a shared
#: machine does not add to (wall time does; both are single-threaded here)
CLOCK = time.process_time


def _median(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = CLOCK()
        fn()
        times.append(CLOCK() - t0)
    return statistics.median(times)


# ---- analytic ---------------------------------------------------------------------------

def analytic(repeat: int) -> dict:
    import wafersim
    from wafersim.engines import wafer_memory
    from wafersim.presets import list_presets

    systems = {n: wafersim.load_system(n) for n in list_presets("meshes")}
    models = {n: wafersim.load_model(n) for n in list_presets("workloads")}
    prompt = {n: min(2048, m.max_context - 128) for n, m in models.items()}
    worst = {1: (0.0, ""), "max": (0.0, "")}
    per_batch: dict = {1: [], "max": []}
    for sname, system in systems.items():
        for mname, model in models.items():
            for batch in (1, "max"):
                t = _median(lambda: wafersim.simulate(system, model, batch=batch, prompt_tokens=prompt[mname]), repeat)
                per_batch[batch].append(t)
                if t > worst[batch][0]:
                    worst[batch] = (t, f"{sname} + {mname}")
    gb, big = systems["gb200-nvl72"], models["llama-3.1-405b"]
    out = {
        "analytic_batch1_worst_s": worst[1][0], "analytic_batch1_worst_pair": worst[1][1],
        "analytic_batch1_median_s": statistics.median(per_batch[1]),
        "analytic_batch_max_worst_s": worst["max"][0], "analytic_batch_max_worst_pair": worst["max"][1],
        "analytic_batch_max_median_s": statistics.median(per_batch["max"]),
        "analytic_pairs": len(per_batch[1]),
        "gb200_405b_tp_auto_s": _median(lambda: wafersim.simulate(gb, big, tp="auto"), repeat),
        "gb200_405b_gpus_auto_s": _median(lambda: wafersim.simulate(gb, big, gpus="auto"), repeat),
        "dgx_h100_70b_tp8_s": _median(lambda: wafersim.simulate(systems["dgx-h100"], models["llama-3.1-70b"],
                                                                  tp=8), repeat),
        "by_name_s": _median(lambda: wafersim.simulate("wse3", "llama-3.1-8b"), repeat),
        "by_spec_s": _median(lambda: wafersim.simulate(systems["wse3"], models["llama-3.1-8b"]), repeat),
    }

    # memory plans worked out against the candidates asked about, for --wafers auto --batch max
    # (a checkout without the plan cache works out every plan it is asked for)
    mem = wafer_memory.WaferMemory
    real_memory_plan = mem.memory_plan
    real_plan = getattr(mem, "_plan", None)
    worked: list = []
    asked: list = []
    mem.memory_plan = lambda self, b, w: asked.append((id(self), b, w)) or real_memory_plan(self, b, w)
    if real_plan is not None:
        mem._plan = lambda self, b, w: worked.append((id(self), b, w)) or real_plan(self, b, w)
    else:
        worked = asked
    try:
        for name in ("llama-3.1-70b", "llama-3.1-405b"):
            if hasattr(wafer_memory, "_plan_table"):
                wafer_memory._plan_table.cache_clear()        # count a job not seen before
            worked.clear()
            asked.clear()
            wafersim.simulate(systems["wse3"], models[name], wafers="auto", batch="max")
            key = name.split("-")[-1]
            out[f"wse3_{key}_wafers_auto_plans_worked"] = len(worked)
            out[f"wse3_{key}_wafers_auto_candidates"] = len(set(asked))
    finally:
        mem.memory_plan = real_memory_plan
        if real_plan is not None:
            mem._plan = real_plan

    # a 1,000-point sweep over every pair at batch 1, 4 and max: engine time of a plain loop
    points = [(s, m, b) for s in systems.values() for m in models for b in (1, 4, "max")]
    points = (points * math.ceil(1000 / len(points)))[:1000]
    engine = 0.0
    for system, mname, batch in points:
        t0 = CLOCK()
        wafersim.simulate(system, models[mname], batch=batch, prompt_tokens=prompt[mname])
        engine += CLOCK() - t0
    out["sweep_1000_points_engine_s"] = engine
    return out


# ---- start-up ---------------------------------------------------------------------------

def _process_s(argv: list[str], repeat: int, pick=statistics.median) -> tuple[float, float]:
    """Medians (or ``pick``) of (wall, CPU) seconds of a process, CPU from the children's
    resource usage."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    walls, cpus = [], []
    for _ in range(repeat + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, cwd=ROOT, check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return pick(walls[1:]), pick(cpus[1:])   # the first run fills the file caches


def startup(repeat: int) -> dict:
    py = sys.executable
    out = {}
    for name, argv in (("run_json", ["-m", "wafersim", "run", "wse3", "llama-3.1-8b", "--json"]),
                       ("presets", ["-m", "wafersim", "presets"]), ("import_numpy", ["-c", "import numpy"]),
                       ("bare_python", ["-c", "pass"])):
        wall, cpu = _process_s([py, *argv], repeat)
        out[f"startup_{name}_s"], out[f"startup_{name}_wall_s"] = cpu, wall
    # what the commands cost of their own, above the floor they stand on: run imports NumPy,
    # presets only the interpreter
    out["startup_run_json_above_numpy_s"] = out["startup_run_json_s"] - out["startup_import_numpy_s"]
    out["startup_presets_above_python_s"] = out["startup_presets_s"] - out["startup_bare_python_s"]
    return out


# ---- flow -------------------------------------------------------------------------------

def _decode_step(system, model_name: str, wafers: int, repeat: int) -> tuple[float, float]:
    """(decode step median, one NumPy pass over the same mesh) in seconds."""
    import numpy as np

    import wafersim
    from wafersim import MappingOptions, Scenario
    from wafersim.dataflow.lower import lower_pass
    from wafersim.engines.flow import _Timer, physical_mesh
    from wafersim.mapping.placement import place

    model = wafersim.load_model(model_name)
    sc = Scenario(wafers=wafers, fidelity="flow").resolved(model)
    mapping = MappingOptions()
    pl = place(system, model, sc, mapping, sc.batch, wafers)
    mesh = physical_mesh(system)

    def step():
        timer = _Timer(system, mesh, pl, sc.dtype)
        timer.run(lower_pass(pl, model, sc, 1, sc.mean_decode_context, sc.mean_decode_context))

    a, b = np.zeros((wafers, *mesh.shape, 4)), np.ones((wafers, *mesh.shape, 4))
    return _median(step, repeat), _median(lambda: np.add(a, b, out=a), repeat)


def flow(repeat: int) -> dict:
    import wafersim
    from wafersim.engines.flow_routing import warm_up

    warm_up()
    wse3 = wafersim.load_system("wse3")
    step8, pass8 = _decode_step(wse3, "llama-3.1-8b", 1, repeat)
    sim8 = _median(lambda: wafersim.simulate(wse3, "llama-3.1-8b", fidelity="flow"), repeat)
    step70, pass70 = _decode_step(wse3, "llama-3.1-70b", 4, repeat)
    sim70 = _median(lambda: wafersim.simulate(wse3, "llama-3.1-70b", fidelity="flow", wafers=4), max(1, repeat // 2))
    return {
        "flow_8b_decode_step_s": step8, "flow_8b_simulate_s": sim8, "flow_numpy_pass_1_wafer_s": pass8,
        "flow_8b_decode_step_in_numpy_passes": step8 / pass8, "flow_8b_simulate_in_numpy_passes": sim8 / pass8,
        "flow_70b_4_wafers_decode_step_s": step70, "flow_70b_4_wafers_simulate_s": sim70,
        "flow_numpy_pass_4_wafers_s": pass70, "flow_70b_4_wafers_decode_step_in_numpy_passes": step70 / pass70,
    }


# ---- memory -----------------------------------------------------------------------------

# peak resident memory from VmHWM: ru_maxrss would carry over this (large) process's peak
# through fork and exec
_MEMORY_CHILD = """
import sys, wafersim
from wafersim.engines.flow_routing import warm_up
warm_up()
if sys.argv[1] != "floor":
    wafersim.simulate("wse3", "llama-3.1-8b", fidelity="flow", wafers=1,
                      mapping=None if sys.argv[1] == "full" else {"cores": sys.argv[1]})
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(int(hwm.split()[1]) * 1024)
"""


def _peak_bytes(case: str) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, case], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return int(out.stdout.split()[-1])


def memory(repeat: int) -> dict:
    out = {"flow_memory_cores_100x100_bytes": _peak_bytes("100x100"),
           "flow_memory_full_wafer_bytes": _peak_bytes("full"),
           "flow_memory_floor_bytes": _peak_bytes("floor")}
    # what the runs hold of their own, above the floor (NumPy, Numba and the loaded kernels)
    for case in ("cores_100x100", "full_wafer"):
        out[f"flow_memory_{case}_above_floor_bytes"] = out[f"flow_memory_{case}_bytes"] - out["flow_memory_floor_bytes"]
    return out


# ---- report -----------------------------------------------------------------------------

def _shown(key: str, value) -> str:
    if isinstance(value, str):
        return value
    if key.endswith("_bytes"):
        return f"{value / MB:.0f} MB"
    if key.endswith("_s"):
        return f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.3g} s"
    return f"{value:.3g}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Without --write nothing is written; --help runs nothing.")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per figure, median taken (default 5)")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    ap.add_argument("--write", action="store_true", help="record the figures in --out")
    ap.add_argument("--out", type=Path, default=OUT, help=f"where --write records them (default {OUT.relative_to(ROOT)})")
    ap.add_argument("--before", type=Path, help="figures --write recorded for another checkout (e.g. the branch "
                                                  "point), kept beside these with the ratio now / before")
    ns = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    figures: dict = {}
    for section in ns.only:
        t0 = time.perf_counter()
        figures.update(globals()[section](max(1, ns.repeat)))
        print(f"[{section}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    targets = {}
    for key, value in figures.items():
        limit = TARGETS.get(key)
        mark = "" if limit is None else ("PASS" if value <= limit else "over")
        if limit is not None:
            targets[key] = {"value": value, "target": limit, "pass": value <= limit}
        print(f"{key:<48} {_shown(key, value):>14}  "
              + (f"target {_shown(key, limit):>9}  {mark}" if limit is not None else ""))
    before = {}
    if ns.before is not None:
        import json
        old = json.loads(ns.before.read_text())["figures"]
        before = {"figures": old, "now_over_before": {k: figures[k] / old[k] for k in figures
                                                      if isinstance(figures[k], (int, float)) and old.get(k)}}
        for key, ratio in before["now_over_before"].items():
            print(f"{key:<48} now / before {ratio:8.3f}")
    if ns.write:
        import json

        from _results import write_json

        import numba
        import numpy as np
        if set(ns.only) != set(SECTIONS) and ns.out.exists():      # the other sections' figures are kept
            kept = json.loads(ns.out.read_text())
            figures = {**kept.get("figures", {}), **figures}
            targets = {**kept.get("targets", {}), **targets}
            before = before or kept.get("before", {})
        write_json(ns.out, {"benchmark": "speed targets", "repeat": ns.repeat, "sections": ns.only,
                            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                                        "python": platform.python_version(), "numpy": np.__version__,
                                        "numba": numba.__version__},
                            "figures": figures, "targets": targets, **({"before": before} if before else {})})
        print(f"wrote {ns.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
