"""The core datapath (engines/core_datapath.py): SIMD lanes against SRAM ports, worked by hand
from the presets' numbers, and what it makes of a speculative verify pass on a real model."""

from __future__ import annotations

import dataclasses

import pytest

import wafersim
from wafersim.engines.core_datapath import core_cycles, register_tokens


def _core(name):
    return wafersim.load_system(name).core


def test_wse3_gemv_is_port_bound_at_half_its_lanes():
    # 8 FP16 lanes, 2 x 64-bit reads and 1 x 64-bit write: a GEMV's lane-FMAC reads a weight and a
    # partial sum (4 B) and writes the partial sum (2 B): 16 B / 4 B = 4 FMACs a cycle
    port, lane = core_cycles(_core("wse3"), "bf16", 1000.0, 2000.0, 1.0, 2.0)
    assert (port, lane) == (pytest.approx(1000 / 4), pytest.approx(1000 / 8))


def test_wse3_token_block_is_lane_bound():
    # 5 tokens per weight read (a K = 4 verify pass): reads 2000 B of weights once and one 2-byte
    # activation scalar per 8 lane-FMACs: (2000 + 5000 x 2 / 8) / 16 cycles, under the lanes' 5000 / 8
    port, lane = core_cycles(_core("wse3"), "bf16", 5000.0, 2000.0, 5.0, 2.0)
    assert port == pytest.approx((2000 + 5000 * 2 / 8) / 16)
    assert lane == pytest.approx(5000 / 8) and lane > port


def test_wse2_gemv_and_block_both_run_at_four_lanes():
    core = _core("wse2")
    assert max(core_cycles(core, "bf16", 1000.0, 2000.0, 1.0, 2.0)) == pytest.approx(1000 / 4)
    assert max(core_cycles(core, "bf16", 5000.0, 2000.0, 5.0, 2.0)) == pytest.approx(5000 / 4)


def test_more_tokens_than_the_registers_hold_take_more_passes():
    core = _core("wse3")
    assert register_tokens(core, "bf16", 2.0) == 16            # 256 B / (8 lanes x 2 B)
    p16, _ = core_cycles(core, "bf16", 16 * 100.0, 200.0, 16.0, 2.0)
    p17, _ = core_cycles(core, "bf16", 17 * 100.0, 200.0, 17.0, 2.0)
    assert p16 == pytest.approx((200 + 1600 * 2 / 8) / 16)
    assert p17 == pytest.approx((2 * 200 + 1700 * 2 / 8) / 16)


def test_no_accumulators_means_every_stage_is_a_gemv():
    core = dataclasses.replace(_core("wse3"), accumulator_bytes=0.0)
    port, lane = core_cycles(core, "bf16", 5000.0, 2000.0, 5.0, 2.0)
    assert port == pytest.approx(max((2000 + 5000 * 2) / 16, 5000 * 2 / 8))


def test_arrays_and_numbers_agree():
    import numpy as np
    core = _core("wse3")
    ports, lanes = core_cycles(core, "bf16", np.array([1000.0, 5000.0]), np.array([2000.0, 2000.0]),
                               np.array([1.0, 5.0]), 2.0)
    for i, args in enumerate(((1000.0, 2000.0, 1.0), (5000.0, 2000.0, 5.0))):
        assert (ports[i], lanes[i]) == pytest.approx(core_cycles(core, "bf16", *args, 2.0))


def test_speculative_decoding_is_faster_on_wse3_70b():
    """Llama 3.1 70B on WSE-3s, K = 4 at acceptance 0.8: the verify pass shares each weight read
    among its 5 tokens, so a step emitting 3.36 tokens costs well under 3.36 plain steps."""
    kw = dict(prompt_tokens=2048, output_tokens=128)
    plain = wafersim.simulate("wse3", "llama-3.1-70b", **kw).summary
    spec = wafersim.simulate("wse3", "llama-3.1-70b", speculative=4, acceptance=0.8, **kw).summary
    assert spec.tokens_per_s_per_user > plain.tokens_per_s_per_user
    assert spec.verify_step_s < spec.accepted_tokens_per_step * plain.tpot_s


def test_a_reuse_that_rounds_to_one_token_is_a_gemv():
    """Reuses are ratios of summed parameter counts; one that misses 1 by rounding prices as the
    GEMV it is, not as a token block (a skewed MoE's step jumped by a third on it)."""
    core = _core("wse3")
    assert core_cycles(core, "bf16", 1000.0, 2000.0, 1.0 + 1e-12, 2.0) == core_cycles(core, "bf16", 1000.0, 2000.0, 1.0, 2.0)
    assert core_cycles(core, "bf16", 1000.0, 2000.0, 1.5, 2.0) != core_cycles(core, "bf16", 1000.0, 2000.0, 1.0, 2.0)
