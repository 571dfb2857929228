"""A wafer design's report figure: its floor plan by dies, and the area shares of one core.

Left, the wafer to scale in millimetres: the wafer's round, the usable round inside its
edge exclusion, the largest square inside that (dashed), and the die grid, each die a
rectangle, the scribe lines the gaps between them.  Right, one core's area by part (SRAM,
SIMD lanes, router, control) as shares of the core.  The title names the design, its
process node, the die grid and the cores.
"""

from __future__ import annotations

from typing import Any

from .tool import pyplot

__all__ = ["design_figure", "core_shares", "die_origins", "DIE_GID", "SHARE_GID"]

#: the gid of each die's rectangle and of each share's bar, so a reader (or a test) can find them
DIE_GID, SHARE_GID = "die", "core-share"
#: a core's parts in the order the bars are drawn: (label, Geometry attribute)
PARTS = (("SRAM", "sram_mm2"), ("SIMD lanes", "lanes_mm2"), ("router", "router_mm2"), ("control", "control_mm2"))
_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#8172b3")
_FIGSIZE = (11.0, 5.4)
_WIDTHS = (1.25, 1.0)


def core_shares(designed: Any) -> dict[str, float]:
    """Each part's share of one core's area (they sum to 1)."""
    g = designed.figures.geometry
    return {label: getattr(g, attr) / g.core_mm2 for label, attr in PARTS}


def die_origins(designed: Any) -> list[tuple[float, float]]:
    """The lower-left corner of each die in mm, the wafer's centre at (0, 0): the chip (the
    dies and their scribe lines) centred on the wafer, half a scribe line around its edge."""
    g = designed.figures.geometry
    scribe = designed.figures.design.wafer.scribe_m * 1e3
    x0, y0 = -g.chip_x_mm / 2 + scribe / 2, -g.chip_y_mm / 2 + scribe / 2
    return [(x0 + i * (g.die_x_mm + scribe), y0 + j * (g.die_y_mm + scribe))
            for j in range(g.dies_y) for i in range(g.dies_x)]


def _floor_plan(ax: Any, designed: Any) -> None:
    from matplotlib.patches import Circle, Rectangle

    f = designed.figures
    g, w = f.geometry, f.design.wafer
    radius = w.diameter_m * 1e3 / 2
    usable = radius - w.edge_exclusion_m * 1e3
    ax.add_patch(Circle((0, 0), radius, facecolor="#eeeeee", edgecolor="black", lw=1.0, label="wafer"))
    if usable < radius:
        ax.add_patch(Circle((0, 0), usable, fill=False, edgecolor="grey", lw=0.8, ls=":", label="usable round"))
    side = g.chip_side_mm
    ax.add_patch(Rectangle((-side / 2, -side / 2), side, side, fill=False, edgecolor="black", ls="--", lw=0.9,
                           label=f"usable square, {side:.0f} mm"))
    for n, (x, y) in enumerate(die_origins(designed)):
        ax.add_patch(Rectangle((x, y), g.die_x_mm, g.die_y_mm, facecolor=_COLOURS[0], alpha=0.55, lw=0.3,
                               edgecolor="white", gid=DIE_GID, label="dies" if n == 0 else None))
    ax.set_xlim(-radius * 1.04, radius * 1.04)
    ax.set_ylim(-radius * 1.04, radius * 1.04)
    ax.set_aspect("equal")
    ax.set_xlabel("mm")
    ax.set_ylabel("mm")
    scribe = f.design.wafer.scribe_m * 1e3
    ax.set_title(f"{g.dies_x} x {g.dies_y} dies of {g.die_x_mm:.1f} x {g.die_y_mm:.1f} mm, "
                 f"{scribe * 1e3:.0f} um scribe lines ({g.scribe_mm2 / g.chip_mm2:.1%} of the chip)", fontsize=9)
    ax.legend(loc="lower left", fontsize=7, framealpha=0.9)


def _shares(ax: Any, designed: Any) -> None:
    g = designed.figures.geometry
    shares = core_shares(designed)
    labels = list(shares)
    ys = range(len(labels))
    bars = ax.barh(ys, [shares[k] for k in labels], color=_COLOURS, gid=SHARE_GID)
    for bar, label in zip(bars, labels):
        bar.set_gid(SHARE_GID)
        bar.set_label(label)
        area = shares[label] * g.core_mm2
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, f"{shares[label]:.0%} ({area:.4f} mm2)",
                va="center", fontsize=8)
    ax.set_yticks(list(ys), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.25)
    ax.set_xlabel("share of one core's area")
    ax.set_title(f"one core: {g.core_mm2:.4f} mm2, pitch {g.pitch_x_mm * 1e3:.0f} x {g.pitch_y_mm * 1e3:.0f} um; "
                 f"{g.die_cols} x {g.die_rows} per die", fontsize=9)


def design_figure(designed: Any) -> Any:
    """The report figure of a :class:`~wafersim.design.DesignedSystem`: floor plan and core shares."""
    plt = pyplot()
    fig, (plan, parts) = plt.subplots(1, 2, figsize=_FIGSIZE, layout="constrained",
                                      gridspec_kw={"width_ratios": _WIDTHS})
    _floor_plan(plan, designed)
    _shares(parts, designed)
    f = designed.figures
    g, d = f.geometry, f.design
    sets = d.provenance.set if d.provenance is not None else ()
    fig.suptitle(f"{designed.system.name}{' (' + ', '.join(sets) + ')' if sets else ''}: a wafer design at "
                 f"{d.area.node}, {g.chip_mm2:,.0f} mm2, {g.physical_cores:,} cores built, {g.enabled_cores:,} "
                 "enabled", fontsize=11)
    return fig
