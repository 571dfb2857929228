"""The report of a design: area, yield, power and cost, each figure beside the
published one where there is one, and the source of each input."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from ..units import format_quantity
from .figures import hbm_room_mm2
from .system import DesignedSystem

__all__ = ["report_sections", "report_json", "deviation"]

Row = tuple[str, str, str]


def deviation(model: float, published: float) -> float:
    """(model - published) / published."""
    return (model - published) / published


class _Against:
    """The figures a design is held against: the published ones for a design as its file
    gives it, its reference design's for a variant."""

    def __init__(self, label: str, **figures: float):
        self.label, self.figures = label, figures

    def __getattr__(self, name: str) -> Any:
        try:
            return (self.label, self.__dict__["figures"][name])
        except KeyError:
            raise AttributeError(name) from None


def _against(ds: DesignedSystem) -> _Against:
    f, ref = ds.figures, ds.reference
    if f.design == ref.design:
        pub = f.design.published
        return _Against("published", **{fld.name: getattr(pub, fld.name) for fld in dataclasses.fields(pub)})
    g, p = ref.geometry, ref.power
    return _Against(ref.design.name, area_mm2=g.chip_mm2, enabled_cores=g.enabled_cores,
                    physical_cores=g.physical_cores, sram_bytes=ref.sram_bytes, chip_power_w=p.chip_w,
                    system_power_w=p.system_w)


def _vs(model: float, against: tuple[str, float], show) -> str:
    label, value = against
    if not value:
        return ""
    return f"{label} {show(value)} ({deviation(model, value):+.1%})"


def _q(kind: str):
    return lambda v: format_quantity(v, kind)


def _n(v: float) -> str:
    return f"{v:,.0f}"


def _mm2(v: float) -> str:
    return f"{v:,.0f} mm2" if v >= 100 else f"{v:.4g} mm2"


def _usd(v: float) -> str:
    return f"${v:,.0f}"


def _src(sources: Mapping[str, str], *keys: str) -> str:
    return "; ".join(f"{k}: {sources[k]}" for k in keys if k in sources)


