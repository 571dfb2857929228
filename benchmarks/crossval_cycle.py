"""Flow vs cycle: the network time of the same dataflow programs by both models.

    python benchmarks/crossval_cycle.py [--write] [--quick]

For llama-3.1-8b on a WSE-2 (bf16, batch 1, decode), one layer on a 16 x 16,
32 x 32 and 64 x 64 block (``--cores``, sequential placement) and four layers
pipelined on a 64 x 64 block (hand-offs between layers), every decode stage
(row broadcasts and column reductions: GEMV on a region), the hand-off and the
spill stream through edge I/O are timed by the flow model (busiest link +
longest path), by the flow model with the cores' injection and ejection ports
counted (``flow_ports``) and by the cycle-level simulation
(:func:`wafersim.engines.cycle.network_times`).  Prints a markdown table of the
ratios (the one in docs/models.md); ``--write`` stores the rows in
``benchmarks/results/cycle_crossval.json``.  ``--quick`` runs the 16 x 16 and
32 x 32 cases only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "cycle_crossval.json"
CASES = [("16x16", 1, "sequential"), ("32x32", 1, "sequential"), ("64x64", 1, "sequential"),
         ("64x64", 4, "pipelined")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="crossval_cycle.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    p.add_argument("--quick", action="store_true", help="the two small cases only")
    args = p.parse_args(argv)
    import wafersim
    from wafersim import MappingOptions, Scenario
    from wafersim.engines.cycle import network_times
    system, model = wafersim.load_system("wse2"), wafersim.load_model("llama-3.1-8b")
    out = []
    print("| case | stage | flow | cycle | cycle / flow | cycle / flow+ports |")
    print("|---|---|---|---|---|---|")
    for cores, layers, placement in CASES[:2] if args.quick else CASES:
        t0 = time.perf_counter()
        rows = network_times(system, model, Scenario(layers=layers, batch=1).resolved(model),
                             MappingOptions(cores=cores, placement=placement))
        case = f"{cores}, {layers} layer{'s' if layers > 1 else ''} {placement}"
        for r in rows:
            print(f"| {case} | {r['stage']}{' (scaled)' if r['scaled'] else ''} | {r['flow_s'] * 1e9:.4g} ns | "
                  f"{r['cycle_s'] * 1e9:.4g} ns | {r['cycle_s'] / r['flow_s']:.3f} | "
                  f"{r['cycle_s'] / r['flow_ports_s']:.3f} |")
            out.append({"case": case, **r})
        print(f"<!-- {case}: {time.perf_counter() - t0:.1f} s -->")
    if args.write:
        from benchmarks._results import write_json
        write_json(RESULTS, out)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
