"""A multi-GPU system: GPUs, their memory, and how they are connected."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ConfigError, Spec, choice, flag, integer, number, quantity, text
from ..provenance import Provenance, provenance_field
from ..workload.dtypes import compute_class, dtype_format
from .deployment import DeploymentSpec


@dataclass(frozen=True, kw_only=True)
class GpuSpec(Spec):
    model: str = text("GPU model name")
    hbm_bytes: float = quantity("bytes", "HBM capacity per GPU")
    hbm_bandwidth_bytes_per_s: float = quantity("bandwidth", "HBM bandwidth per GPU")
    bf16_flops_per_s: float = quantity("flop_rate", "dense BF16 tensor-core peak")
    fp8_flops_per_s: float = quantity("flop_rate", "dense FP8 peak; 0 means none (BF16 rate)", allow_zero=True, default=0.0)
    fp4_flops_per_s: float = quantity("flop_rate", "dense FP4 (NVFP4, MXFP4) tensor-core peak; 0 means none: FP4 "
                                      "weights are unpacked to the 16-bit format in the GEMM", allow_zero=True,
                                      default=0.0)
    l2_bytes: float = quantity("bytes", "L2 cache", default=0.0, allow_zero=True)
    kernel_model: str = choice(
        ("tiles", "roofline"), "how kernels are costed: tiles (each GEMM from its shape, tiles in waves over the SMs, "
        "attention spread over them) or roofline (a whole layer at max(FLOPs / peak, bytes / bandwidth))",
        default="tiles")
    sms: int = integer("streaming multiprocessors: the units GEMM and attention tiles are spread over in waves",
                       default=132, maximum=4096)
    tile_m: int = integer("rows (tokens) of the output tile one SM computes in a large GEMM", default=128, maximum=4096)
    tile_n: int = integer("columns of the output tile one SM computes in a large GEMM", default=128, maximum=4096)
    tile_k: int = integer("depth of one step of the K loop; a split-K part is at least this deep",
                          default=64, maximum=4096)
    mma_m: int = integer("smallest tile height a tensor-core GEMM uses (the MMA instruction's M); "
                         "a GEMM of fewer rows still computes this many", default=64, maximum=4096)

    def computes(self, dtype: str) -> bool:
        """Whether the tensor cores multiply operands in ``dtype``'s rate class natively."""
        cls = dtype_format(dtype).compute
        return bool(cls) and {"16bit": True, "8bit": self.fp8_flops_per_s > 0, "4bit": self.fp4_flops_per_s > 0}[cls]

    def flops_per_s(self, dtype: str, compute: str | None = None) -> float:
        """Dense tensor peak of a GEMM with weights in ``dtype`` multiplying in ``compute`` (None: the
        weights' own format where the tensor cores have it, else the 16-bit one).  Weights in another
        format are unpacked in the GEMM's loads (mixed-input kernels such as Marlin, Frantar et al.
        2024): no time of their own beyond the compute format's rate and the stored bytes read."""
        cls = compute_class(compute or (dtype if self.computes(dtype) else "bf16"))
        if cls == "8bit" and self.fp8_flops_per_s > 0:
            return self.fp8_flops_per_s
        if cls == "4bit" and self.fp4_flops_per_s > 0:
            return self.fp4_flops_per_s
        return self.bf16_flops_per_s

    def check(self) -> None:
        if self.mma_m > self.tile_m:
            raise ConfigError("", "mma_m", f"expected at most tile_m = {self.tile_m}, got {self.mma_m}")


