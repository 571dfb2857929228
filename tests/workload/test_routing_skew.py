"""Routing skew: the busiest expert's expected load against a sampled router, and an MoE
decode step that slows as the skew rises, on a wafer and on GPUs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import wafersim
from wafersim.workload import routing


def _sampled_busiest(pi, tokens, trials, rng):
    """A router that gives each token k distinct experts with inclusion probabilities pi
    (systematic sampling over a random order of the experts): mean load of the busiest."""
    pi = np.asarray(pi)
    k = round(pi.sum())
    out = []
    for _ in range(trials):
        loads = np.zeros(len(pi))
        for _ in range(tokens):
            order = rng.permutation(len(pi))
            picks = np.searchsorted(np.cumsum(pi[order]), rng.random() + np.arange(k), side="right")
            loads[order[picks]] += 1
        out.append(loads.max())
    return float(np.mean(out))


@pytest.mark.parametrize("experts,k", [(8, 2), (128, 8)])
@pytest.mark.parametrize("skew", [0.0, 0.6, 1.2])
@pytest.mark.parametrize("tokens", [16, 64])
def test_busiest_expert_matches_a_sampled_router(experts, k, skew, tokens):
    pi = routing.inclusion_probabilities(experts, k, skew)
    assert sum(pi) == pytest.approx(k) and max(pi) <= 1.0
    sampled = _sampled_busiest(pi, tokens, 200, np.random.default_rng(7))
    assert routing.expected_max_load(pi, tokens) == pytest.approx(sampled, rel=0.05)


def test_uniform_routing_is_the_old_closed_form():
    m = wafersim.load_model("mixtral-8x7b")
    assert m.routing_probabilities == pytest.approx((0.25,) * 8)
    assert m.routing_slowdown(64) == 1.0 and m.busiest_rank_share(4) == pytest.approx(0.25)
    assert m.experts_touched(5) == pytest.approx(8 * (1 - 0.75**5))


def test_large_batches_scale_the_fluctuation():
    """Past the exact limit the busiest load is its mean plus a sqrt(B)-scaled fluctuation:
    between the hottest expert's mean load and the exact value's share of the batch."""
    pi = routing.inclusion_probabilities(64, 4, 0.5)
    b = 4 * routing.EXACT_TOKENS
    big = routing.expected_max_load(pi, b)
    assert b * max(pi) < big < b * routing.expected_max_load(pi, routing.EXACT_TOKENS) / routing.EXACT_TOKENS


def _with_skew(model, skew):
    return dataclasses.replace(model, moe=dataclasses.replace(model.moe, routing_skew=skew))


def test_skew_slows_an_moe_decode_step_on_a_wafer():
    m = wafersim.load_model("qwen3-30b-a3b")
    steps = [wafersim.simulate("wse3", _with_skew(m, s), batch=16, prompt_tokens=512,
                               output_tokens=64).summary["tpot_s"] for s in (0.0, 0.25, 0.5, 0.75, 1.0, 2.0)]
    assert all(a <= b for a, b in zip(steps, steps[1:])), steps
    assert steps[0] < steps[2] < steps[3] < steps[4], steps


def test_skew_slows_an_expert_parallel_decode_step_on_gpus():
    """8 expert-parallel ranks, a batch that touches every expert: the busiest rank's routed
    tokens and its all-to-all grow with the skew (past ~1 on this model a memory-bound step
    reads fewer experts and gets faster again; docs/models.md)."""
    m = wafersim.load_model("qwen3-30b-a3b")
    steps = [wafersim.simulate("dgx-h100", _with_skew(m, s), batch=256, prompt_tokens=512, output_tokens=64,
                               tp=1, ep=8).summary["tpot_s"] for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(a < b for a, b in zip(steps, steps[1:])), steps
