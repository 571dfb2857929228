"""From a design to a system preset.

Structural figures are the design's own: the logical mesh and its dies, SRAM per
core, FLOPs per cycle, the clock the power envelope allows, the link width, the edge
I/O, the external memory (the system preset's, plus the design's HBM stacks: capacity and
bandwidth add, and the energy per bit is the bandwidth-weighted mean).  Continuous figures
the presets state from other sources (per-operation
energies, static power, the envelope, wall power, price) move from the system
preset's values by what the model derives against the *reference* design, the one in
``designs/`` named as the system preset: a ratio for energies and price (the vendor's
markup over the modelled cost is kept), a difference in watts for wall power (the
support servers do not change; never below the chip's own power).  So the reference design reproduces its preset
exactly, and a variant differs from it by the model's consequences alone.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config import ConfigError
from ..hardware.wafer import WaferSpec
from ..presets import find_preset, load_system
from ..provenance import typed_value
from .figures import DesignFigures, derive
from .load import load_design
from .spec import WaferDesign

__all__ = ["reference_of", "system_of", "to_system", "preset_text", "DesignedSystem"]

#: the tables of a wafer preset a design writes
TABLES = ("core", "mesh", "scribe", "energy", "external_memory", "interwafer", "deployment")


@dataclasses.dataclass(frozen=True)
class DesignedSystem:
    """A design's figures, its reference's, and the system spec they give."""
    figures: DesignFigures
    reference: DesignFigures
    preset: WaferSpec
    system: WaferSpec


def system_of(design: WaferDesign) -> WaferSpec:
    """The system preset a design keeps the other fields of (a wafer)."""
    try:
        spec = load_system(design.system)
    except ConfigError as exc:
        raise ConfigError(_where(design), "system", f"expected a wafer preset: {exc}") from None
    if not isinstance(spec, WaferSpec):
        raise ConfigError(_where(design), "system", f"{design.system!r} is a {spec.kind} preset; expected a wafer")
    return spec


def reference_of(design: WaferDesign) -> WaferDesign:
    """The design in ``designs/`` named as the system preset, loaded as its file says."""
    stem = Path(design.system).stem
    try:
        find_preset(stem, "designs")
    except ConfigError:
        raise ConfigError(_where(design), "system", f"no design named {stem!r} in designs/: the reference whose "
                                                    "figures the system preset holds") from None
    return load_design(stem)


def _where(design: WaferDesign) -> str:
    prov = design.provenance
    return prov.path if prov is not None and prov.path else design.name


def _derive(design: WaferDesign, preset: WaferSpec) -> DesignFigures:
    """:func:`derive`, its errors naming the design file and the ``--set`` it was given."""
    try:
        return derive(design, preset)
    except ConfigError as exc:
        if exc.source:
            raise
        prov = design.provenance
        sets = f" with --set {', '.join(prov.set)}" if prov is not None and prov.set else ""
        raise ConfigError(_where(design) + sets, exc.key, exc.message) from None


def _ratio(value: float, mine: float, ref: float) -> float:
    return value if mine == ref else value * mine / ref


def _moved_deployment(spec: WaferSpec, fig: DesignFigures, ref: DesignFigures) -> Any:
    dep = spec.deployment
    changes = {}
    for f in dataclasses.fields(dep):
        value = getattr(dep, f.name)
        if not value:
            continue
        if f.name.startswith("unit_power_w") and fig.power.system_w != ref.power.system_w:
            changes[f.name] = max(value + fig.power.system_w - ref.power.system_w, fig.power.chip_w)
        elif f.name.startswith("unit_price_usd"):
            changes[f.name] = _ratio(value, fig.cost.total_usd, ref.cost.total_usd)
    return dataclasses.replace(dep, **changes)


def _external(preset: WaferSpec, fig: DesignFigures, io_ports: int) -> Any:
    """The external memory: the preset's reached through the design's ports, and its HBM stacks."""
    ext, io = preset.external_memory, fig.io_bandwidth_bytes_per_s
    if not fig.design.hbm_stacks:
        return dataclasses.replace(ext, io_bandwidth_bytes_per_s=io, io_ports=io_ports)
    hbm_bw, total = fig.hbm_bandwidth_bytes_per_s, fig.external_bandwidth_bytes_per_s
    energy = (ext.energy_j_per_bit * io + fig.design.hbm.energy_j_per_bit * hbm_bw) / total
    return dataclasses.replace(ext, io_bandwidth_bytes_per_s=total, io_ports=io_ports,
                               capacity_bytes=ext.capacity_bytes + fig.hbm_bytes, energy_j_per_bit=energy)


def _program(n: int, preset_n: int, preset_program: int) -> int:
    """The design's largest program extent: the preset's margin kept (0 = all)."""
    if not preset_program:
        return 0
    return max(1, n - (preset_n - preset_program))


def to_system(design: WaferDesign, name: str | None = None) -> DesignedSystem:
    """The system a design gives: its system preset with the design's figures in place."""
    preset = system_of(design)
    ref_design = reference_of(design)
    fig, ref = _derive(design, preset), _derive(ref_design, preset)
    g, p, m = fig.geometry, fig.power, preset.mesh
    core = dataclasses.replace(preset.core, sram_bytes=design.sram_per_core, clock_hz=p.clock_hz,
                               flops_per_cycle_16bit=2.0 * design.simd_lanes,
                               flops_per_cycle_8bit=2.0 * design.simd_lanes_8bit)
    mesh = dataclasses.replace(m, cores_x=g.cores_x, cores_y=g.cores_y, dies_x=g.dies_x, dies_y=g.dies_y,
                               link_bytes_per_cycle=design.link_bytes_per_cycle,
                               program_cores_x=_program(g.cores_x, m.cores_x, m.program_cores_x),
                               program_cores_y=_program(g.cores_y, m.cores_y, m.program_cores_y))
    rp, e = ref.power, preset.energy
    energy = dataclasses.replace(
        e, sram_j_per_bit=_ratio(e.sram_j_per_bit, p.sram_j_per_bit, rp.sram_j_per_bit),
        link_j_per_bit=_ratio(e.link_j_per_bit, p.link_j_per_bit, rp.link_j_per_bit),
        flop_j=_ratio(e.flop_j, p.flop_j, rp.flop_j),
        static_power_w=_ratio(e.static_power_w, p.static_w, rp.static_w),
        tdp_w=_ratio(e.tdp_w, design.power.envelope_w, ref_design.power.envelope_w))
    scribe = dataclasses.replace(preset.scribe, link_bytes_per_cycle=_ratio(
        preset.scribe.link_bytes_per_cycle, design.link_bytes_per_cycle, ref_design.link_bytes_per_cycle))
    io = fig.io_bandwidth_bytes_per_s
    external = _external(preset, fig, design.io_ports)
    inter = dataclasses.replace(preset.interwafer, bandwidth_bytes_per_s=_ratio(
        preset.interwafer.bandwidth_bytes_per_s, io, ref.io_bandwidth_bytes_per_s))
    description = design.description or preset.description
    prov = design.provenance
    if prov is not None and prov.set:
        description += f"; designed with {', '.join(prov.set)}"
    system = dataclasses.replace(
        preset, name=name or design.name, description=description, core=core, mesh=mesh,
        scribe=scribe, energy=energy, external_memory=external, interwafer=inter,
        deployment=_moved_deployment(preset, fig, ref))
    return DesignedSystem(figures=fig, reference=ref, preset=preset, system=system)


