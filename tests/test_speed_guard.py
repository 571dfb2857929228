"""Guards against order-of-magnitude slowdowns, loose enough for a loaded two-core machine.

The figures themselves are benchmarks (``benchmarks/bench_targets.py``); here each bound
is about ten times the target, timed by this process's CPU time (other work on the
machine does not add to it) as the best of a few runs, and the work counts that do not
depend on the machine (memory plans per search, modules imported at start-up) are exact.
Start-up and memory are measured above the floor the dependencies set on their own
(``import numpy``; a process with Numba and the flow kernels loaded), as the benchmark
reports them, so that a slower or larger NumPy or Numba does not move them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import wafersim
from wafersim.engines import wafer_memory

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))
MB = 1e6


def _bench_targets():
    """benchmarks/bench_targets.py, whose process timings and peak-memory probe the guards reuse."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_targets", ROOT / "benchmarks" / "bench_targets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _best_cpu(fn, runs: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


@pytest.mark.parametrize("script", BENCHMARKS)
def test_benchmarks_take_help_and_write_nothing(script, tmp_path):
    """``--help`` prints the usage and runs nothing; in particular no result file changes."""
    results = ROOT / "benchmarks" / "results"
    before = {p.name: p.stat().st_mtime_ns for p in results.iterdir()}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"], cwd=tmp_path,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout and "--write" in out.stdout, f"{script}: no --write option"
    assert time.perf_counter() - t0 < 60
    assert {p.name: p.stat().st_mtime_ns for p in results.iterdir()} == before


@pytest.mark.parametrize("argv, heavy", [
    (["run", "wse3", "llama-3.1-8b", "--json"], ("numba", "networkx", "h5py", "matplotlib")),
    (["presets"], ("numpy", "numba", "networkx", "h5py", "matplotlib")),
])
def test_commands_start_without_what_they_do_not_use(argv, heavy):
    code = (f"import sys, wafersim.cli; wafersim.cli.main({argv!r}); "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_batch_max_works_out_few_memory_plans(monkeypatch):
    """The batch search starts from the memory estimate: a handful of plans, not a climb.
    Counted from cold: plans another test worked out for this job are forgotten first."""
    wafer_memory._plan_table.cache_clear()
    worked = []
    real = wafer_memory.WaferMemory._plan
    monkeypatch.setattr(wafer_memory.WaferMemory, "_plan", lambda self, b, w: worked.append((b, w)) or real(self, b, w))
    wafersim.simulate("wse3", "llama-3.1-8b", batch="max")
    assert len(worked) <= 4, worked              # the guess and one past it (the run reuses them): 2


def test_analytic_calls_stay_under_a_few_milliseconds():
    """Target 0.3 ms per call; 3 ms is an order of magnitude."""
    system, model = wafersim.load_system("wse3"), wafersim.load_model("llama-3.1-8b")
    gpu, big = wafersim.load_system("gb200-nvl72"), wafersim.load_model("llama-3.1-405b")
    assert _best_cpu(lambda: wafersim.simulate(system, model)) < 3e-3
    assert _best_cpu(lambda: wafersim.simulate(system, model, batch="max")) < 3e-3
    assert _best_cpu(lambda: wafersim.simulate(gpu, big, tp="auto"), runs=3) < 50e-3      # target 5 ms


def test_full_wafer_flow_step_stays_under_a_second():
    """Target: the whole flow simulate of a WSE-3 decode step and prefill in 0.2 s; 2 s is an
    order of magnitude."""
    from wafersim.engines.flow_routing import warm_up
    warm_up()
    system = wafersim.load_system("wse3")
    assert _best_cpu(lambda: wafersim.simulate(system, "llama-3.1-8b", fidelity="flow"), runs=2) < 2.0


def test_run_json_starts_within_half_a_second_above_numpy():
    """Target: ``run --json`` within 50 ms of CPU above ``python -c "import numpy"``; 0.5 s is
    an order of magnitude (each the best of three processes)."""
    bench = _bench_targets()
    py = sys.executable
    _, run = bench._process_s([py, "-m", "wafersim", "run", "wse3", "llama-3.1-8b", "--json"], 3, pick=min)
    _, numpy = bench._process_s([py, "-c", "import numpy"], 3, pick=min)
    assert run - numpy < 0.5, (run, numpy)


def test_flow_run_memory_above_the_numba_floor():
    """Target: a ``--cores 100x100`` flow run holds 50 MB above a process with Numba and the
    flow kernels loaded; 150 MB is three times it (resident memory does not vary as time does)."""
    bench = _bench_targets()
    above = bench._peak_bytes("100x100") - bench._peak_bytes("floor")
    assert above < 150 * MB, f"{above / MB:.0f} MB above the floor"
