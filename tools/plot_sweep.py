"""Plot any sweep collection written by ``wafersim sweep -o FILE.h5``.

    python tools/plot_sweep.py FILE.h5 AXIS METRIC [--hue AXIS]   # lines: METRIC against AXIS
    python tools/plot_sweep.py FILE.h5 AXIS AXIS [--metric M]     # heatmap of M over two axes
        [--select AXIS=VALUE ...] [-o PNG] [--dpi N]

Lines draw one curve per value of ``--hue`` (by default the one axis left),
each with its own marker and dash so that curves that coincide all show; a
heatmap colours each cell by the metric (default tokens_per_s_per_user), grey
where the point failed.  Points that spill off chip (fits_on_chip false) are
ringed.  Every other axis must be fixed with ``--select AXIS=VALUE`` (a value
as stored: SI numbers, preset names).  Byte and token values read as 64 KiB
and 32K; labels carry the units stored in the file, and the title names the
model, systems, runtime (and its class) and precision of the points drawn.
Writes ``FILE-AXIS-METRIC.png`` (or ``-o``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])      # run from a checkout without installing
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _draw(args) -> list:
    from wafersim.plots import plot_sweep_heatmap, plot_sweep_lines
    from wafersim.plotting.text import sweep_precisions
    from wafersim.sweep import read_collection

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
        draw, what = (lambda: plot_sweep_heatmap(c, args.x, args.y, args.metric, fixed, precisions=precisions),
                      f"{args.y}-{args.metric}")
    elif args.y in c.variables:
        draw, what = lambda: plot_sweep_lines(c, args.x, args.y, fixed, hue=args.hue, precisions=precisions), args.y
    else:
        raise ValueError(f"{args.y!r} is neither an axis nor a variable of {args.sweep}; axes: {', '.join(c.dims)}")
    precisions = sweep_precisions(args.sweep)
    src = Path(args.sweep)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}-{args.x}-{what}.png")
    return [(draw().figure, out)]


def main(argv: list[str] | None = None) -> int:
    from wafersim.plotting.tool import run_tool, tool_parser
    p = tool_parser("plot_sweep.py", __doc__, "PNG path (default FILE-AXIS-METRIC.png)")
    p.add_argument("sweep", help="HDF5 file written by `wafersim sweep -o`")
    p.add_argument("x", help="the axis along x")
    p.add_argument("y", help="a metric (lines) or a second axis (heatmap)")
    p.add_argument("--metric", default="tokens_per_s_per_user", help="heatmap colour (default tokens_per_s_per_user)")
    p.add_argument("--hue", default=None, help="lines: one curve per value of this axis")
    p.add_argument("--select", action="append", default=[], metavar="AXIS=VALUE", help="fix an axis not drawn")
    return run_tool(p.parse_args(argv), _draw)


if __name__ == "__main__":
    sys.exit(main())
