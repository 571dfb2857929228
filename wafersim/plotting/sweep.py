"""A sweep collection (:func:`wafersim.sweep.read_collection`) drawn as lines or a heatmap:
values in the units readers use (64 KiB, 32K tokens), points that spill marked, series that
coincide still visible, and a title naming the model, systems, runtime and precision."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .text import about_runs, thin_tick_labels, value_label
from .tool import pyplot

__all__ = ["plot_sweep_lines", "plot_sweep_heatmap", "axis_labels", "SPILL_COLOUR"]

#: the ring around a point that spills off chip
SPILL_COLOUR = "crimson"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_LINESTYLES = ("-", "--", "-.", ":")
#: series drawn first are drawn wider, so that a later series on top of one leaves it visible
_WIDTH_STEPS = 3
_ALPHA = 0.85
#: what the title says about the drawn points, from the summary's text variables
_ABOUT_KEYS = ("model", "system", "runtime", "runtime_class", "kind")


def _numeric_axis(c: Any, axis: str) -> bool:
    values = np.asarray(c.variables[axis].data)
    zipped = any(v.dims == (axis,) and n != axis for n, v in c.variables.items())
    return values.dtype.kind in "iuf" and not zipped


def axis_labels(c: Any, axis: str) -> list[str]:
    """Readable values along a sweep axis: bytes in KiB/MiB/GiB, tokens as 1K..32K, other
    numbers as they are; a text or zipped axis as :meth:`Collection.ticks` gives it."""
    if not _numeric_axis(c, axis):
        return c.ticks(axis)
    units = c.variables[axis].units
    return [value_label(v, units) for v in np.asarray(c.variables[axis].data)]


def _sweep_positions(c: Any, axis: str) -> tuple[np.ndarray, bool]:
    """x positions along a sweep axis (its numbers, or 0..n-1), and whether they are its numbers."""
    if _numeric_axis(c, axis):
        return np.asarray(c.variables[axis].data).astype(float), True
    return np.arange(len(c.variables[axis].data), dtype=float), False


def _grid(c: Any, name: str, fixed: dict[str, int], cols: str, rows: str | None) -> np.ndarray:
    """Variable ``name`` with ``fixed`` taken, as a 2-D array: one row per value of ``rows``
    (a single row without it), one column per value of ``cols``."""
    data, dims = c.take(name, fixed)
    want = (cols,) + ((rows,) if rows else ())
    extra = [d for d in dims if d not in want]
    if extra:
        raise ValueError(f"axes {', '.join(extra)} are not drawn; fix each with --select AXIS=VALUE "
                         f"(values: {'; '.join(f'{d}: ' + ', '.join(c.ticks(d)) for d in extra)})")
    data = np.asarray(data)
    if rows is None:
        return data[None, :]
    return data.T if dims.index(rows) > dims.index(cols) else data


def _numbers(c: Any, metric: str, fixed: dict[str, int], cols: str, rows: str | None) -> np.ndarray:
    data = _grid(c, metric, fixed, cols, rows)
    if data.dtype == object or data.dtype.kind not in "iuf":
        raise ValueError(f"{metric} is not numeric; choose a number such as tokens_per_s_per_user")
    out = data.astype(float)
    if metric in c.variables and c.variables[metric].data.dtype == np.int8:
        out[out < 0] = np.nan       # true/false variables: -1 is the fill value
    return out


def _spills(c: Any, fixed: dict[str, int], cols: str, rows: str | None) -> np.ndarray:
    """True where a point ran and spilled: fits_on_chip false, or spilled bytes above zero."""
    out = None
    if "fits_on_chip" in c.variables:
        out = _grid(c, "fits_on_chip", fixed, cols, rows) == 0
    if "spilled_bytes" in c.variables:
        spilled = np.nan_to_num(_grid(c, "spilled_bytes", fixed, cols, rows).astype(float)) > 0
        out = spilled if out is None else out | spilled
    return out if out is not None else np.zeros(_grid(c, "point", fixed, cols, rows).shape, dtype=bool)


def _about(c: Any, fixed: dict[str, int], cols: str, rows: str | None,
           precisions: Mapping[int, tuple[str, str]] | None) -> str:
    """Model, systems with runtime and class, and precision of the drawn points that ran."""
    ran = _grid(c, "status", fixed, cols, rows).ravel() == 1 if "status" in c.variables else None
    points = _grid(c, "point", fixed, cols, rows).ravel()
    columns = {k: _grid(c, k, fixed, cols, rows).ravel() for k in _ABOUT_KEYS if k in c.variables}
    out = []
    for j, point in enumerate(points):
        if ran is not None and not ran[j]:
            continue
        row = {k: str(v[j]) for k, v in columns.items()}
        row["dtype"], row["kv_dtype"] = (precisions or {}).get(int(point), ("", ""))
        out.append(row)
    return about_runs(out, devices=False)


def _title(c: Any, metric: str, fixed: dict[str, int], about: str, extra: str = "") -> str:
    where = ", ".join(f"{d} = {axis_labels(c, d)[i]}" for d, i in fixed.items())
    return f"{metric}" + (f" ({where})" if where else "") + extra + (f"\n{about}" if about else "")


def _readable_y(ax: Any, units: str) -> None:
    if units in ("B", "tokens"):
        from matplotlib.ticker import FuncFormatter
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: value_label(v, units)))


def plot_sweep_lines(c: Any, x: str, metric: str, fixed: dict[str, int] | None = None, hue: str | None = None,
                     ax: Any = None, precisions: Mapping[int, tuple[str, str]] | None = None) -> Any:
    """``metric`` against sweep axis ``x`` from a sweep collection
    (:func:`wafersim.sweep.read_collection`), one line per value of ``hue`` (another axis);
    every other axis fixed at an index in ``fixed``.  Failed points leave gaps; a point that
    spills off chip is ringed; each line has its own marker and dash, and earlier lines are
    drawn wider, so that lines that coincide all show.  Byte and token values read as
    64 KiB and 32K on the ticks and in the legend.  ``precisions`` (point index -> weight and
    KV-cache formats, :func:`~wafersim.plotting.text.sweep_precisions`) adds the precision
    to the title.  Returns the Axes."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    fixed = dict(fixed or {})
    dims_left = [d for d in c.dims if d not in fixed and d != x]
    if hue is None and len(dims_left) == 1:
        hue = dims_left[0]
    data = _numbers(c, metric, fixed, x, hue)
    spills = _spills(c, fixed, x, hue)
    if ax is None:
        _, ax = pyplot().subplots(figsize=(8.5, 5.4), dpi=100, layout="constrained")
    xs, numeric = _sweep_positions(c, x)
    names = axis_labels(c, hue) if hue else [None]
    n = len(data)
    for i, (row, spill, name) in enumerate(zip(data, spills, names)):
        wider = min(n - 1 - i, _WIDTH_STEPS)
        line, = ax.plot(xs, row, marker=_MARKERS[i % len(_MARKERS)], linestyle=_LINESTYLES[i % len(_LINESTYLES)],
                        linewidth=1.3 + 0.9 * wider, markersize=4.5 + 2.0 * wider, alpha=_ALPHA, zorder=2 + i,
                        label=f"{hue} = {name}" if hue else None)
        if spill.any():
            size = line.get_markersize() + 6
            ax.scatter(xs[spill], row[spill], s=size ** 2, facecolors="none", edgecolors=SPILL_COLOUR,
                       linewidths=1.6, zorder=3 + n)
    handles, _ = ax.get_legend_handles_labels()
    if spills.any():
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=10, markerfacecolor="none",
                              markeredgecolor=SPILL_COLOUR, markeredgewidth=1.6, label="ringed: spills off chip"))
    if handles:
        ax.legend(handles=handles, fontsize=9)
    ticks, labels = xs, axis_labels(c, x)
    if numeric and xs.min() > 0 and xs.max() / xs.min() >= 16:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(NullLocator())
    _readable_y(ax, c.variables[metric].units)
    ax.set_xlabel(c.label(x))
    ax.set_ylabel(c.label(metric))
    ax.grid(True, color="#dddddd", linewidth=0.7)
    ax.set_title(_title(c, metric, fixed, _about(c, fixed, x, hue, precisions)), fontsize=10)
    if not numeric and max(len(t) for t in labels) > 6:
        ax.set_xticks(ticks, labels, rotation=30, ha="right")
    else:
        thin_tick_labels(ax, list(ticks), labels, first=[ticks[0], ticks[-1]])
    return ax


