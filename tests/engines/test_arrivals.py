"""Online serving under load (request_rate): closed forms of the stretched decode step and the
first-token wait, on both kinds of system."""

import math

import pytest

import wafersim
from wafersim.config import ConfigError
from wafersim.engines.arrivals import pipeline_stages, stage_busy_s

CASES = [("dgx-a100", "llama-3.1-8b", {"tp": 1, "batch": 17}, "sglang"),
         ("dgx-h100", "llama-3.1-70b", {"tp": 4, "batch": 12}, None),
         ("dgx-h100", "llama-3.1-70b", {"tp": 4, "pp": 2, "batch": 12}, None),
         ("wse3", "llama-3.1-8b", {"batch": 8}, None),
         ("wse3", "llama-3.1-8b", {"batch": 8, "mapping": {"placement": "sequential"}}, None)]
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
    stages = {"gpu": scen.get("pp", 1)}.get(spec.kind) or (
        1 if scen.get("mapping", {}).get("placement") == "sequential" else static.summary.layers)
    assert pipeline_stages(static.summary) == stages
    # the busiest stage's time per prompt: a share of the prompt on GPU stages and on the wafers
    # of a sequential placement; a pipelined wafer's region takes every block of the prompt
    pipelined = spec.kind == "wafer" and scen.get("mapping", {}).get("placement") != "sequential"
    busy = float(one.arrays["prefill_layer_s"].data.max()) if pipelined else t_p / stages
    assert busy <= t_p
    rho = rate * busy
    s = loaded.summary
    assert 0 < rho < 1 and s.prefill_busy_share == pytest.approx(rho, rel=1e-12)
    assert s.unloaded_tpot_s == static.summary.tpot_s
    assert s.tpot_s == pytest.approx(static.summary.tpot_s / (1 - rho), rel=1e-12)
    assert s.tokens_per_s == pytest.approx(s.batch / s.tpot_s, rel=1e-12)
    assert s.tokens_per_s_per_kw == pytest.approx(s.tokens_per_s / (s.power_w / 1e3), rel=1e-12)
    step = static.summary.tpot_s                     # the decode step in progress, unstretched
    assert s.ttft_s == pytest.approx(one.summary.ttft_s + step / (2 * stages)
                                     + rho * busy / (2 * (1 - rho)), rel=1e-12)
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
    most = 1.0 / float(one.arrays["prefill_layer_s"].data.max())      # the busiest layer region's capacity
    with pytest.raises(ConfigError, match="cannot keep up"):
        wafersim.simulate("wse3", "llama-3.1-8b", batch=4, **JOB, request_rate=most * 1.01)
    ok = wafersim.simulate("wse3", "llama-3.1-8b", batch=4, **JOB, request_rate=most * 0.5)
    assert ok.summary.prefill_busy_share == pytest.approx(0.5, rel=1e-9)


@pytest.mark.parametrize("fidelity", ["analytic", "flow"])
def test_a_pipelined_wafer_region_is_busy_for_every_block_of_the_prompt(fidelity):
    """Blocks of the prompt stream through the layer regions: a region is busy n blocks x one
    block's time, the prompt takes n + L - 1 block times (fill and drain) plus the LM head.
    The stall is the region's busy time, not the prompt's time over the L regions."""
    one = wafersim.simulate("wse3", "llama-3.1-8b", batch=1, fidelity=fidelity, prompt_tokens=2048, output_tokens=8)
    s = one.summary
    n = math.ceil(2048 / s.prefill_block_tokens)
    per_layer = one.arrays["prefill_layer_s"].data
    busy = stage_busy_s(one, wafersim.load_system("wse3"))
    assert busy == float(per_layer.max())
    if fidelity == "analytic":                  # uniform regions: ttft = (n + L - 1) x one block's time + the head
        per_block = busy / n
        assert s.ttft_s == pytest.approx((n + s.layers - 1) * per_block, rel=0.02)
    assert 0.5 * s.ttft_s < busy < s.ttft_s


def test_70b_on_four_wafers_spends_a_region_busy_share_on_arriving_prefills():
    """70B on 4 WSE-3s, 4 requests/s of 2,048-token prompts: each layer region is busy ~21 ms per
    prompt, so ~8 % of the time goes to prefills (dividing the prompt's time by the 80 regions
    made it 0.12 %)."""
    job = dict(wafers=4, prompt_tokens=2048, output_tokens=256)
    one = wafersim.simulate("wse3", "llama-3.1-70b", batch=1, **job)
    r = wafersim.simulate("wse3", "llama-3.1-70b", batch=1, request_rate=4.0, **job).summary
    assert r.prefill_busy_share >= 0.05
    assert r.prefill_busy_share == pytest.approx(4.0 * float(one.arrays["prefill_layer_s"].data.max()), rel=1e-12)


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan, "4", True])
def test_a_bad_rate_is_refused(bad):
    with pytest.raises(ConfigError, match="request_rate"):
        wafersim.simulate("wse3", "llama-3.1-8b", request_rate=bad)


