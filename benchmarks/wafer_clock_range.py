"""How wafer answers move across the sourced range of the core clock, the calibration kept in cycles.

What the wafer rows measure is cycles: WaferLLM's per-layer tables are cycle counts its code
converts to time at 1.1 GHz (``wafersim.validation.wafer_fit.ROWS_CLOCK_HZ``), so the fitted
kernel constants (collective_step_cycles, compute_efficiency, gemm_step_cycles) are cycles and
the same at any clock.  The clock itself is not published for either chip: WaferLLM's code
uses 1.1 GHz, Cerebras's SDK examples 850 MHz, and WSE-3's published fabric and memory
bandwidth totals imply about 0.93-1.0 GHz (docs/models.md).  For each clock of that range this
runs wse3 with every calibrated constant held in cycles and reports what the model then
predicts, against the presets' 1.1 GHz: every on-chip time scales by 1.1 GHz / f, so a job
that fits on chip slows by that much, while edge I/O and wafer-to-wafer links (bytes/s and
seconds) do not scale.

Run: ``python benchmarks/wafer_clock_range.py [--write]``; prints a table and, with
``--write``, records it in ``benchmarks/results/wafer_clock_range.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import wafersim
from wafersim.validation.wafer_fit import ROWS_CLOCK_HZ

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

#: the sourced range: the SDK examples' 850 MHz; what WSE-3's bandwidth totals imply; WaferLLM's 1.1 GHz
CLOCKS_HZ = (0.85e9, 0.93e9, 1.0e9, 1.1e9)
CLOCK_SOURCES = {0.85e9: "Cerebras SDK examples (csl-examples)", 0.93e9: "WSE-3 fabric total (0.93 GHz)",
                 1.0e9: "WSE-3 SRAM total (0.97 GHz), rounded", 1.1e9: "WaferLLM's code (its cycle conversion)"}
MODELS = ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b")


def predictions(clock_hz: float) -> dict:
    out = {}
    for model in MODELS:
        r = wafersim.simulate(wafersim.load_system("wse3", {"core.clock_hz": clock_hz}), model, wafers="auto",
                              prompt_tokens=1024, output_tokens=256).summary
        out[model] = {"tokens_per_s_per_user": r["tokens_per_s_per_user"], "ttft_s": r["ttft_s"],
                      "wafers": r["devices"]}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="record the table in benchmarks/results/wafer_clock_range.json")
    args = ap.parse_args(argv)
    rows = [{"clock_hz": clock, "source": CLOCK_SOURCES[clock], "wse3": predictions(clock)} for clock in CLOCKS_HZ]
    ref = next(r["wse3"] for r in rows if r["clock_hz"] == ROWS_CLOCK_HZ)
    for r in rows:
        r["tokens_per_s_vs_rows_clock"] = {m: r["wse3"][m]["tokens_per_s_per_user"] / ref[m]["tokens_per_s_per_user"]
                                           for m in MODELS}
    print(f"{'clock':>8} {'f/1.1G':>7} {'8B tok/s':>9} {'70B tok/s':>9} {'405B tok/s':>10} {'8B TTFT ms':>11}  source")
    for r in rows:
        p = r["wse3"]
        print(f"{r['clock_hz'] / 1e9:>7.2f}G {r['clock_hz'] / ROWS_CLOCK_HZ:>7.3f} "
              f"{p['llama-3.1-8b']['tokens_per_s_per_user']:>9.0f} {p['llama-3.1-70b']['tokens_per_s_per_user']:>9.0f} "
              f"{p['llama-3.1-405b']['tokens_per_s_per_user']:>10.0f} {p['llama-3.1-8b']['ttft_s'] * 1e3:>11.2f}  "
              f"{r['source']}")
    if args.write:
        write_json(Path(__file__).resolve().parent / "results" / "wafer_clock_range.json",
                   {"rows_clock_hz": ROWS_CLOCK_HZ, "rows": rows})


if __name__ == "__main__":
    main()
