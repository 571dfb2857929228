"""Property tests: more of a resource never makes a run slower, more SRAM never spills more."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import wafersim

WAFER_RESOURCES = {
    "mesh.link_bytes_per_cycle": 4.0,
    "core.sram_read_bytes_per_cycle": 16.0,
    "core.flops_per_cycle_16bit": 16.0,
    "external_memory.io_bandwidth_bytes_per_s": 150e9,
    "scribe.link_bytes_per_cycle": 4.0,
    "interwafer.bandwidth_bytes_per_s": 150e9,
}
GPU_RESOURCES = {
    "gpu.hbm_bandwidth_bytes_per_s": 3.35e12,
    "gpu.bf16_flops_per_s": 989e12,
    "interconnect.nvlink_bandwidth_bytes_per_s": 450e9,
    "interconnect.pcie_bandwidth_bytes_per_s": 63e9,
}
SCENARIOS = st.fixed_dictionaries({
    "batch": st.sampled_from([1, 3, 16]),
    "prompt_tokens": st.sampled_from([64, 1024, 8192]),
    "output_tokens": st.sampled_from([1, 64]),
})
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(key=st.sampled_from(sorted(WAFER_RESOURCES)), factor=st.floats(1.0, 8.0), scenario=SCENARIOS,
       fidelity=st.sampled_from(["analytic", "flow"]))
def test_wafer_more_resource_never_slower(key, factor, scenario, fidelity):
    base = wafersim.load_system("mini-wafer")
    better = wafersim.load_system("mini-wafer", {key: WAFER_RESOURCES[key] * factor})
    kw = dict(scenario, layers=2, wafers=2, fidelity=fidelity)
    a = wafersim.simulate(base, "llama-3.1-8b", **kw).summary
    b = wafersim.simulate(better, "llama-3.1-8b", **kw).summary
    assert b["tpot_s"] <= a["tpot_s"] * (1 + 1e-9)
    assert b["ttft_s"] <= a["ttft_s"] * (1 + 1e-9)


@FAST
@given(kib=st.integers(16, 96), scenario=SCENARIOS, fidelity=st.sampled_from(["analytic", "flow"]))
def test_more_sram_never_spills_more(kib, scenario, fidelity):
    kw = dict(scenario, layers=2, fidelity=fidelity)
    small = wafersim.simulate(wafersim.load_system("mini-wafer", {"core.sram_bytes": f"{kib} KiB"}), "llama-3.1-8b", **kw)
    large = wafersim.simulate(wafersim.load_system("mini-wafer", {"core.sram_bytes": f"{kib + 16} KiB"}), "llama-3.1-8b", **kw)
    assert large.summary["spilled_bytes"] <= small.summary["spilled_bytes"]


@FAST
@given(key=st.sampled_from(sorted(GPU_RESOURCES)), factor=st.floats(1.0, 8.0), scenario=SCENARIOS,
       tp=st.sampled_from([1, 2, 8]))
def test_gpu_more_resource_never_slower(key, factor, scenario, tp):
    base = wafersim.load_system("dgx-h100")
    better = wafersim.load_system("dgx-h100", {key: GPU_RESOURCES[key] * factor})
    a = wafersim.simulate(base, "llama-3.1-8b", tp=tp, **scenario).summary
    b = wafersim.simulate(better, "llama-3.1-8b", tp=tp, **scenario).summary
    assert b["tpot_s"] <= a["tpot_s"] * (1 + 1e-9)
    assert b["ttft_s"] <= a["ttft_s"] * (1 + 1e-9)


BATCHES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)


def _never_faster_per_user(system, model, **kw):
    """Per-user speed and time to first token over growing batches on one fixed deployment."""
    runs = [wafersim.simulate(system, model, batch=b, prompt_tokens=2048, output_tokens=256, **kw).summary
            for b in BATCHES]
    for b, prev, cur in zip(BATCHES[1:], runs, runs[1:]):
        assert cur["tokens_per_s_per_user"] <= prev["tokens_per_s_per_user"], f"batch {b}: faster per user"
        assert cur["ttft_s"] >= prev["ttft_s"], f"batch {b}: first token sooner"
    return runs


@pytest.mark.parametrize("fidelity", ["analytic", "flow"])
@pytest.mark.parametrize("model,wafers", [("llama-3.1-8b", 1), ("llama-3.1-70b", 4)])
def test_wafer_per_user_speed_never_rises_with_the_batch(fidelity, model, wafers):
    """A larger batch on the same wafers never decodes faster per user (the layout once gave the
    layers more cores as the KV cache grew: the head's band was sized by its share of all bytes)
    and never reaches its first token sooner (a block's activations that displace KV are charged)."""
    runs = _never_faster_per_user("wse3", model, wafers=wafers, fidelity=fidelity)
    assert runs[-1]["spilled_bytes"] > 0 == runs[0]["spilled_bytes"]      # the range crosses the cliff


@pytest.mark.parametrize("kw", [{"tp": 8}, {"tp": 4, "pp": 2}])
def test_gpu_per_user_speed_never_rises_with_the_batch(kw):
    _never_faster_per_user("dgx-h100", "llama-3.1-70b", **kw)
