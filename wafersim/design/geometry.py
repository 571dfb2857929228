"""Area: a core from its parts, the chip from the wafer's round, dies from the reticle.

Closed forms, in millimetres:

* core area ``a = SRAM/MiB x sram_mm2_per_mib + lanes x lane + router + control``;
  a core is ``core_aspect`` times taller than wide: pitch ``sqrt(a / aspect)`` across,
  ``sqrt(a x aspect)`` down;
* the chip is the largest square inside the usable round: side ``s = d / sqrt(2)`` with
  ``d`` the diameter less twice the edge exclusion;
* the square is cut into ``dies_x x dies_y`` dies at pitch ``s / dies``, each a scribe
  line narrower; a die larger than the reticle cannot be printed;
* each die holds ``floor(W / pitch_x)`` columns by ``floor(H / pitch_y)`` rows of cores
  in its core array (the die less its edge ring), of which spare and reserved columns
  are not given to software;
* a design that sets fewer cores per die (``die_cols``, ``die_rows``) builds each die
  just around them, ``cols x pitch_x + 2 x edge`` wide, and the chip is the dies and
  their scribe lines: ``dies_x x (die + scribe)`` a side, smaller than the square.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import ConfigError
from .spec import WaferDesign

#: mm per m: lengths are read in metres, the area model works in mm
MM = 1e3
#: bytes per MiB
MIB = 2.0**20


@dataclass(frozen=True)
class Geometry:
    core_mm2: float
    sram_mm2: float                 # of one core
    lanes_mm2: float
    router_mm2: float
    control_mm2: float
    pitch_x_mm: float
    pitch_y_mm: float
    chip_side_mm: float             # the largest square in the usable round
    dies_x: int
    dies_y: int
    die_x_mm: float
    die_y_mm: float
    die_cols: int                   # physical core columns per die
    die_rows: int
    logical_cols: int               # columns per die given to software
    gross_dies: float               # dies of this size a conventionally diced wafer gives
    chip_x_mm: float                # the chip: the dies and their scribe lines (the square, unless
    chip_y_mm: float                # die_cols or die_rows build smaller dies)

    @property
    def chip_mm2(self) -> float:
        return self.chip_x_mm * self.chip_y_mm

    @property
    def dies(self) -> int:
        return self.dies_x * self.dies_y

    @property
    def dies_mm2(self) -> float:
        return self.dies * self.die_x_mm * self.die_y_mm

    @property
    def scribe_mm2(self) -> float:
        return self.chip_mm2 - self.dies_mm2

    @property
    def physical_cores(self) -> int:
        return self.dies * self.die_cols * self.die_rows

    @property
    def cores_x(self) -> int:
        return self.dies_x * self.logical_cols

    @property
    def cores_y(self) -> int:
        return self.dies_y * self.die_rows

    @property
    def enabled_cores(self) -> int:
        return self.cores_x * self.cores_y

    @property
    def cores_mm2(self) -> float:
        """Silicon the physical cores take."""
        return self.physical_cores * self.core_mm2

    @property
    def hop_mm(self) -> float:
        """Mean length of one mesh hop: half the hops run across, half down."""
        return (self.pitch_x_mm + self.pitch_y_mm) / 2


def core_parts(d: WaferDesign) -> tuple[float, float, float, float]:
    """(SRAM, SIMD lanes, router, control) area of one core in mm2."""
    a = d.area
    sram = d.sram_per_core / MIB * a.sram_mm2_per_mib
    lanes = d.simd_lanes * a.lane_mm2 + d.simd_lanes_8bit * a.lane_8bit_mm2
    router = a.router_mm2 + a.router_mm2_per_link_byte * d.link_bytes_per_cycle
    return sram, lanes, router, a.control_mm2


def _dies(n: int, side: float, reticle: float, scribe: float, key: str) -> int:
    fewest = max(1, math.ceil(side / (reticle + scribe) - 1e-9))
    if n == 0:
        return fewest
    if side / n - scribe > reticle * (1 + 1e-9):
        raise ConfigError("", key, f"{n} dies across a {side:.1f} mm chip are {side / n - scribe:.2f} mm each, "
                                   f"larger than the {reticle:g} mm reticle; expected at least {fewest}")
    return n


def _cores_per_die(asked: int, room: float, edge: float, pitch: float, key: str) -> tuple[int, float]:
    """(cores along one side of a die, the die's length): as many cores as the room the die
    grid gives holds, or ``asked`` of them in a die built just around them."""
    fit = math.floor(max(room - 2 * edge, 0.0) / pitch)
    if not asked:
        return fit, room
    if asked > fit:
        raise ConfigError("", key, f"{asked} cores of {pitch:.4f} mm pitch do not fit a {room:.2f} mm die "
                                   f"(the die grid's); expected at most {fit}")
    return asked, asked * pitch + 2 * edge


def gross_dies_per_wafer(diameter_mm: float, die_mm2: float) -> float:
    """Whole dies a conventionally diced wafer of ``diameter_mm`` gives (the usual
    estimate: wafer area over die area less the dies the edge cuts)."""
    return math.pi * diameter_mm ** 2 / (4 * die_mm2) - math.pi * diameter_mm / math.sqrt(2 * die_mm2)


def geometry(d: WaferDesign) -> Geometry:
    w = d.wafer
    usable = (w.diameter_m - 2 * w.edge_exclusion_m) * MM
    if usable <= 0:
        raise ConfigError("", "wafer.edge_exclusion_m", "the edge exclusion leaves no wafer")
    side = usable / math.sqrt(2)
    scribe, edge = w.scribe_m * MM, w.die_edge_m * MM
    nx = _dies(d.dies_x, side, w.reticle_x_m * MM, scribe, "dies_x")
    ny = _dies(d.dies_y, side, w.reticle_y_m * MM, scribe, "dies_y")
    die_x, die_y = side / nx - scribe, side / ny - scribe
    sram, lanes, router, control = core_parts(d)
    core = sram + lanes + router + control
    px, py = math.sqrt(core / d.area.core_aspect), math.sqrt(core * d.area.core_aspect)
    cols, die_x = _cores_per_die(d.die_cols, die_x, edge, px, "die_cols")
    rows, die_y = _cores_per_die(d.die_rows, die_y, edge, py, "die_rows")
    logical = cols - d.spare_cols_per_die - d.reserved_cols_per_die
    if rows < 1 or logical < 1:
        raise ConfigError("", "sram_per_core", f"a {die_x:.1f} x {die_y:.1f} mm die holds {cols} x {rows} cores of "
                                               f"{core:.4f} mm2, leaving {max(logical, 0)} columns after "
                                               f"{d.spare_cols_per_die} spare and {d.reserved_cols_per_die} reserved; "
                                               "expected smaller cores or larger dies")
    return Geometry(core_mm2=core, sram_mm2=sram, lanes_mm2=lanes, router_mm2=router, control_mm2=control,
                    pitch_x_mm=px, pitch_y_mm=py, chip_side_mm=side, dies_x=nx, dies_y=ny, die_x_mm=die_x,
                    die_y_mm=die_y, die_cols=cols, die_rows=rows, logical_cols=logical,
                    gross_dies=gross_dies_per_wafer(w.diameter_m * MM, die_x * die_y),
                    chip_x_mm=nx * (die_x + scribe), chip_y_mm=ny * (die_y + scribe))
