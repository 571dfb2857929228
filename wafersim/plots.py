"""Heat maps of a flow run (SRAM occupancy and link utilisation per core) and the context cliff.

Both functions take a :class:`~wafersim.results.run_result.RunResult` (from
``simulate`` or :func:`wafersim.results.hdf5.read_run`) of a run made with
``fidelity="flow"`` (only flow runs store per-core arrays)::

    from wafersim.results.hdf5 import read_run
    from wafersim.plots import plot_sram_occupancy, plot_link_utilisation
    run = read_run("out.h5")
    ax = plot_sram_occupancy(run, wafer=0)
    ax.figure.savefig("sram.png")

Large meshes are reduced by block maximum to at most ``MAX_PIXELS`` cells per
side before drawing (a WSE-3 wafer, 756 x 1176 cores, is drawn as 2 x 2
blocks); the title says so.  Axes are always in core coordinates.
:func:`plot_cliff` draws the runs of :func:`wafersim.sweep_cliff.cliff_sweep`:
tokens/s per user against context, one line per system, with each system's
cliff marked.

Matplotlib is imported only when a function is called
(``pip install matplotlib``, or ``pip install -e '.[plot]'`` in a checkout).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .atomic import atomic_path
from .extras import install_hint
from .hardware.directions import DIRECTIONS
from .results.run_result import LayerArray, RunResult

__all__ = ["NotAFlowRunError", "MAX_PIXELS", "plot_sram_occupancy", "plot_link_utilisation",
           "block_max", "sram_occupancy", "max_link_utilisation", "plot_cliff", "save_png"]

MAX_PIXELS = 600
DECADES = 4          # span of the logarithmic colour scale of link utilisation
_SRAM_KEYS = ("sram_weight_bytes", "sram_kv_bytes", "sram_free_bytes")
_REGION_KEYS = ("region_wafer", "region_y0", "region_x0", "region_rows", "region_cols")


def save_png(fig: Any, path: str | Path, dpi: float | None = None) -> Path:
    """Write ``fig`` as a PNG atomically (temporary file, then rename), without the
    software version or a date in its metadata, so the same input gives the same bytes."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, metadata={"Software": None})
    return path


class NotAFlowRunError(ValueError):
    """The run holds no per-core arrays (it was not made with the flow engine)."""


def _matplotlib(headless: bool = False):
    try:
        import matplotlib
        if headless:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f"plotting needs matplotlib; install it with: {install_hint('plot')}") from None
    return plt


def headless_pyplot():
    """matplotlib.pyplot on the file-only Agg backend, for the tools in tools/; an ImportError
    that says how to install matplotlib when it is missing."""
    return _matplotlib(headless=True)


def _arrays(run: RunResult, keys: tuple[str, ...]) -> dict[str, LayerArray]:
    missing = [k for k in keys if k not in run.arrays]
    if missing:
        s = run.summary
        raise NotAFlowRunError(
            f"the run of {s['system']} (fidelity {s['fidelity']!r}) has no per-core arrays "
            f"({', '.join(missing)}); run with --fidelity flow (or fidelity='flow') to get them")
    return {k: run.arrays[k] for k in keys}


def _check_wafer(wafer: int, n: int) -> int:
    if not 0 <= int(wafer) < n:
        raise ValueError(f"wafer {wafer} is out of range: this run has {n} wafer(s), 0..{n - 1}")
    return int(wafer)


