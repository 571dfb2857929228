"""Disaggregated prefill and decode pools: conservation, the KV transfer's closed form, and
an infinitely fast link against the same pools with no transfer at all."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wafersim.config import ConfigError
from wafersim.serving.deployment import Deployment
from wafersim.serving.disagg import disaggregate, parse_pool
from wafersim.serving.pools import Pool, run_replicas, transfer_times
from wafersim.serving.scheduler import resolve
from wafersim.serving.steptable import StepTable
from wafersim.serving.workload import Requests, draw, parse_arrivals, parse_lengths

BYTES_PER_TOKEN = 1e5
PREFILL_S, DECODE_S = 0.05, 0.01


def _dep(name: str, bandwidth: float = 1e9, latency: float = 1e-3, kv_tokens: int = 100_000,
         table: StepTable | None = None) -> Deployment:
    """A deployment of constant step times (every prefill PREFILL_S, every decode step DECODE_S)."""
    table = table or StepTable.constant(DECODE_S, PREFILL_S, 64, 4096)
    return Deployment(name, table, kv_tokens, link_bytes_per_s=bandwidth, link_latency_s=latency,
                      kv_bytes_per_token=lambda n: BYTES_PER_TOKEN)


def _requests(rate: float, n: int, prompt: str = "uniform:50:500", output: str = "uniform:1:40",
              seed: int = 2) -> Requests:
    return draw(parse_arrivals(f"poisson:{rate}"), parse_lengths(prompt, "p"), parse_lengths(output, "o"), n, seed)


def _run(reqs, p, d, copies=(1, 1), mode="async", **knobs):
    config = resolve({}, {"max_running": 64, **knobs})
    return disaggregate(reqs, Pool("p", p, copies[0]), Pool("d", d, copies[1]), config, config, mode)


@pytest.mark.parametrize("mode", ["async", "blocking"])
def test_every_request_finishes_once_with_every_token_asked(mode):
    reqs = _requests(30.0, 3000, output="uniform:1:200")
    out, moved, out_p, out_d = _run(reqs, _dep("p"), _dep("d", kv_tokens=2000), (2, 3), mode, block_tokens=16)
    assert out_d.preemptions.sum() > 0                          # a tight decode pool: KV taken back and recomputed
    assert np.array_equal(out.generated, reqs.output_tokens)
    assert np.all(np.isfinite(out.finish_s)) and np.all(out.finish_s >= out.first_token_s)
    assert np.all(out.first_token_s > reqs.arrival_s)
    one = reqs.output_tokens == 1                                # ends at the prefill pool, moves nothing
    assert np.all(out.finish_s[one] == out.first_token_s[one]) and np.all(moved["decode_copy"][one] == -1)
    assert np.all(moved["kv_bytes"][~one] == BYTES_PER_TOKEN * reqs.prompt_tokens[~one])
    assert set(moved["decode_copy"][~one]) == {0, 1, 2} and set(moved["prefill_copy"]) == {0, 1}
    # the prefill pool computes each prompt once; the decode pool only what its preemptions lost
    assert out_p.stats["prefill_tokens"] == reqs.prompt_tokens.sum()
    assert out_p.stats["decode_tokens"] == 0
    assert out_d.stats["decode_tokens"] >= (reqs.output_tokens - 1).sum() - out_d.preemptions.sum()


def test_a_lone_transfer_takes_bytes_over_bandwidth_plus_latency_and_transfers_queue_for_the_link():
    start, landed = transfer_times(np.array([4e8, 4e8, 4e8]), np.array([1.0, 1.0, 1.0]), np.array([0, 0, 1]),
                                   np.array([0, 1, 2]), 2e9, 3e-6)
    assert landed[0] - 1.0 == pytest.approx(4e8 / 2e9 + 3e-6)
    assert start[1] == pytest.approx(1.2) and landed[1] == pytest.approx(1.4 + 3e-6)   # waits for sender 0
    assert start[2] == 1.0                                                             # other ends: at once


@pytest.mark.parametrize("mode", ["async", "blocking"])
def test_at_low_load_each_request_decodes_a_transfer_after_its_prefill(mode):
    """Requests seconds apart meet no other: the first token comes a prefill after arrival,
    the last one bytes / bandwidth + latency and (output - 1) decode steps after that."""
    n = 40
    reqs = Requests(np.arange(n) * 10.0, np.full(n, 300), np.full(n, 20))
    bandwidth, latency = 2e9, 4e-3
    out, moved, _, _ = _run(reqs, _dep("p", bandwidth=5e9, latency=1e-3), _dep("d", bandwidth, latency), mode=mode)
    transfer = 300 * BYTES_PER_TOKEN / bandwidth + latency      # the slower end's bandwidth, the longer latency
    assert np.allclose(out.first_token_s - reqs.arrival_s, PREFILL_S)
    assert np.allclose(moved["kv_transfer_s"], transfer)
    assert np.allclose(out.finish_s - out.first_token_s, transfer + 19 * DECODE_S)


def test_an_infinitely_fast_link_is_the_same_as_no_transfer():
    """With no time to move the KV, both ways of receiving it give the run of the two pools
    chained directly: the decode pool sees each request when its prefill ends."""
    reqs = _requests(40.0, 2000, seed=5)
    p, d = _dep("p", math.inf, 0.0), _dep("d", math.inf, 0.0, kv_tokens=20_000)
    runs = [_run(reqs, p, d, (2, 2), mode)[0] for mode in ("async", "blocking")]
    config = resolve({}, {"max_running": 64})
    # the reference: no transfer at all, the prefill pool's finish is the decode pool's arrival
    one = np.ones(len(reqs), np.int64)
    pre, _ = run_replicas(Requests(reqs.arrival_s, reqs.prompt_tokens, one), p, config, 2)
    goes = np.flatnonzero(reqs.output_tokens > 1)
    goes = goes[np.argsort(pre.finish_s[goes], kind="stable")]
    dst = np.arange(len(goes)) % 2
    order = np.argsort(pre.finish_s[goes], kind="stable")
    goes, dst = goes[order], dst[order]
    ready = pre.finish_s[goes]
    dec, _ = run_replicas(Requests(ready, reqs.prompt_tokens[goes], reqs.output_tokens[goes]), d, config, 2, dst,
                          ready=ready, held=reqs.prompt_tokens[goes], generated=np.ones(len(goes), np.int64))
    finish = pre.finish_s.copy()
    finish[goes] = dec.finish_s
    for out in runs:
        assert np.array_equal(out.finish_s, finish)
        assert np.array_equal(out.first_token_s, pre.finish_s)


def test_held_kv_costs_no_prefill_and_decodes_at_once():
    """A request that brings its prompt's KV takes its blocks and decodes in the step that
    admits it: output - 1 steps of DECODE_S, no prefill time."""
    dep = _dep("d")
    reqs = Requests(np.array([0.0]), np.array([1000]), np.array([11]))
    out, _ = run_replicas(reqs, dep, resolve({}, {}), 1, ready=np.array([0.0]), held=np.array([1000]),
                          generated=np.array([1]))
    assert out.finish_s[0] == pytest.approx(10 * DECODE_S)
    assert out.stats["prefill_tokens"] == 0 and out.stats["decode_tokens"] == 10


@pytest.mark.parametrize("text,expected", [("dgx-h100:2", ("dgx-h100", 2)), ("wse3", ("wse3", 1)),
                                           ("3", ("dgx-a100", 3)), ("my:sys:4", ("my:sys", 4))])
def test_pools_are_parsed(text, expected):
    assert parse_pool(text, "--prefill", "dgx-a100") == expected


@pytest.mark.parametrize("text", ["3", "wse3:0"])
def test_a_bad_pool_is_a_config_error(text):
    with pytest.raises(ConfigError):
        parse_pool(text, "--decode", None)
