"""Everything a design derives: its area, yield, power and cost, and the totals they give."""

from __future__ import annotations

from dataclasses import dataclass

from ..hardware.wafer import WaferSpec
from .cost import Cost, cost
from .defects import Defects, defects
from .geometry import Geometry, geometry
from .power import Power, power
from .spec import WaferDesign

#: links a core drives out of itself: north, east, south and west
LINKS_PER_CORE = 4


@dataclass(frozen=True)
class DesignFigures:
    design: WaferDesign
    geometry: Geometry
    defects: Defects
    power: Power
    cost: Cost
    sram_read_bytes_per_cycle: float

    @property
    def enabled_cores(self) -> int:
        return self.geometry.enabled_cores

    @property
    def sram_bytes(self) -> float:
        return self.enabled_cores * self.design.sram_per_core

    @property
    def peak_flops(self) -> float:
        return self.enabled_cores * 2 * self.design.simd_lanes * self.power.clock_hz

    @property
    def sram_bandwidth_bytes_per_s(self) -> float:
        return self.enabled_cores * self.sram_read_bytes_per_cycle * self.power.clock_hz

    @property
    def fabric_bandwidth_bytes_per_s(self) -> float:
        return self.enabled_cores * LINKS_PER_CORE * self.design.link_bytes_per_cycle * self.power.clock_hz

    @property
    def io_bandwidth_bytes_per_s(self) -> float:
        return self.design.io_ports * self.design.io_port_bandwidth


def derive(design: WaferDesign, system: WaferSpec) -> DesignFigures:
    """The figures of ``design``; ``system`` (its system preset) gives the widths a
    design does not choose (SRAM read ports)."""
    g = geometry(design)
    y = defects(design.defects, g, design.spare_cols_per_die)
    read = system.core.sram_read_bytes_per_cycle
    return DesignFigures(design=design, geometry=g, defects=y, power=power(design, g, read),
                         cost=cost(design.cost, y.wafer_yield, design.io_ports), sram_read_bytes_per_cycle=read)
