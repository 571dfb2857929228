"""The dependent mesh stages of one decoder layer, shared by every wafer engine."""

from __future__ import annotations

from ..workload.model import ModelSpec

# stages whose work is attention over the KV cache (split evenly between them)
ATTENTION_STAGES = ("scores", "weighted_sum")


def stage_shapes(model: ModelSpec, tokens: int) -> list[tuple[str, float, float]]:
    """(name, K, N) per stage: the input width broadcast along rows and the output
    width reduced along columns.  GEMV stages move and multiply a K x N matrix;
    attention stages move per-head partial results.
    """
    d, q, kv, f = model.hidden_size, model.q_size, model.kv_size, model.ffn_size
    up = (2 if model.mlp == "gated" else 1) * f * model.experts_touched(tokens)
    heads = model.num_heads
    return [
        ("qkv", d, q + 2 * kv),
        ("scores", q, heads),        # partial dot products reduced per head
        ("softmax", heads, heads),   # max and sum reductions per head
        ("weighted_sum", heads, q),  # probability-weighted V summed over the cores holding KV
        ("o", q, d),
        ("mlp_up", d, up),
        ("mlp_down", f * model.experts_touched(tokens), d),
    ]


def is_gemv(name: str) -> bool:
    return name in ("qkv", "o", "mlp_up", "mlp_down")