def plot_sweep_heatmap(c: Any, x: str, y: str, metric: str, fixed: dict[str, int] | None = None,
                       ax: Any = None, precisions: Mapping[int, tuple[str, str]] | None = None) -> Any:
    """``metric`` over two sweep axes as a heatmap (cells in axis order, failed points grey,
    cells that spill off chip ringed), with a colour bar in the metric's units and byte and
    token values on the axes read as 64 KiB and 32K; every other axis fixed in ``fixed``.
    Returns the Axes."""
    fixed = dict(fixed or {})
    data = _numbers(c, metric, fixed, x, y)          # rows: y, columns: x
    spills = _spills(c, fixed, x, y)
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 5.8), dpi=100, layout="constrained")
    cmap = plt.get_cmap("viridis").with_extremes(bad="#bbbbbb")
    finite = data[np.isfinite(data)]
    norm = None
    if finite.size and finite.min() > 0 and finite.max() / finite.min() >= 100:
        from matplotlib.colors import LogNorm
        norm = LogNorm(finite.min(), finite.max())       # values over decades: a log colour scale
    image = ax.imshow(np.ma.masked_invalid(data), origin="lower", aspect="auto", cmap=cmap, norm=norm,
                      interpolation="nearest")
    rows, cols = np.nonzero(spills)
    if len(rows):
        ax.scatter(cols, rows, s=220, facecolors="none", edgecolors=SPILL_COLOUR, linewidths=2.0)
    ax.set_xticks(range(data.shape[1]), axis_labels(c, x), rotation=30, ha="right")
    ax.set_yticks(range(data.shape[0]), axis_labels(c, y))
    ax.set_xlabel(c.label(x))
    ax.set_ylabel(c.label(y))
    bar = ax.figure.colorbar(image, ax=ax, label=c.label(metric))
    units = c.variables[metric].units
    if units in ("B", "tokens"):
        from matplotlib.ticker import FuncFormatter
        bar.formatter = FuncFormatter(lambda v, _pos: value_label(v, units))
    extra = "; grey: failed" + ("; ringed: spills off chip" if len(rows) else "")
    ax.set_title(_title(c, metric, fixed, _about(c, fixed, x, y, precisions), extra), fontsize=10)
    return ax
