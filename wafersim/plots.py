"""The figures of wafersim results: heat maps of a flow run (SRAM occupancy and link
utilisation per core) here, and from :mod:`wafersim.plotting` the context cliff, the
frontier of a head-to-head, the validation grid and sweep lines and heatmaps.

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
cliff marked.  Every figure's title names the model, the systems with their
runtime profile and its class, and the precision of the runs it draws.

Matplotlib is imported only when a function is called
(``pip install matplotlib``, or ``pip install -e '.[plot]'`` in a checkout).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .hardware.directions import DIRECTIONS
from .plotting.cliff import plot_cliff, run_rows
from .plotting.design import design_figure
from .plotting.frontier import frontier_figure, plot_frontier
from .plotting.sweep import plot_sweep_heatmap, plot_sweep_lines
from .plotting.text import precision_text, runtime_text
from .plotting.tool import headless_pyplot, pyplot, save_png, tool_pyplot
from .plotting.validation import plot_validation, validation_figure
from .results.run_result import LayerArray, RunResult
from .text import plural

__all__ = ["NotAFlowRunError", "MAX_PIXELS", "plot_sram_occupancy", "plot_link_utilisation",
           "block_max", "sram_occupancy", "max_link_utilisation", "plot_cliff", "plot_frontier", "frontier_figure",
           "plot_validation", "validation_figure", "design_figure", "plot_sweep_lines", "plot_sweep_heatmap", "save_png",
           "headless_pyplot", "tool_pyplot"]

MAX_PIXELS = 600
DECADES = 4          # span of the logarithmic colour scale of link utilisation
_SRAM_KEYS = ("sram_weight_bytes", "sram_kv_bytes", "sram_free_bytes")
_REGION_KEYS = ("region_wafer", "region_y0", "region_x0", "region_rows", "region_cols")


class NotAFlowRunError(ValueError):
    """The run holds no per-core arrays (it was not made with the flow engine)."""


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
        raise ValueError(f"wafer {wafer} is out of range: this run has {plural(n, 'wafer')}, 0..{n - 1}")
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
    row = run_rows([run])[0]
    about = "; ".join(w for w in (runtime_text(row), precision_text([(row["dtype"], row["kv_dtype"])])) if w)
    return f"{s.get('system', '?')} / {s.get('model', '?')}: batch {s.get('batch', '?')}, {ctx}, {where}\n{about}"


def _scale_note(f: int) -> str:
    return f"; drawn as block max of {f}x{f} cores" if f > 1 else ""


def _new_axes(ax, shape: tuple[int, int]):
    if ax is not None:
        return ax
    plt = pyplot()
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


