"""Parameter counts, bytes and FLOPs of the workload model, written out from the published
shapes (and variants of them) rather than from the model's own properties."""

from __future__ import annotations

import pytest

import wafersim
from wafersim.config import ConfigError
from wafersim.workload.dtypes import DTYPES, dtype_bytes

# Llama 3.1 8B: gated MLP, RMSNorm x 2, GQA, untied
D, L, H, KVH, HD, F, V = 4096, 32, 32, 8, 128, 14336, 128256
ATTN = D * (H * HD + 2 * KVH * HD) + H * HD * D
LAYER = ATTN + 3 * D * F + 2 * D


def llama(**over):
    return wafersim.load_model("llama-3.1-8b", over or None)


def test_llama_parameters():
    m = llama()
    assert m.attention_params == ATTN == 41_943_040
    assert m.expert_params == 3 * D * F
    assert m.norm_params_per_layer == 2 * D
    assert m.router_params == 0
    assert m.layer_params == LAYER == m.layer_active_params
    assert m.embedding_params == m.lm_head_params == V * D
    assert m.final_norm_params == D
    assert m.param_count == L * LAYER + 2 * V * D + D == 8_030_261_248
    assert m.active_param_count == m.param_count


def test_tied_embeddings_are_counted_once():
    m = llama(tie_embeddings=True)
    assert m.lm_head_params == 0
    assert m.param_count == L * LAYER + V * D + D
    assert m.active_param_count == L * LAYER + V * D + D
    biased = llama(tie_embeddings=True, lm_head_bias=True)
    assert biased.lm_head_params == V
    assert biased.param_count == L * LAYER + V * D + V + D


def test_gpt_j_plain_mlp_layernorm_biases():
    """GPT-J 6B: plain MLP with biases, one LayerNorm per layer, LM head with a bias: 6.05 B."""
    m = wafersim.load_model("gpt-j-6b")
    d, f, v, hd = 4096, 16384, 50400, 256
    assert m.hd == hd and m.q_size == 16 * hd and m.kv_size == 16 * hd
    attn = d * (16 * hd + 2 * 16 * hd) + 16 * hd * d
    mlp = 2 * d * f + f + d
    norm = 2 * d
    assert (m.attention_params, m.expert_params, m.norm_params_per_layer) == (attn, mlp, norm)
    assert m.final_norm_params == 2 * d
    assert m.lm_head_params == v * d + v
    assert m.param_count == 28 * (attn + mlp + norm) + v * d + v * d + v + 2 * d == 6_050_882_784


def test_attention_and_mlp_biases():
    m = llama(qkv_bias=True, out_bias=True, mlp_bias=True)
    q, kv = H * HD, KVH * HD
    assert m.attention_params == ATTN + q + 2 * kv + D
    assert m.expert_params == 3 * D * F + 2 * F + D     # gate and up biases (f each), down bias (d)
    qwen = wafersim.load_model("qwen2-72b")
    d, q, kv = 8192, 64 * 128, 8 * 128
    assert qwen.attention_params == d * (q + 2 * kv) + q * d + q + 2 * kv


def test_head_dim_and_norm_options():
    m = llama(head_dim=64, norms_per_layer=1, norm="layer")
    assert m.hd == 64 and m.q_size == H * 64 and m.kv_size == KVH * 64
    assert m.attention_params == D * (H * 64 + 2 * KVH * 64) + H * 64 * D
    assert m.norm_params_per_layer == 2 * D * 1


def test_mixtral_parameters():
    m = wafersim.load_model("mixtral-8x7b")
    mlp = 3 * D * F
    router = D * 8
    assert m.is_moe and m.router_params == router
    assert m.layer_params == ATTN + 8 * mlp + router + 2 * D
    assert m.layer_active_params == ATTN + 2 * mlp + router + 2 * D
    assert m.param_count == L * (ATTN + 8 * mlp + router + 2 * D) + 2 * 32000 * D + D
    assert m.active_param_count == L * (ATTN + 2 * mlp + router + 2 * D) + 2 * 32000 * D + D
    assert m.layer_matmul_flops_per_token == 2 * (ATTN + 2 * mlp + router + 2 * D)


