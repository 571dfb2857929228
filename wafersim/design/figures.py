"""Everything a design derives: its area, yield, power and cost, and the totals they give.

HBM stacks at the edge add, in closed form: capacity ``stacks x per-stack``, bandwidth
``stacks x per-stack`` (beside the edge I/O ports', which the interwafer links share), area
``stacks x footprint``, which must fit (by area) in the usable round outside the chip's
square, power and cost ``stacks x per-stack``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import ConfigError

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
        """The edge I/O ports' bandwidth (to MemoryX and to other wafers)."""
        return self.design.io_ports * self.design.io_port_bandwidth

    @property
    def hbm_bytes(self) -> float:
        return self.design.hbm_stacks * self.design.hbm.capacity_bytes

    @property
    def hbm_bandwidth_bytes_per_s(self) -> float:
        return self.design.hbm_stacks * self.design.hbm.bandwidth_bytes_per_s

    @property
    def hbm_mm2(self) -> float:
        return self.design.hbm_stacks * self.design.hbm.footprint_mm2

    @property
    def external_bandwidth_bytes_per_s(self) -> float:
        """What a spill reads at: the edge I/O ports and the HBM stacks together."""
        return self.io_bandwidth_bytes_per_s + self.hbm_bandwidth_bytes_per_s


def derive(design: WaferDesign, system: WaferSpec) -> DesignFigures:
    """The figures of ``design``; ``system`` (its system preset) gives the widths a
    design does not choose (SRAM read ports)."""
    g = geometry(design)
    y = defects(design.defects, g, design.spare_cols_per_die)
    read = system.core.sram_read_bytes_per_cycle
    _check_hbm_room(design, g)
    return DesignFigures(design=design, geometry=g, defects=y, power=power(design, g, read),
                         cost=cost(design.cost, y.wafer_yield, design.io_ports, design.hbm, design.hbm_stacks),
                         sram_read_bytes_per_cycle=read)


def hbm_room_mm2(design: WaferDesign, g: Geometry) -> float:
    """Area of the usable round outside the chip: where edge HBM stacks sit."""
    w = design.wafer
    usable = (w.diameter_m - 2 * w.edge_exclusion_m) * 1e3
    return max(0.0, math.pi * usable ** 2 / 4 - g.chip_mm2)


def _check_hbm_room(design: WaferDesign, g: Geometry) -> None:
    need, room = design.hbm_stacks * design.hbm.footprint_mm2, hbm_room_mm2(design, g)
    if need > room:
        raise ConfigError("", "hbm_stacks", f"{design.hbm_stacks} stacks take {need:,.0f} mm2; the usable round "
                                            f"outside the chip holds {room:,.0f} mm2")