@dataclass(frozen=True, kw_only=True)
class InterconnectSpec(Spec):
    topology: str = choice(("nvswitch", "pcie"), "GPUs joined by NVSwitch chips, or only by PCIe")
    gpus_per_node: int = integer("GPUs in one node (or one NVLink domain)", maximum=1024)
    nodes: int = integer("nodes joined by the scale-out network", default=1, maximum=2**16)
    max_nodes: int = integer("most nodes the scale-out network may join for one job (--gpus auto, --tp/--pp across "
                             "nodes); 0 means nodes", minimum=0, default=0, maximum=2**16)
    nvlink_bandwidth_bytes_per_s: float = quantity(
        "bandwidth", "NVLink bandwidth per GPU per direction (all links together)", allow_zero=True)
    nvlink_links_per_gpu: int = integer("NVLink links per GPU", minimum=0, maximum=1024)
    nvswitch_chips: int = integer("NVSwitch chips per node", minimum=0, maximum=1024)
    in_switch_reduction: bool = flag("NVSwitch can reduce in the switch (NVLink SHARP)", default=False)
    link_latency_s: float = quantity("time", "one-way latency of a GPU-to-GPU transfer")
    pcie_bandwidth_bytes_per_s: float = quantity("bandwidth", "PCIe bandwidth per GPU per direction to the host")
    host_memory_bytes: float = quantity("bytes", "host memory per node usable for spilled KV cache")
    nic_bandwidth_bytes_per_s: float = quantity("bandwidth", "scale-out NIC bandwidth per GPU per direction")
    nic_latency_s: float = quantity("time", "one-way latency across the scale-out network")
    # Optional detail for the link-level graph (wafersim.hardware.topology); every
    # default reproduces the plain description above.
    nvlink_links_per_switch: str = text(
        "NVLink links from each GPU to each NVSwitch chip, comma separated ('5,4,4,5'); "
        "empty spreads nvlink_links_per_gpu evenly, the remainder going to the outermost chips first",
        default="")
    nvls_efficiency: float = number(
        "achieved share of link bandwidth in collectives reduced in the switch (NVLink SHARP); "
        "0 means efficiency.collective", maximum=1.0, allow_zero=True, default=0.0)
    collective_algorithm: str = choice(
        ("auto", "ring", "tree", "nvls"), "collective algorithm; auto picks the fastest available", default="auto")
    cpus_per_node: int = integer("host CPU sockets per node (DGX A100/H100/B200: 2)", default=2, maximum=64)
    pcie_switches: int = integer(
        "PCIe switches per node between GPUs (and NICs) and CPUs; 0 attaches GPUs to CPU root ports",
        minimum=0, maximum=1024, default=0)
    pcie_latency_s: float = quantity(
        "time", "one-way latency of one PCIe hop; 0 means half of link_latency_s", allow_zero=True, default=0.0)
    cpu_link_bandwidth_bytes_per_s: float = quantity(
        "bandwidth", "CPU-to-CPU link bandwidth per direction; 0 means pcie_bandwidth_bytes_per_s",
        allow_zero=True, default=0.0)
    leaf_switches: int = integer(
        "InfiniBand leaf switches (rail-optimised: NIC i of every node on leaf i mod leaf_switches); "
        "0 means one per GPU of a node", minimum=0, maximum=2**16, default=0)
    spine_switches: int = integer("InfiniBand spine switches; 0 means as many as leaf switches", minimum=0, maximum=2**16, default=0)
    fabric_oversubscription: float = number(
        "leaf downlink to uplink bandwidth ratio (1 = non-blocking fat tree)", minimum=1.0, default=1.0)

    def links_per_switch(self) -> tuple[int, ...]:
        """NVLink links from one GPU to each NVSwitch chip of its node."""
        chips, links = self.nvswitch_chips, self.nvlink_links_per_gpu
        if self.nvlink_links_per_switch.strip():
            try:
                counts = tuple(int(x) for x in self.nvlink_links_per_switch.split(","))
            except ValueError:
                raise ConfigError("", "nvlink_links_per_switch",
                                  f"expected comma-separated integers, got {self.nvlink_links_per_switch!r}") from None
            return counts
        if chips == 0:
            return ()
        counts = [links // chips] * chips
        order = [i for pair in zip(range(chips), reversed(range(chips))) for i in pair]
        for i in list(dict.fromkeys(order))[: links % chips]:
            counts[i] += 1
        return tuple(counts)

    def check(self) -> None:
        if self.topology == "nvswitch" and self.nvlink_bandwidth_bytes_per_s <= 0:
            raise ConfigError("", "nvlink_bandwidth_bytes_per_s", "an nvswitch topology needs NVLink bandwidth > 0")
        if self.topology == "nvswitch" and (self.nvswitch_chips < 1 or self.nvlink_links_per_gpu < 1):
            raise ConfigError("", "nvswitch_chips", "an nvswitch topology needs nvswitch_chips >= 1 and nvlink_links_per_gpu >= 1")
        counts = self.links_per_switch()
        if self.topology == "nvswitch":
            if len(counts) != self.nvswitch_chips or any(c < 0 for c in counts) or sum(counts) != self.nvlink_links_per_gpu:
                raise ConfigError("", "nvlink_links_per_switch",
                                  f"expected {self.nvswitch_chips} counts >= 0 summing to nvlink_links_per_gpu "
                                  f"= {self.nvlink_links_per_gpu}, got {counts}")
        if self.collective_algorithm == "nvls" and not self.in_switch_reduction:
            raise ConfigError("", "collective_algorithm", "nvls needs in_switch_reduction = true")


@dataclass(frozen=True, kw_only=True)
class GpuEfficiencySpec(Spec):
    """Achieved fractions of peak and fixed overheads; each preset cites its source."""
    gemm: float = number("achieved share of peak tensor FLOPs in large 16-bit GEMMs", maximum=1.0)
    gemm_8bit: float = number("achieved share of the 8-bit peak in large 8-bit GEMMs; 0 means the 16-bit share",
                              maximum=1.0, allow_zero=True, default=0.0)
    memory: float = number("achieved share of HBM bandwidth in memory-bound kernels", maximum=1.0)
    memory_8bit: float = number("achieved share of HBM bandwidth in GEMMs streaming 8-bit weights; 0 means memory",
                                maximum=1.0, allow_zero=True, default=0.0)
    attention: float = number("achieved share of the 16-bit tensor peak in attention (fused, FlashAttention-style) "
                              "with the best published kernel for this GPU; 0 means the gemm share",
                              default=0.0, maximum=1.0, allow_zero=True)
    attention_scale: float = number("share of that attention rate the runtime's own kernels reach (1: the best "
                                    "published kernel)", default=1.0, maximum=1.0)
    collective: float = number("achieved share of link bandwidth in collectives", maximum=1.0)
    kernel_launch_s: float = quantity("time", "launch overhead of one kernel", allow_zero=True)
    prefill_kernel_launch_s: float = quantity(
        "time", "launch overhead of one kernel in a prefill step, which serving runtimes often run without CUDA "
        "graphs; 0 means kernel_launch_s", allow_zero=True, default=0.0)
    kernels_per_layer: int = integer("kernels launched per decoder layer per step", maximum=2**16)
    collective_latency_s: float = quantity("time", "fixed latency of one collective call")
    collective_step_latency_s: float = quantity("time", "latency of one dependent step of a ring or tree", allow_zero=True)
    workspace_fraction: float = number("share of HBM kept for activations and workspace", maximum=0.9, allow_zero=True)
    request_overhead_s: float = quantity(
        "time", "fixed serving-runtime time per request before the first token (scheduling, host work); "
        "0 for the hardware alone", default=0.0, allow_zero=True)
    step_overhead_s: float = quantity(
        "time", "serving-runtime host time per forward step (scheduling, sampling launch) not hidden behind "
        "the GPU; 0 for the hardware alone", default=0.0, allow_zero=True)
    step_overhead_per_seq_s: float = quantity(
        "time", "serving-runtime time per step per sequence in the batch (sampling, stop checks, KV bookkeeping); "
        "0 for the hardware alone", default=0.0, allow_zero=True)
    max_batch: int = integer("most sequences the runtime's scheduler runs in one batch; 0: no limit beyond memory",
                             default=0, minimum=0, maximum=2**24)
    scheduler_steps: int = integer("decode steps the runtime runs per scheduling round before it admits arriving "
                                   "requests (vLLM's --num-scheduler-steps); 1: every step", default=1,
                                   maximum=2**10)
    max_batched_tokens: int = integer("most tokens the runtime's scheduler computes in one step, decode tokens and "
                                      "prefill chunks together (vLLM's --max-num-batched-tokens, SGLang's "
                                      "--chunked-prefill-size; wafersim serve); 0: the simulator's default",
                                      default=0, minimum=0, maximum=2**30)
    kv_block_tokens: int = integer("tokens per block of the runtime's paged KV cache (vLLM's --block-size; "
                                   "wafersim serve); 0: the simulator's default", default=0, minimum=0,
                                   maximum=2**20)

    @property
    def attention_share(self) -> float:
        """Achieved share of the 16-bit peak in the runtime's attention kernels."""
        return (self.attention or self.gemm) * self.attention_scale

    def weight_memory_share(self, dtype: str) -> float:
        """Achieved share of HBM bandwidth while GEMMs stream weights of ``dtype``."""
        return (self.memory_8bit or self.memory) if dtype in ("fp8", "int8") else self.memory

    def gemm_share(self, dtype: str) -> float:
        """Achieved share of the dtype's tensor peak in large GEMMs."""
        return (self.gemm_8bit or self.gemm) if dtype in ("fp8", "int8") else self.gemm


@dataclass(frozen=True, kw_only=True)
class GpuEnergySpec(Spec):
    hbm_j_per_bit: float = quantity("energy_per_bit", "energy per bit read from HBM")
    flop_j: float = quantity("energy_per_flop", "energy per 16-bit tensor FLOP")
    link_j_per_bit: float = quantity("energy_per_bit", "energy per bit over NVLink")
    pcie_j_per_bit: float = quantity("energy_per_bit", "energy per bit over PCIe to host memory")
    static_power_w: float = quantity("power", "power drawn per GPU whatever the load", allow_zero=True)
    tdp_w: float = quantity("power", "power envelope of one GPU; 0 if unknown", default=0.0, allow_zero=True)


@dataclass(frozen=True, kw_only=True)
class GpuSystemSpec(Spec):
    kind: str = choice(("gpu",), "must be 'gpu'")
    name: str = text("preset name")
    description: str = text("what the system is", default="")
    gpu: GpuSpec = field(metadata={"doc": "one GPU"})
    interconnect: InterconnectSpec = field(metadata={"doc": "how GPUs are joined"})
    efficiency: GpuEfficiencySpec = field(metadata={"doc": "fitted factors"})
    energy: GpuEnergySpec = field(metadata={"doc": "energy per operation"})
    deployment: DeploymentSpec = field(default_factory=DeploymentSpec,
                                       metadata={"doc": "power and price of one allocation unit (a node, or a "
                                                         "part of one: deployment.unit_gpus)"})
    provenance: Provenance | None = provenance_field()

    def check(self) -> None:
        unit = self.deployment.unit_gpus
        if unit and self.interconnect.gpus_per_node % unit:
            raise ConfigError("", "deployment.unit_gpus", f"expected a divisor of interconnect.gpus_per_node = "
                              f"{self.interconnect.gpus_per_node} (or 0: the whole node); got {unit}")

    @property
    def unit_gpus(self) -> int:
        """GPUs in one allocation unit: the smallest part of the system a job is given and charged for."""
        return self.deployment.unit_gpus or self.interconnect.gpus_per_node

    @property
    def num_gpus(self) -> int:
        return self.interconnect.gpus_per_node * self.interconnect.nodes

    @property
    def max_nodes(self) -> int:
        """Most nodes one job may span (at least the nodes the preset has)."""
        ic = self.interconnect
        return max(ic.nodes, ic.max_nodes)

    def scale_out_link(self, devices: int) -> tuple[float, float]:
        """(bytes/s, one-way seconds) with which ``devices`` GPUs of this system reach another
        system: each GPU's scale-out NIC at once (each holds its share of the KV cache), and
        the latency across the scale-out network."""
        ic = self.interconnect
        return devices * ic.nic_bandwidth_bytes_per_s, ic.nic_latency_s

    def summary(self) -> dict:
        return {
            "name": self.name, "kind": "gpu", "gpu": self.gpu.model, "gpus": self.num_gpus,
            "hbm_bytes_per_gpu": self.gpu.hbm_bytes, "hbm_bandwidth_bytes_per_s": self.gpu.hbm_bandwidth_bytes_per_s,
            "bf16_flops_per_s": self.gpu.bf16_flops_per_s, "topology": self.interconnect.topology,
            "nvlink_bandwidth_bytes_per_s": self.interconnect.nvlink_bandwidth_bytes_per_s,
        }
