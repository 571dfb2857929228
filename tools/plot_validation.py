"""Draw predicted against measured for every row of a ``wafersim validate -o`` file.

    wafersim validate -o val.h5
    python tools/plot_validation.py val.h5 [-o val-validation.png] [--band 0.15] [--dpi N]

A grid of log-log panels, one per kind of system and metric (``gpu/ttft_s``,
``wafer/decode_layer_s``, rows served under a request rate apart), each with
the line of perfect agreement, a shaded error band, its rows' out-of-sample
error and the models, systems, runtimes and precision it holds; one colour and
marker per source across the grid, hollow markers for calibration rows.  The
drawing lives in :func:`wafersim.plots.plot_validation`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])      # run from a checkout without installing
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def main(argv: list[str] | None = None) -> int:
    from wafersim.plotting.tool import run_tool, tool_parser
    p = tool_parser("plot_validation.py", __doc__, "PNG to write (default: the input path, -validation.png)")
    p.add_argument("results", help="a results file written by wafersim validate -o")
    p.add_argument("--band", type=float, default=0.15, help="half-width of the shaded error band (default 0.15)")
    args = p.parse_args(argv)

    def draw(a):
        from wafersim.plots import validation_figure
        out = Path(a.output or str(Path(a.results).with_suffix("")) + "-validation.png")
        return [(validation_figure(a.results, band=a.band), out)]
    return run_tool(args, draw)


if __name__ == "__main__":
    sys.exit(main())