def block_max(a: np.ndarray, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, int]:
    """Reduce a 2-D array by the maximum over f x f blocks so no side exceeds ``max_pixels``.

    Returns the reduced array and f (1 when no reduction was needed).  NaN
    cells are ignored; a block of NaN only stays NaN.
    """
    ny, nx = a.shape
    f = max(1, math.ceil(max(ny, nx) / max_pixels))
    if f == 1:
        return a, 1
    py, px = -ny % f, -nx % f
    padded = np.pad(a.astype(np.float64), ((0, py), (0, px)), constant_values=np.nan)
    blocks = padded.reshape((ny + py) // f, f, (nx + px) // f, f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN blocks
        return np.nanmax(blocks, axis=(1, 3)), f


def sram_occupancy(run: RunResult, wafer: int = 0) -> np.ndarray:
    """(weights + KV) / (weights + KV + free) per core of one wafer; NaN for cores with no SRAM in use."""
    a = _arrays(run, _SRAM_KEYS)
    wafer = _check_wafer(wafer, a["sram_weight_bytes"].shape[0])
    used = a["sram_weight_bytes"].slab(wafer).astype(np.float64) + a["sram_kv_bytes"].slab(wafer)
    total = used + a["sram_free_bytes"].slab(wafer)
    occ = np.full(used.shape, np.nan)
    np.divide(used, total, out=occ, where=total > 0)
    return occ


def max_link_utilisation(run: RunResult, wafer: int = 0) -> tuple[np.ndarray, tuple[int, int, str], float]:
    """Per core, the utilisation of its busiest outgoing link; and the busiest link (y, x, direction), its value."""
    a = _arrays(run, ("link_utilisation",))
    util = a["link_utilisation"]
    wafer = _check_wafer(wafer, util.shape[0])
    u = util.slab(wafer)
    labels = (run.arrays["link_utilisation"].labels or {}).get("direction", DIRECTIONS)
    y, x, d = np.unravel_index(int(np.argmax(u)), u.shape)
    return u.max(axis=-1), (int(y), int(x), labels[d]), float(u[y, x, d])


def _title_head(run: RunResult, wafer: int, wafers: int) -> str:
    s = run.summary
    ctx = f"context {s.get('prompt_tokens', '?')}+{s.get('output_tokens', '?')} tokens"
    where = f"wafer {wafer} of {wafers}" if wafers > 1 else "one wafer"
    return f"{s.get('system', '?')} / {s.get('model', '?')}: batch {s.get('batch', '?')}, {ctx}, {where}"


def _scale_note(f: int) -> str:
    return f"; drawn as block max of {f}x{f} cores" if f > 1 else ""


def _new_axes(ax, shape: tuple[int, int]):
    if ax is not None:
        return ax
    plt = _matplotlib()
    ny, nx = shape
    width = 10.0
    height = min(12.0, max(3.5, width * ny / nx * 0.92 + 1.2))
    _, ax = plt.subplots(figsize=(width, height), dpi=100, layout="constrained")
    return ax


def _image(ax, data: np.ndarray, shape: tuple[int, int], cmap: str, norm):
    import matplotlib
    cm = matplotlib.colormaps[cmap].with_extremes(bad="#d0d0d0", under="black")
    ny, nx = shape
    im = ax.imshow(data, cmap=cm, norm=norm, interpolation="nearest", origin="upper",
                   extent=(-0.5, nx - 0.5, ny - 0.5, -0.5), aspect="equal")
    ax.set_xlabel("core x (west to east)")
    ax.set_ylabel("core y (north to south)")
    return im


def _draw_regions(ax, run: RunResult, wafer: int, shape: tuple[int, int], edgecolor: str = "black") -> None:
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle
    if not all(k in run.arrays for k in _REGION_KEYS):
        return
    a = {k: v.data for k, v in _arrays(run, _REGION_KEYS).items()}     # per region: small
    layers = int(run.summary["layers"])
    n = len(a["region_wafer"])
    on = [i for i in range(n) if int(a["region_wafer"][i]) == wafer]
    ny, nx = shape
    # a label needs a region at least ~1/40 of the mesh wide and ~1/60 tall to stay readable
    fontsize = 9 if len(on) <= 40 else 7
    outline = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for i in on:
        y0, x0 = int(a["region_y0"][i]), int(a["region_x0"][i])
        rows, cols = int(a["region_rows"][i]), int(a["region_cols"][i])
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), cols, rows, fill=False, edgecolor=edgecolor, linewidth=0.8))
        if cols < nx / 40 or rows < ny / 60:
            continue
        label = "head" if (i == layers and n == layers + 1) else str(i)
        ax.text(x0 + cols / 2 - 0.5, y0 + rows / 2 - 0.5, label, ha="center", va="center", fontsize=fontsize,
                color="black", path_effects=outline)


