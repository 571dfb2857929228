"""Both sides of a ``compare --frontier`` file: throughput against interactivity on each basis,
points labelled with their batch, and the interactivity where the better side changes marked."""

from __future__ import annotations

import json
import math
from itertools import chain, zip_longest
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Mapping, Sequence

from .text import about_runs, declutter, fit_width, read_rows, wrap
from .tool import pyplot

__all__ = ["FRONTIER_PANELS", "plot_frontier", "frontier_crossovers", "frontier_figure", "CROSSOVERS_ATTR"]

#: the frontier panels: (column, basis of wafersim.headtohead.BASES, y label, transform of the stored value)
FRONTIER_PANELS = (("tokens_per_s_per_device", "device", "tokens/s per device", lambda v: v),
                   ("tokens_per_s_per_kw", "kW", "tokens/s per kW of wall power", lambda v: v),
                   ("usd_per_million_tokens", "dollar", "million tokens per $1,000", lambda v: 1e3 / v))
#: the root attribute of a frontier file that holds each basis's crossover sentence (JSON)
CROSSOVERS_ATTR = "frontier-crossovers"
_BATCH_FONTSIZE = 7
_SIDE_MARKERS = ("o", "s")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _as_frontier(side: Mapping[str, list[Any]]) -> Any:
    """A :class:`wafersim.headtohead.Frontier` of one side's table (its points' summaries hold
    the table's finite values), for :func:`wafersim.headtohead.crossovers`."""
    from ..headtohead import Frontier
    keys = [k for k in side if k != "system"]
    runs = tuple(SimpleNamespace(summary={k: side[k][i] for k in keys if _finite(side[k][i])})
                 for i in range(len(side["batch"])))
    return Frontier(str(side["system"][0]), runs, {}, int(max(side["batch"])))


def frontier_crossovers(sides: Sequence[Mapping[str, list[Any]]]) -> dict[str, list[tuple[float, str]]]:
    """Per basis (``device``, ``kW``, ``dollar``), the interactivities (tokens/s per user) where
    the better side changes and the side better above each, from the two sides' tables."""
    from ..headtohead import crossovers
    if len(sides) != 2:
        return {}
    a, b = (_as_frontier(s) for s in sides)
    return {basis: crossovers(a, b, basis)[0][1:] for _, basis, _, _ in FRONTIER_PANELS}


def _on_envelope(side: Mapping[str, list[Any]], pts: list[tuple[float, float, bool, int]]) -> list[tuple[float, float, bool, int]]:
    """An envelope's points on this panel's envelope (a point on another basis's envelope only is
    left out), most interactive first; a one-deployment frontier's points all, as stored."""
    if len(set(side.get("deployment") or [])) <= 1:
        return pts
    from ..envelope import pareto
    keep = sorted(pareto([(p[0], p[1]) for p in pts], True))      # every panel's y is more-is-better
    return sorted((pts[i] for i in keep), key=lambda p: -p[0])


def _batch_labels(ax: Any, pts: list[tuple[float, float, bool, int]], colour: str) -> list[Any]:
    """Each point's batch next to it; returns them, the first and last batch first (they are
    kept when labels crowd)."""
    texts = []
    for x, y, _, batch in pts:
        texts.append(ax.annotate(str(batch), (x, y), xytext=(4, 4), textcoords="offset points",
                                 fontsize=_BATCH_FONTSIZE, color=colour))
    return texts[:1] + texts[-1:] + texts[1:-1] if len(texts) > 1 else texts


