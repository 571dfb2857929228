"""The token block a wafer prefills with: limited by the SRAM left for activations,
chosen to minimise the time of the prefill pipeline.

Prefill on a mesh is a GEMM of a block of ``T`` prompt tokens against each
weight matrix, which stays where it lives: a ``K x N`` matrix on an ``r x c``
region holds a ``K/r x N/c`` block per core; the block's activations are
broadcast along the region's rows (``T K / r`` values per row) and its partial
sums reduced along the columns (``T N / c`` per column), so every core holds
``T (K/r + N/c)`` activation values of the stage at once.  That must fit in the
SRAM its weights leave, which caps ``T``; a longer prompt is prefilled in chunks of
at most that many tokens.  Activations past the SRAM the KV cache also leaves free
displace KV cache to external memory, which the prefill's edge I/O pays
(:mod:`wafersim.engines.prefill_spill`), so such a block is taken only where it is
faster.

Within the cap the block trades two costs: every block pays each stage's fixed
mesh latency and re-reads the layer's weights from SRAM, so small blocks waste
time per block; in a layer pipeline the first block must walk every layer before
the last leaves, so large blocks fill the pipeline slowly.  The engines evaluate
the pipeline's time at every power of two up to the cap (and the cap itself) and
take the fastest (ties: the larger block, fewer blocks).
"""

from __future__ import annotations

import math
from typing import Callable

from ..mapping.buffers import activation_bytes_per_token
from ..units import format_quantity
from ..workload.model import ModelSpec

__all__ = ["activation_bytes_per_token", "block_limit", "candidate_blocks", "choose_block"]


def block_limit(room_bytes: float, per_token_bytes: float, p_tokens: int) -> int:
    """Most tokens whose activations fit in ``room_bytes`` per core (at least 1, at most
    the prompt tokens of the batch)."""
    if per_token_bytes <= 0:
        return p_tokens
    return int(max(1, min(p_tokens, math.floor(max(room_bytes, 0.0) / per_token_bytes))))


def candidate_blocks(p_tokens: int, limit: int) -> list[int]:
    """Powers of two below ``min(p_tokens, limit)``, and that bound itself."""
    top = max(1, min(p_tokens, limit))
    out = [1 << i for i in range(top.bit_length()) if (1 << i) < top]
    return [*out, top]


def choose_block(pipeline_time: Callable[[int], float], p_tokens: int, limit: int, fixed: int,
                 room_bytes: float) -> tuple[int, list[str]]:
    """(block, notes).  ``fixed`` > 0 is the preset's block (capped by ``limit``); 0 means
    the fastest of :func:`candidate_blocks` by ``pipeline_time(block)``."""
    room = format_quantity(max(room_bytes, 0.0), "bytes")
    if fixed:
        block = min(fixed, p_tokens, limit)
        notes = []
        if block < min(fixed, p_tokens):
            notes.append(f"prefill blocks of {fixed} tokens do not fit the {room} per core left for "
                         f"activations: blocks of {block} tokens")
        return block, notes
    times = [(pipeline_time(b), -b) for b in candidate_blocks(p_tokens, limit)]
    _, neg = min(times)
    block = -neg
    why = (f"the most that fit the {room} per core left for activations" if block == limit < p_tokens
           else "the fastest pipeline")
    notes = [f"prefill in blocks of {block} tokens ({math.ceil(p_tokens / block)} blocks): {why}"]
    if limit < p_tokens:
        notes[0] += (f"; at most {limit} tokens' activations fit beside the weights (chunked prefill; past the "
                     "SRAM the KV cache leaves free they displace it to external memory, charged to edge I/O)")
    return block, notes
