"""First-order (roofline) model of LLM inference on a multi-GPU system.

Per decoder layer, per GPU, with tensor parallelism ``tp``, pipeline
parallelism ``pp`` and expert parallelism ``ep`` (GPUs used = tp x pp x ep):

* time = the layer's kernels, each costed from its shape (``gpu.kernel_model =
  "tiles"``: every projection a GEMM of its M, N, K in tiles and waves over the SMs,
  :mod:`.gpu_gemm`; attention spread over the SMs by sequence, head and tile) and
  counted under what bounds it, or max(FLOPs / (peak x gemm efficiency), HBM bytes /
  (bandwidth x memory efficiency)) for the whole layer (``"roofline"``) + kernels x
  launch overhead + 2 all-reduces of the layer output when tp > 1; the serving
  runtime (``runtimes/``, laid over the preset's ``efficiency``) adds its request and
  per-step host costs;
* weights split evenly over tp (and layers over pp); KV heads split over tp,
  replicated when tp exceeds the KV heads;
* pipeline stages add one activation send per stage boundary per step;
* expert parallelism (mixture-of-experts models only; ``ep`` must divide
  ``num_experts``): each of the ``ep`` ranks of a stage is a tp group holding
  ``num_experts / ep`` experts (split over its tp GPUs) and a full copy of the
  attention, router and norm weights (also split over tp).  The batch is split
  over the ep ranks (data-parallel attention: a rank holds the KV cache of, and
  runs attention and the LM head for, ceil(batch / ep) sequences).  The experts
  see every token of the batch: a rank's experts read the weights of the experts
  the batch touches among its own (``experts_touched(tokens) / ep`` under uniform
  routing) and do ``tokens x experts_per_token / ep`` expert MLPs.  Each MoE layer
  adds two all-to-alls (dispatch before the experts, combine after) among the ep
  ranks that share a tensor rank, each with a send buffer per GPU of
  ``local tokens x hidden x act bytes x experts_per_token / tp`` bytes: every
  local token goes to ``experts_per_token`` experts, and the tp GPUs of a rank
  each send a 1/tp slice of the hidden dimension.  Under uniform routing
  (ep - 1) / ep of it leaves the GPU (the collectives module's all-to-all moves
  nbytes / ep to each other rank);
* KV capacity per GPU = HBM x (1 - workspace) - weights; KV beyond it spills to
  host memory and is read over PCIe every step, overlapped with HBM reads.

Collective costs come from a ``CollectiveFn``; the default is
:class:`~.gpu_collectives.GraphCollectives`: the system's link graph, built once per
simulate call, with the groups placed on it (tensor-parallel groups inside one node
first) and ``interconnect.collective_algorithm``.  :func:`ring_collective` is the
closed-form ring over the GPUs' NVLink (or PCIe) bandwidth, for comparison.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from ..hardware.gpu import GpuSystemSpec
from ..hardware.precision import compute_format
from ..mapping.options import MappingOptions
from ..results.phase import PhaseTime
from ..results.run_result import LayerArray, RunResult
from ..units import format_quantity
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .assembly import MemoryUse, assemble
from .gpu_collectives import GraphCollectives
from .gpu_gemm import GemmUnit, gemm_time, wave_time
from .gpu_memory import GpuCapacity, GpuMemory
from .pipeline import decode_step_time, micro_batches

__all__ = ["AnalyticGpu", "simulate", "capacity", "ring_collective"]

class CollectiveFn(Protocol):
    """How the engine costs communication: :class:`GraphCollectives` (the system's link
    graph, the default) or :class:`RingCollectives` (closed form, for comparison)."""

    def __call__(self, op: str, nbytes: float, n: int) -> float:
        """Seconds of collective ``op`` over ``nbytes`` per GPU among ``n`` GPUs."""

    def stage_send(self, stage: int, nbytes: float) -> float:
        """Seconds of the activation send from pipeline ``stage`` to ``stage + 1``."""

    def algorithm_used(self, op: str) -> str:
        """The algorithm ``op`` used ("none" when it moved nothing)."""

    def graphml(self) -> str | None:
        """The link graph the costs came from, as GraphML (None for a closed form)."""


class RingCollectives:
    """Closed-form ring collectives inside one node (alpha-beta model)."""

    def __init__(self, system: GpuSystemSpec):
        ic, self.efficiency = system.interconnect, system.efficiency
        bw = (ic.nvlink_bandwidth_bytes_per_s if ic.topology == "nvswitch" else ic.pcie_bandwidth_bytes_per_s)
        self.bytes_per_s = bw * self.efficiency.collective
        self.used: set[str] = set()

    def __call__(self, op: str, nbytes: float, n: int) -> float:
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
        self.used.add(op)
        eff = self.efficiency
        return eff.collective_latency_s + steps * eff.collective_step_latency_s + moved / self.bytes_per_s

    def stage_send(self, stage: int, nbytes: float) -> float:
        return self("p2p", nbytes, 2)

    def algorithm_used(self, op: str) -> str:
        return "closed_form" if op in self.used else "none"

    def graphml(self) -> None:
        return None


def ring_collective(system: GpuSystemSpec) -> RingCollectives:
    """Closed-form ring collectives inside one node (alpha-beta model)."""
    return RingCollectives(system)


class AnalyticGpu:
    """Roofline timing of one layer, the LM head and the stage sends on one GPU of a stage."""

    def __init__(self, system: GpuSystemSpec, model: ModelSpec, scenario: Scenario,
                 collective: CollectiveFn | None = None):
        """``scenario`` is resolved: ``batch`` and ``tp`` are numbers."""
        self.system, self.model, self.scenario = system, model, scenario
        self.memory = GpuMemory(system, model, scenario)
        self.tp, self.pp, self.ep = scenario.tp, scenario.pp, scenario.ep
        self.layers = scenario.layers
        self.include_head = self.memory.include_head
        self.weight_bytes_per_param = self.memory.weight_bytes_per_param
        self.collective = collective or GraphCollectives(system, self.tp, self.pp, self.ep)

    @property
    def gpus(self) -> int:
        return self.memory.gpus

    def gemm_rate(self, dtype: str) -> float:
        """Achieved tensor rate of a GEMM with weights in ``dtype`` (multiplying in the scenario's
        compute format, or the weights' own where the GPU has it: :mod:`wafersim.hardware.precision`)."""
        gpu, compute = self.system.gpu, self.scenario.compute_dtype
        return gpu.flops_per_s(dtype, compute) * self.system.efficiency.gemm_share(
            compute_format(self.system, dtype, compute))

    def gemm_unit(self, dtype: str) -> GemmUnit:
        """One GPU as the GEMM model sees it, at the runtime's achieved rates for weights in ``dtype``."""
        gpu, eff = self.system.gpu, self.system.efficiency
        return GemmUnit(sms=gpu.sms, tile_m=gpu.tile_m, tile_n=gpu.tile_n, tile_k=gpu.tile_k, mma_m=gpu.mma_m,
                        flops_per_s=self.gemm_rate(dtype),
                        bytes_per_s=gpu.hbm_bandwidth_bytes_per_s * eff.weight_memory_share(dtype))

    def projections(self, local_tokens: int, tokens: int) -> list[tuple[float, int, int, int, str]]:
        """The GEMMs of one layer on one GPU: (count, M, N, K, tensor group).  Dense projections see the
        rank's ``local_tokens``; each routed expert the batch touches sees its share of all
        ``tokens``, the busiest rank's experts their share of them (``busiest_rank_share``).
        Layers that differ (dense first layers, MoE every other layer) count by their share."""
        m, tp, ep = self.model, self.tp, self.ep
        d, f = m.hidden_size, m.ffn_size
        out = [(1.0, local_tokens, math.ceil(m.attention_in_width / tp), d, "attention"),
               (1.0, local_tokens, d, math.ceil(m.value_size / tp), "attention")]
        mlp_in = 2 if m.mlp == "gated" else 1
        fixed = m.fixed_mlp_width            # the MLPs every token runs: dense layers, shared experts
        if fixed:
            out += [(1.0, local_tokens, math.ceil(mlp_in * fixed / tp), d, "mlp"),
                    (1.0, local_tokens, d, math.ceil(fixed / tp), "mlp")]
        if m.is_moe:
            frac = m.moe_layer_fraction
            # the busiest rank's experts: how many it runs and the tokens each sees on average
            touched = m.busiest_rank_params_read(tokens, ep) / (frac * m.expert_params)
            rows = math.ceil(tokens * m.experts_per_token * m.busiest_rank_share(ep) / touched)
            out.append((frac, local_tokens, m.num_experts, d, ""))
            count = frac * touched
            out += [(count, rows, math.ceil(mlp_in * f / tp), d, "experts"),
                    (count, rows, d, math.ceil(f / tp), "experts")]
        return out

    def layer_time(self, tokens: int, attn_flops: float, kv_read_bytes: float, hbm_fraction: float,
                   weights_hbm_fraction: float, local: float = 1.0, seqs: int = 1, query_len: int = 1,
                   context: float = 1.0, prefill: bool = False) -> tuple[PhaseTime, dict[str, float]]:
        """One layer on one GPU of a stage: ``tokens`` rows (the whole batch) through the GEMMs.

        ``attn_flops`` and ``kv_read_bytes`` are for the whole batch of ``seqs`` sequences, each
        with ``query_len`` new tokens over ``context`` keys; ``local`` is the share of the
        batch's sequences one expert-parallel rank holds (1 without ep).  Every projection is
        costed from its shape (:mod:`.gpu_gemm`); attention is spread over the SMs by sequence,
        head and tile of queries (prefill) or of keys (decode).
        """
        g, m, s, eff = self.system, self.model, self.scenario, self.system.efficiency
        ep, k = self.ep, m.experts_per_token
        local_tokens = tokens * local
        expert_flops = 2.0 * m.routed_active_params_per_layer   # per token, the routed experts
        # the busiest rank sets the step: its share of the routed tokens (1 / ep when uniform)
        busiest = m.busiest_rank_share(ep)
        dense_flops = local_tokens * (m.layer_matmul_flops_per_token - expert_flops)
        matmul_flops = (dense_flops + tokens * expert_flops * busiest) / self.tp
        attention_flops = attn_flops * local / self.tp
        flops = matmul_flops + attention_flops
        fmt = s.weights
        expert_bytes = m.routed_params_read(tokens) * fmt.bytes("experts")
        rank_bytes = m.busiest_rank_params_read(tokens, ep) * fmt.bytes("experts")   # the busiest rank's
        wbytes = (m.layer_weight_bytes_read(tokens, fmt) - expert_bytes + rank_bytes) / self.tp
        kv_bytes = kv_read_bytes * local * self.memory.kv_share
        hbm_bytes = wbytes * weights_hbm_fraction + kv_bytes * hbm_fraction
        pcie_bytes = wbytes * (1 - weights_hbm_fraction) + kv_bytes * (1 - hbm_fraction)
        if g.gpu.kernel_model == "roofline":
            # the whole layer at max(FLOPs / achieved peak, HBM bytes / achieved bandwidth)
            # the routed experts at their format's rate, the rest at the attention weights' one
            expert_part = tokens * expert_flops * busiest / self.tp
            t_cmp = ((matmul_flops - expert_part) / self.gemm_rate(fmt.of("attention"))
                     + expert_part / self.gemm_rate(fmt.of("experts"))
                     + attention_flops / (g.gpu.bf16_flops_per_s * eff.attention_share))
            # weights stream at the dtype's achieved share (memory_8bit for 8-bit weights), KV at memory
            bw = g.gpu.hbm_bandwidth_bytes_per_s
            t_mem = (wbytes * weights_hbm_fraction / (bw * eff.weight_memory_share(fmt.default))
                     + kv_bytes * hbm_fraction / (bw * eff.memory))
            t_hbm = max(t_cmp, t_mem)
        else:
            t_cmp, t_mem = self.shaped_times(local_tokens, tokens, attention_flops, kv_bytes * hbm_fraction,
                                             weights_hbm_fraction, seqs * local, query_len, context)
            t_hbm = t_cmp + t_mem
        t_pcie = pcie_bytes / g.interconnect.pcie_bandwidth_bytes_per_s
        launch = (eff.prefill_kernel_launch_s or eff.kernel_launch_s) if prefill else eff.kernel_launch_s
        t_launch = eff.kernels_per_layer * launch
        act = local_tokens * m.hidden_size * s.act_bytes
        t_ar = 2 * self.collective("all_reduce", act, self.tp) if self.tp > 1 else 0.0
        a2a_mean = self.all_to_all_bytes(local_tokens)
        a2a = a2a_mean * busiest * ep      # the busiest rank's buffer sets the exchange's time
        t_a2a = 2 * self.collective("all_to_all", a2a, ep) if ep > 1 else 0.0
        t = max(t_hbm, t_pcie) + t_launch + t_ar + t_a2a
        comps = {"compute": t_cmp, "hbm_bandwidth": t_mem, "launch_overhead": t_launch,
                 "interconnect": t_ar + t_a2a, "pcie_spill": t_pcie}
        link_bytes = 2 * 2 * (self.tp - 1) / self.tp * act if self.tp > 1 else 0.0
        link_bytes += 2 * (ep - 1) / ep * a2a_mean
        # what every expert-parallel rank does (its share of the touched experts) apart from
        # what only ranks holding sequences do (attention, dense weights, KV)
        expert_hbm = expert_bytes / ep / self.tp * weights_hbm_fraction
        expert_flops_gpu = tokens * expert_flops / ep / self.tp
        work_flops = (dense_flops + tokens * expert_flops / ep) / self.tp + attention_flops   # work done
        work = {"flops": work_flops, "hbm_bytes": hbm_bytes, "pcie_bytes": pcie_bytes, "link_bytes": link_bytes,
                "flops_expert": expert_flops_gpu if ep > 1 else 0.0, "hbm_expert": expert_hbm if ep > 1 else 0.0}
        return PhaseTime(t, comps), work

    def shaped_times(self, local_tokens: float, tokens: int, attention_flops: float, kv_hbm_bytes: float,
                     weights_hbm_fraction: float, seqs: float, query_len: int, context: float) -> tuple[float, float]:
        """One layer's kernels costed from their shapes: (seconds bound by compute, seconds bound by
        HBM), each kernel counted under what bounds it.  Projections go through the GEMM model
        (:mod:`.gpu_gemm`); attention is spread over the SMs by sequence, head and tile of queries
        (its FLOPs at the runtime's attention rate) or of keys (the KV bytes it reads)."""
        g, m, s, eff = self.system, self.model, self.scenario, self.system.efficiency
        fmt = s.weights
        units = {w: self.gemm_unit(w) for w in fmt.formats}
        t_cmp = t_mem = 0.0
        for count, rows, n, depth, group in self.projections(math.ceil(local_tokens), tokens):
            op = gemm_time(rows, n, depth, units[fmt.of(group)], s.act_bytes, fmt.bytes(group), s.act_bytes,
                           weights_hbm_fraction)
            if op.compute_bound:
                t_cmp += count * op.time_s
            else:
                t_mem += count * op.time_s
        local_seqs = max(1, math.ceil(seqs))
        q_tiles = local_seqs * math.ceil(m.num_heads / self.tp) * math.ceil(query_len / g.gpu.tile_m)
        kv_tiles = (local_seqs * math.ceil(m.kv_cache_heads * self.memory.kv_share)
                    * math.ceil(m.kv_tokens_held(context) / g.gpu.tile_n))
        a_cmp = wave_time(attention_flops, q_tiles, g.gpu.bf16_flops_per_s * eff.attention_share, g.gpu.sms)
        a_mem = wave_time(kv_hbm_bytes, kv_tiles, g.gpu.hbm_bandwidth_bytes_per_s * eff.memory, g.gpu.sms)
        if a_cmp >= a_mem:
            t_cmp += a_cmp
        else:
            t_mem += a_mem
        return t_cmp, t_mem

    def step_overhead(self, sequences: int) -> float:
        """The runtime's host time per forward step of ``sequences`` sequences."""
        eff = self.system.efficiency
        return eff.step_overhead_s + eff.step_overhead_per_seq_s * sequences

    def all_to_all_bytes(self, local_tokens: float) -> float:
        """Send buffer per GPU of one MoE all-to-all (dispatch or combine); see the module docstring."""
        if self.ep <= 1:
            return 0.0
        m = self.model
        return local_tokens * m.hidden_size * self.scenario.act_bytes * m.experts_per_token / self.tp

    def head_time(self, tokens: int) -> tuple[float, float, float]:
        """LM head on the last stage: (seconds, FLOPs per GPU, bytes per GPU)."""
        if not self.include_head:
            return 0.0, 0.0, 0.0
        m, eff, s = self.model, self.system.efficiency, self.scenario
        flops = 2.0 * tokens * m.hidden_size * m.vocab_size / self.tp
        head = s.weights.of("embedding")
        nbytes = m.lm_head_weight_bytes(s.weights) / self.tp
        if self.system.gpu.kernel_model == "roofline":
            g = self.system.gpu
            t = max(flops / self.gemm_rate(head),
                    nbytes / (g.hbm_bandwidth_bytes_per_s * eff.weight_memory_share(head)))
        else:
            t = gemm_time(tokens, math.ceil(m.vocab_size / self.tp), m.hidden_size, self.gemm_unit(head),
                          s.act_bytes, s.weights.bytes("embedding"), s.act_bytes).time_s
        return t + eff.kernel_launch_s, flops, nbytes

    def stage_send_time(self, tokens: int) -> float:
        if self.pp <= 1:
            return 0.0
        nbytes = tokens * self.model.hidden_size * self.scenario.act_bytes
        return sum(self.collective.stage_send(stage, nbytes) for stage in range(self.pp - 1))

    def collective_algorithms(self) -> dict[str, str]:
        """Summary keys: the algorithm each collective used ("none": not used; "closed_form": RingCollectives)."""
        return {f"{key}_algorithm": self.collective.algorithm_used(op)
                for op, key in (("all_reduce", "allreduce"), ("all_to_all", "alltoall"), ("p2p", "p2p"))}


def capacity(system: GpuSystemSpec, model: ModelSpec, scenario: Scenario,
             mapping: MappingOptions | None = None) -> GpuCapacity:
    """What the GPUs of the scenario's tp x pp x ep layout hold (for :mod:`wafersim.sizing`)."""
    return GpuCapacity(GpuMemory(system, model, scenario))


def simulate(system: GpuSystemSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions | None = None,
             collective: CollectiveFn | None = None) -> RunResult:
    """Run the roofline GPU model; ``scenario`` is resolved (batch and tp are numbers).
    ``mapping`` (a wafer layout) does not apply to GPUs and is ignored."""
    eng = AnalyticGpu(system, model, scenario, collective)
    s, g, m, L = scenario, system, model, scenario.layers
    batch = s.batch
    plan = eng.memory.memory_plan(batch)
    kv_hbm = 1.0 - (plan.spilled_kv_bytes_per_gpu / plan.kv_bytes_per_gpu if plan.kv_bytes_per_gpu else 0.0)
    w_hbm = 1.0 - (plan.spilled_weight_bytes_per_gpu / plan.weight_bytes_per_gpu if plan.weight_bytes_per_gpu else 0.0)
    kvl = m.kv_bytes_per_token_layer(s.kv_dtype)
    kv_read = m.kv_bytes_per_token_layer(s.kv_dtype, s.mean_decode_context)   # what a decode query reads
    local_batch = eng.memory.local_batch(batch)
    local = local_batch / batch           # share of the sequences one expert-parallel rank holds

    # ---- decode step at the mean context ---------------------------------------------
    # with pipeline stages the batch runs as micro-batches (one per stage at most), each
    # walking every stage in turn while the others work on the rest
    # each sequence sends query_tokens tokens (k + 1 in a speculative verify pass) over its
    # cached keys: k + 1 rows each through the GEMMs, the LM head and the sends, each cached
    # key read once by all of them
    micro, mb = micro_batches(batch, eng.pp, eng.pp > 1)
    ctx, q = s.mean_decode_context, s.query_tokens
    layer, work = eng.layer_time(mb * q, m.attention_flops(mb * q, ctx), mb * ctx * kv_read, kv_hbm, w_hbm, local,
                                 seqs=mb, query_len=q, context=ctx)
    t_head, head_flops, head_bytes = eng.head_time(math.ceil(local_batch / micro) * q)
    t_send = eng.stage_send_time(math.ceil(local_batch / micro) * q)
    # each token passes every stage in turn: a step walks all layers; the fullest stage
    # (the last holds its layers and the LM head) takes every micro-batch in turn
    last_stage_layers = max(0, L - (eng.pp - 1) * eng.memory.layers_per_stage)
    busiest = max(eng.memory.layers_per_stage * layer.time_s, last_stage_layers * layer.time_s + t_head)
    step_cost = eng.step_overhead(local_batch)
    tpot = decode_step_time(L * layer.time_s + t_head + t_send, micro, busiest) + step_cost
    comps = {k: v * L for k, v in layer.components.items()}
    comps["compute"] += t_head
    comps["interconnect"] += t_send
    if step_cost:
        comps["runtime_overhead"] = step_cost
    decode = PhaseTime(tpot, comps)

    # ---- prefill ----------------------------------------------------------------------
    tokens = batch * s.prompt_tokens
    p_attn = batch * m.prefill_attention_flops(s.prompt_tokens)
    p_layer, p_work = eng.layer_time(tokens, p_attn, 0.0, kv_hbm, w_hbm, local,
                                     seqs=batch, query_len=s.prompt_tokens, context=s.prompt_tokens, prefill=True)
    # writing the prompt's KV cache
    kv_write = tokens * local * kvl * eng.memory.kv_share / (g.gpu.hbm_bandwidth_bytes_per_s * g.efficiency.memory)
    p_head, _, _ = eng.head_time(local_batch)
    p_send = eng.stage_send_time(local_batch * s.prompt_tokens)
    overhead = g.efficiency.request_overhead_s + eng.step_overhead(local_batch)
    ttft = L * (p_layer.time_s + kv_write) + p_head + p_send + overhead
    p_comps = {k: v * L for k, v in p_layer.components.items()}
    p_comps["hbm_bandwidth"] += L * kv_write
    p_comps["interconnect"] += p_send
    if overhead:
        p_comps["runtime_overhead"] = overhead
    prefill = PhaseTime(ttft, p_comps)

    # ---- energy per generated token: every GPU does its share -------------------------
    en = g.energy
    gpus = eng.gpus
    per_gpu_layers = L / eng.pp
    # with ep, ranks beyond the sequences there are hold experts but no sequences
    busy_gpus = eng.tp * eng.pp * math.ceil(batch / local_batch)
    busy_head_gpus = eng.tp * math.ceil(batch / local_batch)

    def per_step(key: str) -> float:
        expert = work.get(key.replace("_bytes", "") + "_expert", 0.0) if key != "flops" else work["flops_expert"]
        return per_gpu_layers * (busy_gpus * (work[key] - expert) + gpus * expert)

    step_energy = {
        "compute": micro * (per_step("flops") + busy_head_gpus * head_flops) * en.flop_j,
        "hbm": micro * (per_step("hbm_bytes") + busy_head_gpus * head_bytes) * 8 * en.hbm_j_per_bit,
        "pcie": micro * gpus * per_gpu_layers * work["pcie_bytes"] * 8 * en.pcie_j_per_bit,
        "links": micro * gpus * per_gpu_layers * work["link_bytes"] * 8 * en.link_j_per_bit,
        "static": en.static_power_w * gpus * tpot,
    }
    nodes = math.ceil(gpus / g.interconnect.gpus_per_node)
    pcie = format_quantity(g.interconnect.pcie_bandwidth_bytes_per_s, "bandwidth")
    notes = []
    if plan.spilled_weight_bytes_per_gpu:
        notes.append(f"the weights do not fit in HBM: {format_quantity(plan.spilled_weight_bytes_per_gpu, 'bytes')} "
                     f"of weights and {format_quantity(plan.spilled_kv_bytes_per_gpu, 'bytes')} of KV per GPU spilled "
                     f"to host memory, read over PCIe ({pcie} per GPU); use more GPUs (--tp, --pp)")
    elif not plan.fits:
        notes.append(f"HBM holds {format_quantity(plan.kv_capacity_per_gpu, 'bytes')} of KV per GPU beside the "
                     f"weights; {format_quantity(plan.spilled_bytes, 'bytes')} of KV spilled to host memory over "
                     f"PCIe ({pcie} per GPU)")
    stage = (np.arange(L) * eng.pp) // L
    arrays = {
        "decode_layer_s": LayerArray(np.full(L, layer.time_s), ("layer",), "s", "time of each layer in a decode step"),
        "prefill_layer_s": LayerArray(np.full(L, p_layer.time_s + kv_write), ("layer",), "s", "time of each layer in prefill"),
        "layer_stage": LayerArray(stage, ("layer",), "", "pipeline stage holding each layer"),
    }
    graphml = eng.collective.graphml()
    attachments = {"topology_graphml": graphml} if graphml is not None else {}
    memory = MemoryUse(fits=plan.fits, weight_bytes=plan.weight_bytes, kv_bytes=plan.kv_bytes,
                       spilled_bytes=plan.spilled_bytes, spill_capacity_bytes=nodes * g.interconnect.host_memory_bytes,
                       spill_memory="host memory")
    return assemble(
        system=g, model=m, kind="gpu", fidelity="analytic", scenario=s, devices=gpus,
        prefill=prefill, decode=decode, memory=memory, step_energy_j=step_energy,
        decode_layer_s=layer.time_s, prefill_layer_s=p_layer.time_s + kv_write,
        details={"nodes": nodes, "tp": eng.tp, "pp": eng.pp, "ep": eng.ep, "max_batch": eng.memory.max_batch(),
                 "kv_capacity_per_gpu_bytes": plan.kv_capacity_per_gpu, "micro_batches": micro,
                 **eng.collective_algorithms()},
        notes=notes, arrays=arrays, attachments=attachments)
