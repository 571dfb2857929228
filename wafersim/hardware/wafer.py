"""A wafer-scale system: a mesh of cores cut into reticle-sized dies.

Per-core and per-link numbers are kept as the hardware states them (bytes per
cycle, cycles per hop) and converted with the core clock; whole-wafer figures
(cores, SRAM, bandwidth) are derived properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ConfigError, Spec, choice, integer, number, quantity, text
from ..provenance import Provenance, provenance_field
from ..workload.dtypes import compute_class, dtype_format
from .deployment import DeploymentSpec


@dataclass(frozen=True, kw_only=True)
class CoreSpec(Spec):
    sram_bytes: float = quantity("bytes", "local SRAM of one core")
    clock_hz: float = quantity("frequency", "core and fabric clock")
    sram_read_bytes_per_cycle: float = number("bytes a core can read from its SRAM per cycle")
    sram_write_bytes_per_cycle: float = number("bytes a core can write to its SRAM per cycle")
    flops_per_cycle_16bit: float = number("FP16/BF16 FLOP per cycle (SIMD lanes x 2 for a fused multiply-add)")
    flops_per_cycle_8bit: float = number("8-bit FLOP per cycle; 0 means the 16-bit rate", default=0.0, allow_zero=True)
    unpack_elements_per_cycle: float = number(
        "weight elements a core widens to 16 bits per cycle when they are stored in a format it does not "
        "multiply (fp8, int8, int4, FP4); 0 means half of flops_per_cycle_16bit (one SIMD lane operation an "
        "element, as the multiply-add itself)", default=0.0, allow_zero=True)
    accumulator_bytes: float = quantity(
        "bytes", "partial sums a core keeps beside its SRAM ports (registers, local cache) while one weight "
        "read feeds several tokens (engines/core_datapath.py); 0: every partial sum goes through the ports",
        default=0.0, allow_zero=True)
    code_bytes: float = quantity(
        "bytes", "SRAM one core's program takes (kernel code and its constants)", default=0.0, allow_zero=True)
    routing_buffer_bytes: float = quantity(
        "bytes", "SRAM one core keeps for the buffers its fabric routes fill and drain (FIFOs, receive queues)",
        default=0.0, allow_zero=True)
    reserved_sram_fraction: float = number(
        "explicit override: share of SRAM kept for code, activations and buffers, in place of the budget "
        "of code_bytes, routing_buffer_bytes and the decode activation tile; -1 (the default) means the budget",
        default=-1.0, minimum=-1.0, maximum=0.95, allow_zero=True)

    def check(self) -> None:
        f = self.reserved_sram_fraction
        if f != -1.0 and f < 0.0:
            raise ConfigError("", "reserved_sram_fraction", f"expected -1 (explicit buffer budget) or a share "
                              f"from 0 to 0.95, got {f!r}")
        if self.fixed_buffer_bytes >= self.sram_bytes:
            raise ConfigError("", "code_bytes", f"code ({self.code_bytes:.6g} B) and routing buffers "
                              f"({self.routing_buffer_bytes:.6g} B) take all {self.sram_bytes:.6g} B of a core's SRAM")

    @property
    def reserve_override(self) -> bool:
        """True when ``reserved_sram_fraction`` overrides the explicit buffer budget."""
        return self.reserved_sram_fraction >= 0.0

    @property
    def fixed_buffer_bytes(self) -> float:
        """Buffers every core keeps whatever the job: its program and its routing buffers
        (with the flat override: the reserved share)."""
        if self.reserve_override:
            return self.sram_bytes * self.reserved_sram_fraction
        return self.code_bytes + self.routing_buffer_bytes

    def computes(self, dtype: str) -> bool:
        """Whether a core multiplies operands in ``dtype``'s rate class natively (16-bit always; 8-bit
        where flops_per_cycle_8bit is set; no 4-bit)."""
        cls = dtype_format(dtype).compute
        return bool(cls) and {"16bit": True, "8bit": self.flops_per_cycle_8bit > 0, "4bit": False}[cls]

    @property
    def unpack_rate(self) -> float:
        """Weight elements widened per cycle (see ``unpack_elements_per_cycle``)."""
        return self.unpack_elements_per_cycle or self.flops_per_cycle_16bit / 2

    def flops_per_cycle(self, dtype: str, compute: str | None = None) -> float:
        """Matmul FLOP per cycle with weights stored in ``dtype``, multiplying in ``compute`` (None:
        ``dtype`` where the core multiplies it, else 16-bit).  Weights in a format the core does not
        multiply are widened as they are used: each weight element's two FLOPs then cost one unpack
        besides, ``flops / (1 + flops / (2 x unpack_rate))`` (int4 and fp8 on WSE-2/3)."""
        if compute is None:
            compute = dtype if self.computes(dtype) else "bf16"
        cls = compute_class(compute)
        rate = self.flops_per_cycle_8bit if cls == "8bit" and self.flops_per_cycle_8bit > 0 else self.flops_per_cycle_16bit
        if dtype_format(dtype).compute == cls:
            return rate
        return rate / (1.0 + rate / (2.0 * self.unpack_rate))

    @property
    def usable_sram_bytes(self) -> float:
        """SRAM per core for weights, KV cache and activation tiles: what the fixed buffers
        leave.  The decode activation tile depends on the job; the placement subtracts it
        (:func:`wafersim.mapping.placement.core_buffers`)."""
        return self.sram_bytes - self.fixed_buffer_bytes

    @property
    def sram_read_bytes_per_s(self) -> float:
        return self.sram_read_bytes_per_cycle * self.clock_hz


#: Most SRAM one wafer may hold (bytes), so per-region byte counts stay exact in int64.
MAX_WAFER_SRAM_BYTES = 2**60
#: Most cores one wafer may have: 2**22 (4.7 times a WSE-3), so per-core arrays stay small.
MAX_CORES = 2**22


@dataclass(frozen=True, kw_only=True)
class MeshSpec(Spec):
    cores_x: int = integer("cores along x (columns) on one wafer", maximum=2**13)
    cores_y: int = integer("cores along y (rows) on one wafer", maximum=2**13)
    dies_x: int = integer("dies along x", maximum=2**13)
    dies_y: int = integer("dies along y", maximum=2**13)
    link_bytes_per_cycle: float = number("bytes one mesh link moves per cycle in each direction")
    hop_latency_cycles: float = number("cycles for a word to cross one router and link", allow_zero=True)
    program_cores_x: int = integer("most columns one program may use: the mesh less what the vendor's host-transfer "
                                   "infrastructure takes around it (a smaller mesh is used whole); 0 = all cores_x",
                                   default=0, minimum=0, maximum=2**13)
    program_cores_y: int = integer("most rows one program may use (as program_cores_x); 0 = all cores_y",
                                   default=0, minimum=0, maximum=2**13)

    def check(self) -> None:
        if self.cores_x * self.cores_y > MAX_CORES:
            raise ConfigError("", "cores_x", f"a {self.cores_y} x {self.cores_x} mesh has more than {MAX_CORES} cores "
                              "(the most one wafer may have)")
        if self.cores_x % self.dies_x:
            raise ConfigError("", "dies_x", f"die grid must tile the mesh: {self.dies_x} does not divide cores_x={self.cores_x}")
        if self.cores_y % self.dies_y:
            raise ConfigError("", "dies_y", f"die grid must tile the mesh: {self.dies_y} does not divide cores_y={self.cores_y}")

    @property
    def cores(self) -> int:
        return self.cores_x * self.cores_y

    @property
    def program_shape(self) -> tuple[int, int]:
        """(rows, cols) of the largest block of cores one program may use, from the mesh's corner."""
        return (min(self.program_cores_y or self.cores_y, self.cores_y),
                min(self.program_cores_x or self.cores_x, self.cores_x))

    @property
    def die_cores_x(self) -> int:
        return self.cores_x // self.dies_x

    @property
    def die_cores_y(self) -> int:
        return self.cores_y // self.dies_y


