"""First-order (roofline) model of LLM inference on a multi-GPU system.

Per decoder layer, per GPU, with tensor parallelism ``tp`` and pipeline
parallelism ``pp`` (GPUs used = tp x pp):

* time = max(FLOPs / (peak x gemm efficiency), HBM bytes / (bandwidth x memory
  efficiency)) + kernels x launch overhead + 2 all-reduces of the layer output
  when tp > 1;
* weights split evenly over tp (and layers over pp); KV heads split over tp,
  replicated when tp exceeds the KV heads;
* pipeline stages add one activation send per stage boundary per step;
* KV capacity per GPU = HBM x (1 - workspace) - weights; KV beyond it spills to
  host memory and is read over PCIe every step, overlapped with HBM reads.

Collective costs come from a :class:`CollectiveModel`; the default is the
closed-form ring over the GPUs' NVLink (or PCIe) bandwidth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from ..config import ConfigError
from ..hardware.gpu import GpuSystemSpec
from ..workload.dtypes import dtype_bytes
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .phase import PhaseTime

CollectiveFn = Callable[[str, float, int], float]   # (op, bytes, gpus) -> seconds


def ring_collective(system: GpuSystemSpec) -> CollectiveFn:
    """Closed-form ring collectives inside one node (alpha-beta model)."""
    ic, eff = system.interconnect, system.efficiency
    bw = (ic.nvlink_bandwidth_bytes_per_s if ic.topology == "nvswitch" else ic.pcie_bandwidth_bytes_per_s)
    bw *= eff.collective

    def cost(op: str, nbytes: float, n: int) -> float:
        if n <= 1 or nbytes <= 0:
            return 0.0
        if op == "all_reduce":
            steps, moved = 2 * (n - 1), 2 * (n - 1) / n * nbytes
        elif op in ("all_gather", "reduce_scatter", "all_to_all"):
            steps, moved = n - 1, (n - 1) / n * nbytes
        elif op == "p2p":
            steps, moved = 1, nbytes
        else:
            raise ValueError(f"unknown collective {op!r}")
        return eff.collective_latency_s + steps * eff.collective_step_latency_s + moved / bw

    return cost


@dataclass(frozen=True)
class GpuMemoryPlan:
    gpus: int
    weight_bytes_per_gpu: float
    kv_bytes_per_gpu: float
    kv_capacity_per_gpu: float
    spilled_weight_bytes_per_gpu: float
    spilled_kv_bytes_per_gpu: float
    weight_bytes: float
    kv_bytes: float

    @property
    def fits(self) -> bool:
        return self.spilled_weight_bytes_per_gpu == 0.0 and self.spilled_kv_bytes_per_gpu == 0.0

    @property
    def spilled_bytes(self) -> float:
        return self.gpus * (self.spilled_weight_bytes_per_gpu + self.spilled_kv_bytes_per_gpu)


class AnalyticGpu:
    def __init__(self, system: GpuSystemSpec, model: ModelSpec, scenario: Scenario,
                 collective: CollectiveFn | None = None):
        self.g, self.m, self.s = system, model, scenario
        self.tp, self.pp = scenario.tp, scenario.pp
        self.L = scenario.layers
        self.include_head = self.L == model.num_layers
        self.wb = dtype_bytes(scenario.dtype)
        self.collective = collective or ring_collective(system)
        gpus = self.tp * self.pp
        if gpus > system.num_gpus:
            raise ConfigError("scenario", "tp", f"tp x pp = {gpus} GPUs but {system.name} has {system.num_gpus}")
        if self.pp > self.L:
            raise ConfigError("scenario", "pp", f"pp = {self.pp} stages for {self.L} layers")
        if self.tp > model.num_heads:
            raise ConfigError("scenario", "tp", f"tp = {self.tp} exceeds the {model.num_heads} attention heads")

    @property
    def gpus(self) -> int:
        return self.tp * self.pp

    @property
    def kv_share(self) -> float:
        """Share of a layer's KV cache one GPU holds (KV heads replicate past tp = kv_heads)."""
        kvh = self.m.num_kv_heads
        return math.ceil(kvh / self.tp) / kvh

    @property
    def layers_per_stage(self) -> int:
        return math.ceil(self.L / self.pp)

    def weight_bytes_per_gpu(self) -> float:
        m = self.m
        b = self.layers_per_stage * m.layer_params / self.tp
        if self.include_head:
            b += (m.embedding_params + m.lm_head_params) / self.tp
        return b * self.wb

    def kv_bytes_per_seq_per_gpu(self) -> float:
        return (self.s.max_context * self.layers_per_stage
                * self.m.kv_bytes_per_token_layer(self.s.kv_dtype) * self.kv_share)

    def kv_capacity_per_gpu(self) -> float:
        usable = self.g.gpu.hbm_bytes * (1.0 - self.g.efficiency.workspace_fraction)
        return max(0.0, usable - self.weight_bytes_per_gpu())

    def max_batch(self) -> int:
        per_seq = self.kv_bytes_per_seq_per_gpu()
        return max(1, int(self.kv_capacity_per_gpu() // per_seq))

    def memory_plan(self, batch: int) -> GpuMemoryPlan:
        usable = self.g.gpu.hbm_bytes * (1.0 - self.g.efficiency.workspace_fraction)
        w = self.weight_bytes_per_gpu()
        kv = batch * self.kv_bytes_per_seq_per_gpu()
        w_spill = max(0.0, w - usable)
        kv_cap = max(0.0, usable - w)
        m = self.m
        total_w = self.L * m.layer_params * self.wb
        if self.include_head:
            total_w += (m.embedding_params + m.lm_head_params + m.final_norm_params) * self.wb
        total_kv = batch * self.s.max_context * self.L * m.kv_bytes_per_token_layer(self.s.kv_dtype)
        return GpuMemoryPlan(self.gpus, w, kv, kv_cap, w_spill, max(0.0, kv - kv_cap), total_w, total_kv)

    def layer_time(self, tokens: int, attn_flops: float, kv_read_bytes: float, hbm_fraction: float,
                   weights_hbm_fraction: float) -> tuple[PhaseTime, dict[str, float]]:
        """One layer on one GPU of a stage: ``tokens`` rows through the GEMMs."""
        g, m, s, eff = self.g, self.m, self.s, self.g.efficiency
        flops = (tokens * m.layer_matmul_flops_per_token + attn_flops) / self.tp
        wbytes = m.layer_weight_bytes_read(tokens, s.dtype) / self.tp
        kv_bytes = kv_read_bytes * self.kv_share
        hbm_bytes = wbytes * weights_hbm_fraction + kv_bytes * hbm_fraction
        pcie_bytes = wbytes * (1 - weights_hbm_fraction) + kv_bytes * (1 - hbm_fraction)
        t_cmp = flops / (g.gpu.flops_per_s(s.dtype) * eff.gemm)
        t_mem = hbm_bytes / (g.gpu.hbm_bandwidth_bytes_per_s * eff.memory)
        t_pcie = pcie_bytes / g.interconnect.pcie_bandwidth_bytes_per_s
        t_launch = eff.kernels_per_layer * eff.kernel_launch_s
        act = tokens * m.hidden_size * s.act_bytes
        t_ar = 2 * self.collective("all_reduce", act, self.tp) if self.tp > 1 else 0.0
        t = max(t_cmp, t_mem, t_pcie) + t_launch + t_ar
        comps = {"compute": t_cmp, "hbm_bandwidth": t_mem, "launch_overhead": t_launch,
                 "interconnect": t_ar, "pcie_spill": t_pcie}
        link_bytes = 2 * 2 * (self.tp - 1) / self.tp * act if self.tp > 1 else 0.0
        work = {"flops": flops, "hbm_bytes": hbm_bytes, "pcie_bytes": pcie_bytes, "link_bytes": link_bytes}
        return PhaseTime(t, comps), work

    def head_time(self, tokens: int) -> tuple[float, float, float]:
        """LM head on the last stage: (seconds, FLOPs per GPU, bytes per GPU)."""
        if not self.include_head:
            return 0.0, 0.0, 0.0
        g, m, eff = self.g, self.m, self.g.efficiency
        flops = 2.0 * tokens * m.hidden_size * m.vocab_size / self.tp
        nbytes = m.hidden_size * m.vocab_size * self.wb / self.tp
        t = max(flops / (g.gpu.flops_per_s(self.s.dtype) * eff.gemm),
                nbytes / (g.gpu.hbm_bandwidth_bytes_per_s * eff.memory)) + eff.kernel_launch_s
        return t, flops, nbytes

    def stage_send_time(self, tokens: int) -> float:
        if self.pp <= 1:
            return 0.0
        nbytes = tokens * self.m.hidden_size * self.s.act_bytes
        return (self.pp - 1) * self.collective("p2p", nbytes, 2)


def auto_tensor_parallel(system: GpuSystemSpec, model: ModelSpec, scenario: Scenario) -> int:
    """The tp a latency-minded engineer would pick: powers of two within one node that
    divide the heads; the fastest decode step among those that hold the job in HBM
    (the fastest overall when none does); ties go to fewer GPUs.
    """
    options = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= min(system.interconnect.gpus_per_node, system.num_gpus)
               and model.num_heads % t == 0 and t * scenario.pp <= system.num_gpus]
    if len(options) <= 1:
        return options[0] if options else 1
    runs = [(tp, simulate(system, model, replace(scenario, tp=tp))) for tp in options]
    fitting = [(tp, r) for tp, r in runs if r.summary["fits_on_chip"]] or runs
    return min(fitting, key=lambda tr: (tr[1].summary["tpot_s"], tr[0]))[0]


def simulate(system: GpuSystemSpec, model: ModelSpec, scenario: Scenario,
             collective: CollectiveFn | None = None):
    """Run the roofline GPU model; ``scenario`` must be resolved against ``model``."""
    import numpy as np

    from ..results.run_result import LayerArray, RunResult, make_summary

    eng = AnalyticGpu(system, model, scenario, collective)
    s, g, m, L = scenario, system, model, scenario.layers
    batch = eng.max_batch() if s.batch == "max" else s.batch
    plan = eng.memory_plan(batch)
    notes: list[str] = []
    kv_hbm = 1.0 - (plan.spilled_kv_bytes_per_gpu / plan.kv_bytes_per_gpu if plan.kv_bytes_per_gpu else 0.0)
    w_hbm = 1.0 - (plan.spilled_weight_bytes_per_gpu / plan.weight_bytes_per_gpu if plan.weight_bytes_per_gpu else 0.0)
    kvl = m.kv_bytes_per_token_layer(s.kv_dtype)

    # ---- decode step at the mean context ---------------------------------------------
    ctx = s.mean_decode_context
    layer, work = eng.layer_time(batch, m.attention_flops(batch, ctx), batch * ctx * kvl, kv_hbm, w_hbm)
    t_head, head_flops, head_bytes = eng.head_time(batch)
    t_send = eng.stage_send_time(batch)
    # each token passes every stage in turn: a step walks all layers
    tpot = L * layer.time_s + t_head + t_send
    comps = {k: v * L for k, v in layer.components.items()}
    comps["compute"] += t_head
    comps["interconnect"] += t_send
    decode = PhaseTime(tpot, comps)

    # ---- prefill ----------------------------------------------------------------------
    tokens = batch * s.prompt_tokens
    p_attn = batch * m.prefill_attention_flops(s.prompt_tokens)
    p_layer, p_work = eng.layer_time(tokens, p_attn, 0.0, kv_hbm, w_hbm)
    # writing the prompt's KV cache
    kv_write = tokens * kvl * eng.kv_share / (g.gpu.hbm_bandwidth_bytes_per_s * g.efficiency.memory)
    p_head, _, _ = eng.head_time(batch)
    ttft = L * (p_layer.time_s + kv_write) + p_head + eng.stage_send_time(tokens)
    p_comps = {k: v * L for k, v in p_layer.components.items()}
    p_comps["hbm_bandwidth"] += L * kv_write
    p_comps["interconnect"] += eng.stage_send_time(tokens)
    prefill = PhaseTime(ttft, p_comps)

    # ---- energy per generated token: every GPU does its share -------------------------
    en = g.energy
    gpus = eng.gpus
    per_gpu_layers = L / eng.pp
    step_j = gpus * (per_gpu_layers * (work["hbm_bytes"] * 8 * en.hbm_j_per_bit + work["flops"] * en.flop_j
                                       + work["pcie_bytes"] * 8 * en.pcie_j_per_bit
                                       + work["link_bytes"] * 8 * en.link_j_per_bit)) \
        + eng.tp * (head_flops * en.flop_j + head_bytes * 8 * en.hbm_j_per_bit) \
        + en.static_power_w * gpus * tpot
    energy_per_token = step_j / batch

    if not plan.fits:
        notes.append(f"HBM holds {plan.kv_capacity_per_gpu / 1e9:.3g} GB of KV per GPU beside the weights; "
                     f"{plan.spilled_bytes / 1e9:.3g} GB spilled to host memory over PCIe "
                     f"({g.interconnect.pcie_bandwidth_bytes_per_s / 1e9:.3g} GB/s per GPU)")
    if s.batch == "max":
        notes.append(f"--batch max: {batch} sequences of {s.max_context} tokens fill the KV capacity")
    notes.append(f"decode step bound by {decode.bottleneck}; prefill bound by {prefill.bottleneck}")

    summary = make_summary(
        system=g.name, model=m.name, kind="gpu", fidelity="analytic", scenario=s, batch=batch, devices=gpus,
        prefill=prefill, decode=decode, fits=plan.fits, spilled_bytes=plan.spilled_bytes,
        weight_bytes=plan.weight_bytes, kv_bytes=plan.kv_bytes, energy_per_token_j=energy_per_token,
        decode_layer_s=layer.time_s, prefill_layer_s=p_layer.time_s + kv_write,
        tp=eng.tp, pp=eng.pp, max_batch=eng.max_batch(), kv_capacity_per_gpu_bytes=plan.kv_capacity_per_gpu)
    stage = (np.arange(L) * eng.pp) // L
    arrays = {
        "decode_layer_s": LayerArray(np.full(L, layer.time_s), ("layer",), "s", "time of each layer in a decode step"),
        "prefill_layer_s": LayerArray(np.full(L, p_layer.time_s + kv_write), ("layer",), "s", "time of each layer in prefill"),
        "layer_stage": LayerArray(stage, ("layer",), "", "pipeline stage holding each layer"),
    }
    config = {"scenario": {**s.as_dict(), "batch": batch}}
    return RunResult(summary, config, prefill, decode, arrays, notes)
