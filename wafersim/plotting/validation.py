"""Predicted against measured for a ``wafersim validate -o`` file: a grid of log-log panels,
one per kind of system and metric, each with the line of agreement and an error band."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any, Mapping, Sequence

from .text import about_runs, fit_width, listing, log_ticks, precision_text, read_rows, thin_ticks, wrap
from .tool import pyplot

__all__ = ["validation_panels", "plot_validation", "validation_figure", "GRID_COLUMNS"]

#: panels per row of the grid
GRID_COLUMNS = 4
_PANEL_SIZE = (4.3, 4.1)        # inches per panel
_MARKERS = ("o", "s", "^", "D", "v")
_PANEL_FONTSIZE = 8
_FEW_TICKS = 3
_TITLE_FONTSIZE = 10


def _panel_key(kind: str, metric: str, request_rate: Any) -> str:
    """As :func:`wafersim.validation.group_key`: "gpu/ttft_s", "@load" added for a row served
    under a request rate (its first token waits in a queue: not a static batch's quantity)."""
    loaded = isinstance(request_rate, (int, float)) and math.isfinite(request_rate) and request_rate > 0
    return f"{kind}/{metric}" + ("@load" if loaded else "")


def validation_panels(table: Mapping[str, list[Any]], rows: Sequence[Mapping[str, Any]] | None = None
                      ) -> dict[str, list[int]]:
    """The panels of the grid: kind of system and metric ("gpu/ttft_s", "gpu/ttft_s@load")
    -> the indices of its rows in ``table``, in sorted order.  ``rows`` are the runs' summary
    rows (:func:`~wafersim.plotting.text.read_rows`) in the table's order; without them the
    kind is unknown ("?")."""
    panels: dict[str, list[int]] = {}
    for i, metric in enumerate(table["metric"]):
        r = rows[i] if rows is not None else {}
        panels.setdefault(_panel_key(r.get("kind", "?"), metric, r.get("request_rate")), []).append(i)
    return dict(sorted(panels.items()))


def _panel_title(key: str, table: Mapping[str, list[Any]], idx: list[int],
                 rows: Sequence[Mapping[str, Any]] | None) -> str:
    kind_metric, _, load = key.partition("@")
    kind, _, metric = kind_metric.partition("/")
    head = f"{kind} systems: {metric}" + (" under load" if load else "")
    errors = [abs(table["relative_error"][i]) for i in idx
              if "relative_error" in table and not table["calibration"][i]]
    errors = sorted(e for e in errors if math.isfinite(e))
    if errors:
        stats = (f"{len(idx)} rows; out of sample ({len(errors)}): median {statistics.median(errors):.0%}, "
                 f"worst {errors[-1]:.0%}")
    else:
        stats = f"{len(idx)} rows, all used for calibration"
    lines = [head, stats]
    if rows is not None:
        sub = [rows[i] for i in idx]
        lines.append(f"{listing((r.get('model') for r in sub), 2)} on {listing((r.get('system') for r in sub), 2)}")
        runtimes = listing((f"{r['runtime']} ({r.get('runtime_class', '?')})" for r in sub if r.get("runtime")), 2)
        precision = precision_text((r.get("dtype"), r.get("kv_dtype")) for r in sub)
        lines.append("; ".join(w for w in (runtimes, precision) if w))
    return "\n".join(lines)


def plot_validation(table: Mapping[str, list[Any]], band: float = 0.15, axes: Any = None,
                    rows: Sequence[Mapping[str, Any]] | None = None, about: str = "") -> Any:
    """Predicted against measured for every row of a ``validate -o`` file: a grid with one
    log-log panel per kind of system and metric (:func:`validation_panels`), each with the
    line of perfect agreement, a +/- ``band`` error band and a title giving its rows, their
    out-of-sample error and (given ``rows``) their models, systems, runtimes and precision;
    one colour and marker per source across the grid, filled for rows not used for
    calibration and hollow for calibration rows.  ``table`` is
    :func:`wafersim.results.hdf5.read_table` of ``validation``; ``about`` goes under the
    figure's title.  Returns the panels' axes, in the order of :func:`validation_panels`."""
    panels = validation_panels(table, rows)
    n = len(panels)
    if axes is None:
        cols = min(GRID_COLUMNS, n)
        nrows = math.ceil(n / cols)
        fig, grid = pyplot().subplots(nrows, cols, figsize=(_PANEL_SIZE[0] * cols, _PANEL_SIZE[1] * nrows + 1.2),
                                      dpi=100, layout="constrained", squeeze=False)
        flat = list(grid.ravel())
        for spare in flat[n:]:
            spare.set_visible(False)
        axes = flat[:n]
    else:
        axes = list(axes)[:n]
    fig = axes[0].figure
    share = 1.0 / min(GRID_COLUMNS, n)
    groups = sorted(set(table.get("group") or ["all"] * len(table["metric"])))
    styles = {g: (f"C{i % 10}", _MARKERS[(i // 10) % len(_MARKERS)]) for i, g in enumerate(groups)}

    def group(i: int) -> str:
        return table["group"][i] if "group" in table else "all"

    for ax, (key, idx) in zip(axes, panels.items()):
        xs = [table["measured"][i] for i in idx]
        ys = [table["predicted"][i] for i in idx]
        values = [v for v in xs + ys if math.isfinite(v) and v > 0]
        lo, hi = (min(values) / 1.5, max(values) * 1.5) if values else (0.1, 10.0)
        line = [lo, hi]
        ax.plot(line, line, "-", color="0.3", lw=1)
        ax.fill_between(line, [v * (1 - band) for v in line], [v * (1 + band) for v in line], color="0.85",
                        label=f"+/- {band:.0%}")
        for i, x, y in zip(idx, xs, ys):
            colour, marker = styles[group(i)]
            ax.plot(x, y, marker, color=colour, markerfacecolor="white" if table["calibration"][i] else colour,
                    markersize=6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        metric = key.partition("/")[2].partition("@")[0]
        ax.set_xlabel(f"measured {metric}")
        ax.set_ylabel(f"predicted {metric}")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title(wrap(_panel_title(key, table, idx, rows), fit_width(fig, _PANEL_FONTSIZE, share)),
                     fontsize=_PANEL_FONTSIZE)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullFormatter
    handles = [Line2D([], [], linestyle="none", marker=m, color=c, label=g) for g, (c, m) in styles.items()]
    handles += [Line2D([], [], linestyle="none", marker="o", color="0.4", markerfacecolor="white",
                       label="hollow: a calibration row"),
                Patch(color="0.85", label=f"+/- {band:.0%} of measured")]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), fontsize=8,
               title="source", title_fontsize=8)
    fig.suptitle(wrap("Predicted against published measurements" + (f"\n{about}" if about else ""),
                      fit_width(fig, _TITLE_FONTSIZE)), fontsize=_TITLE_FONTSIZE)
    specs = []
    for ax in axes:           # 1-2-5 ticks, a label only where it has room (powers of ten first)
        lo, hi = ax.get_xlim()
        ticks = log_ticks(lo, hi)
        if len(ticks) < _FEW_TICKS:        # less than a decade: every digit
            ticks = log_ticks(lo, hi, steps=range(1, 10))
        tens = [t for t in ticks if math.log10(t).is_integer()]
        for axis in ("x", "y"):
            (ax.xaxis if axis == "x" else ax.yaxis).set_minor_formatter(NullFormatter())
            specs.append((ax, axis, ticks, [f"{t:g}" for t in ticks], tens))
    thin_ticks(specs)
    return axes


def validation_figure(path: str | Path, band: float = 0.15) -> Any:
    """The figure of a ``validate -o`` file, titled with the models, systems, runtimes (and
    classes) and precision of its rows."""
    from ..results.hdf5 import read_table
    table = read_table(path, "validation")
    rows = read_rows(path)
    by_id = {r["run"]: r for r in rows}
    rows = [by_id.get(rid, {}) for rid in table["run"]]
    about = f"{len(rows)} rows: " + about_runs(rows, devices=False)
    return plot_validation(table, band=band, rows=rows, about=about)[0].figure