def plot_sram_occupancy(run: RunResult, wafer: int = 0, ax: Any = None) -> Any:
    """Draw the SRAM occupancy of each core of ``wafer`` with the layer regions outlined; returns the Axes.

    Occupancy is (weights + KV cache) / (weights + KV cache + free).  Grey
    cells hold no SRAM in use (outside the block of cores the mapping uses).
    """
    occ = sram_occupancy(run, wafer)
    wafers = run.arrays["sram_weight_bytes"].shape[0]
    img, f = block_max(occ)
    ax = _new_axes(ax, occ.shape)
    from matplotlib.colors import Normalize
    im = _image(ax, img, occ.shape, "viridis", Normalize(0.0, 1.0))
    _draw_regions(ax, run, wafer, occ.shape)
    mean = float(np.nanmean(occ)) if np.isfinite(occ).any() else 0.0
    ax.set_title(f"{_title_head(run, wafer, wafers)}\nSRAM occupancy per core (mean {mean:.0%}; "
                 f"regions labelled by layer{_scale_note(f)})", fontsize=10)
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.85)
    cb.set_label("(weights + KV) / SRAM per core" + (", block max" if f > 1 else ""))
    return ax


def plot_link_utilisation(run: RunResult, wafer: int = 0, ax: Any = None) -> Any:
    """Draw, per core of ``wafer``, the busiest of its four outgoing links' share of a decode step; returns the Axes.

    The colour scale is logarithmic over the ``DECADES`` decades below the
    wafer's busiest link, so that light traffic stays visible next to hot
    spots; idle links (and lighter ones) are black.
    """
    from matplotlib.colors import LogNorm, Normalize
    u, (y, x, d), peak = max_link_utilisation(run, wafer)
    wafers = run.arrays["link_utilisation"].shape[0]
    img, f = block_max(u)
    ax = _new_axes(ax, u.shape)
    if peak > 0:
        positive = u[u > 0]
        vmin = max(float(positive.min()), peak * 10.0 ** -DECADES)
        norm = LogNorm(vmin=vmin, vmax=peak) if vmin < peak else Normalize(0.0, peak)
        img = np.where(img > 0, img, vmin * 0.5)          # idle -> below the scale (black), keeps NaN grey
    else:
        norm = Normalize(0.0, 1.0)
    im = _image(ax, img, u.shape, "inferno", norm)
    _draw_regions(ax, run, wafer, u.shape, edgecolor="#9ec9ff")
    if peak > 0:
        ax.plot([x], [y], marker="o", markersize=9, markerfacecolor="none", markeredgecolor="cyan", linewidth=0)
        busiest = f"busiest link: core (y={y}, x={x}) {d}, busy {peak:.3g} of the step (ringed)"
    else:
        busiest = "no link carries traffic"
    ax.set_title(f"{_title_head(run, wafer, wafers)}\nlink utilisation, max of E/W/N/S links per core, "
                 f"log scale{_scale_note(f)}\n{busiest}", fontsize=10)
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.85, extend="min" if isinstance(norm, LogNorm) else "neither")
    cb.set_label("share of a decode step the busiest link is busy" + (", block max" if f > 1 else ""))
    return ax


def _tokens_label(n: int) -> str:
    """1024 -> '1K', 131072 -> '128K', 3000 -> '3000'."""
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else str(n)


