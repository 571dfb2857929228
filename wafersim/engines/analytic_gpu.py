"""First-order (roofline) model of LLM inference on a multi-GPU system.

Per decoder layer, per GPU, with tensor parallelism ``tp``, pipeline
parallelism ``pp`` and expert parallelism ``ep`` (GPUs used = tp x pp x ep):

* time = max(FLOPs / (peak x gemm efficiency), HBM bytes / (bandwidth x memory
  efficiency)) + kernels x launch overhead + 2 all-reduces of the layer output
  when tp > 1;
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
from dataclasses import dataclass, replace
from typing import Callable

from ..config import ConfigError
from ..hardware.gpu import GpuSystemSpec
from ..workload.dtypes import dtype_bytes
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .gpu_collectives import GraphCollectives
from ..results.phase import PhaseTime
from .pipeline import decode_step_time, micro_batches

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
        self.system, self.model, self.scenario = system, model, scenario
        self.tp, self.pp, self.ep = scenario.tp, scenario.pp, scenario.ep
        self.layers = scenario.layers
        self.include_head = self.layers == model.num_layers
        self.weight_bytes_per_param = dtype_bytes(scenario.dtype)
        if self.ep > 1 and not model.is_moe:
            raise ConfigError("scenario", "ep", f"ep = {self.ep} needs a mixture-of-experts model; "
                                                f"{model.name} is dense (num_experts = 1)")
        if model.num_experts % self.ep:
            raise ConfigError("scenario", "ep", f"ep = {self.ep} must divide the {model.num_experts} experts "
                                                f"of {model.name}")
        gpus = self.tp * self.pp * self.ep
        if gpus > system.num_gpus:
            raise ConfigError("scenario", "tp", f"tp x pp x ep = {gpus} GPUs but {system.name} has {system.num_gpus}")
        if self.pp > self.layers:
            raise ConfigError("scenario", "pp", f"pp = {self.pp} stages for {self.layers} layers")
        if model.num_heads % self.tp:
            raise ConfigError("scenario", "tp", f"tp = {self.tp} must divide the {model.num_heads} attention heads")
        kvh = model.num_kv_heads
        if kvh % self.tp and self.tp % kvh:
            raise ConfigError("scenario", "tp", f"tp = {self.tp} must divide the {kvh} KV heads or be a multiple of them")
        self.collective = collective or GraphCollectives(system, self.tp, self.pp, self.ep)

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.ep

    def local_batch(self, batch: int) -> int:
        """Sequences one expert-parallel rank holds (attention is data parallel over ep)."""
        return math.ceil(batch / self.ep)

    @property
    def dense_layer_params(self) -> int:
        """Parameters of a layer every ep rank holds: attention, router, norms (the MLP too if dense)."""
        m = self.model
        if not m.is_moe:
            return m.layer_params
        return m.attention_params + m.router_params + m.norm_params_per_layer

    @property
    def kv_share(self) -> float:
        """Share of a layer's KV cache one GPU holds (KV heads replicate past tp = kv_heads)."""
        kvh = self.model.num_kv_heads
        return math.ceil(kvh / self.tp) / kvh

    @property
    def layers_per_stage(self) -> int:
        return math.ceil(self.layers / self.pp)

    def weight_bytes_per_gpu(self) -> float:
        m = self.model
        experts = (m.num_experts // self.ep) * m.expert_params if m.is_moe else 0
        b = self.layers_per_stage * (self.dense_layer_params + experts) / self.tp
        if self.include_head:
            # one stage holds both ends when pp = 1; else the first holds the embedding,
            # the last the LM head: the fuller of the two sizes the GPUs
            ends = (m.embedding_params + m.lm_head_params if self.pp == 1
                    else max(m.embedding_params, m.lm_head_params))
            b += ends / self.tp
        return b * self.weight_bytes_per_param

    def kv_bytes_per_seq_per_gpu(self) -> float:
        return (self.scenario.max_context * self.layers_per_stage
                * self.model.kv_bytes_per_token_layer(self.scenario.kv_dtype) * self.kv_share)

    def kv_capacity_per_gpu(self) -> float:
        usable = self.system.gpu.hbm_bytes * (1.0 - self.system.efficiency.workspace_fraction)
        return max(0.0, usable - self.weight_bytes_per_gpu())

    def max_batch(self) -> int:
        per_seq = self.kv_bytes_per_seq_per_gpu()
        return max(1, self.ep * int(self.kv_capacity_per_gpu() // per_seq))

    def memory_plan(self, batch: int) -> GpuMemoryPlan:
        usable = self.system.gpu.hbm_bytes * (1.0 - self.system.efficiency.workspace_fraction)
        w = self.weight_bytes_per_gpu()
        kv = self.local_batch(batch) * self.kv_bytes_per_seq_per_gpu()
        w_spill = max(0.0, w - usable)
        kv_cap = max(0.0, usable - w)
        m = self.model
        total_w = self.layers * m.layer_params * self.weight_bytes_per_param
        if self.include_head:
            total_w += (m.embedding_params + m.lm_head_params + m.final_norm_params) * self.weight_bytes_per_param
        total_kv = batch * self.scenario.max_context * self.layers * m.kv_bytes_per_token_layer(self.scenario.kv_dtype)
        return GpuMemoryPlan(self.gpus, w, kv, kv_cap, w_spill, max(0.0, kv - kv_cap), total_w, total_kv)

    def layer_time(self, tokens: int, attn_flops: float, kv_read_bytes: float, hbm_fraction: float,
                   weights_hbm_fraction: float, local: float = 1.0) -> tuple[PhaseTime, dict[str, float]]:
        """One layer on one GPU of a stage: ``tokens`` rows (the whole batch) through the GEMMs.

        ``attn_flops`` and ``kv_read_bytes`` are for the whole batch; ``local`` is the share
        of the batch's sequences one expert-parallel rank holds (1 without ep).
        """
        g, m, s, eff = self.system, self.model, self.scenario, self.system.efficiency
        ep, k = self.ep, m.experts_per_token
        local_tokens = tokens * local
        expert_flops = 2.0 * k * m.expert_params            # per token, the routed experts
        matmul_flops = (local_tokens * (m.layer_matmul_flops_per_token - expert_flops)
                        + tokens * expert_flops / ep) / self.tp
        attention_flops = attn_flops * local / self.tp
        flops = matmul_flops + attention_flops
        expert_bytes = m.experts_touched(tokens) * m.expert_params * self.weight_bytes_per_param
        wbytes = (m.layer_weight_bytes_read(tokens, s.dtype) - expert_bytes + expert_bytes / ep) / self.tp
        kv_bytes = kv_read_bytes * local * self.kv_share
        hbm_bytes = wbytes * weights_hbm_fraction + kv_bytes * hbm_fraction
        pcie_bytes = wbytes * (1 - weights_hbm_fraction) + kv_bytes * (1 - hbm_fraction)
        # projections at the weights' rate and GEMM efficiency; attention in 16-bit at its own
        t_cmp = (matmul_flops / (g.gpu.flops_per_s(s.dtype) * eff.gemm)
                 + attention_flops / (g.gpu.bf16_flops_per_s * (eff.attention or eff.gemm)))
        t_mem = hbm_bytes / (g.gpu.hbm_bandwidth_bytes_per_s * eff.memory)
        t_pcie = pcie_bytes / g.interconnect.pcie_bandwidth_bytes_per_s
        t_launch = eff.kernels_per_layer * eff.kernel_launch_s
        act = local_tokens * m.hidden_size * s.act_bytes
        t_ar = 2 * self.collective("all_reduce", act, self.tp) if self.tp > 1 else 0.0
        a2a = self.all_to_all_bytes(local_tokens)
        t_a2a = 2 * self.collective("all_to_all", a2a, ep) if ep > 1 else 0.0
        t = max(t_cmp, t_mem, t_pcie) + t_launch + t_ar + t_a2a
        comps = {"compute": t_cmp, "hbm_bandwidth": t_mem, "launch_overhead": t_launch,
                 "interconnect": t_ar + t_a2a, "pcie_spill": t_pcie}
        link_bytes = 2 * 2 * (self.tp - 1) / self.tp * act if self.tp > 1 else 0.0
        link_bytes += 2 * (ep - 1) / ep * a2a
        # what every expert-parallel rank does (its share of the touched experts) apart from
        # what only ranks holding sequences do (attention, dense weights, KV)
        expert_hbm = expert_bytes / ep / self.tp * weights_hbm_fraction
        expert_flops_gpu = tokens * expert_flops / ep / self.tp
        work = {"flops": flops, "hbm_bytes": hbm_bytes, "pcie_bytes": pcie_bytes, "link_bytes": link_bytes,
                "flops_expert": expert_flops_gpu if ep > 1 else 0.0, "hbm_expert": expert_hbm if ep > 1 else 0.0}
        return PhaseTime(t, comps), work

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
        g, m, eff = self.system, self.model, self.system.efficiency
        flops = 2.0 * tokens * m.hidden_size * m.vocab_size / self.tp
        nbytes = m.hidden_size * m.vocab_size * self.weight_bytes_per_param / self.tp
        t = max(flops / (g.gpu.flops_per_s(self.scenario.dtype) * eff.gemm),
                nbytes / (g.gpu.hbm_bandwidth_bytes_per_s * eff.memory)) + eff.kernel_launch_s
        return t, flops, nbytes

    def stage_send_time(self, tokens: int) -> float:
        if self.pp <= 1:
            return 0.0
        nbytes = tokens * self.model.hidden_size * self.scenario.act_bytes
        if isinstance(self.collective, GraphCollectives):
            return sum(self.collective.stage_send(stage, nbytes) for stage in range(self.pp - 1))
        return (self.pp - 1) * self.collective("p2p", nbytes, 2)

    def collective_algorithms(self) -> dict[str, str]:
        """Summary keys: the algorithm each collective used ("none": not used; "closed_form": ring_collective)."""
        chosen = self.collective.chosen if isinstance(self.collective, GraphCollectives) else {}
        used = {"all_reduce": self.tp > 1, "all_to_all": self.ep > 1, "p2p": self.pp > 1}
        return {f"{key}_algorithm": (chosen.get(op, "none") if isinstance(self.collective, GraphCollectives)
                                     else "closed_form" if used[op] else "none")
                for op, key in (("all_reduce", "allreduce"), ("all_to_all", "alltoall"), ("p2p", "p2p"))}


def auto_tensor_parallel(system: GpuSystemSpec, model: ModelSpec, scenario: Scenario) -> int:
    """The tp a latency-minded engineer would pick: powers of two within one node that
    divide the heads; the fastest decode step among those that hold the job in HBM
    (the fastest overall when none does); ties go to fewer GPUs.
    """
    kvh = model.num_kv_heads
    options = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= min(system.interconnect.gpus_per_node, system.num_gpus)
               and model.num_heads % t == 0 and (kvh % t == 0 or t % kvh == 0)
               and t * scenario.pp * scenario.ep <= system.num_gpus]
    if len(options) <= 1:
        return options[0] if options else 1
    runs = [(tp, simulate(system, model, replace(scenario, tp=tp))) for tp in options]
    fitting = [(tp, r) for tp, r in runs if r.summary["fits_on_chip"]] or runs
    return min(fitting, key=lambda tr: (tr[1].summary["tpot_s"], tr[0]))[0]


def simulate(system: GpuSystemSpec, model: ModelSpec, scenario: Scenario,
             collective: CollectiveFn | None = None):
    """Run the roofline GPU model; ``scenario`` must be resolved against ``model``."""
    import numpy as np

    from ..results.run_result import LayerArray, RunResult, capacity_note, make_summary

    eng = AnalyticGpu(system, model, scenario, collective)
    s, g, m, L = scenario, system, model, scenario.layers
    batch = eng.max_batch() if s.batch == "max" else s.batch
    plan = eng.memory_plan(batch)
    notes: list[str] = []
    kv_hbm = 1.0 - (plan.spilled_kv_bytes_per_gpu / plan.kv_bytes_per_gpu if plan.kv_bytes_per_gpu else 0.0)
    w_hbm = 1.0 - (plan.spilled_weight_bytes_per_gpu / plan.weight_bytes_per_gpu if plan.weight_bytes_per_gpu else 0.0)
    kvl = m.kv_bytes_per_token_layer(s.kv_dtype)
    local_batch = eng.local_batch(batch)
    local = local_batch / batch           # share of the sequences one expert-parallel rank holds

    # ---- decode step at the mean context ---------------------------------------------
    # with pipeline stages the batch runs as micro-batches (one per stage at most), each
    # walking every stage in turn while the others work on the rest
    micro, mb = micro_batches(batch, eng.pp, eng.pp > 1)
    ctx = s.mean_decode_context
    layer, work = eng.layer_time(mb, m.attention_flops(mb, ctx), mb * ctx * kvl, kv_hbm, w_hbm, local)
    t_head, head_flops, head_bytes = eng.head_time(math.ceil(local_batch / micro))
    t_send = eng.stage_send_time(math.ceil(local_batch / micro))
    # each token passes every stage in turn: a step walks all layers; the fullest stage
    # (the last holds its layers and the LM head) takes every micro-batch in turn
    last_stage_layers = max(0, L - (eng.pp - 1) * eng.layers_per_stage)
    busiest = max(eng.layers_per_stage * layer.time_s, last_stage_layers * layer.time_s + t_head)
    tpot = decode_step_time(L * layer.time_s + t_head + t_send, micro, busiest)
    comps = {k: v * L for k, v in layer.components.items()}
    comps["compute"] += t_head
    comps["interconnect"] += t_send
    decode = PhaseTime(tpot, comps)

    # ---- prefill ----------------------------------------------------------------------
    tokens = batch * s.prompt_tokens
    p_attn = batch * m.prefill_attention_flops(s.prompt_tokens)
    p_layer, p_work = eng.layer_time(tokens, p_attn, 0.0, kv_hbm, w_hbm, local)
    # writing the prompt's KV cache
    kv_write = tokens * local * kvl * eng.kv_share / (g.gpu.hbm_bandwidth_bytes_per_s * g.efficiency.memory)
    p_head, _, _ = eng.head_time(local_batch)
    p_send = eng.stage_send_time(local_batch * s.prompt_tokens)
    overhead = g.efficiency.request_overhead_s
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

    energy = {
        "compute": micro * (per_step("flops") + busy_head_gpus * head_flops) * en.flop_j,
        "hbm": micro * (per_step("hbm_bytes") + busy_head_gpus * head_bytes) * 8 * en.hbm_j_per_bit,
        "pcie": micro * gpus * per_gpu_layers * work["pcie_bytes"] * 8 * en.pcie_j_per_bit,
        "links": micro * gpus * per_gpu_layers * work["link_bytes"] * 8 * en.link_j_per_bit,
        "static": en.static_power_w * gpus * tpot,
    }
    energy_per_token = sum(energy.values()) / batch

    nodes = math.ceil(gpus / g.interconnect.gpus_per_node)
    notes += capacity_note(plan.spilled_bytes, nodes * g.interconnect.host_memory_bytes, "host memory")
    if plan.spilled_weight_bytes_per_gpu:
        notes.append(f"the weights do not fit in HBM: {plan.spilled_weight_bytes_per_gpu / 1e9:.3g} GB of weights "
                     f"and {plan.spilled_kv_bytes_per_gpu / 1e9:.3g} GB of KV per GPU spilled to host memory, read "
                     f"over PCIe ({g.interconnect.pcie_bandwidth_bytes_per_s / 1e9:.3g} GB/s per GPU); "
                     "use more GPUs (--tp, --pp)")
    elif not plan.fits:
        notes.append(f"HBM holds {plan.kv_capacity_per_gpu / 1e9:.3g} GB of KV per GPU beside the weights; "
                     f"{plan.spilled_bytes / 1e9:.3g} GB of KV spilled to host memory over PCIe "
                     f"({g.interconnect.pcie_bandwidth_bytes_per_s / 1e9:.3g} GB/s per GPU)")
    if s.batch == "max":
        if plan.fits:
            notes.append(f"--batch max: {batch} sequences of {s.max_context} tokens fill the KV capacity")
        else:
            notes.append(f"--batch max: not even one sequence of {s.max_context} tokens fits in HBM; ran batch 1")
    notes.append(f"decode step bound by {decode.bottleneck}; prefill bound by {prefill.bottleneck}")

    summary = make_summary(
        system=g.name, model=m.name, kind="gpu", fidelity="analytic", scenario=s, batch=batch, devices=gpus,
        prefill=prefill, decode=decode, fits=plan.fits, spilled_bytes=plan.spilled_bytes,
        weight_bytes=plan.weight_bytes, kv_bytes=plan.kv_bytes, energy_per_token_j=energy_per_token,
        decode_layer_s=layer.time_s, prefill_layer_s=p_layer.time_s + kv_write,
        tp=eng.tp, pp=eng.pp, ep=eng.ep, max_batch=eng.max_batch(), kv_capacity_per_gpu_bytes=plan.kv_capacity_per_gpu, micro_batches=micro,
        **{f"energy_{k}_j": v / batch for k, v in energy.items()})
    stage = (np.arange(L) * eng.pp) // L
    arrays = {
        "decode_layer_s": LayerArray(np.full(L, layer.time_s), ("layer",), "s", "time of each layer in a decode step"),
        "prefill_layer_s": LayerArray(np.full(L, p_layer.time_s + kv_write), ("layer",), "s", "time of each layer in prefill"),
        "layer_stage": LayerArray(stage, ("layer",), "", "pipeline stage holding each layer"),
    }
    summary.update(eng.collective_algorithms())
    attachments = {}
    if isinstance(eng.collective, GraphCollectives):
        attachments["topology_graphml"] = eng.collective.graphml()
    config = {"scenario": {**s.as_dict(), "batch": batch}}
    return RunResult(summary, config, prefill, decode, arrays, notes, attachments)