@dataclass(frozen=True, kw_only=True)
class ScribeSpec(Spec):
    """Links that cross the scribe line between two dies."""
    link_bytes_per_cycle: float = number("bytes a cross-die link moves per cycle in each direction")
    extra_latency_cycles: float = number("cycles a crossing adds to an ordinary hop", allow_zero=True)
    energy_j_per_bit: float = quantity("energy_per_bit", "energy to move one bit across the scribe line")


@dataclass(frozen=True, kw_only=True)
class ExternalMemorySpec(Spec):
    """Memory outside the wafer (e.g. MemoryX), reached through edge I/O."""
    capacity_bytes: float = quantity("bytes", "external memory capacity")
    io_bandwidth_bytes_per_s: float = quantity("bandwidth", "wafer edge I/O bandwidth to external memory")
    io_ports: int = integer("edge I/O ports", default=1, maximum=2**15)
    io_edges: str = choice(("auto", "west", "west_east", "all"),
                           "edges the ports are spread over ('auto': west and east with two or more ports, "
                           "else west)", default="auto")
    latency_s: float = quantity("time", "round-trip latency of an external read")
    energy_j_per_bit: float = quantity("energy_per_bit", "energy per bit read from external memory")

    def check(self) -> None:
        need = {"west": 1, "west_east": 2, "all": 4}.get(self.io_edges, 1)
        if self.io_ports < need:
            raise ConfigError("", "io_edges", f"{self.io_edges} needs at least {need} io_ports; got {self.io_ports}")

