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
    d = model.hidden_size
    mats_in = 2 if model.mlp == "gated" else 1
    heads = model.num_heads
    a = model.attention
    # MLA decodes weight-absorbed: a head's query meets the cached latent and rotary key, and the
    # weighted sum runs over latents (its expansion to values is part of the projections)
    score_k = heads * (a.kv_lora_rank + a.qk_rope_head_dim) if model.is_mla else model.q_size
    summed = heads * a.kv_lora_rank if model.is_mla else model.q_size
    qkv_n = model.attention_in_width
    v = model.value_size
    # the MLP: what every token runs (dense layers, shared experts) and its routed experts, the
    # busiest expert's region taking its load (routing skew); means over the layers
    frac = model.moe_layer_fraction
    slow = model.routing_slowdown(tokens)
    inner = model.fixed_mlp_width + frac * model.experts_per_token * model.ffn_size * slow
    fixed_w = model.fixed_mlp_width * d * (mats_in + 1)
    routed_w = model.routed_params_read(tokens) / model.expert_params * model.ffn_size * d if model.is_moe else 0.0
    return [
        ("attn_norm", 1.0, 1.0, 0.0),     # the norm's sum of squares: one value per token reduced, its scale sent back
        ("qkv", d, qkv_n, d * qkv_n),
        ("scores", score_k, heads, 0.0),  # partial dot products reduced per head
        ("softmax_max", heads, heads, 0.0),  # the running maximum per head, reduced over the cores holding KV
        ("softmax_sum", heads, heads, 0.0),  # then the sum of exponentials per head, a second reduction
        ("weighted_sum", heads, summed, 0.0),  # probability-weighted V summed over the cores holding KV
        ("o", v, d, v * d),
        ("mlp_norm", 1.0, 1.0, 0.0),      # the second norm, as the first
        ("mlp_up", d, mats_in * inner, fixed_w * mats_in / (mats_in + 1) + routed_w * mats_in),
        ("mlp_down", inner, d, fixed_w / (mats_in + 1) + routed_w),
    ]