def plot_frontier(sides: Iterable[Mapping[str, list[Any]]], axes: Any = None, about: str = "",
                  crossover_text: Mapping[str, str] | None = None) -> Any:
    """Throughput against interactivity for each side of a ``compare --frontier`` file: one
    panel per basis (device, kW, dollar), one line per system with each point labelled with
    its batch, hollow markers where the batch no longer fits on chip, and a dashed line at
    each crossover (where the better side changes, :func:`frontier_crossovers`) naming the
    side better above it.  ``sides`` are the tables of
    :func:`wafersim.results.hdf5.read_table` (``frontier/a``, ``frontier/b``); ``about``
    (model, systems, runtimes, precision) goes under the title and ``crossover_text``
    (basis -> sentence, as ``compare`` stores it) under each panel's title.  Returns the axes."""
    sides = list(sides)
    if axes is None:
        _, axes = pyplot().subplots(1, len(FRONTIER_PANELS), figsize=(16, 5.4), dpi=100, layout="constrained")
    cross = frontier_crossovers(sides)
    labels = []
    for ax, (key, basis, label, transform) in zip(axes, FRONTIER_PANELS):
        ax_labels = []
        for i, side in enumerate(sides):
            xs, ys, fits, batches = side["tokens_per_s_per_user"], side.get(key), side["fits_on_chip"], side["batch"]
            pts = [(x, transform(y), bool(f), int(b)) for x, y, f, b in zip(xs, ys or [], fits, batches)
                   if _finite(y) and y > 0 and _finite(x) and x > 0]
            pts = _on_envelope(side, pts)
            if not pts:
                continue
            colour, marker = f"C{i}", _SIDE_MARKERS[i % len(_SIDE_MARKERS)]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", color=colour, marker=marker, markersize=0,
                    label=f"{'AB'[i] if i < 2 else i}: {side['system'][0]}")
            for fits_here, face in ((True, colour), (False, "white")):
                sub = [p for p in pts if p[2] is fits_here]
                if sub:
                    ax.plot([p[0] for p in sub], [p[1] for p in sub], marker, color=colour, markerfacecolor=face,
                            markersize=6, linestyle="none")
            ax_labels.append(_batch_labels(ax, pts, colour))
        for x, winner in cross.get(basis, []):
            ax.axvline(x, color="0.35", linestyle="--", linewidth=1.2, zorder=1, gid="crossover")
            ax.annotate(f"crossover at {x:.4g}:\n{winner} better above", xy=(x, 0.02),
                        xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points",
                        fontsize=8, color="0.2", ha="left", va="bottom",
                        bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="0.6", alpha=0.9))
        # the sides' labels taken in turn, so that each side keeps its ends when they crowd
        labels += [t for t in chain.from_iterable(zip_longest(*ax_labels)) if t is not None]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tokens/s per user (interactivity)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        words = (crossover_text or {}).get(basis, "")
        ax.set_title(wrap(words or label, fit_width(ax.figure, 9, 1 / len(FRONTIER_PANELS))), fontsize=9)
        ax.legend(title="numbers: batch; hollow: spills", fontsize=8, title_fontsize=8, loc="best")
    title = "Throughput against interactivity: further right is faster for each user, higher is more throughput"
    fig = axes[0].figure
    fig.suptitle(wrap(title + (f"\n{about}" if about else ""), fit_width(fig, 10)), fontsize=10)
    declutter(fig, labels)
    return axes


def _stored_crossovers(path: str | Path) -> dict[str, str]:
    from ..results.hdf5 import _attr_text, _reading
    with _reading(path, CROSSOVERS_ATTR) as f:
        raw = _attr_text(f.attrs.get(CROSSOVERS_ATTR, "{}"))
    try:
        value = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        value = {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def frontier_figure(path: str | Path) -> Any:
    """The figure of a ``compare --frontier -o`` file: both sides, their crossovers, and a
    title naming the model, the systems with their runtime (and class) and the precision."""
    from ..results.hdf5 import read_table
    sides = [read_table(path, name) for name in ("frontier/a", "frontier/b")]
    rows = read_rows(path)
    rows.sort(key=lambda r: r.get("system") != sides[0]["system"][0])     # side A named first
    context = f"; prompt {rows[0].get('prompt_tokens', '?')} + {rows[0].get('output_tokens', '?')} output tokens" \
        if rows else ""
    about = about_runs(rows) + context
    return plot_frontier(sides, about=about, crossover_text=_stored_crossovers(path))[0].figure

