"""What every core keeps out of the SRAM for weights and KV: its program, its routing
buffers and the decode activation tile of a micro-batch (docs/models.md, "Wafer memory").

The decode tile and the prefill block share one measure, the activation bytes a token
puts on a core of a region (:func:`activation_bytes_per_token`)."""

from __future__ import annotations

import math

from ..hardware.wafer import WaferSpec
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from ..workload.stages import stage_shapes
from .options import MappingOptions

__all__ = ["activation_bytes_per_token", "micro_batches", "decode_tile_bytes", "core_buffers"]


def activation_bytes_per_token(model: ModelSpec, rows: float, cols: float, act_bytes: float) -> float:
    """Activation bytes one token puts on a core of an ``rows x cols`` region: its
    share of the widest stage's input and output slices, in either orientation."""
    worst = 0.0
    for _, k, n, _ in stage_shapes(model, 1):
        worst = max(worst, k / rows + n / cols, k / cols + n / rows)
    return act_bytes * worst


def micro_batches(batch: int, layers: int, pipelined: bool) -> tuple[int, int]:
    """(micro-batches, sequences in each) for a decode step.

    A pipelined placement keeps up to one micro-batch per layer in flight; the
    size is the smallest that keeps the count within the layers, and the count is
    trimmed so no micro-batch is empty (65 sequences on 32 layers run as 22
    micro-batches of 3, not 32 of 3).
    """
    if not pipelined:
        return 1, batch
    size = -(-batch // min(batch, layers))
    return -(-batch // size), size


def decode_tile_bytes(model: ModelSpec, scenario: Scenario, shapes, micro_size: int) -> int:
    """Bytes of the decode activation tile every core keeps: a micro-batch's share of the
    widest stage's input and output slices on the region shape (of ``shapes``, ``(rows,
    cols)`` pairs) that gives a core the largest share.  Prefill blocks size their own
    activations from what weights and KV leave (:mod:`wafersim.engines.prefill_blocks`)."""
    per_token = max((activation_bytes_per_token(model, r, c, scenario.act_bytes) for r, c in shapes), default=0.0)
    return int(math.ceil(micro_size * per_token))


def core_buffers(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions,
                 batch: int, shapes) -> int:
    """Bytes per core kept out of the weights and KV cache: code, routing buffers and the
    decode activation tile for the region shapes ``shapes``, or the reserved share when
    ``core.reserved_sram_fraction`` overrides the budget (then the share is all)."""
    core = system.core
    fixed = int(math.ceil(core.fixed_buffer_bytes))
    if core.reserve_override:
        return fixed
    _, size = micro_batches(batch, scenario.layers, mapping.placement == "pipelined")
    # a speculative verify pass carries k + 1 query tokens of every sequence
    return fixed + decode_tile_bytes(model, scenario, shapes, size * scenario.query_tokens)
