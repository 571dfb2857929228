"""The scenario: context lengths, defaults resolved against a model, validation, and the
wafer mapping options' ROWSxCOLS blocks."""

from __future__ import annotations

import pytest

import wafersim
from wafersim import ConfigError, MappingOptions, Scenario


def test_contexts():
    s = Scenario(prompt_tokens=1000, output_tokens=9)
    assert s.max_context == 1009
    assert s.mean_decode_context == 1000 + 5.0       # steps see 1001 ... 1009 keys
    assert Scenario(prompt_tokens=10, output_tokens=2).mean_decode_context == 11.5
    assert Scenario(act_dtype="fp8").act_bytes == 1.0 and Scenario().act_bytes == 2.0


def test_defaults():
    s = Scenario()
    assert (s.batch, s.prompt_tokens, s.output_tokens, s.wafers, s.tp, s.pp, s.ep) == (1, 2048, 128, 1, 1, 1, 1)
    assert (s.dtype, s.kv_dtype, s.act_dtype, s.layers, s.fidelity) == (None, None, "bf16", None, "analytic")
    assert s.as_dict()["prompt_tokens"] == 2048 and len(s.as_dict()) == 20 and s.gpus is None
    assert (s.speculative, s.acceptance, s.draft, s.query_tokens, s.request_rate) == (0, None, None, 1, 0.0)


def test_resolved_fills_the_model_defaults():
    m = wafersim.load_model("gpt-j-6b")               # fp16, 28 layers, 2048-token context
    r = Scenario(prompt_tokens=1000, output_tokens=48).resolved(m)
    assert (r.dtype, r.kv_dtype, r.layers) == ("fp16", "fp16", 28)
    r = Scenario(prompt_tokens=1000, dtype="fp8", layers=28).resolved(m)
    assert (r.dtype, r.kv_dtype, r.layers) == ("fp8", "fp8", 28)
    r = Scenario(prompt_tokens=1000, dtype="fp8", kv_dtype="bf16", layers=3).resolved(m)
    assert (r.dtype, r.kv_dtype, r.layers) == ("fp8", "bf16", 3)
    assert Scenario(prompt_tokens=2000, output_tokens=48).resolved(m).max_context == 2048
    with pytest.raises(ConfigError, match="2049-token|2049 tokens exceeds the 2048-token context of gpt-j-6b"):
        Scenario(prompt_tokens=2000, output_tokens=49).resolved(m)
    with pytest.raises(ConfigError, match="the model has 28 decoder layers; got 29"):
        Scenario(prompt_tokens=100, layers=29).resolved(m)


@pytest.mark.parametrize("kw,message", [
    ({"batch": 0}, "batch.*positive integer or 'max'"),
    ({"batch": "auto"}, "batch"),
    ({"batch": True}, "batch"),
    ({"batch": 2.0}, "batch"),
    ({"wafers": "max"}, "wafers.*or 'auto'"),
    ({"tp": 0}, "tp.*or 'auto'"),
    ({"prompt_tokens": 0}, "prompt_tokens.*positive integer; got 0"),
    ({"output_tokens": -1}, "output_tokens"),
    ({"pp": 0}, "pp"),
    ({"layers": 0}, "layers"),
    ({"dtype": "fp4"}, "dtype.*expected one of bf16"),
    ({"kv_dtype": "fp4"}, "kv_dtype"),
    ({"act_dtype": "fp4"}, "act_dtype"),
    ({"fidelity": ""}, "fidelity.*engine name"),
    ({"fidelity": 3}, "fidelity.*engine name"),
])
def test_rejected(kw, message):
    with pytest.raises(ConfigError, match=message):
        Scenario(**kw)


def test_accepted_limits():
    s = Scenario(batch="max", wafers="auto", tp="auto", prompt_tokens=1, output_tokens=1, pp=1, ep=1, layers=1,
                 fidelity="flow")
    assert s.max_context == 2 and s.mean_decode_context == 2.0


@pytest.mark.parametrize("cores,block", [("", (0, 0)), ("all", (0, 0)), ("420x420", (420, 420)),
                                         ("16X4", (16, 4)), ("1x1", (1, 1))])
def test_mapping_blocks(cores, block):
    assert MappingOptions(cores=cores).block == block
    assert MappingOptions(region=cores).region_cap == block


@pytest.mark.parametrize("value", ["420", "ax4", "4x4x4"])
def test_mapping_blocks_rejected(value):
    with pytest.raises(ConfigError, match=f"cores.*such as '420x420'; got '{value}'"):
        MappingOptions(cores=value).check()
    with pytest.raises(ConfigError, match=f"region.*such as '128x128'; got '{value}'"):
        MappingOptions(region=value).check()
    with pytest.raises(ConfigError):
        MappingOptions(cores=value).block


@pytest.mark.parametrize("value", ["0x4", "4x0", "-1x4"])
def test_mapping_blocks_must_be_positive(value):
    with pytest.raises(ConfigError, match=f"cores.*ROWSxCOLS.*; got '{value}'"):
        MappingOptions(cores=value).check()
    with pytest.raises(ConfigError, match=f"region.*ROWSxCOLS.*; got '{value}'"):
        MappingOptions(region=value).check()


def test_mapping_defaults():
    m = MappingOptions()
    m.check()
    assert (m.placement, m.cores, m.region, m.block, m.region_cap) == ("pipelined", "", "", (0, 0), (0, 0))
