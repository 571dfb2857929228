"""A wafer design: what an architect chooses, and what the fab and the box give.

The design variables sit at the top of a design file (SRAM per core, SIMD lanes,
clock, die grid, link width, edge I/O, HBM stacks); the technology a design is built in sits in
tables below them: the wafer and reticle (``[wafer]``), per-core area by part at the
process node (``[area]``), defects (``[defects]``), power (``[power]``), cost
(``[cost]``) and one HBM stack (``[hbm]``).  ``[published]`` holds the vendor's figures a design is checked against.
Lengths are read with units ("26 mm") and kept in metres like every length in
wafersim; areas are plain numbers in mm2 (the unit is in the key's name).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ConfigError, Spec, integer, number, quantity, text
from ..provenance import Provenance, provenance_field


@dataclass(frozen=True, kw_only=True)
class WaferGeometrySpec(Spec):
    """The wafer, the reticle and what separates dies."""
    diameter_m: float = quantity("length", "wafer diameter")
    edge_exclusion_m: float = quantity("length", "ring at the wafer's edge where nothing is built",
                                       default=0.0, allow_zero=True)
    reticle_x_m: float = quantity("length", "largest die one exposure prints, along x")
    reticle_y_m: float = quantity("length", "largest die one exposure prints, along y")
    scribe_m: float = quantity("length", "width of the scribe line between two dies", allow_zero=True)
    die_edge_m: float = quantity("length", "ring inside each die with no cores (clocking, test, the drivers of "
                                           "the links across the scribe)", allow_zero=True)


@dataclass(frozen=True, kw_only=True)
class AreaSpec(Spec):
    """Area of one core's parts at the process node (mm2)."""
    node: str = text("process node, as the foundry names it")
    sram_bitcell_um2: float = number("area of one SRAM bit cell (um2)")
    sram_array_efficiency: float = number("share of an SRAM macro's area that is bit cells (the rest: decoders, "
                                          "sense amplifiers, redundancy)", maximum=1.0)
    lane_mm2: float = number("area of one 16-bit SIMD lane: its fused multiply-add and its data path (mm2)")
    lane_8bit_mm2: float = number("extra area of one 8-bit lane beside the 16-bit ones (mm2)",
                                  default=0.0, allow_zero=True)
    router_mm2: float = number("area of a core's router that does not grow with the link width (mm2)",
                               allow_zero=True)
    router_mm2_per_link_byte: float = number("router area per byte of link width (its five ports' buffers "
                                             "and crossbar) (mm2)", allow_zero=True)
    control_mm2: float = number("the rest of a core: instruction sequencer, task scheduler, address "
                                "generators (mm2)", allow_zero=True)
    core_aspect: float = number("a core's height over its width (the mesh's rows are this much further "
                                "apart than its columns)", minimum=0.1, maximum=10.0)

    @property
    def sram_mm2_per_mib(self) -> float:
        """SRAM macro area per MiB: 2**23 bit cells over the array efficiency."""
        return self.sram_bitcell_um2 * 1e-6 * 2.0**23 / self.sram_array_efficiency


@dataclass(frozen=True, kw_only=True)
class DefectSpec(Spec):
    density_per_mm2: float = number("killer defects per mm2 of silicon")
    clustering: float = number("negative-binomial clustering parameter alpha of the defects; 0 = Poisson "
                               "(no clustering)", default=0.0, allow_zero=True, maximum=1e6)


