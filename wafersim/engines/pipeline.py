"""Timing of work pipelined through layer regions (wafer) or stages (GPU)."""

from __future__ import annotations

from typing import Sequence

from ..mapping.buffers import micro_batches  # noqa: F401  (re-exported: the engines import it from here)


def prefill_time(per_block: Sequence[float], n_blocks: int, pipelined: bool, crossings: int,
                 cross_latency_s: float, cross_block_s: float) -> tuple[float, float]:
    """(seconds, of which wafer-to-wafer) to push ``n_blocks`` prompt blocks through regions.

    ``per_block`` is each region's time for one block, in order.  Pipelined: the
    first block walks every region and every wafer boundary once, then a block
    leaves every period, the slowest region or boundary link.  Otherwise every
    region takes all blocks in turn and each boundary carries them all at once.
    ``cross_block_s`` is one block's bytes over one boundary link.
    """
    walk = float(sum(per_block))
    slowest = max(per_block) if len(per_block) else 0.0
    if pipelined:
        link = cross_block_s if crossings else 0.0
        period = max(slowest, link)
        interwafer = crossings * (cross_latency_s + cross_block_s) + (n_blocks - 1) * max(0.0, link - slowest)
        return (n_blocks - 1) * period + walk + crossings * (cross_latency_s + cross_block_s), interwafer
    interwafer = crossings * (cross_latency_s + n_blocks * cross_block_s)
    return n_blocks * walk + interwafer, interwafer


def decode_crossings(wafers: int) -> int:
    """Wafer boundaries one decode pass crosses: each boundary once, then back from the last
    wafer (LM head and embedding) to the first with the next token's embedding."""
    return wafers if wafers > 1 else 0


def micro_batch_note(batch: int, micro: int, size: int, through: str = "the layer pipeline") -> str:
    return f"batch of {batch} runs as {micro} micro-batches of {size} through {through}"


def decode_step_time(walk_s: float, micro_batches: int, busiest_s: float) -> float:
    """A decode step for the whole batch: one micro-batch's walk, but never shorter
    than the busiest region or stage needs for all micro-batches in turn."""
    return max(walk_s, micro_batches * busiest_s)
