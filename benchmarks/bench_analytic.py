"""Cost of one analytic ``simulate`` call for every preset pair: what a sweep pays per point.

Run: ``python benchmarks/bench_analytic.py [--repeat N] [--write]``.  For each
system preset and each model preset (a 2K prompt, or what a short-context model
takes; defaults otherwise), at batch 1 and ``--batch max``, the median
of ``--repeat`` in-process calls after one warm-up call (specs passed in, so
preset loading is not counted; the last rows time loading by name).  Prints a
summary table (median, worst pair) against the target of 0.3 ms per call and,
with ``--write``, records the figures in ``benchmarks/results/analytic.json``.
Figures on a shared 2-core machine vary by ~30 % run to run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import wafersim
from wafersim.presets import list_presets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

TARGET_S = 0.3e-3          # issue target per call, batch 1 and --batch max
OUT = Path(__file__).with_name("results") / "analytic.json"


def _median_call(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=15, help="timed calls per case (default 15)")
    ap.add_argument("--write", action="store_true", help=f"record the figures in {OUT.relative_to(OUT.parents[2])}")
    ns = ap.parse_args(argv)
    systems = {n: wafersim.load_system(n) for n in list_presets("meshes")}
    models = {n: wafersim.load_model(n) for n in list_presets("workloads")}
    rows = []
    for sname, system in systems.items():
        for mname, model in models.items():
            prompt = min(2048, model.max_context - 128)      # a 2K prompt, or what a short-context model takes
            for batch in (1, "max"):
                def call(system=system, model=model, batch=batch, prompt=prompt):
                    return wafersim.simulate(system, model, batch=batch, prompt_tokens=prompt)
                seconds = _median_call(call, ns.repeat)
                rows.append({"system": sname, "kind": system.kind, "model": mname, "batch": batch,
                             "seconds": seconds})
    by_name = _median_call(lambda: wafersim.simulate("wse3", "llama-3.1-8b"), ns.repeat)
    by_spec = _median_call(lambda: wafersim.simulate(systems["wse3"], models["llama-3.1-8b"]), ns.repeat)
    summary = {}
    for kind in ("wafer", "gpu"):
        for batch in (1, "max"):
            sel = [r for r in rows if r["kind"] == kind and r["batch"] == batch]
            worst = max(sel, key=lambda r: r["seconds"])
            summary[f"{kind}-batch-{batch}"] = {"median_s": statistics.median(r["seconds"] for r in sel),
                                                "worst_s": worst["seconds"],
                                                "worst": f"{worst['system']} + {worst['model']}", "pairs": len(sel)}
    print(f"{'case':<18} {'pairs':>5} {'median':>10} {'worst':>10}  worst pair   (target {TARGET_S * 1e3:.1f} ms)")
    for name, s in summary.items():
        flag = "PASS" if s["worst_s"] <= TARGET_S else "over"
        print(f"{name:<18} {s['pairs']:>5} {s['median_s'] * 1e3:>8.3f} ms {s['worst_s'] * 1e3:>8.3f} ms  "
              f"{s['worst']}  {flag}")
    print(f"wse3 + llama-3.1-8b by preset name {by_name * 1e3:.3f} ms, by spec {by_spec * 1e3:.3f} ms")
    if ns.write:
        write_json(OUT, {"machine": platform.platform(), "python": platform.python_version(),
                         "target_s": TARGET_S, "summary": summary, "by_name_s": by_name, "by_spec_s": by_spec,
                         "cases": rows})
        print(f"written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
