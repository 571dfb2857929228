"""FP8 and FP4 tensor peaks per preset, refusals, unpack costs."""

from __future__ import annotations

import pytest

import wafersim
from wafersim.config import ConfigError
from wafersim.hardware.precision import check_precision
from wafersim.workload.scenario import Scenario

T = 1e12


@pytest.mark.parametrize("name, bf16, fp8, fp4", [
    ("dgx-h100", 989, 1979, 0), ("hgx-h200", 989, 1979, 0), ("dgx-a100", 312, 0, 0),
    ("dgx-b200", 2250, 4500, 9000), ("gb200-nvl72", 2500, 5000, 10000)])
def test_dense_peaks_from_the_datasheets(name, bf16, fp8, fp4):
    gpu = wafersim.load_system(name).gpu
    assert (gpu.bf16_flops_per_s, gpu.fp8_flops_per_s, gpu.fp4_flops_per_s) == (bf16 * T, fp8 * T, fp4 * T)
    # FP8 = 2 x BF16 on Hopper and Blackwell, FP4 = 4 x BF16 on Blackwell
    if fp8:
        assert gpu.flops_per_s("fp8") == pytest.approx(2 * gpu.flops_per_s("bf16"), rel=0.001)
    if fp4:
        assert gpu.flops_per_s("nvfp4") == gpu.flops_per_s("mxfp4") == 4 * gpu.flops_per_s("bf16")
    else:       # no FP4 tensor cores: FP4 weights unpacked to the 16-bit rate
        assert gpu.flops_per_s("nvfp4") == gpu.bf16_flops_per_s
    # weights stored narrower than the compute format run at the compute format's rate
    assert gpu.flops_per_s("nvfp4", "bf16") == gpu.bf16_flops_per_s


def _resolved(model, **kw):
    return Scenario(**kw).resolved(wafersim.load_model(model))


@pytest.mark.parametrize("system, compute, words", [
    ("dgx-h100", "nvfp4", "H100 has no FP4 tensor cores"), ("dgx-a100", "fp8", "A100 has no FP8 tensor cores"),
    ("wse3", "fp8", "wse3 has no FP8 arithmetic")])
def test_a_compute_format_without_hardware_is_refused(system, compute, words):
    s = wafersim.load_system(system)
    with pytest.raises(ConfigError, match=words):
        check_precision(s, _resolved("llama-3.1-8b", dtype=compute, compute_dtype=compute))
    check_precision(s, _resolved("llama-3.1-8b", dtype=compute, compute_dtype="bf16"))   # storage only: runs


def test_weights_wider_than_the_compute_format_are_refused():
    with pytest.raises(ConfigError, match="wider"):
        check_precision(wafersim.load_system("dgx-h100"), _resolved("llama-3.1-8b", dtype="bf16", compute_dtype="fp8"))


def test_wafer_unpack_cost_closed_form():
    core = wafersim.load_system("wse3").core
    r, u = core.flops_per_cycle_16bit, core.unpack_rate
    assert u == r / 2
    assert core.flops_per_cycle("bf16") == r
    # each weight element: 2 FLOPs at r per cycle, one unpack at u per cycle
    for fmt in ("fp8", "int4", "mxfp4", "nvfp4"):
        assert core.flops_per_cycle(fmt) == pytest.approx(2 / (2 / r + 1 / u))


def test_fp4_runs_faster_than_fp8_on_blackwell_compute_bound_prefill():
    kw = dict(gpus=8, batch=8, prompt_tokens=4096, output_tokens=8)
    fp8 = wafersim.simulate("dgx-b200", "llama-3.1-70b", dtype="fp8", compute_dtype="fp8", **kw).summary
    fp4 = wafersim.simulate("dgx-b200", "llama-3.1-70b", dtype="nvfp4", compute_dtype="nvfp4", kv_dtype="fp8",
                            **kw).summary
    assert fp4["ttft_s"] < fp8["ttft_s"]
    assert fp4["weight_bytes"] == pytest.approx(fp8["weight_bytes"] * 4.5 / 8, rel=1e-12)
    assert fp4["precision"] == "weights nvfp4, compute nvfp4, KV fp8"


def test_unpacked_weights_are_noted_with_their_cost():
    r = wafersim.simulate("dgx-h100", "gpt-oss-20b")
    assert r.summary["precision"] == "weights bf16 (experts mxfp4), compute bf16, KV bf16"
    assert any("stored in mxfp4 are unpacked to bf16" in n for n in r.notes)
