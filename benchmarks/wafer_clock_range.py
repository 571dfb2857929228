"""How wafer answers move across the plausible core clock, with the calibration kept in cycles.

The presets convert cycles to seconds at 1.1 GHz, a research code's constant
(WaferLLM); Cerebras's SDK examples convert at 850 MHz, and the published
fabric and memory bandwidth totals imply about 0.93-1.0 GHz (docs/models.md).
For each clock this refits ``calibration.collective_step_cycles`` to the one
per-layer decode measurement (WaferLLM Table 4: LLaMA3-8B on 420 x 420 WSE-2
cores, 11.57 us) and reports what the model then predicts.

Run: ``python benchmarks/wafer_clock_range.py [--write]``; prints a table and, with
``--write``, records it in ``benchmarks/results/wafer_clock_range.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import wafersim

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

CLOCKS_HZ = (0.85e9, 0.93e9, 1.0e9, 1.1e9)
MEASURED_LAYER_S = 11.57e-6          # WaferLLM (OSDI'25) Table 4: 2699.9 tok/s / 32 layers, WSE-2, 420 x 420 cores
LAYER_CASE = dict(layers=1, prompt_tokens=128, output_tokens=128,
                  mapping={"placement": "sequential", "cores": "420x420"})


def layer_s(clock_hz: float, step_cycles: float) -> float:
    w = wafersim.load_system("wse2", {"core.clock_hz": clock_hz, "calibration.collective_step_cycles": step_cycles})
    return wafersim.simulate(w, "llama-3.1-8b", **LAYER_CASE).summary["decode_layer_s"]


def fit_step_cycles(clock_hz: float) -> float:
    """Bisection: the layer time grows with the step cost."""
    lo, hi = 0.0, 1000.0
    if layer_s(clock_hz, lo) > MEASURED_LAYER_S:
        return lo
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if layer_s(clock_hz, mid) < MEASURED_LAYER_S else (lo, mid)
    return (lo + hi) / 2


def predictions(clock_hz: float, step_cycles: float) -> dict:
    sets = {"core.clock_hz": clock_hz, "calibration.collective_step_cycles": step_cycles}
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
        cycles = fit_step_cycles(clock)
        rows.append({"clock_hz": clock, "collective_step_cycles": cycles,
                     "layer_s": layer_s(clock, cycles), "wse3": predictions(clock, cycles)})
    print(f"{'clock':>8} {'step cycles':>12} {'8B tok/s':>10} {'70B tok/s':>10} {'405B tok/s':>10} {'8B TTFT ms':>11}")
    for r in rows:
        p = r["wse3"]
        print(f"{r['clock_hz'] / 1e9:>7.2f}G {r['collective_step_cycles']:>12.1f} "
              f"{p['llama-3.1-8b']['tokens_per_s_per_user']:>10.0f} {p['llama-3.1-70b']['tokens_per_s_per_user']:>10.0f} "
              f"{p['llama-3.1-405b']['tokens_per_s_per_user']:>10.0f} {p['llama-3.1-8b']['ttft_s'] * 1e3:>11.2f}")
    if args.write:
        write_json(Path(__file__).resolve().parent / "results" / "wafer_clock_range.json",
                   {"measured_layer_s": MEASURED_LAYER_S, "rows": rows})


if __name__ == "__main__":
    main()
