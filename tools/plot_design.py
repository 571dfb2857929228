"""Draw a wafer design's floor plan by dies and the area shares of one of its cores.

    python tools/plot_design.py DESIGN [--set KEY=VALUE ...] [-o PNG] [--dpi N]

DESIGN is a design name (designs/) or file; --set changes a design variable or input as
`wafersim design --set` does (sram_per_core="96 KiB", simd_lanes=16, die_cols=80).  The
left panel draws the wafer to scale: its round, the usable square (dashed) and the die
grid, the gaps between dies being the scribe lines; the right panel one core's area by
part (SRAM, SIMD lanes, router, control).  The title names the design, its process node,
the chip's area and its cores.  PNG defaults to DESIGN-design.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])      # run from a checkout without installing
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _parser() -> argparse.ArgumentParser:
    from wafersim.plotting.tool import tool_parser

    p = tool_parser("plot_design.py", __doc__, "the PNG to write (default DESIGN-design.png)")
    p.add_argument("design", help="design name (designs/) or TOML path")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a design variable or input, e.g. sram_per_core=\"96 KiB\"")
    return p


def designed(args: argparse.Namespace):
    """The designed system ``args`` names (with its --set changes)."""
    from wafersim.config import parse_override
    from wafersim.design import load_design, to_system

    overrides, origin = {}, {}
    for item in args.set:
        key, value = parse_override(item)
        overrides[key], origin[key] = value, item
    return to_system(load_design(args.design, overrides or None, origin=origin or None))


def _draw(args: argparse.Namespace) -> list:
    from wafersim.plotting.design import design_figure

    ds = designed(args)
    out = Path(args.output) if args.output else Path(f"{Path(args.design).stem}-design.png")
    return [(design_figure(ds), out)]


def main(argv: list[str] | None = None) -> int:
    from wafersim.plotting.tool import run_tool
    return run_tool(_parser().parse_args(argv), _draw)


if __name__ == "__main__":
    sys.exit(main())
