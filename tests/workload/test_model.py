"""Workload model against hand-computed truths."""

import math

import pytest

import wafersim


def test_flops_per_token_is_twice_the_active_weights():
    m = wafersim.load_model("llama-3.1-8b")
    d, f, kv = 4096, 14336, 8 * 128
    by_hand = d * d + 2 * d * kv + d * d + 3 * d * f + 2 * d   # projections, MLP, two RMSNorms
    assert m.layer_params == by_hand
    assert m.layer_matmul_flops_per_token == 2 * by_hand


def test_attention_flops_grow_linearly_with_context():
    m = wafersim.load_model("llama-3.1-8b")
    assert m.attention_flops(1, 2000) == 2 * m.attention_flops(1, 1000)
    assert m.attention_flops(1, 1000) == 4 * 4096 * 1000


def test_prefill_attention_is_the_causal_sum():
    m = wafersim.load_model("llama-2-7b")
    prompt = 37
    naive = sum(m.attention_flops(1, i + 1) for i in range(prompt))
    assert math.isclose(m.prefill_attention_flops(prompt), naive, rel_tol=1e-12)


def test_moe_experts_touched():
    m = wafersim.load_model("mixtral-8x7b")
    assert m.experts_touched(1) == pytest.approx(2.0)
    assert m.experts_touched(1000) == pytest.approx(8.0)
    assert 2.0 < m.experts_touched(4) < 8.0
    # one token reads the attention, the router, the norms and two experts
    active = m.attention_params + m.router_params + m.norm_params_per_layer + 2 * m.expert_params
    assert m.layer_weight_bytes_read(1, "bf16") == pytest.approx(2 * active)


@pytest.mark.parametrize("dtype,bytes_", [("bf16", 2), ("fp8", 1), ("int4", 0.5)])
def test_weight_bytes_per_dtype(dtype, bytes_):
    m = wafersim.load_model("llama-3.1-70b")
    assert m.weight_bytes(dtype) == m.param_count * bytes_


def test_gqa_kv_bytes_by_hand():
    m = wafersim.load_model("llama-3.1-70b")
    assert m.kv_bytes_per_token("bf16") == 2 * 80 * 8 * 128 * 2
    assert m.kv_bytes_per_token("fp8") == 2 * 80 * 8 * 128
