"""Draw both systems' throughput-interactivity frontiers from a ``compare --frontier`` file.

    wafersim compare wse3 dgx-h100 llama-3.1-70b --frontier -o fr.h5
    python tools/plot_frontier.py fr.h5 [-o fr-frontier.png]

One panel per basis: tokens/s per device, per kW of wall power, and per dollar
(million tokens per $1,000), against tokens/s per user; hollow markers where a
batch spills (``--spill``).  The drawing lives in :func:`wafersim.plots.plot_frontier`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="plot_frontier.py", description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="a results file written by wafersim compare --frontier -o")
    p.add_argument("-o", "--output", default=None, help="PNG to write (default: the input path, -frontier.png)")
    args = p.parse_args(argv)
    from wafersim.plots import headless_pyplot
    try:
        plt = headless_pyplot()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from wafersim.plots import plot_frontier, save_png
    from wafersim.results.errors import ResultsFormatError
    from wafersim.results.hdf5 import read_table

    try:
        sides = [read_table(args.results, f"frontier/{side}") for side in ("a", "b")]
    except (ResultsFormatError, KeyError, OSError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    axes = plot_frontier(sides)
    out = Path(args.output or str(Path(args.results).with_suffix("")) + "-frontier.png")
    save_png(axes[0].figure, out)
    plt.close(axes[0].figure)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
