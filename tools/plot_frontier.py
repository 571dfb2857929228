"""Draw both systems' throughput-interactivity frontiers from a ``compare --frontier`` file.

    wafersim compare wse3 dgx-h100 llama-3.1-70b --frontier -o fr.h5
    python tools/plot_frontier.py fr.h5 [-o fr-frontier.png] [--dpi N]

One panel per basis: tokens/s per device, per kW of wall power, and per dollar
(million tokens per $1,000), against tokens/s per user.  Each point is labelled
with its batch (labels that would overlap are left out), hollow where the batch
spills (``--spill``); a dashed line marks each crossover, the interactivity
where the better side changes, and each panel's title is the sentence
``compare`` printed for its basis.  The figure's title names the model, both
systems with their runtime profile and its class, and the precision.  The
drawing lives in :func:`wafersim.plots.plot_frontier`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])      # run from a checkout without installing
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def main(argv: list[str] | None = None) -> int:
    from wafersim.plotting.tool import run_tool, tool_parser
    p = tool_parser("plot_frontier.py", __doc__, "PNG to write (default: the input path, -frontier.png)")
    p.add_argument("results", help="a results file written by wafersim compare --frontier -o")
    args = p.parse_args(argv)

    def draw(a):
        from wafersim.plots import frontier_figure
        out = Path(a.output or str(Path(a.results).with_suffix("")) + "-frontier.png")
        return [(frontier_figure(a.results), out)]
    return run_tool(args, draw)


if __name__ == "__main__":
    sys.exit(main())
