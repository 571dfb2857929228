"""Draw per-core heat maps of a flow run: SRAM occupancy and link utilisation.

    python tools/plot_heatmaps.py out.h5 [--run ID] [--wafer N] [-o PREFIX]

writes ``PREFIX-sram.png`` and ``PREFIX-links.png`` (PREFIX defaults to the
results file's path without ``.h5``).  The file must come from a flow run
(``wafersim run ... --fidelity flow -o out.h5``); analytic runs have no
per-core arrays.  The drawing itself lives in :mod:`wafersim.plots`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])      # run from a checkout without installing
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _draw(args) -> list:
    from wafersim.plots import plot_link_utilisation, plot_sram_occupancy
    from wafersim.results.hdf5 import read_run

    path = Path(args.results)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    run = read_run(path, args.run)
    prefix = args.output if args.output is not None else str(path.with_suffix(""))
    figures = []
    for suffix, draw in (("sram", plot_sram_occupancy), ("links", plot_link_utilisation)):
        try:
            ax = draw(run, wafer=args.wafer)
        except ValueError as exc:       # not a flow run, or a wafer out of range
            raise ValueError(f"{path}: {exc}") from None
        figures.append((ax.figure, Path(f"{prefix}-{suffix}.png")))
    return figures


def main(argv: list[str] | None = None) -> int:
    from wafersim.plotting.tool import run_tool, tool_parser
    p = tool_parser("plot_heatmaps.py", __doc__, "output prefix; writes PREFIX-sram.png and PREFIX-links.png "
                    "(default: the input path without .h5)", metavar="PREFIX")
    p.add_argument("results", help="wafersim results file (.h5) written by a --fidelity flow run")
    p.add_argument("--run", default=None, help="run id inside the file (default: the first run)")
    p.add_argument("--wafer", type=int, default=0, help="wafer to draw (default 0)")
    return run_tool(p.parse_args(argv), _draw)


if __name__ == "__main__":
    sys.exit(main())
