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
    from wafersim.plots import plot_frontier, table_tool

    return table_tool(args.results, ["frontier/a", "frontier/b"], plot_frontier, args.output, "-frontier.png")

if __name__ == "__main__":
    sys.exit(main())