def report_sections(ds: DesignedSystem, sources: Mapping[str, str]) -> list[tuple[str, list[Row]]]:
    """Sections of (figure, value, note) rows; a note compares with a published figure
    or names the inputs' sources."""
    f, d = ds.figures, ds.figures.design
    g, y, p, c = f.geometry, f.defects, f.power, f.cost
    pub = _against(ds)
    w = d.wafer
    usable = (w.diameter_m - 2 * w.edge_exclusion_m) * 1e3
    core = g.core_mm2
    share = lambda part: f"{part:.4g} mm2 ({part / core:.0%})"    # noqa: E731
    area = [
        ("chip", _mm2(g.chip_mm2), _vs(g.chip_mm2, pub.area_mm2, _mm2) or
         f"the largest square in the {usable:g} mm usable round"),
        ("die grid", f"{g.dies_x} x {g.dies_y} dies of {g.die_x_mm:.2f} x {g.die_y_mm:.2f} mm"
         + ("" if g.chip_mm2 >= g.chip_side_mm ** 2 * (1 - 1e-9) else
            f" ({g.chip_x_mm:.1f} x {g.chip_y_mm:.1f} mm with scribe lines)"),
         f"reticle {w.reticle_x_m * 1e3:g} x {w.reticle_y_m * 1e3:g} mm; " + _src(sources, "dies_x")),
        ("scribe lines", f"{_mm2(g.scribe_mm2)} ({g.scribe_mm2 / g.chip_mm2:.1%})", _src(sources, "wafer.scribe_m")),
        ("cores' silicon", f"{_mm2(g.cores_mm2)} ({g.cores_mm2 / g.chip_mm2:.0%})",
         "the rest: die edges and the slack of whole cores"),
        ("core", f"{core:.4g} mm2, pitch {g.pitch_x_mm * 1e3:.0f} x {g.pitch_y_mm * 1e3:.0f} um",
         _src(sources, "area.core_aspect")),
        ("  SRAM", share(g.sram_mm2), f"{d.area.sram_mm2_per_mib:.3g} mm2/MiB at {d.area.node}; "
         + _src(sources, "area.sram_bitcell_um2", "area.sram_array_efficiency")),
        ("  SIMD lanes", share(g.lanes_mm2), f"{d.simd_lanes} x 16-bit" +
         (f" + {d.simd_lanes_8bit} x 8-bit" if d.simd_lanes_8bit else "") + "; " + _src(sources, "area.lane_mm2")),
        ("  router", share(g.router_mm2), f"{d.link_bytes_per_cycle:g}-byte links; "
         + _src(sources, "area.router_mm2_per_link_byte")),
        ("  control", share(g.control_mm2), _src(sources, "area.control_mm2")),
        ("cores per die", f"{g.die_cols} x {g.die_rows} built, {g.logical_cols} x {g.die_rows} enabled",
         f"{d.spare_cols_per_die} spare and {d.reserved_cols_per_die} reserved columns"),
        ("as diced dies", f"{g.gross_dies:.0f} dies of this size", "what one wafer gives diced conventionally"),
    ]
    if d.hbm_stacks:
        area.append(("HBM stacks", f"{d.hbm_stacks} x {d.hbm.footprint_mm2:g} mm2 = {_mm2(f.hbm_mm2)}",
                     f"of {_mm2(hbm_room_mm2(d, g))} in the round outside the chip; "
                     + _src(sources, "hbm.footprint_mm2")))
    yields = [
        ("defect density", f"{d.defects.density_per_mm2:g} per mm2", _src(sources, "defects.density_per_mm2")),
        ("core yield", f"{y.core_yield:.6f}", "Poisson" if not d.defects.clustering else
         f"negative binomial, alpha {d.defects.clustering:g}"),
        ("failed cores", f"{y.failed_cores(g.physical_cores):,.1f} expected per wafer", ""),
        ("physical cores", _n(g.physical_cores), _vs(g.physical_cores, pub.physical_cores, _n)),
        ("enabled cores", f"{_n(g.enabled_cores)} ({g.cores_y} x {g.cores_x})",
         _vs(g.enabled_cores, pub.enabled_cores, _n)),
        ("wafer yield", f"{y.wafer_yield:.4%}", f"every die row within its {d.spare_cols_per_die} spares "
                                                 f"(a row fails with chance {y.row_fail:.2g})"),
    ]
    memory = [
        ("SRAM", format_quantity(f.sram_bytes, "bytes"), _vs(f.sram_bytes, pub.sram_bytes, _q("bytes"))),
        ("SRAM bandwidth", format_quantity(f.sram_bandwidth_bytes_per_s, "bandwidth"), ""),
        ("fabric bandwidth", format_quantity(f.fabric_bandwidth_bytes_per_s * 8, "bandwidth").replace("B/s", "b/s"),
         "4 links out of every core"),
        ("peak compute", format_quantity(f.peak_flops, "flop_rate"), "16-bit, dense"),
        ("edge I/O", format_quantity(f.io_bandwidth_bytes_per_s * 8, "bandwidth").replace("B/s", "b/s"),
         f"{d.io_ports} ports"),
        ("HBM", f"{d.hbm_stacks} x {format_quantity(d.hbm.capacity_bytes, 'bytes')} = "
                f"{format_quantity(f.hbm_bytes, 'bytes')}, {format_quantity(f.hbm_bandwidth_bytes_per_s, 'bandwidth')}"
         if d.hbm_stacks else "none", (d.hbm.generation + "; " + _src(sources, "hbm.capacity_bytes",
                                                                       "hbm.bandwidth_bytes_per_s"))
         if d.hbm_stacks else "hbm_stacks = 0"),
        ("external memory", format_quantity(ds.system.external_memory.capacity_bytes, "bytes"),
         f"a spill reads at {format_quantity(ds.system.external_memory.io_bandwidth_bytes_per_s, 'bandwidth')}"),
    ]
    derate = (f"derated to {p.derating:.1%} by the {d.power.envelope_w / 1e3:g} kW envelope"
              if p.derating < 1 else f"within the {d.power.envelope_w / 1e3:g} kW envelope")
    power = [
        ("clock", format_quantity(p.clock_hz, "frequency"), f"asked {format_quantity(d.clock, 'frequency')}; {derate}"),
        ("static", format_quantity(p.static_w, "power"), _src(sources, "power.static_w_per_mm2")),
        ("SRAM reads", format_quantity(p.sram_w, "power"),
         f"{p.sram_j_per_bit * 1e12:.3g} pJ/bit at activity {d.activity:g}"),
        ("FLOPs", format_quantity(p.flop_w, "power"), f"{p.flop_j * 1e12:.3g} pJ/FLOP at activity {d.activity:g}"),
        ("chip", format_quantity(p.chip_w, "power"), _vs(p.chip_w, pub.chip_power_w, _q("power"))),
        ("system", format_quantity(p.system_w, "power"), _vs(p.system_w, pub.system_power_w, _q("power")) or
         _src(sources, "power.system_overhead_w")),
        ("mesh hop", f"{p.link_j_per_bit * 1e12:.3g} pJ/bit", _src(sources, "power.wire_j_per_bit_mm")),
    ]
    if d.hbm_stacks:
        power.insert(-1, ("HBM stacks", format_quantity(p.hbm_w, "power"), f"{d.hbm_stacks} x "
                          f"{format_quantity(d.hbm.power_w, 'power')} in the system's; " + _src(sources, "hbm.power_w")))
    dep, ref = ds.system.deployment, ds.reference
    markup = ds.preset.deployment.unit_price_usd / ref.cost.total_usd if ref.cost.total_usd else 0.0
    cost = [
        ("good wafer", _usd(c.wafer_usd), f"{d.area.node}; " + _src(sources, "cost.wafer_usd")),
        ("packaging", _usd(c.packaging_usd), _src(sources, "cost.packaging_usd")),
        ("box", _usd(c.system_usd + c.io_usd), _src(sources, "cost.system_usd")),
        *([("HBM stacks", _usd(c.hbm_usd), f"{d.hbm_stacks} x {_usd(d.hbm.usd)}; " + _src(sources, "hbm.usd"))]
          if d.hbm_stacks else []),
        ("system cost", _usd(c.total_usd), f"range {_usd(c.low_usd)} - {_usd(c.high_usd)}"),
        ("price", _usd(dep.unit_price_usd) if dep.unit_price_usd else "unknown",
         f"the {ds.preset.name} preset's price x this cost over the reference design's "
         f"(markup {markup:.1f}x)" if markup else "the system preset gives no price"),
        ("wall power", format_quantity(dep.unit_power_w, "power") if dep.unit_power_w else "unknown",
         f"the {ds.preset.name} preset's, moved by this system power less the reference's"),
    ]
    return [("area", area), ("yield", yields), ("memory and bandwidth", memory), ("power", power),
            ("cost", cost), ("system preset", _system_rows(ds))]


