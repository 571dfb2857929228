"""Number formats with block scales, per-tensor-group checkpoint formats, and --precision parsing."""

from __future__ import annotations

import pytest

import wafersim
from wafersim.config import ConfigError
from wafersim.workload.dtypes import WeightFormats, dtype_bytes
from wafersim.workload.precision import parse_precision
from wafersim.workload.scenario import Scenario


def test_block_scaled_formats_count_their_scales():
    # closed forms: NVFP4 = 4 bits + one 8-bit scale per 16 = 4.5 bits; MXFP4 = 4 + 8/32 = 4.25 bits;
    # DeepSeek's FP8 = 8 bits + one FP32 scale per 128 x 128 block
    assert dtype_bytes("nvfp4") * 8 == 4.5
    assert dtype_bytes("mxfp4") * 8 == 4.25
    assert dtype_bytes("fp8_b128") * 8 == 8 + 32 / (128 * 128)
    assert (dtype_bytes("bf16"), dtype_bytes("fp8"), dtype_bytes("int4")) == (2.0, 1.0, 0.5)


def test_a_uniform_format_is_the_old_product():
    m = wafersim.load_model("llama-3.1-8b")
    for fmt in ("nvfp4", "mxfp4", "fp8"):
        assert m.weight_bytes(fmt) == m.param_count * dtype_bytes(fmt)
        assert m.layer_weight_bytes(WeightFormats(fmt)) == m.layer_params * dtype_bytes(fmt)


def test_gpt_oss_experts_in_mxfp4_the_rest_in_bf16():
    m = wafersim.load_model("gpt-oss-120b")
    f = m.weight_formats()
    assert (f.of("experts"), f.of("attention"), f.of("embedding")) == ("mxfp4", "bf16", "bf16")
    experts = m.moe_layers * m.num_experts * m.expert_params
    rest = m.param_count - experts
    assert m.weight_bytes() == pytest.approx(experts * 4.25 / 8 + rest * 2, rel=1e-12)
    # published checkpoint: ~65 GB (the experts' 4.25 bits a parameter dominate)
    assert 60e9 < m.weight_bytes() < 70e9
    # --dtype puts every group in one format: the old product
    assert m.weight_bytes("bf16") == m.param_count * 2


def test_deepseek_fp8_blocks_leave_embedding_and_norms_in_bf16():
    m = wafersim.load_model("deepseek-v3")
    f = m.weight_formats()
    assert {f.of(g) for g in ("attention", "mlp", "experts")} == {"fp8_b128"} and f.of("embedding") == "bf16"
    head = (m.embedding_params + m.lm_head_params) * 2 + m.final_norm_params * 2
    norms_routers = m.num_layers * m.norm_params_per_layer + m.moe_layers * m.hidden_size * m.num_experts
    linear = m.param_count - m.embedding_params - m.lm_head_params - m.final_norm_params - norms_routers
    assert m.weight_bytes() == pytest.approx(head + norms_routers * 2 + linear * dtype_bytes("fp8_b128"), rel=1e-9)
    assert wafersim.load_model("deepseek-r1").weight_formats() == f


def test_bytes_read_per_token_follow_the_groups():
    m = wafersim.load_model("gpt-oss-20b")
    f = m.weight_formats()
    one = m.layer_weight_bytes_read(1, f)
    routed = m.routed_params_read(1)
    dense = m.layer_params - m.routed_params_per_layer
    expected = (m.attention_params * 2 + (m.norm_params_per_layer + m.router_params) * 2
                + m._fixed_mlp_params_total / m.num_layers * 2 + routed * 4.25 / 8)
    assert one == pytest.approx(expected, rel=1e-12) and dense > 0


def test_scenario_keeps_the_checkpoint_groups_unless_dtype_is_given():
    m = wafersim.load_model("gpt-oss-20b")
    assert Scenario().resolved(m).weights.of("experts") == "mxfp4"
    assert Scenario(dtype="fp8").resolved(m).weights.of("experts") == "fp8"
    with pytest.raises(ConfigError, match="weight_groups"):
        Scenario(weight_groups=(("nope", "bf16"),))


def test_precision_names_and_triples():
    assert parse_precision("fp8") == {"dtype": "fp8", "compute_dtype": "fp8", "kv_dtype": "fp8"}
    assert parse_precision("fp4") == parse_precision("nvfp4") == {"dtype": "nvfp4", "compute_dtype": "nvfp4",
                                                                   "kv_dtype": "fp8"}
    assert parse_precision("mxfp4/bf16/bf16") == {"dtype": "mxfp4", "compute_dtype": "bf16", "kv_dtype": "bf16"}
    for bad in ("fp3", "fp8/fp8", "int4/int4/bf16"):
        with pytest.raises(ValueError):
            parse_precision(bad)
