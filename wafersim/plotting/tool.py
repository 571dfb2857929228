"""What the plot scripts in ``tools/`` share: matplotlib without a display (and how to install
it when it is missing), the ``-o``/``--dpi`` flags, one-line errors with status 2, and the
figures written atomically and reproducibly."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from ..atomic import atomic_path
from ..extras import install_hint

__all__ = ["INSTALL_HINT", "pyplot", "headless_pyplot", "tool_pyplot", "save_png", "tool_parser", "run_tool"]

#: how to get matplotlib: the ``plot`` extra of a checkout, or matplotlib alone
INSTALL_HINT = install_hint("plot")
DPI = 100


def pyplot(headless: bool = False) -> Any:
    """matplotlib.pyplot (on the file-only Agg backend with ``headless``); an ImportError that
    says how to install matplotlib when it is missing."""
    try:
        import matplotlib
        if headless:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f"plotting needs matplotlib; install it with: {INSTALL_HINT}") from None
    return plt


def headless_pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend, for the tools in tools/."""
    return pyplot(headless=True)


def tool_pyplot() -> Any:
    """:func:`headless_pyplot` for a tool's ``main``: None (and the reason on stderr) when
    matplotlib is missing, so that the tool exits with status 2."""
    try:
        return headless_pyplot()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def save_png(fig: Any, path: str | Path, dpi: float | None = None) -> Path:
    """Write ``fig`` as a PNG atomically (temporary file, then rename), without the
    software version or a date in its metadata, so the same input gives the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, metadata={"Software": None})
    return path


def tool_parser(prog: str, doc: str, output: str, metavar: str = "PNG") -> argparse.ArgumentParser:
    """A tool's parser: its name, the first paragraph of its docstring, ``-o/--output``
    (described by ``output``) and ``--dpi``; the tool adds its own arguments."""
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    p.add_argument("-o", "--output", default=None, metavar=metavar, help=output)
    p.add_argument("--dpi", type=int, default=DPI, help=f"resolution of the PNG (default {DPI})")
    return p


def _message(exc: BaseException) -> str:
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def run_tool(args: argparse.Namespace, draw: Callable[[argparse.Namespace], Sequence[tuple[Any, Path]]],
             plot: bool = True, instead: str = "") -> int:
    """Run a tool: with ``plot``, check matplotlib is there first (without it, say how to
    install it, or ``instead`` what else to do); ``draw(args)`` returns the (figure, path)
    pairs to write (it may print, and write other files).  Bad input (a missing or damaged
    file, an unknown axis, a bad value: ValueError, KeyError, OSError) is one line on stderr
    and status 2, and nothing is written.  Returns the exit status."""
    plt = None
    if plot:
        try:
            plt = headless_pyplot()
        except ImportError as exc:
            print(f"error: {exc}" + (f" ({instead})" if instead else ""), file=sys.stderr)
            return 2
    try:
        figures = list(draw(args))
    except (ValueError, KeyError, OSError) as exc:   # ConfigError, ResultsFormatError: ValueErrors
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 2
    for fig, out in figures:
        save_png(fig, out, dpi=args.dpi)
        plt.close(fig)
        print(f"wrote {out}")
    return 0
