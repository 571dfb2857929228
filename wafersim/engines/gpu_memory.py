"""Where a model's bytes live on the GPUs of a tensor x pipeline x expert parallel layout.

Weights split evenly over tp (and layers over pp); with expert parallelism each
of the ep ranks of a stage holds ``num_experts / ep`` experts and a full copy of
the dense weights.  KV heads split over tp (replicated past tp = kv_heads), and
each ep rank holds the KV cache of ``ceil(batch / ep)`` sequences.  KV capacity
per GPU = HBM x (1 - workspace) - weights; past it, bytes spill to host memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import ConfigError
from ..hardware.gpu import GpuSystemSpec
from ..workload.dtypes import dtype_bytes
from ..text import plural
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .capacity import Capacity

__all__ = ["GpuMemoryPlan", "GpuMemory", "GpuCapacity"]


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


class GpuMemory:
    """The bytes of a job per GPU; checks that tp, pp and ep fit the system and the model."""

    def __init__(self, system: GpuSystemSpec, model: ModelSpec, scenario: Scenario):
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
            raise ConfigError("scenario", "tp", f"tp x pp x ep = {gpus} GPUs but {system.name} has {system.num_gpus}"
                              + (f" and may span at most {plural(system.max_nodes, 'node')} (interconnect.max_nodes)"
                                 if system.max_nodes * system.interconnect.gpus_per_node < gpus else ""))
        if self.pp > self.layers:
            raise ConfigError("scenario", "pp", f"pp = {self.pp} stages for {self.layers} layers")
        if model.num_heads % self.tp:
            raise ConfigError("scenario", "tp", f"tp = {self.tp} must divide the {model.num_heads} attention heads")
        kvh = model.kv_cache_heads
        if kvh % self.tp and self.tp % kvh:
            raise ConfigError("scenario", "tp", f"tp = {self.tp} must divide the {kvh} KV heads or be a multiple of them")

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
        return m.layer_params - m.routed_params_per_layer

    @property
    def kv_share(self) -> float:
        """Share of a layer's KV cache one GPU holds (KV heads replicate past tp = kv_heads)."""
        kvh = self.model.kv_cache_heads
        return math.ceil(kvh / self.tp) / kvh

    @property
    def layers_per_stage(self) -> int:
        return math.ceil(self.layers / self.pp)

    def weight_bytes_per_gpu(self) -> float:
        m = self.model
        experts = m.routed_params_per_layer / self.ep
        f = self.scenario.weights
        if not f.uniform:
            ends = (m.embedding_params + m.lm_head_params if self.pp == 1
                    else max(m.embedding_params, m.lm_head_params)) if self.include_head else 0
            dense_bytes = m.layer_weight_bytes(f) - m.routed_params_per_layer * f.bytes("experts")
            return (self.layers_per_stage * (dense_bytes + experts * f.bytes("experts"))
                    + ends * f.bytes("embedding")) / self.tp
        b = self.layers_per_stage * (self.dense_layer_params + experts) / self.tp
        if self.include_head:
            # one stage holds both ends when pp = 1; else the first holds the embedding,
            # the last the LM head: the fuller of the two sizes the GPUs
            ends = (m.embedding_params + m.lm_head_params if self.pp == 1
                    else max(m.embedding_params, m.lm_head_params))
            b += ends / self.tp
        return b * self.weight_bytes_per_param

    def kv_bytes_per_seq_per_gpu(self) -> float:
        ctx = self.scenario.max_context
        return (ctx * self.layers_per_stage
                * self.model.kv_bytes_per_token_layer(self.scenario.kv_dtype, ctx) * self.kv_share)

    def kv_capacity_per_gpu(self) -> float:
        usable = self.system.gpu.hbm_bytes * (1.0 - self.system.efficiency.workspace_fraction)
        return max(0.0, usable - self.weight_bytes_per_gpu())

    def max_batch(self) -> int:
        """Whole sequences of KV per GPU beside the weights, times ep; no more than the runtime's
        scheduler runs at once (``efficiency.max_batch``, 0: no limit)."""
        per_seq = self.kv_bytes_per_seq_per_gpu()
        fits = max(1, self.ep * int(self.kv_capacity_per_gpu() // per_seq))
        limit = self.system.efficiency.max_batch
        return min(fits, limit) if limit else fits

    def memory_plan(self, batch: int) -> GpuMemoryPlan:
        usable = self.system.gpu.hbm_bytes * (1.0 - self.system.efficiency.workspace_fraction)
        w = self.weight_bytes_per_gpu()
        kv = self.local_batch(batch) * self.kv_bytes_per_seq_per_gpu()
        w_spill = max(0.0, w - usable)
        kv_cap = max(0.0, usable - w)
        m = self.model
        total_w = self.layers * m.layer_weight_bytes(self.scenario.weights)
        if self.include_head:
            total_w += m.head_weight_bytes(self.scenario.weights)
        ctx = self.scenario.max_context
        total_kv = batch * ctx * self.layers * m.kv_bytes_per_token_layer(self.scenario.kv_dtype, ctx)
        return GpuMemoryPlan(self.gpus, w, kv, kv_cap, w_spill, max(0.0, kv - kv_cap), total_w, total_kv)


class GpuCapacity(Capacity):
    """The GPUs of a fixed tp x pp x ep layout: the batch is the only thing to size."""

    def __init__(self, memory: GpuMemory):
        self.memory = memory

    def fits(self, batch: int, devices: int) -> bool:
        return self.memory.memory_plan(batch).fits

    def holds_weights(self, batch: int, devices: int) -> bool:
        return self.memory.memory_plan(batch).spilled_weight_bytes_per_gpu == 0

    def device_range(self, batch: int) -> tuple[int, int]:
        return self.memory.gpus, self.memory.gpus

    def largest_batch(self, devices: int) -> int:
        """In closed form: whole sequences of KV per GPU beside the weights, times ep."""
        return self.memory.max_batch()
