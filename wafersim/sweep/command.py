"""``wafersim sweep SPEC.toml -o OUT.h5``: the command line of a sweep.

Only argparse is imported here; the sweep machinery is imported when the command runs,
so that other commands start as fast as before.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..text import plural
from ..extras import install_hint

__all__ = ["add_sweep_command", "cmd_sweep"]

DESCRIPTION = """\
Run every point of a sweep spec (a TOML file: base system and model, fixed scenario
flags and --set overrides, and axes over any of them) and write one HDF5 collection laid
out on the sweep's axes.  Every point is checked before any runs; a point that fails at
run time is recorded with its error and the sweep goes on.  Each finished point is
appended to OUT.h5.journal, so a sweep killed at any moment keeps its finished points and
--resume runs only the rest.  Open the result with
xarray.open_dataset(OUT, engine="h5netcdf", group="summary").

spec format (see sweeps/*.toml):
  system = "wse3"                      # or sweep it: [axes] system = ["wse3", "wse2"]
  model = "llama-3.1-8b"
  [scenario]                           # run's flags: batch, prompt, output, dtype, kv_dtype,
  prompt = 2048                        #   wafers, placement, cores, gpus, tp, pp, ep, layers, fidelity
  [set]                                # fixed overrides, as --set
  "system.core.clock_hz" = "1.1 GHz"
  [axes]                               # one dimension each, in this order
  "system.core.sram_bytes" = ["32 KiB", "48 KiB", "64 KiB"]
  batch = { start = 1, stop = 64, factor = 2 }            # also {start, stop, step}
  output = { start = 64, stop = 1024, num = 5, log = true }
  length = { zip = { prompt = [1024, 8192], kv_dtype = ["bf16", "fp8"] } }   # together: one axis
  [serve]                              # optional: every point a `wafersim serve` run; keys are its
  requests = 500                       #   flags (arrivals, rate, requests, prompt, output, slo, seed,
  slo = "ttft=1s,tpot=50ms"            #   max_running, ..., prefill, decode, kv_transfer); as axes
                                       #   "serve.rate" = [1, 4, 16]; goodput and percentiles are kept
"""

#: Most processes -j takes: far above any one machine's cores (a local pool of more only
#: thrashes), low enough that a typo such as -j 80000 is refused rather than started.
MAX_JOBS = 4096
#: Most processes of the default local pool (-j not given): the CPUs, up to this many, so that
#: a sweep on a large shared machine does not take every core unasked.
DEFAULT_JOBS_MOST = 8
#: Dask workers of ``--scheduler local`` when -j is not given: two processes show that the
#: points run apart (and fit a laptop); -j sets more.
LOCAL_DASK_WORKERS = 2


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text[:40]!r}") from None
    if not 1 <= value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_JOBS} processes, got {value}")
    return value


def add_sweep_command(sub: Any) -> None:
    """Add ``sweep`` to the subcommands of the ``wafersim`` parser."""
    p = sub.add_parser("sweep", help="run a sweep spec over a design space into one HDF5 collection",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="sweep spec (TOML)")
    p.add_argument("-o", "--out", required=True, metavar="FILE.h5", help="the collection to write")
    p.add_argument("-j", "--jobs", type=_jobs, default=None,
                   help=f"processes: a local pool of N (default: the CPUs, at most {DEFAULT_JOBS_MOST}); 1 runs in this "
                        "process; with --scheduler local, the Dask workers")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster: its scheduler's address (tcp://host:8786), or 'local' to start "
                        f"a LocalCluster here (needs {install_hint('dask')})")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--force", action="store_true", help="replace an existing OUT (and its journal)")
    g.add_argument("--resume", action="store_true",
                   help="finish a killed sweep: keep the points in OUT.h5.journal, run only the rest")
    p.add_argument("--no-arrays", action="store_true",
                   help="leave out each point's per-layer arrays (its configuration and summary are kept)")
    p.add_argument("--check", action="store_true", help="check every point and print the sweep's shape; run nothing")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def _default_jobs() -> int:
    import os
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(DEFAULT_JOBS_MOST, n))


def cmd_sweep(ns: argparse.Namespace) -> int:
    from .run import run_sweep
    from .points import plan
    from .spec import load_spec

    p = plan(load_spec(ns.spec))
    shape = " x ".join(f"{a.name} {a.size}" for a in p.spec.axes) or "one point"
    if ns.check:
        print(f"{ns.spec}: {plural(len(p), 'point')} ({shape}), all valid")
        return 0
    jobs = ns.jobs or (LOCAL_DASK_WORKERS if ns.scheduler == "local" else _default_jobs())
    try:
        report = run_sweep(p, ns.out, jobs=jobs, scheduler=ns.scheduler, force=ns.force, resume=ns.resume,
                           progress=False if ns.quiet else None, arrays=not ns.no_arrays, stream=sys.stderr)
    except KeyboardInterrupt:
        from .journal import SUFFIX
        print(f"\nwafersim: the finished points are kept in {ns.out}{SUFFIX}; add --resume to finish the sweep",
              file=sys.stderr)
        raise
    reused = f", {report.reused} already done" if report.reused else ""
    rate = f", {report.points_per_s:.3g} points/s" if report.ran else ""
    print(f"{plural(len(p), 'point')} ({shape}): {report.ran} ran{reused}, {report.failed} failed{rate}")
    print(f"results written to {report.path}")
    return 0