def _base_name(design: WaferDesign) -> str:
    text = design.system
    if "/" in text or text.endswith(".toml"):
        return str(Path(text).resolve())
    return text


def preset_text(designed: DesignedSystem, command: str) -> str:
    """A system preset (TOML) that builds on the design's system preset and sets what
    the design changes; ``run`` and ``compare`` read it as any preset."""
    d, sys_, pre = designed.figures.design, designed.system, designed.preset
    lines = [f"# {sys_.name}: a wafer design, written by `{command}` (wafersim {__version__}).",
             f"# Built on the system preset {d.system!r}; the values below are the design's, every other",
             "# value is the base preset's (see `wafersim design` and docs/models.md, \"Designing a wafer\").",
             'kind = "wafer"', f"base = {typed_value(_base_name(d))}", f"name = {typed_value(sys_.name)}",
             f"description = {typed_value(sys_.description)}"]
    for table in TABLES:
        mine, theirs = getattr(sys_, table), getattr(pre, table)
        changed = [(f.name, getattr(mine, f.name)) for f in dataclasses.fields(mine)
                   if getattr(mine, f.name) != getattr(theirs, f.name)]
        if changed:
            lines += ["", f"[{table}]", *(f"{k} = {typed_value(v)}" for k, v in changed)]
    return "\n".join(lines) + "\n"
