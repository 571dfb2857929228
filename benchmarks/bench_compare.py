"""Time compare's envelope frontier and its 1,000-sample uncertainty on llama-3.1-70b.

Run from the repository root: ``python benchmarks/bench_compare.py [--repeat N] [--write]``.
Prints, for wse3 against dgx-h100 on llama-3.1-70b:

* ``envelope_70b_s``: both sides' envelopes over their deployments
  (:func:`wafersim.envelope.envelope`: wafer counts 4 to 8, every GPU layout of one and two
  nodes and of parts of a node, each batch up to the largest that fits), the first time in
  this process (target 10 s), and again with the engines' caches warm;
* ``uncertainty_1000_s``: 1,000 samples of the sized comparison
  (:func:`wafersim.uncertainty.sample`; target 1 s), the two runs it samples not counted.

Times are CPU seconds of this process (``time.process_time``; a shared machine's wall time
counts its neighbours' work too), the median of ``--repeat`` runs.  ``--write`` records them
in ``benchmarks/results/compare.json``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "compare.json"
TARGETS = {"envelope_70b_first_s": 10.0, "envelope_70b_warm_s": 10.0, "uncertainty_1000_s": 1.0}


def _timed(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    p.add_argument("--write", action="store_true", help=f"record the figures in {OUT.relative_to(ROOT)}")
    ns = p.parse_args(argv)
    import wafersim
    from wafersim.envelope import envelope
    from wafersim.uncertainty import sample, side_ranges
    model = wafersim.load_model("llama-3.1-70b")
    systems = [wafersim.load_system(n) for n in ("wse3", "dgx-h100")]

    def both():
        return [envelope(s, model) for s in systems]
    figures = {"envelope_70b_first_s": _timed(both)}
    figures["envelope_70b_warm_s"] = statistics.median(_timed(both) for _ in range(ns.repeat))
    runs = [wafersim.simulate(s, model).summary.to_dict() for s in systems]
    ranges = [side_ranges(s) for s in systems]
    figures["uncertainty_1000_s"] = statistics.median(
        _timed(lambda: sample(runs[0], ranges[0], runs[1], ranges[1], 1000, seed=0)) for _ in range(ns.repeat))
    points = {s.name: len(f.evaluated) for s, f in zip(systems, both())}
    for key, value in figures.items():
        print(f"{key:<24} {value:8.3f} s   target {TARGETS[key]:g} s   {'PASS' if value <= TARGETS[key] else 'over'}")
    print(f"points run per envelope: {points}")
    if ns.write:
        from benchmarks._results import write_json
        write_json(OUT, {"figures": figures, "targets": TARGETS, "points_run": points, "repeat": ns.repeat,
                         "python": platform.python_version(), "machine": platform.machine()})
        print(f"wrote {OUT.relative_to(ROOT)}")
    return 0 if all(figures[k] <= TARGETS[k] for k in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
