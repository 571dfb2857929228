"""The prefill token block on wafers: capped by the SRAM left for activations, chosen for the fastest pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

import wafersim
from wafersim.engines.prefill_blocks import activation_bytes_per_token, block_limit, candidate_blocks, choose_block

DATA = Path(__file__).resolve().parent.parent / "data"
TINY = str(DATA / "tiny-llama.toml")


def test_candidates_are_powers_of_two_and_the_cap():
    assert candidate_blocks(100, 55) == [1, 2, 4, 8, 16, 32, 55]
    assert candidate_blocks(8, 100) == [1, 2, 4, 8]
    assert candidate_blocks(1, 1) == [1]
    assert candidate_blocks(3, 0) == [1]


def test_block_limit_by_hand():
    assert block_limit(447.5, 40.0, 4096) == 11          # floor(447.5 / 40)
    assert block_limit(447.5, 40.0, 5) == 5              # never more than the prompt
    assert block_limit(0.0, 40.0, 4096) == 1             # always at least one token
    assert block_limit(-5.0, 40.0, 4096) == 1


def test_activation_bytes_by_hand():
    # tiny-llama: widest stage is MLP up, K = 256 inputs, N = 2 x 512 outputs: 256/64 + 1024/64 = 20 values
    m = wafersim.load_model(TINY)
    assert activation_bytes_per_token(m, 64, 64, 2.0) == 40.0
    # a 32 x 128 region: the worse orientation, 256/32 + 1024/128 = 16 vs 256/128 + 1024/32 = 34 values
    assert activation_bytes_per_token(m, 32, 128, 2.0) == 68.0


def test_choose_block_takes_the_fastest_candidate():
    calls = []

    def cost(b):
        calls.append(b)
        return (b - 20) ** 2                       # fastest at 20, not a candidate: 16 (16) beats 32 (144)
    block, notes = choose_block(cost, 4096, 55, 0, 1000.0)
    assert block == 16 and sorted(calls) == [1, 2, 4, 8, 16, 32, 55]
    assert "blocks of 16 tokens (256 blocks)" in notes[0] and "chunked prefill" in notes[0]
    # a tie goes to the larger block (fewer blocks)
    assert choose_block(lambda b: 1.0, 64, 64, 0, 1000.0)[0] == 64
    # a preset block is kept when it fits, capped (and said) when it does not
    assert choose_block(cost, 4096, 55, 128, 1000.0) == (55, [
        "prefill blocks of 128 tokens do not fit the 1 kB per core left for activations: blocks of 55 tokens"])
    assert choose_block(cost, 4096, 55, 8, 1000.0) == (8, [])


def _ttft(system, **kw):
    return wafersim.simulate(system, "llama-3.1-8b", prompt_tokens=2048, output_tokens=16, **kw).summary


def test_chosen_block_is_as_fast_as_any_fixed_block():
    """Brute force over every block up to the cap: the powers of two and the cap the engine
    tries come within 2 % of the best, and beat the old fixed 128."""
    auto = _ttft("wse3")
    fixed128 = _ttft(wafersim.load_system("wse3", {"calibration.prefill_block_tokens": 128}))
    limit = fixed128["prefill_block_tokens"]                    # 128 capped by the SRAM left
    assert 32 < limit < 128
    best = min(_ttft(wafersim.load_system("wse3", {"calibration.prefill_block_tokens": b}))["ttft_s"]
               for b in range(1, limit + 1))
    assert best <= auto["ttft_s"] <= 1.02 * best
    assert auto["ttft_s"] <= fixed128["ttft_s"]


def test_block_activations_fit_the_sram_left():
    w = wafersim.load_system("wse3")
    m = wafersim.load_model("llama-3.1-8b")
    r = wafersim.simulate(w, m, prompt_tokens=2048, output_tokens=128)
    rows, cols = w.mesh.program_shape                               # the block a run uses
    cores = rows * cols
    held = r.summary["weight_bytes"] + r.summary["kv_bytes"]
    room = (r.summary["sram_capacity_bytes"] - held) / cores      # what code, routing and the decode tile leave
    mean_region = cores / 33                                       # 32 layers and the head band
    per_token = activation_bytes_per_token(m, mean_region ** 0.5, mean_region ** 0.5, 2.0)
    assert r.summary["prefill_block_tokens"] * per_token <= room * 1.05
    assert any("at most 63 tokens' activations fit" in n for n in r.notes)     # 56 with 4 KiB of program a core


@pytest.mark.parametrize("fidelity", ["analytic", "flow"])
def test_a_larger_core_block_prefills_a_layer_faster(fidelity):
    """WaferLLM's trend: one layer spread over more cores prefills faster (more arithmetic in
    parallel, shorter slices per link, and room for larger token blocks), while its decode
    step gets slower (longer reductions) once the block is large."""
    sides = (240, 420, 600) if fidelity == "analytic" else (128, 240)
    runs = [wafersim.simulate("wse2", "llama-3.1-8b", layers=1, prompt_tokens=4096, output_tokens=16,
                              fidelity=fidelity, mapping={"placement": "sequential", "cores": f"{n}x{n}"}).summary
            for n in sides]
    prefill = [r["prefill_layer_s"] for r in runs]
    blocks = [r["prefill_block_tokens"] for r in runs]
    assert prefill == sorted(prefill, reverse=True) and prefill[0] > 1.5 * prefill[-1]
    assert blocks == sorted(blocks)
    if fidelity == "analytic":                  # past ~240 x 240 cores the reductions' hops dominate decode
        decode = [r["decode_layer_s"] for r in runs]
        assert decode == sorted(decode)


def test_flow_scaled_pass_equals_routing_the_chosen_block():
    """The flow engine routes one probe block and scales its core work and link times to the
    others; for the chosen block that equals routing it (a dense model)."""
    auto = wafersim.load_system("mini-wafer", {"calibration.prefill_block_tokens": 0})
    r = wafersim.simulate(auto, "llama-3.1-8b", layers=2, prompt_tokens=512, output_tokens=8, fidelity="flow")
    block = r.summary["prefill_block_tokens"]
    fixed = wafersim.load_system("mini-wafer", {"calibration.prefill_block_tokens": block})
    f = wafersim.simulate(fixed, "llama-3.1-8b", layers=2, prompt_tokens=512, output_tokens=8, fidelity="flow")
    assert f.summary["prefill_block_tokens"] == block
    assert r.summary["ttft_s"] == pytest.approx(f.summary["ttft_s"], rel=1e-9)
    for key, value in f.prefill.components.items():
        assert r.prefill.components[key] == pytest.approx(value, rel=1e-9, abs=1e-18), key
