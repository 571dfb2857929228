"""The context cliff: tokens/s per user against context for the runs of
:func:`wafersim.sweep_cliff.cliff_sweep`, one line per system, each system's cliff marked."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..results.run_result import RunResult
from .text import about_runs, fit_width, thin_tick_labels, tokens_label, wrap
from .tool import pyplot

__all__ = ["plot_cliff", "run_rows"]

#: the share of the figure's width the axes (and so its title) take beside the legend
_TITLE_SHARE = 0.82


def run_rows(results: Iterable[RunResult]) -> list[dict[str, Any]]:
    """Each run's summary with the weight and KV-cache formats of its configuration added
    (what :func:`~wafersim.plotting.text.about_runs` reads)."""
    rows = []
    for r in results:
        scenario = (r.config or {}).get("scenario", {})
        rows.append({**r.summary, "dtype": scenario.get("dtype"), "kv_dtype": scenario.get("kv_dtype")})
    return rows


def plot_cliff(results: Iterable[RunResult], ax: Any = None) -> Any:
    """Tokens/s per user against context for the runs of a cliff sweep; returns the Axes.

    One line per system (log-log); a marker is filled where weights and KV
    cache fit on chip (SRAM on a wafer, HBM on a GPU system) and hollow where
    they spill, and a dotted vertical line marks each system's cliff, the first
    context that spills.  Every context run has a tick; where the bisection
    crowds them near a cliff only the labels that have room are kept.  The
    title names the model, each system with its runtime profile and class, and
    the precision.  ``results`` is the list
    :func:`wafersim.sweep_cliff.cliff_sweep` returns.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    from ..sweep_cliff import context_of, find_cliffs

    results = list(results)
    if not results:
        raise ValueError("no results to plot")
    if ax is None:
        _, ax = pyplot().subplots(figsize=(10.5, 5.8), dpi=100, layout="constrained")
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
    ax.xaxis.set_minor_locator(NullLocator())
    lo, hi = min(ticks), max(ticks)
    ax.set_xlim(lo / 1.3, hi * 1.3)
    ax.grid(True, which="major", axis="both", color="#dddddd", linewidth=0.7)
    ax.grid(True, which="minor", axis="y", color="#eeeeee", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.set_xlabel("context per user (prompt + output tokens, log scale; 1K = 1024 tokens)")
    ax.set_ylabel("decode tokens/s per user (log scale)")
    s = results[0].summary
    title = (f"{s.get('model', '?')}, batch {s.get('batch', '?')}, {s.get('output_tokens', '?')} output tokens: "
             "where weights + KV cache stop fitting on chip\n"
             f"{about_runs(run_rows(results))}\n"
             "(on chip = SRAM for a wafer, HBM for a GPU system)")
    ax.set_title(wrap(title, fit_width(ax.figure, 10, _TITLE_SHARE)), fontsize=10)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9)
    firsts = [lo, hi, *(c for c in cliffs.values() if c is not None)]      # then powers of two
    thin_tick_labels(ax, ticks, [tokens_label(t) for t in ticks], first=firsts)
    return ax
