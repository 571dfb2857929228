"""A fresh point: one analytic simulate call with a prompt length not asked before, on every bundled system.

Run from the repository root: ``python benchmarks/bench_fresh.py [--points N] [--write]``.

A sweep or a search asks for configurations one after another, most of them new; this
measures what each costs once the system's specs are loaded and its graph built
(one warm-up call), with a new prompt length each call, so that nothing sized by the
prompt (activations, KV cache, collective message sizes) is cached from an earlier call.
Per system, Llama 3.1 8B:

* ``default``: the system sized as every command sizes it (``wafers``/``gpus`` "auto":
  it may try several layouts per call);
* ``explicit`` (GPU systems): one layout given, ``tp`` = 8 GPUs of one node (all of a smaller one).

Figures are medians of ``--points`` calls (default 50) of this process's CPU time,
which other work on a shared machine does not add to.  The target is 0.3 ms on every
preset.  ``--write`` records them in ``benchmarks/results/fresh.json``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

OUT = Path(__file__).with_name("results") / "fresh.json"
#: the median a fresh point must stay under (seconds)
TARGET_S = 0.3e-3
MODEL = "llama-3.1-8b"
#: the explicit layout: tensor parallelism over this many GPUs of one node (fewer on a smaller node)
EXPLICIT_TP = 8
#: the first prompt length, and how far apart the fresh ones are (tokens)
FIRST_PROMPT, PROMPT_STEP = 1000, 7


def _fresh_median(call, points: int) -> float:
    """Median CPU seconds of ``call(prompt)`` with a new prompt length each time (after a
    warm-up call that builds what a system builds once)."""
    call(FIRST_PROMPT)
    times = []
    for i in range(1, points + 1):
        prompt = FIRST_PROMPT + PROMPT_STEP * i
        t0 = time.process_time()
        call(prompt)
        times.append(time.process_time() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=50, help="fresh points per figure, median taken (default 50)")
    ap.add_argument("--write", action="store_true", help=f"record the figures in {OUT.relative_to(OUT.parents[2])}")
    ns = ap.parse_args(argv)
    import wafersim
    from wafersim.presets import list_presets

    model = wafersim.load_model(MODEL)
    rows = {}
    for name in list_presets("meshes"):
        system = wafersim.load_system(name)
        cases = {"default": {}}
        if getattr(system, "kind", "") == "gpu":
            cases["explicit"] = {"tp": min(EXPLICIT_TP, system.interconnect.gpus_per_node), "pp": 1}
        for case, kw in cases.items():
            t = _fresh_median(lambda prompt: wafersim.simulate(system, model, prompt_tokens=prompt, **kw),
                              max(1, ns.points))
            rows[f"{name}/{case}"] = {"median_s": t, "under_target": t <= TARGET_S, **{k: v for k, v in kw.items()}}
            print(f"{name:<14} {case:<9} {t * 1e3:7.3f} ms{'' if t <= TARGET_S else '  (over 0.3 ms)'}", flush=True)
    worst = max(rows, key=lambda k: rows[k]["median_s"])
    print(f"worst: {worst} {rows[worst]['median_s'] * 1e3:.3f} ms (target {TARGET_S * 1e3:.1f} ms)")
    if ns.write:
        write_json(OUT, {"benchmark": "fresh analytic points", "model": MODEL, "points": ns.points,
                         "target_s": TARGET_S, "machine": platform.platform(), "python": platform.python_version(),
                         "clock": "process CPU time", "rows": rows, "worst": worst})
        print(f"written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
