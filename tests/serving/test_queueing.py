"""Checks of the request simulator that no tuning can pass: the M/D/1 closed form,
Little's law, conservation of requests and tokens, and determinism for a seed."""

from __future__ import annotations

import numpy as np
import pytest

from wafersim.serving.deployment import Deployment
from wafersim.serving.scheduler import resolve, run
from wafersim.serving.steptable import StepTable
from wafersim.serving.workload import Requests, draw, parse_arrivals, parse_lengths


def _requests(rate: float, n: int, prompt: str = "64", output: str = "1", seed: int = 1) -> Requests:
    return draw(parse_arrivals(f"poisson:{rate}"), parse_lengths(prompt, "p"), parse_lengths(output, "o"), n, seed)


def _linear_table(max_batch: int = 64, max_context: int = 4096) -> StepTable:
    """Decode steps that grow with batch and context, prefill linear in tokens: a deployment
    whose service time varies, unlike the constant one of the M/D/1 check."""
    rows = np.arange(1, max_batch + 1, dtype=np.int64)
    ctx = np.tile(np.array([2.0, float(max_context)]), (max_batch, 1))
    dec = np.stack([0.010 + 1e-4 * rows, 0.010 + 1e-4 * rows + 2e-6 * max_context], axis=1)
    return StepTable(rows, ctx, dec, np.full(max_batch, 2, np.int64), np.array([0.0, float(max_context)]),
                     np.array([0.0, 1e-5 * max_context]))


@pytest.mark.parametrize("rho", [0.2, 0.5])
def test_constant_service_time_waits_as_md1(rho):
    """One request at a time, each served in D whatever its length, Poisson arrivals: the
    mean wait before service is the Pollaczek-Khinchine value rho D / (2 (1 - rho))."""
    d = 0.1
    dep = Deployment("constant", StepTable.constant(0.0, d, 1, 64), kv_tokens=10_000)
    reqs = _requests(rho / d, 40_000)
    out = run(reqs, dep, resolve({}, {"max_running": 1}))
    wait = out.first_token_s - reqs.arrival_s - d
    expected = rho * d / (2 * (1 - rho))
    assert abs(wait.mean() / expected - 1) < 0.05
    assert np.all(out.finish_s == out.first_token_s)          # one output token: done at the first


def test_littles_law_holds_on_a_long_run():
    """The time-average of requests in the system, kept by the event loop, equals the offered
    rate times the mean time in the system (computed from each request's own times)."""
    rate = 20.0
    reqs = _requests(rate, 50_000, prompt="uniform:100:900", output="uniform:10:60")
    dep = Deployment("linear", _linear_table(), kv_tokens=200_000)
    out = run(reqs, dep, resolve({}, {"max_running": 64, "max_batched_tokens": 512}))
    mean_in_system = out.stats["area_request_s"] / out.stats["end_s"]
    mean_time = float(np.mean(out.finish_s - reqs.arrival_s))
    assert mean_in_system > 1.0                                 # a loaded system, not an idle one
    assert abs(mean_in_system / (rate * mean_time) - 1) < 0.02


def test_every_request_finishes_once_with_every_token_asked_even_under_preemption():
    reqs = _requests(50.0, 3000, prompt="uniform:50:400", output="uniform:1:200", seed=3)
    dep = Deployment("tight", _linear_table(), kv_tokens=2000)          # a few requests' KV: preemptions
    out = run(reqs, dep, resolve({}, {"max_running": 64, "block_tokens": 16, "max_batched_tokens": 256}))
    assert out.preemptions.sum() > 0
    assert np.all(np.isfinite(out.finish_s)) and np.all(np.isfinite(out.first_token_s))
    assert np.array_equal(out.generated, reqs.output_tokens)
    assert np.all(out.first_token_s >= out.ready_s) and np.all(out.finish_s >= out.first_token_s)
    # prefill tokens = prompts + what preempted requests recomputed, never less
    assert out.stats["prefill_tokens"] >= reqs.prompt_tokens.sum()
    # each token comes from a decode step or ends a prefill: the first prefill of every request,
    # and at most one recomputed prefill per preemption
    emitted_by_decode = reqs.output_tokens.sum() - len(reqs)
    assert emitted_by_decode - out.preemptions.sum() <= out.stats["decode_tokens"] <= emitted_by_decode


def test_same_seed_same_bytes_other_seed_other_requests():
    dep = Deployment("linear", _linear_table(), kv_tokens=50_000)
    config = resolve({}, {"max_running": 16, "max_batched_tokens": 256})
    a = run(_requests(10.0, 2000, "uniform:10:500", "uniform:1:50", seed=7), dep, config)
    b = run(_requests(10.0, 2000, "uniform:10:500", "uniform:1:50", seed=7), dep, config)
    c = run(_requests(10.0, 2000, "uniform:10:500", "uniform:1:50", seed=8), dep, config)
    for name in ("first_token_s", "finish_s", "preemptions"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    assert a.finish_s.tobytes() != c.finish_s.tobytes()


def test_priority_serves_an_urgent_late_request_before_earlier_ones():
    dep = Deployment("constant", StepTable.constant(0.0, 0.1, 1, 64), kv_tokens=10_000)
    arrival = np.array([0.0, 0.01, 0.02, 0.03])
    reqs = Requests(arrival, np.full(4, 10), np.ones(4, np.int64), np.array([1, 1, 1, 0]))
    fcfs = run(reqs, dep, resolve({}, {"max_running": 1}))
    prio = run(reqs, dep, resolve({}, {"max_running": 1, "policy": "priority"}))
    assert list(np.argsort(fcfs.finish_s)) == [0, 1, 2, 3]
    assert list(np.argsort(prio.finish_s)) == [0, 3, 1, 2]


def test_chunked_prefill_splits_a_prompt_into_steps_of_the_token_budget():
    """A 1000-token prompt under a 256-token budget takes ceil(1000 / 256) = 4 steps, and its
    chunks together cost what the whole prompt does."""
    table = _linear_table()
    dep = Deployment("linear", table, kv_tokens=10_000)
    reqs = Requests(np.zeros(1), np.array([1000]), np.array([1]))
    out = run(reqs, dep, resolve({}, {"max_batched_tokens": 256}))
    assert out.stats["steps"] == 4
    assert out.first_token_s[0] == pytest.approx(table.prefill(1000))


def test_runtime_profile_sets_the_scheduler():
    import wafersim
    from wafersim.serving.deployment import RUNTIME_KNOBS
    eff = wafersim.load_system("dgx-a100", runtime="vllm").efficiency
    config = resolve({k: getattr(eff, k, 0) for k in RUNTIME_KNOBS}, {"block_tokens": 32})
    assert (config.max_running, config.round_steps, config.block_tokens) == (256, 10, 32)
    assert dict(config.sources) == {"max_running": "runtime", "max_batched_tokens": "default",
                                    "block_tokens": "flag", "round_steps": "runtime"}
