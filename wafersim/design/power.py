"""Power: static plus dynamic at an activity, capped by the power envelope.

``P(f) = P_static + activity x N x f x (8 r e_sram + 2 lanes e_flop)`` for ``N``
enabled cores reading ``r`` bytes of SRAM a cycle (the presets' envelope method:
peak SRAM reads and peak FLOPs; links are left out).  Static power is
``static_w_per_mm2`` over the chip.  A bigger SRAM costs more per bit read:
``e_sram = e_ref x (size / reference) ** exponent``.  When ``P(f)`` exceeds the
envelope the clock is lowered to ``f x (envelope - static) / dynamic`` (dynamic
power is proportional to the clock at a fixed voltage): the derating.  The system
draws ``P / delivery efficiency + overhead + I/O ports + HBM stacks`` (a stack at its
full-bandwidth power; the stacks sit outside the chip's envelope).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError
from .geometry import Geometry
from .spec import WaferDesign

#: joules per picojoule
PJ = 1e-12


@dataclass(frozen=True)
class Power:
    clock_hz: float                 # the clock the envelope allows (the one asked for, if it fits)
    asked_clock_hz: float
    static_w: float
    sram_w: float                   # at clock_hz and the activity
    flop_w: float
    io_w: float
    hbm_w: float
    system_w: float
    sram_j_per_bit: float
    flop_j: float
    link_j_per_bit: float

    @property
    def chip_w(self) -> float:
        return self.static_w + self.sram_w + self.flop_w

    @property
    def derating(self) -> float:
        """Clock given over clock asked (1 when the envelope does not bind)."""
        return self.clock_hz / self.asked_clock_hz


def sram_energy(d: WaferDesign) -> float:
    p = d.power
    return p.sram_j_per_bit * (d.sram_per_core / p.sram_reference_bytes) ** p.sram_energy_exponent


def power(d: WaferDesign, g: Geometry, read_bytes_per_cycle: float) -> Power:
    p = d.power
    e_sram = sram_energy(d)
    per_hz = (d.activity * g.enabled_cores * 8 * read_bytes_per_cycle * e_sram,
              d.activity * g.enabled_cores * 2 * d.simd_lanes * p.flop_j)
    static = p.static_w_per_mm2 * g.chip_mm2
    if static >= p.envelope_w:
        raise ConfigError("", "power.static_w_per_mm2", f"static power alone ({static / 1e3:.3g} kW) fills the "
                                                        f"{p.envelope_w / 1e3:.3g} kW envelope")
    dynamic = sum(per_hz) * d.clock
    clock = d.clock if static + dynamic <= p.envelope_w else d.clock * (p.envelope_w - static) / dynamic
    sram_w, flop_w = per_hz[0] * clock, per_hz[1] * clock
    io = d.io_ports * p.io_port_w
    hbm = d.hbm_stacks * d.hbm.power_w
    chip = static + sram_w + flop_w
    return Power(clock_hz=clock, asked_clock_hz=d.clock, static_w=static, sram_w=sram_w, flop_w=flop_w, io_w=io,
                 hbm_w=hbm, system_w=chip / p.delivery_efficiency + p.system_overhead_w + io + hbm,
                 sram_j_per_bit=e_sram,
                 flop_j=p.flop_j, link_j_per_bit=p.wire_j_per_bit_mm * PJ * g.hop_mm)