@dataclass(frozen=True, kw_only=True)
class InterWaferSpec(Spec):
    bandwidth_bytes_per_s: float = quantity("bandwidth", "link bandwidth between two wafers")
    latency_s: float = quantity("time", "latency between two wafers")
    energy_j_per_bit: float = quantity("energy_per_bit", "energy per bit sent between wafers")
    max_wafers: int = integer("largest number of wafers the system may use", default=64, maximum=1024)


@dataclass(frozen=True, kw_only=True)
class WaferCalibrationSpec(Spec):
    """Fitted or assumed factors; each preset says where its values come from."""
    compute_efficiency: float = number("achieved share of peak core FLOPs", maximum=1.0)
    collective_step_cycles: float = number(
        "software cost of one dependent step of a mesh broadcast or reduction", allow_zero=True)
    gemm_step_cycles: float = number(
        "cost of one shift-and-compute step of a prefill GEMM on a core region beyond its arithmetic (a GEMM "
        "of a token block runs as many such steps as the region's longer side, as WaferLLM's MeshGEMM does)",
        default=0.0, allow_zero=True)
    prefill_block_tokens: int = integer(
        "tokens per block pipelined through the layers in prefill; 0 = chosen per run (the fastest pipeline "
        "whose activations fit the SRAM the weights and KV cache leave free)", default=0, minimum=0, maximum=2**24)


@dataclass(frozen=True, kw_only=True)
class WaferEnergySpec(Spec):
    sram_j_per_bit: float = quantity("energy_per_bit", "energy per bit read from core SRAM")
    link_j_per_bit: float = quantity("energy_per_bit", "energy per bit per on-die mesh hop")
    flop_j: float = quantity("energy_per_flop", "energy per 16-bit FLOP")
    static_power_w: float = quantity("power", "power drawn whatever the load (per wafer)", allow_zero=True)
    tdp_w: float = quantity("power", "power envelope of one wafer; 0 if unknown", default=0.0, allow_zero=True)


@dataclass(frozen=True, kw_only=True)
class WaferDefectsSpec(Spec):
    """Failed cores, drawn per wafer from a seeded generator, and spare columns per die.

    Cerebras reports ~1-1.5 % spare cores and routing that shifts around a bad
    core so software sees a clean mesh (Cerebras blog "100x defect tolerance", 2025).
    """
    density: float = number("share of physical cores that fail", default=0.0, maximum=1.0, allow_zero=True)
    spare_fraction: float = number("spare columns per die as a share of its columns", default=0.015,
                                   maximum=1.0, allow_zero=True)
    seed: int = integer("seed of the defect map", default=0, minimum=0, maximum=2**63 - 1)


