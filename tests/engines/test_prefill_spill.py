"""A wafer prefill past the cliff (wafersim/engines/prefill_spill.py): the spilled weights each
block needs, and the KV cache a block's activations displace, both through edge I/O."""

from __future__ import annotations

import math

import pytest

import wafersim
from tests.specs import simulate_one
from wafersim.engines.analytic_wafer import AnalyticWafer
from wafersim.engines.prefill_blocks import activation_bytes_per_token
from wafersim.engines.prefill_spill import displaced_kv_bytes, io_stretch, weight_stream_bytes
from wafersim.mapping.options import MappingOptions
from wafersim.workload.scenario import Scenario


def test_spilled_weights_stream_once_then_per_block_or_with_parked_activations():
    assert weight_stream_bytes(0.0, 100, 5.0) == 0.0
    assert weight_stream_bytes(10.0, 1, 5.0) == 10.0          # one block: one pass, as a decode step
    assert weight_stream_bytes(10.0, 3, 500.0) == 30.0        # re-streamed for each of 3 blocks
    assert weight_stream_bytes(10.0, 3, 5.0) == 15.0          # once, and the activations parked off chip


def test_displaced_kv_by_hand():
    assert displaced_kv_bytes(100.0, 40.0, 1000.0, 10) == 600.0     # 60 B over the free 40, on 10 cores
    assert displaced_kv_bytes(30.0, 40.0, 1000.0, 10) == 0.0        # fits in the free bytes
    assert displaced_kv_bytes(100.0, 40.0, 20.0, 10) == 200.0       # no more than the KV there
    assert io_stretch(2.0, 1.0) == 1.0 and io_stretch(2.0, 3.0) == 1.5


def _engine(system, model, **kw):
    m = wafersim.load_model(model)
    return AnalyticWafer(wafersim.load_system(system), m, Scenario(**kw).resolved(m), MappingOptions())


def test_70b_on_one_wse3_pays_for_its_spilled_weights_in_prefill():
    """70B on one WSE-3: 104 GB of weights spill and the weights leave room for one token's
    activations, so the prompt runs in 2,048 blocks; re-streaming the weights for every block
    would take minutes, so they stream once and the activations go off chip between layers."""
    job = dict(batch=1, prompt_tokens=2048, output_tokens=64, wafers=1)
    r = simulate_one("wse3", "llama-3.1-70b", **job)
    s = r.summary
    m = wafersim.load_model("llama-3.1-70b")
    plan = _engine("wse3", "llama-3.1-70b", **job).memory.memory_plan(1, 1)
    ext = wafersim.load_system("wse3").external_memory
    n = math.ceil(2048 / s.prefill_block_tokens)
    assert plan.spilled_weight_bytes > 1e11 and n == 2048
    parked = 2 * m.num_layers * 2048 * m.hidden_size * 2             # bf16 activations in and out of every layer
    kv_out = plan.spilled_kv_fraction * 2048 * m.num_layers * m.kv_bytes_per_token_layer("bf16")
    io = (plan.spilled_weight_bytes + parked + kv_out) / ext.io_bandwidth_bytes_per_s + ext.latency_s
    assert r.prefill.components["edge_io"] == pytest.approx(io, rel=1e-12)
    assert s.ttft_s == pytest.approx(io, rel=1e-12)                  # edge I/O bound
    assert s.ttft_s > s.tpot_s                                       # more than one pass over the spilled weights
    # the layers wait on the edge I/O as long: a region is busy n of the n + L - 1 block times
    assert s.prefill_layer_s == pytest.approx(s.ttft_s * n / (n + s.layers - 1), rel=0.02)


def test_flow_agrees_on_the_spilled_weight_prefill():
    job = dict(batch=1, prompt_tokens=2048, output_tokens=64, wafers=1)
    a = simulate_one("wse3", "llama-3.1-70b", **job).summary
    f = simulate_one("wse3", "llama-3.1-70b", fidelity="flow", **job).summary
    assert f.ttft_s == pytest.approx(a.ttft_s, rel=0.05)
    assert f.prefill_layer_s == pytest.approx(a.prefill_layer_s, rel=0.05)


def test_activations_that_displace_kv_pay_it_out_and_back():
    """8B on one WSE-3 at batch 64: the KV cache fits but leaves no SRAM for activations, so a
    block beyond what is free displaces KV, twice through edge I/O."""
    job = dict(batch=64, prompt_tokens=2048, output_tokens=256, wafers=1)
    r = simulate_one("wse3", "llama-3.1-8b", **job)
    s = r.summary
    eng = _engine("wse3", "llama-3.1-8b", **job)
    plan = eng.memory.memory_plan(64, 1)
    assert s.spilled_bytes == 0 and plan.kv_bytes > 0
    cores = plan.wafers * plan.cores_per_wafer
    room = (plan.capacity_bytes - plan.weight_bytes) / cores
    free = room - plan.kv_bytes / cores
    rows, cols = eng.layer_shape(1)
    act = s.prefill_block_tokens * activation_bytes_per_token(wafersim.load_model("llama-3.1-8b"), rows, cols, 2.0)
    assert act > free                                                  # the chosen block displaces KV
    displaced = cores * min(act - free, plan.kv_bytes / cores)
    ext = wafersim.load_system("wse3").external_memory
    assert r.prefill.components["edge_io"] == pytest.approx(2 * displaced / ext.io_bandwidth_bytes_per_s
                                                            + ext.latency_s, rel=1e-12)
    # and it is worth it: faster than the blocks that fit in the free SRAM (here 1 token)
    one = simulate_one(wafersim.load_system("wse3", {"calibration.prefill_block_tokens": 1}), "llama-3.1-8b", **job)
    assert s.ttft_s < one.summary.ttft_s
