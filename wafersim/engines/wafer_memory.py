"""Where a model's bytes live on one or several wafers: the memory plan both wafer engines share.

Weights stay on chip first (the batch shares them); the KV cache fills what is
left; whatever does not fit spills to external memory behind the edge I/O.
A pipelined placement holds per region what the flow placement's own layout
gives its cores (:func:`wafersim.mapping.placement.layout`); sequential and
streaming placements pool each wafer's SRAM over whole layers in contiguous
ranges (streaming keeps no weights on chip).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np

from ..config import ConfigError
from ..hardware.wafer import WaferSpec
from ..mapping.options import MappingOptions
from ..mapping.placement import Layout, block_shape, layout, split_layers
from ..units import format_quantity
from ..workload.dtypes import dtype_bytes
from ..text import plural
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .capacity import MAX_SEARCH, Capacity, largest_fitting

__all__ = ["WaferMemoryPlan", "WaferMemory", "WaferCapacity", "spill_note"]


@dataclass(frozen=True)
class WaferMemoryPlan:
    """Where every byte lives: totals for the run."""
    wafers: int
    cores_per_wafer: int
    capacity_bytes: float
    weight_bytes: float
    kv_bytes: float
    spilled_weight_bytes: float
    spilled_kv_bytes: float

    @property
    def spilled_bytes(self) -> float:
        return self.spilled_weight_bytes + self.spilled_kv_bytes

    @property
    def fits(self) -> bool:
        return self.spilled_bytes == 0.0

    @property
    def spilled_kv_fraction(self) -> float:
        return self.spilled_kv_bytes / self.kv_bytes if self.kv_bytes else 0.0

    @property
    def spilled_weight_fraction(self) -> float:
        return self.spilled_weight_bytes / self.weight_bytes if self.weight_bytes else 0.0


#: scenario fields a memory plan may depend on: all but the two it takes as arguments
_PLAN_FIELDS = tuple(f.name for f in dataclasses.fields(Scenario) if f.name not in ("batch", "wafers"))


@functools.lru_cache(maxsize=16)
def _plan_table(system: WaferSpec, model: ModelSpec, mapping: MappingOptions,
                scenario: tuple) -> tuple[dict, dict]:
    """One table of memory plans and one of layouts per job (specs are frozen, so equal keys
    mean equal plans): sizing's search, the run it sizes and repeated runs of one job share
    what they all ask for."""
    return {}, {}


class WaferMemory:
    """The bytes of a job on wafers of ``system``; layouts and plans are cached per job and
    (batch, wafers)."""

    def __init__(self, system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions):
        self.system, self.model, self.scenario, self.mapping = system, model, scenario, mapping
        self.weight_bytes_per_param = dtype_bytes(scenario.dtype)
        self.layers = scenario.layers
        self.include_head = self.layers == model.num_layers
        self._plans: dict[tuple[int, int], WaferMemoryPlan]
        self._layouts: dict[tuple[int, int], Layout]
        self._plans, self._layouts = _plan_table(
            system, model, mapping, tuple(getattr(scenario, name) for name in _PLAN_FIELDS))

    def cores_per_wafer(self) -> int:
        rows, cols = block_shape(self.system, self.mapping)
        return rows * cols

    def weight_bytes(self) -> float:
        m = self.model
        f = self.scenario.weights
        if not f.uniform:
            return self.layers * m.layer_weight_bytes(f) + (m.head_weight_bytes(f) if self.include_head else 0.0)
        b = self.layers * m.layer_params
        if self.include_head:
            b += m.embedding_params + m.lm_head_params + m.final_norm_params
        return b * self.weight_bytes_per_param

    def kv_bytes(self, batch: int) -> float:
        ctx = self.scenario.max_context
        return batch * ctx * self.layers * self.model.kv_bytes_per_token_layer(self.scenario.kv_dtype, ctx)

    def capacity_per_wafer(self, batch: int, wafers: int) -> float:
        """SRAM one wafer's block offers weights and KV: what every core's buffers (code,
        routing, the decode activation tile of this batch's micro-batches) leave, as the
        placement budgets it."""
        return self.cores_per_wafer() * self.layout(batch, wafers).core_capacity_bytes

    def max_capacity_per_wafer(self) -> float:
        """An upper bound of :meth:`capacity_per_wafer` over batches: what the fixed buffers leave."""
        return self.cores_per_wafer() * self.system.core.usable_sram_bytes

    def layout(self, batch: int, wafers: int) -> Layout:
        """The placement's geometry (shared with the flow engine), cached per (batch, wafers)."""
        key = (batch, wafers)
        if key not in self._layouts:
            self._layouts[key] = layout(self.system, self.model, self.scenario, self.mapping, batch, wafers)
        return self._layouts[key]

    def memory_plan(self, batch: int, wafers: int) -> WaferMemoryPlan:
        """Pipelined: each region holds what its cores hold, weights first, as the flow
        placement lays them out.  Sequential and streaming: per wafer, whole layers in
        contiguous ranges share the wafer's SRAM, weights first, then KV.  Worked out once
        per (batch, wafers): sizing asks about the same candidates more than once."""
        key = (batch, wafers)
        if key not in self._plans:
            self._plans[key] = self._plan(batch, wafers)
        return self._plans[key]

    def _plan(self, batch: int, wafers: int) -> WaferMemoryPlan:
        if self.mapping.placement == "pipelined":
            sw, skv = self.layout(batch, wafers).region_spill(pooled=self.mapping.kv == "pooled")
            return WaferMemoryPlan(wafers, self.cores_per_wafer(), wafers * self.capacity_per_wafer(batch, wafers),
                                   self.weight_bytes(), self.kv_bytes(batch), float(sw.sum()), float(skv.sum()))
        cap = self.capacity_per_wafer(batch, wafers)
        m = self.model
        layer_w = m.layer_weight_bytes(self.scenario.weights)
        ctx = self.scenario.max_context
        layer_kv = batch * ctx * m.kv_bytes_per_token_layer(self.scenario.kv_dtype, ctx)
        head_w = self.weight_bytes() - self.layers * layer_w
        first = split_layers(self.layers, wafers, layer_w + layer_kv, head_w)
        spilled_w = spilled_kv = 0.0
        for i in range(wafers):
            n = first[i + 1] - first[i]
            wb = n * layer_w + (head_w if i == wafers - 1 else 0.0)
            kb = n * layer_kv
            on_w = 0.0 if self.mapping.placement == "streaming" else min(wb, cap)
            on_kv = min(kb, cap - on_w)
            spilled_w += wb - on_w
            spilled_kv += kb - on_kv
        return WaferMemoryPlan(wafers, self.cores_per_wafer(), wafers * cap, self.weight_bytes(),
                               self.kv_bytes(batch), spilled_w, spilled_kv)


class WaferCapacity(Capacity):
    """Capacity by the memory plan: the analytic wafer engine's, and the flow engine's screen."""

    def __init__(self, memory: WaferMemory):
        self.memory = memory

    def fits(self, batch: int, devices: int) -> bool:
        return self.memory.memory_plan(batch, devices).fits

    def holds_weights(self, batch: int, devices: int) -> bool:
        return self.memory.memory_plan(batch, devices).spilled_weight_bytes == 0

    def device_range(self, batch: int) -> tuple[int, int]:
        """No fewer wafers than the weights need at full SRAM; no more than the system
        allows or than there are layers (each wafer holds whole layers)."""
        mem = self.memory
        limit = min(mem.system.interwafer.max_wafers, mem.layers)
        start = max(1, math.ceil(mem.weight_bytes() / mem.max_capacity_per_wafer()))
        return min(start, limit), limit

    def largest_batch(self, devices: int) -> int:
        """The search starts from the batch whose KV cache fills the SRAM the weights leave,
        the cores' buffers grown with the batch: the decode tile takes room in proportion to
        the batch, so the room lost at a first guess (the batch that would fit if the buffers
        stayed as small as they are at no batch) gives the loss per sequence.  Exact when the
        plan pools the memory and the tile grows linearly; where each layer region holds its own
        KV (pipelined, local) the guess is then cut to what every region of its layout holds.
        It costs one or two layouts and no memory plan."""
        mem = self.memory
        full = mem.max_capacity_per_wafer()
        free = devices * full - mem.weight_bytes()
        per_sequence = mem.kv_bytes(1)
        first = int(free // per_sequence) if free > 0 and per_sequence > 0 else 0
        guess = 1
        if first >= 1:
            first = min(first, MAX_SEARCH - 1)
            lost_per_sequence = devices * (full - mem.capacity_per_wafer(first, devices)) / first
            guess = int(free // (per_sequence + max(0.0, lost_per_sequence)))
        if guess > 1 and mem.mapping.placement == "pipelined" and mem.mapping.kv != "pooled":
            guess = min(guess, self._regions_hold(min(guess, MAX_SEARCH - 1), devices))
        return largest_fitting(lambda b: self.fits(b, devices), max(1, min(guess, MAX_SEARCH - 1)))

    def _regions_hold(self, batch: int, devices: int) -> int:
        """The sequences whose KV every layer region of the layout at ``batch`` holds beside its
        weights (each region keeps its own layer's KV): the least over the regions."""
        lay = self.memory.layout(batch, devices)
        cap = lay.region_rows.astype(np.int64) * lay.region_cols * lay.core_capacity_bytes
        kv = lay.region_kv_bytes.astype(np.float64) / batch
        room = cap - lay.region_weight_bytes
        has = kv > 0
        if not has.any():
            return batch
        return max(1, int(np.floor(np.min(np.maximum(room[has], 0) / kv[has]))))

    def check_devices(self, devices: int) -> None:
        mem = self.memory
        if devices > mem.system.interwafer.max_wafers:
            raise ConfigError("scenario", "wafers", f"{mem.system.name} allows at most "
                              f"{mem.system.interwafer.max_wafers} wafers; got {devices}")
        if devices > mem.layers:
            raise ConfigError("scenario", "wafers", f"{devices} wafers for {mem.layers} layers: "
                              "each wafer needs at least one layer")


def spill_note(weight_bytes: float, kv_bytes: float, io_bandwidth_bytes_per_s: float,
               usable_bytes: float | None = None, wafers: int = 1) -> list[str]:
    """The note a wafer run carries when weights or KV cache spill to external memory."""
    if weight_bytes == 0 and kv_bytes == 0:
        return []
    what = []
    if weight_bytes:
        what.append(f"{format_quantity(weight_bytes, 'bytes')} of weights")
    if kv_bytes:
        what.append(f"{format_quantity(kv_bytes, 'bytes')} of KV cache")
    usable = (f" ({format_quantity(usable_bytes, 'bytes')} usable on {plural(wafers, 'wafer')})"
              if usable_bytes is not None else "")
    return [f"does not fit in SRAM{usable}: {' and '.join(what)} spilled to external memory, read at "
            f"{format_quantity(io_bandwidth_bytes_per_s, 'bandwidth')} through edge I/O"]
