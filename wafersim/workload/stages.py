"""The matrix shapes of one decoder layer's dependent stages: what every wafer engine
lowers, and what sizes the activations a core keeps."""

from __future__ import annotations

from .model import ModelSpec


def stage_shapes(model: ModelSpec, tokens: int) -> list[tuple[str, float, float, float]]:
    """(name, K, N, weights) per stage.

    K is the input width one token broadcasts along rows, N the output width it
    reduces along columns, so one token costs ``2 K N`` FLOPs in a GEMV stage.
    ``weights`` is how many weight elements the stage reads for ``tokens`` tokens
    at once: for a mixture of experts each token runs ``experts_per_token``
    experts (K, N) but the batch reads every expert it touches (weights).
    Attention stages move per-head partial results and read no weights.  The
    reductions the kernels run besides the GEMVs are stages of their own: each
    norm's sum of squares (one value per token reduced, and the scale it gives
    multicast back; the norm's input is already in place) and the softmax's
    maximum and sum (two dependent reductions per head): the ten all-reduces
    WaferLLM's decode kernel runs per layer (Decode/WSE-2/src/decode.csl).
    """
    d, q, kv, f = model.hidden_size, model.q_size, model.kv_size, model.ffn_size
    mats_in = 2 if model.mlp == "gated" else 1
    k = model.experts_per_token if model.is_moe else 1
    touched = model.experts_touched(tokens)
    heads = model.num_heads
    return [
        ("attn_norm", 1.0, 1.0, 0.0),     # the norm's sum of squares: one value per token reduced, its scale sent back
        ("qkv", d, q + 2 * kv, d * (q + 2 * kv)),
        ("scores", q, heads, 0.0),        # partial dot products reduced per head
        ("softmax_max", heads, heads, 0.0),  # the running maximum per head, reduced over the cores holding KV
        ("softmax_sum", heads, heads, 0.0),  # then the sum of exponentials per head, a second reduction
        ("weighted_sum", heads, q, 0.0),  # probability-weighted V summed over the cores holding KV
        ("o", q, d, q * d),
        ("mlp_norm", 1.0, 1.0, 0.0),      # the second norm, as the first
        ("mlp_up", d, mats_in * f * k, d * mats_in * f * touched),
        ("mlp_down", f * k, d, f * d * touched),
    ]