def plot_cliff(results: Iterable[RunResult], ax: Any = None) -> Any:
    """Tokens/s per user against context for the runs of a cliff sweep; returns the Axes.

    One line per system (log-log); a marker is filled where weights and KV
    cache fit on chip (SRAM on a wafer, HBM on a GPU system) and hollow where
    they spill, and a dotted vertical line marks each system's cliff, the first
    context that spills.  ``results`` is the list
    :func:`wafersim.sweep_cliff.cliff_sweep` returns.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, NullLocator

    from .sweep_cliff import context_of, find_cliffs

    results = list(results)
    if not results:
        raise ValueError("no results to plot")
    if ax is None:
        plt = _matplotlib()
        _, ax = plt.subplots(figsize=(10.5, 5.6), dpi=100, layout="constrained")
    cliffs = find_cliffs(results)
    colours = [f"C{i % 10}" for i in range(len(cliffs))]
    contexts: set[int] = set()
    handles = []
    for (name, cliff), colour in zip(cliffs.items(), colours):
        runs = sorted((r for r in results if r.summary["system"] == name), key=context_of)
        x = np.array([context_of(r) for r in runs], dtype=float)
        y = np.array([r.summary["tokens_per_s_per_user"] for r in runs], dtype=float)
        fits = np.array([bool(r.summary["fits_on_chip"]) for r in runs])
        contexts.update(int(c) for c in x)
        kind = runs[0].summary.get("kind", "")
        ax.plot(x, y, "-", color=colour, linewidth=1.8, zorder=2)
        ax.plot(x[fits], y[fits], "o", color=colour, markersize=7, zorder=3)
        ax.plot(x[~fits], y[~fits], "o", markerfacecolor="white", markeredgecolor=colour, markeredgewidth=1.8,
                markersize=7, zorder=3)
        label = f"{name} ({runs[0].summary.get('devices', '?')} {'wafer' if kind == 'wafer' else 'GPU'}"
        label += "s)" if runs[0].summary.get("devices", 1) != 1 else ")"
        handles.append(Line2D([], [], color=colour, marker="o", linewidth=1.8, label=label))
        if cliff is not None:
            ax.axvline(cliff, color=colour, linestyle=":", linewidth=1.6, zorder=1)
            below = " or below" if cliff == runs[0].summary["prompt_tokens"] + runs[0].summary["output_tokens"] else ""
            ax.annotate(f"{name} cliff: {cliff} tokens{below}", xy=(cliff, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(-4, -6), textcoords="offset points", rotation=90, ha="right", va="top",
                        fontsize=9, color=colour,
                        bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))
    handles += [Line2D([], [], color="grey", marker="o", linestyle="none", label="fits on chip"),
                Line2D([], [], color="grey", marker="o", markerfacecolor="white", markeredgewidth=1.8,
                       linestyle="none", label="spills off chip")]
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ticks = sorted(contexts)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(ticks, [_tokens_label(t) for t in ticks])
    lo, hi = min(ticks), max(ticks)
    ax.set_xlim(lo / 1.3, hi * 1.3)
    ax.grid(True, which="major", axis="both", color="#dddddd", linewidth=0.7)
    ax.grid(True, which="minor", axis="y", color="#eeeeee", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.set_xlabel("context per user (prompt + output tokens, log scale)")
    ax.set_ylabel("decode tokens/s per user (log scale)")
    s = results[0].summary
    ax.set_title(f"{s.get('model', '?')}, batch {s.get('batch', '?')}, {s.get('output_tokens', '?')} output tokens: "
                 "where weights + KV cache stop fitting on chip\n"
                 "(on chip = SRAM for a wafer, HBM for a GPU system)", fontsize=10)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9)
    return ax


#: the frontier panels: (column, y label, transform of the stored value)
_FRONTIER_PANELS = (("tokens_per_s_per_device", "tokens/s per device", lambda v: v),
                    ("tokens_per_s_per_kw", "tokens/s per kW of wall power", lambda v: v),
                    ("usd_per_million_tokens", "million tokens per $1,000", lambda v: 1e3 / v))


def plot_frontier(sides: Iterable[dict[str, list[Any]]], axes: Any = None) -> Any:
    """Throughput against interactivity for each side of a ``compare --frontier`` file: one
    panel per basis (device, kW, dollar), one line per system; hollow markers where the
    batch no longer fits on chip.  ``sides`` are the tables of
    :func:`wafersim.results.hdf5.read_table` (``frontier/a``, ``frontier/b``).  Returns the axes."""
    plt = _matplotlib()
    sides = list(sides)
    if axes is None:
        _, axes = plt.subplots(1, len(_FRONTIER_PANELS), figsize=(15, 4.6), dpi=100, layout="constrained")
    for ax, (key, label, transform) in zip(axes, _FRONTIER_PANELS):
        for i, side in enumerate(sides):
            xs, ys, fits = side["tokens_per_s_per_user"], side.get(key), side["fits_on_chip"]
            pts = [(x, transform(y), bool(f)) for x, y, f in zip(xs, ys or [], fits)
                   if y is not None and math.isfinite(y) and y > 0]
            if not pts:
                continue
            color = f"C{i}"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", color=color, label=str(side["system"][0]))
            for x, y, ok in pts:
                ax.plot(x, y, "o", color=color, markerfacecolor=color if ok else "white")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tokens/s per user (interactivity)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(title="hollow: spills", fontsize=8)
    axes[0].figure.suptitle("Throughput against interactivity: further right is faster for each user, "
                            "higher is more throughput", fontsize=10)
    return axes


def plot_validation(table: dict[str, list[Any]], band: float = 0.15, axes: Any = None) -> Any:
    """Predicted against measured for every row of a ``validate -o`` file, one panel per metric
    (log-log), with the line of perfect agreement and a +/- ``band`` error band; filled
    markers for rows not used for calibration, hollow for calibration rows.  ``table`` is
    :func:`wafersim.results.hdf5.read_table` of ``validation``.  Returns the axes."""
    plt = _matplotlib()
    metrics = sorted(set(table["metric"]))
    if axes is None:
        _, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 4.4), dpi=100, layout="constrained",
                               squeeze=False)
        axes = axes[0]
    groups = sorted(set(table.get("group", ["all"] * len(table["metric"]))))
    colours = {g: f"C{i % 10}" for i, g in enumerate(groups)}
    for ax, metric in zip(axes, metrics):
        rows = [i for i, m in enumerate(table["metric"]) if m == metric]
        xs = [table["measured"][i] for i in rows]
        ys = [table["predicted"][i] for i in rows]
        lo, hi = min(xs + ys) / 1.5, max(xs + ys) * 1.5
        line = [lo, hi]
        ax.plot(line, line, "-", color="0.3", lw=1)
        ax.fill_between(line, [v * (1 - band) for v in line], [v * (1 + band) for v in line], color="0.85",
                        label=f"+/- {band:.0%}")
        shown = sorted({table["group"][i] if "group" in table else "all" for i in rows})
        for group in shown:
            ax.plot([], [], "o", color=colours[group], label=group)
        for i, x, y in zip(rows, xs, ys):
            colour = colours[table["group"][i] if "group" in table else "all"]
            cal = bool(table["calibration"][i])
            ax.plot(x, y, "o", color=colour, markerfacecolor="white" if cal else colour)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"measured {metric}")
        ax.set_ylabel(f"predicted {metric}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(title="source (hollow: calibration)", fontsize=7, title_fontsize=7)
    axes[0].figure.suptitle("Predicted against published measurements", fontsize=10)
    return axes


def tool_pyplot() -> Any:
    """:func:`headless_pyplot` for a tool's ``main``: None (and the reason on stderr) when
    matplotlib is missing, so that the tool exits with status 2."""
    import sys

    try:
        return headless_pyplot()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def table_tool(results: str | Path, tables: list[str], draw: Callable[[list[dict[str, list[Any]]]], Any],
               output: str | Path | None, suffix: str) -> int:
    """What the table-drawing tools in ``tools/`` share: matplotlib without a display, the
    ``tables`` of ``results`` read (a missing or damaged file is one line on stderr and
    status 2), ``draw`` (which returns its axes) and the figure written as
    ``output`` or the input path + ``suffix``.  Returns the exit status."""
    import sys

    from .results.errors import ResultsFormatError
    from .results.hdf5 import read_table

    plt = tool_pyplot()
    if plt is None:
        return 2
    try:
        data = [read_table(results, name) for name in tables]
    except (ResultsFormatError, KeyError, OSError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    figure = draw(data)[0].figure
    out = Path(output or str(Path(results).with_suffix("")) + suffix)
    save_png(figure, out)
    plt.close(figure)
    print(f"wrote {out}")
    return 0


def _sweep_positions(c: Any, axis: str) -> tuple[np.ndarray, list[str] | None]:
    """x positions along a sweep axis: its numbers, or 0..n-1 with tick labels (text, zipped keys)."""
    values = np.asarray(c.variables[axis].data)
    zipped = any(v.dims == (axis,) and n != axis for n, v in c.variables.items())
    if values.dtype.kind in "iuf" and not zipped:
        return values.astype(float), None
    return np.arange(len(values), dtype=float), c.ticks(axis)


def _remaining(c: Any, metric: str, fixed: dict[str, int], want: tuple[str, ...]) -> tuple[np.ndarray, tuple]:
    data, dims = c.take(metric, fixed)
    extra = [d for d in dims if d not in want]
    if extra:
        raise ValueError(f"axes {', '.join(extra)} are not drawn; fix each with --select AXIS=VALUE "
                         f"(values: {'; '.join(f'{d}: ' + ', '.join(c.ticks(d)) for d in extra)})")
    if data.dtype == object or data.dtype.kind not in "iuf":
        raise ValueError(f"{metric} is not numeric; choose a number such as tokens_per_s_per_user")
    data = data.astype(float)
    if data.dtype.kind == "f" and metric in c.variables and c.variables[metric].data.dtype == np.int8:
        data[data < 0] = np.nan       # true/false variables: -1 is the fill value
    return data, dims


def plot_sweep_lines(c: Any, x: str, metric: str, fixed: dict[str, int] | None = None, hue: str | None = None,
                     ax: Any = None) -> Any:
    """``metric`` against sweep axis ``x`` from a sweep collection
    (:func:`wafersim.sweep.read_collection`), one line per value of ``hue`` (another axis);
    every other axis fixed at an index in ``fixed``.  Failed points leave gaps.  Returns the Axes."""
    fixed = dict(fixed or {})
    dims_left = [d for d in c.dims if d not in fixed and d != x]
    if hue is None and len(dims_left) == 1:
        hue = dims_left[0]
    data, dims = _remaining(c, metric, fixed, (x,) + ((hue,) if hue else ()))
    if hue is not None and dims.index(hue) > dims.index(x):     # rows: hue values, columns: x
        data = data.T
    data = data.reshape(-1, data.shape[-1]) if hue else data[None, :]
    if ax is None:
        _, ax = _matplotlib().subplots(figsize=(8, 5), dpi=100, layout="constrained")
    xs, labels = _sweep_positions(c, x)
    names = c.ticks(hue) if hue else [None]
    for row, name in zip(data, names):
        ax.plot(xs, row, "o-", label=f"{hue} = {name}" if hue else None)
    if labels is not None:
        ax.set_xticks(xs, labels, rotation=30 if max(len(t) for t in labels) > 6 else 0, ha="right")
    elif xs.min() > 0 and xs.max() / xs.min() >= 16:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(c.label(x))
    ax.set_ylabel(c.label(metric))
    if hue:
        ax.legend(fontsize=9)
    ax.grid(True, color="#dddddd", linewidth=0.7)
    title = ", ".join(f"{d} = {c.ticks(d)[i]}" for d, i in fixed.items())
    ax.set_title(f"{metric}" + (f" ({title})" if title else ""), fontsize=10)
    return ax


def plot_sweep_heatmap(c: Any, x: str, y: str, metric: str, fixed: dict[str, int] | None = None,
                       ax: Any = None) -> Any:
    """``metric`` over two sweep axes as a heatmap (cells in axis order, failed points grey),
    with a colour bar in the metric's units; every other axis fixed in ``fixed``.  Returns the Axes."""
    fixed = dict(fixed or {})
    data, dims = _remaining(c, metric, fixed, (x, y))
    if dims.index(y) > dims.index(x):
        data = data.T          # rows: y, columns: x
    plt = _matplotlib()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5.5), dpi=100, layout="constrained")
    cmap = plt.get_cmap("viridis").with_extremes(bad="#bbbbbb")
    finite = data[np.isfinite(data)]
    norm = None
    if finite.size and finite.min() > 0 and finite.max() / finite.min() >= 100:
        from matplotlib.colors import LogNorm
        norm = LogNorm(finite.min(), finite.max())       # values over decades: a log colour scale
    image = ax.imshow(np.ma.masked_invalid(data), origin="lower", aspect="auto", cmap=cmap, norm=norm,
                      interpolation="nearest")
    ax.set_xticks(range(data.shape[1]), c.ticks(x), rotation=30, ha="right")
    ax.set_yticks(range(data.shape[0]), c.ticks(y))
    ax.set_xlabel(c.label(x))
    ax.set_ylabel(c.label(y))
    ax.figure.colorbar(image, ax=ax, label=c.label(metric))
    title = ", ".join(f"{d} = {c.ticks(d)[i]}" for d, i in fixed.items())
    ax.set_title(f"{metric}" + (f" ({title})" if title else "") + "; grey: failed", fontsize=10)
    return ax