def test_load_and_speculation_compose_and_the_draft_prefills_too():
    spec = {"speculative": 3, "acceptance": 0.7, "draft": "llama-3.2-1b"}
    r = wafersim.simulate("dgx-h100", "llama-3.1-70b", tp=8, batch=8, **spec, request_rate=2, **JOB)
    one = wafersim.simulate("dgx-h100", "llama-3.1-70b", tp=8, batch=1, **spec, **JOB)
    s = r.summary
    assert s.unloaded_tpot_s == pytest.approx(s.speculative_step_s / s.accepted_tokens_per_step, rel=1e-12)
    assert s.tpot_s == pytest.approx(s.unloaded_tpot_s / (1 - s.prefill_busy_share), rel=1e-12)
    assert s.effective_tokens_per_s_per_user == pytest.approx(1 / s.tpot_s, rel=1e-12)
    # one request's prefill is the target's and the draft's, as a speculative run's first token is
    t_p = one.summary.ttft_s - wafersim.load_system("dgx-h100").efficiency.request_overhead_s
    assert s.prefill_busy_share == pytest.approx(2 * t_p, rel=1e-12)
    assert s.ttft_s == pytest.approx(one.summary.ttft_s + s.speculative_step_s / 2
                                     + s.prefill_busy_share * t_p / (2 * (1 - s.prefill_busy_share)), rel=1e-12)


def test_data_parallel_copies_add_up_their_rates():
    from wafersim.headtohead import with_replicas
    r = wafersim.simulate("dgx-h100", "llama-3.1-70b", tp=8, batch=8, request_rate=1.5, **JOB).summary.to_dict()
    four = with_replicas(r, 4)
    assert four["request_rate"] == 6.0 and four["requests_in_flight"] == 4 * r["requests_in_flight"]
    assert four["tpot_s"] == r["tpot_s"]


def _simulated_wait(rate: float, t_p: float, step: float, n: int, seed: int) -> float:
    """Mean wait before a request's prefill starts, by a discrete-event run of one server that
    serves queued prefills first (each t_p) and otherwise runs decode steps of ``step`` back to
    back (an arrival waits for the step in progress): an M/D/1 queue with vacations."""
    import numpy as np
    arrivals = np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, n))
    free, waits = 0.0, []                    # free: when the server next picks what to run
    for a in arrivals:
        if free <= a:                        # idle of prefills: decode steps since `free`; wait for the current one
            free = free + math.ceil((a - free) / step) * step if a > free else free
        waits.append(free - a)
        free += t_p
    return float(np.mean(waits[n // 10:]))   # past the start-up


@pytest.mark.parametrize("rho", [0.3, 0.6])
def test_the_first_token_wait_matches_a_simulated_queue(rho):
    t_p, step = 0.02, 0.006
    rate = rho / t_p
    formula = step / 2 + rho * t_p / (2 * (1 - rho))
    assert _simulated_wait(rate, t_p, step, 60_000, 7) == pytest.approx(formula, rel=0.03)


def test_a_multi_step_scheduler_makes_an_arrival_wait_for_its_round():
    """vLLM run with --num-scheduler-steps 10 admits requests every 10 decode steps: an arrival
    waits half a round, not half a step (runtimes/vllm.toml: scheduler_steps = 10)."""
    kw = dict(tp=1, batch=8, **JOB, request_rate=4.0)
    base = wafersim.simulate("dgx-a100", "llama-3.1-8b", runtime="vllm", **kw)
    every_step = wafersim.load_system("dgx-a100", runtime="vllm", runtime_overrides={"efficiency.scheduler_steps": 1})
    one_step = wafersim.simulate(every_step, "llama-3.1-8b", **kw)
    assert wafersim.load_system("dgx-a100", runtime="vllm").efficiency.scheduler_steps == 10
    assert base.summary.tpot_s == one_step.summary.tpot_s
    assert base.summary.ttft_s - one_step.summary.ttft_s == pytest.approx(9 * base.summary.unloaded_tpot_s / 2,
                                                                          rel=1e-9)
