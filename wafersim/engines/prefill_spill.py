"""What a wafer prefill moves through edge I/O when its weights or activations do not fit.

Two costs, shared by the wafer engines (``docs/models.md``, "Prefill past the cliff"):

* **Spilled weights.** A prefill block is a GEMM against every layer's weights, the
  spilled part included, so each block needs the spilled weights on chip.  A runtime can
  stream them in again for every block, ``n_blocks x W_s`` bytes, or stream each layer's
  spilled part once and run the whole prompt through it, parking the prompt's activations
  off chip between layers (each layer's input comes in and its output goes out,
  ``2 x layers x prompt tokens x hidden x act_bytes``).  The prefill pays whichever moves
  fewer bytes: ``W_s + min((n_blocks - 1) W_s, 2 L T d a)``.  One block streams the
  spilled weights once, as a decode step does.
* **KV cache displaced by activations.** A block's activations may take SRAM the KV cache
  holds (the block is capped by the SRAM the weights leave, not by what the weights and
  KV cache leave); the KV they displace goes out through edge I/O during the prefill and
  comes back after it, :data:`KV_DISPLACEMENT_TRIPS` crossings, so a block that displaces
  KV is chosen only where that is faster.

The prefill's edge I/O overlaps its on-chip work: the time to first token is the longer
of the two, and where edge I/O is the longer every layer's reported prefill time
stretches by the same factor, so ``prefill_layer_s`` and the time to first token agree.
"""

from __future__ import annotations

from ..workload.model import ModelSpec

__all__ = ["KV_DISPLACEMENT_TRIPS", "offchip_activation_bytes", "weight_stream_bytes", "displaced_kv_bytes",
           "io_stretch"]

#: displaced KV crosses the edge twice: out while the block's activations hold its SRAM, back after
KV_DISPLACEMENT_TRIPS = 2


def offchip_activation_bytes(model: ModelSpec, layers: int, p_tokens: float, act_bytes: float) -> float:
    """Bytes the prompt's activations move when parked off chip between layers: every
    layer's input in and output out, for every prompt token."""
    return 2.0 * layers * p_tokens * model.hidden_size * act_bytes


def weight_stream_bytes(spilled_weight_bytes: float, n_blocks: int, offchip_act_bytes: float) -> float:
    """Bytes a prefill of ``n_blocks`` blocks streams for ``spilled_weight_bytes`` of spilled
    weights: once, plus the cheaper of re-streaming them for every further block and parking
    the activations off chip (``offchip_act_bytes``)."""
    if spilled_weight_bytes <= 0:
        return 0.0
    return spilled_weight_bytes + min((n_blocks - 1) * spilled_weight_bytes, offchip_act_bytes)


def displaced_kv_bytes(activation_bytes_per_core: float, free_bytes_per_core: float, kv_bytes_per_core: float,
                       cores: float) -> float:
    """KV bytes a block's activations (``activation_bytes_per_core``) push off ``cores`` cores
    that have ``free_bytes_per_core`` free and hold ``kv_bytes_per_core`` of KV cache."""
    over = max(activation_bytes_per_core - max(free_bytes_per_core, 0.0), 0.0)
    return cores * min(over, max(kv_bytes_per_core, 0.0))


def io_stretch(onchip_s: float, io_s: float) -> float:
    """How much longer than its on-chip work a prefill takes because of its edge I/O (>= 1)."""
    return io_s / onchip_s if onchip_s > 0 and io_s > onchip_s else 1.0