def _system_rows(ds: DesignedSystem) -> list[Row]:
    rows = []
    for table in ("core", "mesh", "scribe", "energy", "external_memory", "interwafer", "deployment"):
        mine, theirs = getattr(ds.system, table), getattr(ds.preset, table)
        for fld in dataclasses.fields(mine):
            a, b = getattr(mine, fld.name), getattr(theirs, fld.name)
            if a != b:
                rows.append((f"{table}.{fld.name}", f"{a:.6g}", f"{ds.preset.name}: {b:.6g}"))
    return rows or [("every field", f"as the {ds.preset.name} preset", "")]


def report_json(ds: DesignedSystem) -> dict[str, Any]:
    f = ds.figures
    g, y, p, c = f.geometry, f.defects, f.power, f.cost
    return {
        "design": f.design.name, "system": ds.system.name, "system_preset": ds.preset.name,
        "area": {"chip_mm2": g.chip_mm2, "scribe_mm2": g.scribe_mm2, "dies": [g.dies_y, g.dies_x],
                 "die_mm": [g.die_y_mm, g.die_x_mm], "core_mm2": g.core_mm2, "core_sram_mm2": g.sram_mm2,
                 "core_lanes_mm2": g.lanes_mm2, "core_router_mm2": g.router_mm2, "core_control_mm2": g.control_mm2,
                 "die_cores": [g.die_rows, g.die_cols], "gross_dies": g.gross_dies,
                 "chip_mm": [g.chip_y_mm, g.chip_x_mm], "hbm_mm2": f.hbm_mm2},
        "yield": {"core_yield": y.core_yield, "wafer_yield": y.wafer_yield, "physical_cores": g.physical_cores,
                  "enabled_cores": g.enabled_cores, "mesh": [g.cores_y, g.cores_x],
                  "failed_cores": y.failed_cores(g.physical_cores)},
        "memory": {"sram_bytes": f.sram_bytes, "sram_bandwidth_bytes_per_s": f.sram_bandwidth_bytes_per_s,
                   "fabric_bandwidth_bytes_per_s": f.fabric_bandwidth_bytes_per_s, "peak_flops": f.peak_flops,
                   "io_bandwidth_bytes_per_s": f.io_bandwidth_bytes_per_s, "hbm_stacks": f.design.hbm_stacks,
                   "hbm_bytes": f.hbm_bytes, "hbm_bandwidth_bytes_per_s": f.hbm_bandwidth_bytes_per_s,
                   "external_memory_bytes": ds.system.external_memory.capacity_bytes,
                   "external_bandwidth_bytes_per_s": ds.system.external_memory.io_bandwidth_bytes_per_s},
        "power": {"clock_hz": p.clock_hz, "asked_clock_hz": p.asked_clock_hz, "derating": p.derating,
                  "static_w": p.static_w, "sram_w": p.sram_w, "flop_w": p.flop_w, "chip_w": p.chip_w, "hbm_w": p.hbm_w,
                  "system_w": p.system_w},
        "cost": {"wafer_usd": c.wafer_usd, "packaging_usd": c.packaging_usd, "system_usd": c.system_usd,
                 "io_usd": c.io_usd, "hbm_usd": c.hbm_usd, "total_usd": c.total_usd, "low_usd": c.low_usd, "high_usd": c.high_usd,
                 "unit_price_usd": ds.system.deployment.unit_price_usd,
                 "unit_power_w": ds.system.deployment.unit_power_w},
    }
