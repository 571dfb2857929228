"""The request simulator's Numba loop against the plain-Python reference of the same rules
(wafersim.testing.naive_serving), over small random workloads that force chunked prefill,
preemption, priorities, scheduling rounds and requests that arrive with their KV."""

from __future__ import annotations

import numpy as np
import pytest

from wafersim.serving import _kernels
from wafersim.testing import naive_serving

SEEDS = range(40)


def _table(rng):
    """A step table with uneven rows (so the loop interpolates between them) and rows of
    different lengths, and a prefill cost that is not linear in tokens."""
    rows = np.array(sorted(rng.choice(np.arange(1, 13), size=rng.integers(1, 6), replace=False)), np.int64)
    rows[0] = 1
    rows = np.unique(rows)
    width = 4
    length = rng.integers(2, width + 1, size=len(rows)).astype(np.int64)
    ctx = np.zeros((len(rows), width))
    dec = np.zeros((len(rows), width))
    for j, b in enumerate(rows):
        points = np.sort(rng.choice(np.arange(2, 600), size=length[j], replace=False)).astype(np.float64)
        ctx[j, :length[j]] = points
        dec[j, :length[j]] = 0.01 + 1e-3 * b + 1e-5 * points * rng.uniform(0.5, 1.5)
    pf_n = np.array([0.0, 16.0, 128.0, 1024.0])
    pf_t = np.array([0.0, 0.004, 0.012, 0.2]) * rng.uniform(0.5, 2.0)
    return rows, ctx, dec, length, pf_n, pf_t


def _case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 51))
    arrival = np.cumsum(rng.exponential(rng.uniform(0.002, 0.05), n))
    ready = arrival + rng.uniform(0.0, 0.01)
    prompt = rng.integers(1, 200, n).astype(np.int64)
    output = rng.integers(1, 40, n).astype(np.int64)
    priority = rng.integers(0, 3, n)
    index = np.arange(n, dtype=np.int64)
    key = index + (priority * n if rng.random() < 0.5 else 0)
    rows, ctx, dec, length, pf_n, pf_t = _table(rng)
    max_running = int(rng.integers(1, rows[-1] + 1))
    max_tokens = int(rng.choice([1, 7, 32, 100, 512]))
    block_tokens = int(rng.choice([1, 4, 16]))
    longest = int((prompt + output).max())
    total_blocks = -(-longest // block_tokens) + int(rng.integers(0, 3 * longest // block_tokens + 2))
    round_steps = int(rng.integers(1, 4))
    mix = int(rng.integers(0, 2))
    held = np.zeros(n, np.int64)
    gen = np.zeros(n, np.int64)
    join = np.zeros(n)
    if rng.random() < 0.4:                       # some requests arrive with the KV of their prompt
        goes = rng.random(n) < 0.6
        output[goes] = np.maximum(output[goes], 2)
        held[goes] = prompt[goes]
        gen[goes] = 1
        join[goes] = rng.uniform(0.0, 0.005, int(goes.sum()))
    return (arrival, ready, prompt, output, key, max_running, max_tokens, block_tokens, total_blocks, round_steps,
            mix, rows, ctx, dec, length, pf_n, pf_t, held, gen, join)


def _both(seed):
    args = _case(seed)
    fast = _kernels.simulate(*args)
    slow = naive_serving.simulate(*args)
    return args, fast, slow


@pytest.mark.parametrize("seed", SEEDS)
def test_kernel_matches_naive(seed):
    _, (first, finish, preempt, gen, stats), (n_first, n_finish, n_preempt, n_gen, n_stats) = _both(seed)
    np.testing.assert_array_equal(preempt, n_preempt)
    np.testing.assert_array_equal(gen, n_gen)
    np.testing.assert_allclose(first, n_first, rtol=1e-12, atol=0)       # nan where both never had a first token
    np.testing.assert_allclose(finish, n_finish, rtol=1e-12, atol=0)
    np.testing.assert_allclose(stats, n_stats, rtol=1e-12, atol=0)


def test_the_cases_exercise_every_rule():
    """The workloads above are not all easy ones: some preempt, some chunk a prompt over
    several steps, some admit requests with their KV, some rank by priority."""
    preempted = chunked = joined = ranked = 0
    for seed in SEEDS:
        args, (first, finish, preempt, gen, stats), _ = _both(seed)
        prompt, key, max_tokens, held = args[2], args[4], args[6], args[17]
        preempted += int(preempt.sum() > 0)
        chunked += int(prompt.max() > max_tokens)
        joined += int(held.sum() > 0)
        ranked += int(np.any(np.diff(key) < 0))
    assert min(preempted, chunked, joined, ranked) >= 3, (preempted, chunked, joined, ranked)
