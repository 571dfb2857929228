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
    from wafersim.plots import headless_pyplot
    try:
        plt = headless_pyplot()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from wafersim.plots import plot_validation, save_png
    from wafersim.results.errors import ResultsFormatError
    from wafersim.results.hdf5 import read_table

    try:
        table = read_table(args.results, "validation")
    except (ResultsFormatError, KeyError, OSError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    axes = plot_validation(table, band=args.band)
    out = Path(args.output or str(Path(args.results).with_suffix("")) + "-validation.png")
    save_png(axes[0].figure, out)
    plt.close(axes[0].figure)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
