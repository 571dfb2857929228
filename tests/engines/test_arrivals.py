"""Online serving under load (request_rate): closed forms of the stretched decode step and the
first-token wait, on both kinds of system."""

import math

import pytest

import wafersim
from wafersim.config import ConfigError
from wafersim.engines.arrivals import prefill_busy_s

CASES = [("dgx-a100", "llama-3.1-8b", {"tp": 1, "batch": 17}, "sglang"),
         ("dgx-h100", "llama-3.1-70b", {"tp": 4, "batch": 12}, None),
         ("wse3", "llama-3.1-8b", {"batch": 8}, None)]
JOB = {"prompt_tokens": 227, "output_tokens": 194}


@pytest.mark.parametrize("system,model,scen,runtime", CASES)
def test_decode_stretches_by_the_prefill_share_and_the_first_token_waits_in_an_md1_queue(system, model, scen, runtime):
    rate = 6.0
    static = wafersim.simulate(system, model, runtime=runtime, **scen, **JOB)
    loaded = wafersim.simulate(system, model, runtime=runtime, **scen, **JOB, request_rate=rate)
    one = wafersim.simulate(system, model, runtime=runtime, **{**scen, "batch": 1}, **JOB)
    spec = wafersim.load_system(system, runtime=runtime)
    overhead = getattr(getattr(spec, "efficiency", None), "request_overhead_s", 0.0)
    t_p = one.summary.ttft_s - overhead
    rho = rate * t_p
    s = loaded.summary
    assert 0 < rho < 1 and s.prefill_busy_share == pytest.approx(rho, rel=1e-12)
    assert s.unloaded_tpot_s == static.summary.tpot_s
    assert s.tpot_s == pytest.approx(static.summary.tpot_s / (1 - rho), rel=1e-12)
    assert s.tokens_per_s == pytest.approx(s.batch / s.tpot_s, rel=1e-12)
    assert s.ttft_s == pytest.approx(one.summary.ttft_s + s.tpot_s / 2 + rho * t_p / (2 * (1 - rho)), rel=1e-12)
    assert s.requests_in_flight == pytest.approx(rate * (s.ttft_s + 193 * s.tpot_s), rel=1e-12)
    # static power runs over the stretched step; the other energy per token does not change
    assert s.energy_static_j == pytest.approx(static.summary.energy_static_j / (1 - rho), rel=1e-12)
    assert s.energy_per_token_j - s.energy_static_j == pytest.approx(
        static.summary.energy_per_token_j - static.summary.energy_static_j, rel=1e-12)
    assert any(n.startswith("under load") for n in loaded.notes)


def test_no_arrivals_is_the_static_batch_to_the_bit():
    a = wafersim.simulate("dgx-h100", "llama-3.1-70b", tp=8, batch=4)
    b = wafersim.simulate("dgx-h100", "llama-3.1-70b", tp=8, batch=4, request_rate=0)
    assert a.summary.to_dict() == b.summary.to_dict()
    assert b.summary.get("request_rate") is None


def test_a_rate_beyond_the_prefill_capacity_is_refused_with_the_most_it_takes():
    one = wafersim.simulate("wse3", "llama-3.1-8b", batch=1, **JOB)
    most = 1 / prefill_busy_s(one, wafersim.load_system("wse3"))
    with pytest.raises(ConfigError, match="cannot keep up"):
        wafersim.simulate("wse3", "llama-3.1-8b", batch=4, **JOB, request_rate=most * 1.01)
    ok = wafersim.simulate("wse3", "llama-3.1-8b", batch=4, **JOB, request_rate=most * 0.5)
    assert ok.summary.prefill_busy_share == pytest.approx(0.5, rel=1e-9)


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan, "4", True])
def test_a_bad_rate_is_refused(bad):
    with pytest.raises(ConfigError, match="request_rate"):
        wafersim.simulate("wse3", "llama-3.1-8b", request_rate=bad)


def test_load_and_speculation_compose_and_the_draft_runs_without_the_load():
    r = wafersim.simulate("dgx-h100", "llama-3.1-70b", tp=8, batch=8, speculative=3, acceptance=0.7,
                          draft="llama-3.2-1b", request_rate=2, **JOB)
    s = r.summary
    assert s.unloaded_tpot_s == pytest.approx(s.speculative_step_s / s.accepted_tokens_per_step, rel=1e-12)
    assert s.tpot_s == pytest.approx(s.unloaded_tpot_s / (1 - s.prefill_busy_share), rel=1e-12)
    assert s.effective_tokens_per_s_per_user == pytest.approx(1 / s.tpot_s, rel=1e-12)