@dataclass(frozen=True, kw_only=True)
class PowerSpec(Spec):
    flop_j: float = quantity("energy_per_flop", "energy per 16-bit FLOP at the node")
    sram_j_per_bit: float = quantity("energy_per_bit", "energy per bit read from a core's SRAM of "
                                                       "sram_reference_bytes")
    sram_reference_bytes: float = quantity("bytes", "SRAM per core at which sram_j_per_bit holds")
    sram_energy_exponent: float = number("a bigger SRAM's energy per bit grows as (size / reference) to this "
                                         "power (longer bit and word lines)", allow_zero=True, maximum=2.0)
    wire_j_per_bit_mm: float = number("energy per bit per mm of on-wafer wire (pJ); a hop is one core pitch",
                                      maximum=1e3)
    static_w_per_mm2: float = number("power drawn whatever the load, per mm2 of the chip (W)", allow_zero=True)
    envelope_w: float = quantity("power", "most the chip may draw: its power delivery and cooling")
    delivery_efficiency: float = number("share of the wall power the power supplies deliver to the chip",
                                        maximum=1.0)
    system_overhead_w: float = quantity("power", "the box's own draw beside the chip: pumps, fans, host, I/O",
                                        allow_zero=True)
    io_port_w: float = quantity("power", "power of one edge I/O port and its optics", allow_zero=True)


@dataclass(frozen=True, kw_only=True)
class CostSpec(Spec):
    """Dollars, each with the low and high ends of its range."""
    wafer_usd: float = number("one processed wafer at the node")
    wafer_usd_low: float = number("low end of wafer_usd")
    wafer_usd_high: float = number("high end of wafer_usd")
    packaging_usd: float = number("packaging and test of one wafer: cold plate, power delivery, connectors",
                                  allow_zero=True)
    packaging_usd_low: float = number("low end of packaging_usd", allow_zero=True)
    packaging_usd_high: float = number("high end of packaging_usd", allow_zero=True)
    system_usd: float = number("the box around a wafer: chassis, power supplies, cooling, host", allow_zero=True)
    system_usd_low: float = number("low end of system_usd", allow_zero=True)
    system_usd_high: float = number("high end of system_usd", allow_zero=True)
    io_port_usd: float = number("one edge I/O port and its optics", allow_zero=True)

    def check(self) -> None:
        for part in ("wafer", "packaging", "system"):
            low, mid, high = (getattr(self, f"{part}_usd{s}") for s in ("_low", "", "_high"))
            if not low <= mid <= high:
                raise ConfigError("", f"{part}_usd", f"expected {part}_usd_low <= {part}_usd <= {part}_usd_high, "
                                                     f"got {low:g}, {mid:g}, {high:g}")


@dataclass(frozen=True, kw_only=True)
class HbmSpec(Spec):
    """One HBM stack at the wafer's edge (``hbm_stacks`` of them); 0 where a design has none."""
    generation: str = text("the memory generation (e.g. HBM3E 12-high)", default="")
    capacity_bytes: float = quantity("bytes", "capacity of one stack", default=0.0, allow_zero=True)
    bandwidth_bytes_per_s: float = quantity("bandwidth", "bandwidth of one stack", default=0.0, allow_zero=True)
    power_w: float = quantity("power", "power of one stack and its PHY at full bandwidth", default=0.0,
                              allow_zero=True)
    footprint_mm2: float = number("area one stack takes beside the chip, in the wafer's round outside the "
                                  "chip's square (mm2)", default=0.0, allow_zero=True)
    usd: float = number("one stack, bought and attached", default=0.0, allow_zero=True)
    usd_low: float = number("low end of usd", default=0.0, allow_zero=True)
    usd_high: float = number("high end of usd", default=0.0, allow_zero=True)

    def check(self) -> None:
        if not self.usd_low <= self.usd <= self.usd_high:
            raise ConfigError("", "usd", f"expected usd_low <= usd <= usd_high, got {self.usd_low:g}, "
                                         f"{self.usd:g}, {self.usd_high:g}")

    @property
    def energy_j_per_bit(self) -> float:
        """Energy per bit read at full bandwidth: power over bits a second (0 without a bandwidth)."""
        return self.power_w / (8 * self.bandwidth_bytes_per_s) if self.bandwidth_bytes_per_s else 0.0


