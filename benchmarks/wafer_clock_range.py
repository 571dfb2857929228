"""How wafer answers move across the plausible core clock, with the calibration kept in cycles.

The presets convert cycles to seconds at 1.1 GHz, a research code's constant
(WaferLLM); Cerebras's SDK examples convert at 850 MHz, and the published
fabric and memory bandwidth totals imply about 0.93-1.0 GHz (docs/models.md).
For each clock this reruns the joint fit of the wafer kernel constants
(``wafersim.validation.wafer_fit``: collective_step_cycles, compute_efficiency and
gemm_step_cycles on WaferLLM's LLaMA3-8B decode and prefill layers) and reports the
fit, its worst residual and what the model then predicts.

Run: ``python benchmarks/wafer_clock_range.py [--write]``; prints a table and, with
``--write``, records it in ``benchmarks/results/wafer_clock_range.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import wafersim
from wafersim.validation.wafer_fit import ROWS, fit_wafer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

CLOCKS_HZ = (0.85e9, 0.93e9, 1.0e9, 1.1e9)


def predictions(sets: dict) -> dict:
    out = {}
    for model in ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b"):
        r = wafersim.simulate(wafersim.load_system("wse3", sets), model, wafers="auto", prompt_tokens=1024,
                              output_tokens=256).summary
        out[model] = {"tokens_per_s_per_user": r["tokens_per_s_per_user"], "ttft_s": r["ttft_s"],
                      "wafers": r["devices"]}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="record the table in benchmarks/results/wafer_clock_range.json")
    args = ap.parse_args(argv)
    rows = []
    for clock in CLOCKS_HZ:
        fit = fit_wafer(base={"core.clock_hz": clock})
        rows.append({"clock_hz": clock, **{k.split(".")[1]: v for k, v in fit.values.items()},
                     "worst_residual": max(abs(math.expm1(e)) for e in fit.residuals.values()),
                     "wse3": predictions({"core.clock_hz": clock, **fit.values})})
    print(f"{'clock':>8} {'step':>6} {'eff':>6} {'gemm':>6} {'worst':>6} {'8B tok/s':>9} {'70B tok/s':>9} "
          f"{'405B tok/s':>10} {'8B TTFT ms':>11}")
    for r in rows:
        p = r["wse3"]
        print(f"{r['clock_hz'] / 1e9:>7.2f}G {r['collective_step_cycles']:>6.2f} {r['compute_efficiency']:>6.3f} "
              f"{r['gemm_step_cycles']:>6.1f} {100 * r['worst_residual']:>5.1f}% "
              f"{p['llama-3.1-8b']['tokens_per_s_per_user']:>9.0f} {p['llama-3.1-70b']['tokens_per_s_per_user']:>9.0f} "
              f"{p['llama-3.1-405b']['tokens_per_s_per_user']:>10.0f} {p['llama-3.1-8b']['ttft_s'] * 1e3:>11.2f}")
    if args.write:
        write_json(Path(__file__).resolve().parent / "results" / "wafer_clock_range.json",
                   {"calibration_rows": list(ROWS), "rows": rows})


if __name__ == "__main__":
    main()
