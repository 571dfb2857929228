"""Plot any sweep collection written by ``wafersim sweep -o FILE.h5``.

    python tools/plot_sweep.py FILE.h5 AXIS METRIC [--hue AXIS]   # lines: METRIC against AXIS
    python tools/plot_sweep.py FILE.h5 AXIS AXIS [--metric M]     # heatmap of M over two axes
        [--select AXIS=VALUE ...] [-o PNG]

Lines draw one curve per value of ``--hue`` (by default the one axis left);
a heatmap colours each cell by the metric (default tokens_per_s_per_user),
grey where the point failed.  Every other axis must be fixed with
``--select AXIS=VALUE`` (a value as stored: SI numbers, preset names).
Labels carry the units stored in the file.  Writes ``FILE-AXIS-METRIC.png``
(or ``-o``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="plot_sweep.py", description=__doc__.split("\n\n")[0])
    p.add_argument("sweep", help="HDF5 file written by `wafersim sweep -o`")
    p.add_argument("x", help="the axis along x")
    p.add_argument("y", help="a metric (lines) or a second axis (heatmap)")
    p.add_argument("--metric", default="tokens_per_s_per_user", help="heatmap colour (default tokens_per_s_per_user)")
    p.add_argument("--hue", default=None, help="lines: one curve per value of this axis")
    p.add_argument("--select", action="append", default=[], metavar="AXIS=VALUE", help="fix an axis not drawn")
    p.add_argument("-o", "--output", default=None, help="PNG path")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from wafersim.plots import tool_pyplot
    plt = tool_pyplot()             # None, with the reason on stderr, without matplotlib
    if plt is None:
        return 2
    from wafersim.plots import plot_sweep_heatmap, plot_sweep_lines, save_png
    from wafersim.results.errors import ResultsFormatError
    from wafersim.sweep import read_collection

    try:
        c = read_collection(args.sweep)
        fixed = {}
        for item in args.select:
            axis, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--select expects AXIS=VALUE; got {item!r}")
            fixed[axis] = c.index(axis, value)
        for name in (args.x, *([args.hue] if args.hue else [])):
            if name not in c.dims:
                raise ValueError(f"{name!r} is not an axis of {args.sweep}; axes: {', '.join(c.dims)}")
        if args.y in c.dims:
            ax = plot_sweep_heatmap(c, args.x, args.y, args.metric, fixed)
            what = f"{args.y}-{args.metric}"
        elif args.y in c.variables:
            ax = plot_sweep_lines(c, args.x, args.y, fixed, hue=args.hue)
            what = args.y
        else:
            raise ValueError(f"{args.y!r} is neither an axis nor a variable of {args.sweep}; axes: "
                             f"{', '.join(c.dims)}")
    except (ResultsFormatError, KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    src = Path(args.sweep)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}-{args.x}-{what}.png")
    save_png(ax.figure, out)
    plt.close(ax.figure)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
