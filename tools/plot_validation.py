"""Draw predicted against measured for every row of a ``wafersim validate -o`` file.

    wafersim validate -o val.h5
    python tools/plot_validation.py val.h5 [-o val-validation.png] [--band 0.15]

One log-log panel per metric, the line of perfect agreement and a shaded error band;
one colour per source, hollow markers for calibration rows.  The drawing lives in
:func:`wafersim.plots.plot_validation`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="plot_validation.py", description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="a results file written by wafersim validate -o")
    p.add_argument("-o", "--output", default=None, help="PNG to write (default: the input path, -validation.png)")
    p.add_argument("--band", type=float, default=0.15, help="half-width of the shaded error band (default 0.15)")
    args = p.parse_args(argv)
    from wafersim.plots import plot_validation, table_tool

    return table_tool(args.results, ["validation"], lambda t: plot_validation(t[0], band=args.band), args.output,
                      "-validation.png")

if __name__ == "__main__":
    sys.exit(main())
