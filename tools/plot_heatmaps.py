"""Draw per-core heat maps of a flow run: SRAM occupancy and link utilisation.

    python tools/plot_heatmaps.py out.h5 [--run ID] [--wafer N] [-o PREFIX]

writes ``PREFIX-sram.png`` and ``PREFIX-links.png`` (PREFIX defaults to the
results file's path without ``.h5``).  The file must come from a flow run
(``wafersim run ... --fidelity flow -o out.h5``); analytic runs have no
per-core arrays.  The drawing itself lives in :mod:`wafersim.plots`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="plot_heatmaps.py", description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="wafersim results file (.h5) written by a --fidelity flow run")
    p.add_argument("--run", default=None, help="run id inside the file (default: the first run)")
    p.add_argument("--wafer", type=int, default=0, help="wafer to draw (default 0)")
    p.add_argument("-o", "--output", default=None, metavar="PREFIX",
                   help="output prefix; writes PREFIX-sram.png and PREFIX-links.png (default: the input path without .h5)")
    p.add_argument("--dpi", type=int, default=100, help="resolution of the PNGs (default 100)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from wafersim.plots import tool_pyplot
    plt = tool_pyplot()             # None, with the reason on stderr, without matplotlib
    if plt is None:
        return 2
    from wafersim.plots import NotAFlowRunError, plot_link_utilisation, plot_sram_occupancy, save_png
    from wafersim.results.hdf5 import ResultsFormatError, read_run

    path = Path(args.results)
    if not path.is_file():
        print(f"error: {path}: no such file", file=sys.stderr)
        return 2
    try:
        run = read_run(path, args.run)
    except (ResultsFormatError, KeyError, OSError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    prefix = args.output if args.output is not None else str(path.with_suffix(""))
    written = []
    try:
        for suffix, draw in (("sram", plot_sram_occupancy), ("links", plot_link_utilisation)):
            ax = draw(run, wafer=args.wafer)
            out = Path(f"{prefix}-{suffix}.png")
            out.parent.mkdir(parents=True, exist_ok=True)
            save_png(ax.figure, out, dpi=args.dpi)
            plt.close(ax.figure)
            written.append(out)
    except NotAFlowRunError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:   # wafer out of range
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    for out in written:
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