@pytest.mark.parametrize("dtype,nbytes", [("bf16", 2), ("fp16", 2), ("fp8", 1), ("int8", 1), ("int4", 0.5)])
def test_bytes_per_format(dtype, nbytes):
    m = llama()
    assert dtype_bytes(dtype) == nbytes
    assert m.weight_bytes(dtype) == (L * LAYER + 2 * V * D + D) * nbytes
    assert m.layer_weight_bytes(dtype) == LAYER * nbytes
    assert m.kv_bytes_per_token_layer(dtype) == 2 * KVH * HD * nbytes
    assert m.kv_bytes_per_token(dtype) == L * 2 * KVH * HD * nbytes
    assert m.layer_weight_bytes_read(7, dtype) == LAYER * nbytes


def test_bytes_default_to_the_model_format():
    gptj = wafersim.load_model("gpt-j-6b")          # fp16
    assert gptj.kv_bytes_per_token() == 28 * 2 * 16 * 256 * 2
    assert gptj.weight_bytes() == gptj.param_count * 2
    assert gptj.layer_weight_bytes() == gptj.layer_params * 2
    fp8 = llama(dtype="fp8")
    assert fp8.weight_bytes() == fp8.param_count * 1
    assert fp8.kv_bytes_per_token_layer() == 2 * KVH * HD
    assert fp8.layer_weight_bytes_read(1) == LAYER


def test_unknown_format_is_named():
    assert DTYPES == ("bf16", "fp16", "fp8", "int8", "int4", "nvfp4", "mxfp4", "fp8_b128")
    with pytest.raises(ValueError, match="unknown dtype 'fp4'; expected one of bf16, fp16, fp8, int8, int4, nvfp4"):
        dtype_bytes("fp4")


def test_flops():
    m = llama()
    assert m.layer_matmul_flops_per_token == 2 * LAYER
    assert m.attention_flops(3, 1000) == 4 * H * HD * 3 * 1000
    assert m.attention_flops(2, 10.5) == 4 * H * HD * 2 * 10.5
    # causal prefill: query i (0-based) sees i + 1 keys, 1 + 2 + ... + P = P (P + 1) / 2
    assert m.prefill_attention_flops(5) == 4 * H * HD * 15
    assert m.prefill_attention_flops(1000) == 4 * H * HD * 500_500


@pytest.mark.parametrize("tokens,touched", [(0, 0.0), (-3, 0.0), (1, 2.0), (2, 3.5), (3, 4.625)])
def test_experts_touched(tokens, touched):
    """8 experts, 2 per token, uniform routing: 8 (1 - (3/4)^tokens)."""
    m = wafersim.load_model("mixtral-8x7b")
    assert m.experts_touched(tokens) == pytest.approx(touched, rel=1e-12, abs=0)
    dense = ATTN + D * 8 + 2 * D
    assert m.layer_weight_bytes_read(tokens, "fp8") == pytest.approx(dense + touched * 3 * D * F, rel=1e-12, abs=0)


def test_dense_model_touches_its_one_mlp():
    m = llama()
    assert not m.is_moe
    assert m.experts_touched(0) == m.experts_touched(100) == 1.0


def test_summary():
    s = wafersim.load_model("mixtral-8x7b").summary()
    assert s["experts"] == "2/8" and s["head_dim"] == HD and s["ffn"] == F and s["kv_heads"] == KVH
    s = llama().summary()
    assert s == {"name": "llama-3.1-8b", "params": L * LAYER + 2 * V * D + D, "active_params": L * LAYER + 2 * V * D + D,
                 "layers": L, "hidden": D, "heads": H, "kv_heads": KVH, "head_dim": HD, "ffn": F, "experts": "dense"}


@pytest.mark.parametrize("over,message", [
    ({"num_heads": 3, "num_kv_heads": 1}, "num_heads.*must divide hidden_size"),
    ({"num_kv_heads": 5}, "num_kv_heads.*must divide num_heads"),
    ({"num_experts": 2, "experts_per_token": 3}, "experts_per_token.*<= num_experts"),
    ({"norms_per_layer": 5}, "norms_per_layer.*expected 1 to 4"),
])
def test_shapes_are_checked(over, message):
    with pytest.raises(ConfigError, match=message):
        llama(**over)


def test_explicit_head_dim_lifts_the_divisibility_rule():
    m = llama(num_heads=3, num_kv_heads=1, head_dim=128)
    assert m.hd == 128 and m.q_size == 3 * 128


def test_checks_accept_their_limits():
    assert llama(experts_per_token=1).experts_per_token == 1
    m = llama(num_experts=2, experts_per_token=2, norms_per_layer=2)
    assert m.experts_touched(1) == 2.0