@dataclass(frozen=True, kw_only=True)
class PublishedSpec(Spec):
    """The vendor's figures a design is checked against; 0 where none is published."""
    area_mm2: float = number("chip area", default=0.0, allow_zero=True)
    enabled_cores: float = number("cores software can use", default=0.0, allow_zero=True)
    physical_cores: float = number("cores on the wafer, spares included", default=0.0, allow_zero=True)
    sram_bytes: float = quantity("bytes", "SRAM on the chip", default=0.0, allow_zero=True)
    chip_power_w: float = quantity("power", "the chip's power", default=0.0, allow_zero=True)
    system_power_w: float = quantity("power", "the system's wall power", default=0.0, allow_zero=True)


@dataclass(frozen=True, kw_only=True)
class WaferDesign(Spec):
    kind: str = text("must be 'design'")
    name: str = text("design name")
    description: str = text("what the design is", default="")
    system: str = text("the system preset (meshes/) whose other fields the design keeps; the design of the same "
                       "name in designs/ is the reference its power and price move from")
    sram_per_core: float = quantity("bytes", "SRAM of one core")
    simd_lanes: int = integer("16-bit SIMD lanes per core (a lane does one fused multiply-add, 2 FLOP, a cycle)",
                              maximum=4096)
    simd_lanes_8bit: int = integer("8-bit lanes per core; 0 = 8-bit runs at the 16-bit rate", default=0,
                                   minimum=0, maximum=4096)
    clock: float = quantity("frequency", "core clock asked for; the power envelope may lower it")
    dies_x: int = integer("dies along x; 0 = the fewest the reticle allows", minimum=0, maximum=1024)
    dies_y: int = integer("dies along y; 0 = the fewest the reticle allows", minimum=0, maximum=1024)
    die_cols: int = integer("core columns built per die (cores per die along x); 0 = as many as the die the "
                            "grid gives holds. Fewer make a narrower die and a smaller chip", default=0, minimum=0,
                            maximum=4096)
    die_rows: int = integer("core rows per die (cores per die along y); 0 = as many as the die the grid gives "
                            "holds", default=0, minimum=0, maximum=4096)
    spare_cols_per_die: int = integer("spare core columns per die: each die row routes around up to this many "
                                      "failed cores", minimum=0, maximum=4096)
    reserved_cols_per_die: int = integer("core columns per die built but not given to software", default=0,
                                         minimum=0, maximum=4096)
    link_bytes_per_cycle: float = number("bytes a mesh link moves per cycle each way", maximum=4096)
    io_ports: int = integer("edge I/O ports", maximum=4096)
    io_port_bandwidth: float = quantity("bandwidth", "one edge I/O port's bandwidth")
    hbm_stacks: int = integer("HBM stacks at the wafer's edge ([hbm] gives one stack); they add to the external "
                              "memory's capacity and to the bandwidth a spill reads at", default=0, minimum=0,
                              maximum=4096)
    activity: float = number("share of peak SRAM reads and FLOPs the power is reckoned at (1 = peak, as the "
                             "presets' power envelopes)", maximum=1.0)
    wafer: WaferGeometrySpec = field(metadata={"doc": "wafer, reticle and scribe"})
    area: AreaSpec = field(metadata={"doc": "per-core area by part"})
    defects: DefectSpec = field(metadata={"doc": "defect density"})
    power: PowerSpec = field(metadata={"doc": "energies, static power and the envelope"})
    cost: CostSpec = field(metadata={"doc": "wafer, packaging and system cost"})
    hbm: HbmSpec = field(default_factory=HbmSpec, metadata={"doc": "one HBM stack: capacity, bandwidth, power, "
                                                                    "area and cost"})
    published: PublishedSpec = field(default_factory=PublishedSpec, metadata={"doc": "the vendor's figures"})
    provenance: Provenance | None = provenance_field()

    def check(self) -> None:
        if self.kind != "design":
            raise ConfigError("", "kind", f"expected 'design', got {self.kind!r}")
        if self.hbm_stacks and not (self.hbm.capacity_bytes and self.hbm.bandwidth_bytes_per_s):
            raise ConfigError("", "hbm_stacks", f"{self.hbm_stacks} stacks need [hbm] capacity_bytes and "
                                                "bandwidth_bytes_per_s (one stack's)")