@dataclass(frozen=True, kw_only=True)
class WaferSpec(Spec):
    kind: str = choice(("wafer",), "must be 'wafer'")
    name: str = text("preset name")
    description: str = text("what the system is", default="")
    core: CoreSpec = field(metadata={"doc": "one core"})
    mesh: MeshSpec = field(metadata={"doc": "the core mesh and its dies"})
    scribe: ScribeSpec = field(metadata={"doc": "cross-scribe-line links"})
    external_memory: ExternalMemorySpec = field(metadata={"doc": "memory beyond the wafer"})
    interwafer: InterWaferSpec = field(metadata={"doc": "links between wafers"})
    calibration: WaferCalibrationSpec = field(metadata={"doc": "fitted factors"})
    energy: WaferEnergySpec = field(metadata={"doc": "energy per operation"})
    defects: WaferDefectsSpec = field(default_factory=WaferDefectsSpec, metadata={"doc": "defect model"})
    deployment: DeploymentSpec = field(default_factory=DeploymentSpec,
                                       metadata={"doc": "power and price of one wafer's system"})
    provenance: Provenance | None = provenance_field()

    def check(self) -> None:
        if self.deployment.unit_gpus:
            raise ConfigError("", "deployment.unit_gpus", "applies to GPU systems; a wafer system's allocation unit "
                              "is one wafer's system (keep 0)")
        if self.cores * self.core.sram_bytes > MAX_WAFER_SRAM_BYTES:
            raise ConfigError("", "core.sram_bytes", f"{self.cores} cores of {self.core.sram_bytes:.3g} bytes hold more "
                              f"than 2**60 bytes on one wafer (the most modelled: byte counts stay exact in int64)")

    @property
    def cores(self) -> int:
        return self.mesh.cores

    @property
    def sram_bytes(self) -> float:
        return self.cores * self.core.sram_bytes

    @property
    def usable_sram_bytes(self) -> float:
        return self.cores * self.core.usable_sram_bytes

    @property
    def sram_bandwidth_bytes_per_s(self) -> float:
        return self.cores * self.core.sram_read_bytes_per_s

    def scale_out_link(self, devices: int) -> tuple[float, float]:
        """(bytes/s, one-way seconds) with which ``devices`` wafers of this system reach another
        system: each wafer's edge I/O at once (each holds the KV cache of its own layers), and
        the latency of the network between systems (``interwafer.latency_s``)."""
        return devices * self.external_memory.io_bandwidth_bytes_per_s, self.interwafer.latency_s

    def peak_flops(self, dtype: str = "bf16") -> float:
        return self.cores * self.core.flops_per_cycle(dtype) * self.core.clock_hz

    @property
    def link_bytes_per_s(self) -> float:
        return self.mesh.link_bytes_per_cycle * self.core.clock_hz

    def row_path_s(self, cols: float) -> float:
        """Unloaded latency of a word crossing ``cols`` columns of the mesh: hops and, on
        average, the die boundaries among them (each adds the scribe's extra latency)."""
        hops = max(cols - 1.0, 0.0)
        cycles = hops * self.mesh.hop_latency_cycles + hops / self.mesh.die_cores_x * self.scribe.extra_latency_cycles
        return cycles / self.core.clock_hz

    def crossing_latency_s(self, cols: float) -> float:
        """One wafer-to-wafer hop of activations: the link's latency plus the on-wafer path to
        and from the edge ports, one traverse of the ``cols`` columns used, in all."""
        return self.interwafer.latency_s + self.row_path_s(cols)

    def summary(self) -> dict:
        return {
            "name": self.name, "kind": "wafer", "cores": self.cores,
            "mesh": f"{self.mesh.cores_y} x {self.mesh.cores_x}", "dies": f"{self.mesh.dies_y} x {self.mesh.dies_x}",
            "sram_bytes": self.sram_bytes, "sram_bandwidth_bytes_per_s": self.sram_bandwidth_bytes_per_s,
            "peak_flops_bf16": self.peak_flops("bf16"),
            "io_bandwidth_bytes_per_s": self.external_memory.io_bandwidth_bytes_per_s,
        }
