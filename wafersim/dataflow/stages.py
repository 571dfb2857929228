"""The dependent mesh stages of one decoder layer, shared by every wafer engine."""

from __future__ import annotations

import math

from ..workload.model import ModelSpec

# stages whose work is attention over the KV cache (split evenly between them)
ATTENTION_STAGES = ("scores", "weighted_sum")


def stage_shapes(model: ModelSpec, tokens: int) -> list[tuple[str, float, float, float]]:
    """(name, K, N, weights) per stage.

    K is the input width one token broadcasts along rows, N the output width it
    reduces along columns, so one token costs ``2 K N`` FLOPs in a GEMV stage.
    ``weights`` is how many weight elements the stage reads for ``tokens`` tokens
    at once: for a mixture of experts each token runs ``experts_per_token``
    experts (K, N) but the batch reads every expert it touches (weights).
    Attention stages move per-head partial results and read no weights.
    """
    d, q, kv, f = model.hidden_size, model.q_size, model.kv_size, model.ffn_size
    mats_in = 2 if model.mlp == "gated" else 1
    k = model.experts_per_token if model.is_moe else 1
    touched = model.experts_touched(tokens)
    heads = model.num_heads
    return [
        ("qkv", d, q + 2 * kv, d * (q + 2 * kv)),
        ("scores", q, heads, 0.0),        # partial dot products reduced per head
        ("softmax", heads, heads, 0.0),   # max and sum reductions per head
        ("weighted_sum", heads, q, 0.0),  # probability-weighted V summed over the cores holding KV
        ("o", q, d, q * d),
        ("mlp_up", d, mats_in * f * k, d * mats_in * f * touched),
        ("mlp_down", f * k, d, f * d * touched),
    ]


def log2ceil(n: float) -> int:
    """Levels of a binary tree over n cores (0 for one core)."""
    return 0 if n <= 1 else math.ceil(math.log2(n))
