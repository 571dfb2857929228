"""The models served in 2026: parameter counts against their publishers' figures, latent
attention's cache, window layers' caches and attention FLOPs against closed forms."""

from __future__ import annotations

import dataclasses
import math

import pytest

import wafersim
from wafersim.config import ConfigError

B = 1e9

# (preset, published total, published active, whether the active figure counts the input
# embedding, source).  A published figure is rounded to the digits it gives: a count matches
# when it is within 1 % of it or equals it at that precision (rounded or cut).
PUBLISHED = [
    # DeepSeek-V3 README_WEIGHTS.md: 671B total; 36.6B activated "including 0.9B for the output
    # head" (the input embedding is a lookup, not counted)
    ("deepseek-v3", "671", "36.6", False),
    ("deepseek-r1", "671", "36.6", False),       # DeepSeek-R1 model card: the V3 architecture
    # Qwen3 model cards (huggingface.co/Qwen): 235B / 22B, 30.5B / 3.3B, 32.8B
    ("qwen3-235b-a22b", "235", "22", True),
    ("qwen3-30b-a3b", "30.5", "3.3", True),
    ("qwen3-32b", "32.8", "32.8", True),
    # gpt-oss model card (OpenAI, 2025-08), Table 1: 116.83B / 5.13B and 20.91B / 3.61B active
    # "per token", which count the unembedding and not the embedding
    ("gpt-oss-120b", "116.83", "5.13", False),
    ("gpt-oss-20b", "20.91", "3.61", False),
    # Llama 4 model card (Meta, 2025-04): Maverick 400B / 17B; Scout below (its vision encoder)
    ("llama-4-maverick", "400", "17", True),
    # Gemma 3 technical report Table 1: 1,416M embedding + 25,600M non-embedding (the 417M
    # vision encoder is not modelled); dense, so every parameter is active
    ("gemma-3-27b", "27.016", "27.016", True),
]


def _matches(ours: float, published: str) -> bool:
    value = float(published)
    digits = len(published.split(".")[1]) if "." in published else 0
    at_precision = {round(ours, digits), math.floor(ours * 10**digits) / 10**digits}
    return abs(ours - value) <= 0.01 * value or value in at_precision


@pytest.mark.parametrize("name,total,active,with_embedding", PUBLISHED)
def test_parameter_counts_match_the_published_ones(name, total, active, with_embedding):
    m = wafersim.load_model(name)
    ours_active = m.active_param_count - (0 if with_embedding else m.embedding_params)
    assert _matches(m.param_count / B, total), (m.param_count / B, total)
    assert _matches(ours_active / B, active), (ours_active / B, active)


def test_llama_4_scout_counts_without_its_vision_encoder():
    """Meta publishes 109B total / 17B active for Scout, the vision encoder included; the text
    model here is what a text decode step runs: 1.1 % under the total, and the active count
    within the published one's rounding."""
    m = wafersim.load_model("llama-4-scout")
    assert 0.985 < m.param_count / (109 * B) < 1.0
    assert _matches(m.active_param_count / B, "17")
    # and every layer holds 16 routed experts and a shared one of 3 x 5120 x 8192 weights
    assert m.layer_params - m.attention_params - m.norm_params_per_layer - m.router_params == 17 * 3 * 5120 * 8192


def test_bad_totals_are_caught_by_the_rule():
    assert not _matches(680.0, "671") and not _matches(3.5, "3.3") and _matches(3.353, "3.3")


def test_deepseek_v3_latent_cache_is_70272_bytes_per_token():
    m = wafersim.load_model("deepseek-v3")
    assert m.kv_bytes_per_token("bf16") == 61 * (512 + 64) * 2 == 70272
    assert m.kv_cache_heads == 1


def test_mla_absorbed_decode_and_expanded_prefill_flops():
    m = wafersim.load_model("deepseek-v3")
    h = 128
    # decode (absorbed): per key, scores over latent + rotary (576) and a sum of latents (512)
    assert m.attention_flops(1, 1000) == 2 * h * (576 + 512) * 1000
    # prefill (expanded): per key, a 192-wide score and a 128-wide value per head
    p = 100
    assert m.prefill_attention_flops(p) == pytest.approx(2 * h * (192 + 128) * p * (p + 1) / 2)
    # its projections by hand: q down/up, kv down/up, o, the two latent norms
    by_hand = (7168 * 1536 + 1536 + 1536 * h * 192 + 7168 * 576 + 512 + 512 * h * 256 + h * 128 * 7168)
    assert m.attention_params == by_hand


def test_window_layers_keep_at_most_their_window():
    """gpt-oss-120b at 128K: half its layers keep 128 tokens, half all of them,
    KV = 36 / 2 x (128 + 131072) x 2 x 8 x 64 x 2 bytes, against 36 x 131072 x ... with full attention."""
    m = wafersim.load_model("gpt-oss-120b")
    ctx = 131072
    per_token_layer = 2 * 8 * 64 * 2
    held = m.kv_bytes_per_token("bf16", ctx) * ctx
    assert held == pytest.approx(18 * (128 + ctx) * per_token_layer)
    full = dataclasses.replace(m, attention=dataclasses.replace(m.attention, window=0, pattern=""))
    assert full.kv_bytes_per_token("bf16", ctx) * ctx == 36 * ctx * per_token_layer
    assert held < 0.51 * full.kv_bytes_per_token("bf16", ctx) * ctx
    # below the window every layer keeps every token
    assert m.kv_bytes_per_token("bf16", 100) == full.kv_bytes_per_token("bf16", 100)


def test_window_and_chunk_prefill_pairs_are_the_naive_sums():
    gemma = wafersim.load_model("gemma-3-27b")     # window 1024, every sixth layer global
    scout = wafersim.load_model("llama-4-scout")   # chunks of 8192, every fourth layer global
    p = 20000
    for m, keys in ((gemma, lambda i, span: min(i + 1, span)), (scout, lambda i, span: i % span + 1)):
        naive = sum(sum(keys(i, s) for i in range(p)) if s else p * (p + 1) / 2 for s in m.layer_spans)
        per_key = 4 * m.q_size
        assert m.prefill_attention_flops(p) == pytest.approx(per_key * naive / m.num_layers, rel=1e-12)
    assert sum(1 for s in gemma.layer_spans if s == 0) == 62 // 6
    assert scout.layer_spans[:4] == (8192, 8192, 8192, 0)


def test_dense_first_layers_and_interleaved_moe():
    v3 = wafersim.load_model("deepseek-v3")
    assert v3.moe_layers == 58
    mav = wafersim.load_model("llama-4-maverick")
    assert mav.moe_layers == 24 and mav.fixed_mlp_width == (24 * 8192 + 24 * 16384) / 48


@pytest.mark.parametrize("table,message", [
    ({"attention": {"pattern": "LXG", "window": 4}}, "pattern"),
    ({"attention": {"pattern": "LG"}}, "window"),
    ({"attention": {"kind": "mla"}}, "kv_lora_rank"),
    ({"attention": {"window": 8}}, "pattern"),
    ({"moe": {"shared_experts": 1}}, "moe"),
])
def test_bad_attention_and_moe_tables_are_refused(table, message):
    data = {"name": "x", "hidden_size": 64, "num_layers": 4, "num_heads": 4, "num_kv_heads": 2,
            "ffn_size": 128, "vocab_size": 100, **table}
    with pytest.raises(ConfigError, match=message):
        wafersim.config.build(wafersim.workload.model.ModelSpec, data, "m.toml")
