"""The request simulator's event loop, compiled with Numba (the public wrapper is
:func:`wafersim.serving.scheduler.run`, which checks and prepares every array).

One pass of the loop is one step of the deployment: the scheduler picks the tokens
each running request computes (one for a request decoding, a chunk of its prompt for
one in prefill), preempting the most recently admitted requests when the KV blocks run
out, admits waiting requests while the step has room, and the step lasts what the step
table says.  Requests that arrive during a step wait for the next one; with nothing to
run, time jumps to the next arrival.  Every choice is a pure function of the arrays,
so a run is deterministic; ties in the waiting queue go to the lower key (priority,
then arrival order).

A request may bring KV computed elsewhere (``held_in``: its tokens, the prompt a
prefill pool computed; ``gen_in``: the tokens it has generated already): once admitted
it decodes in the same step, its blocks taken at once, and the step lasts ``join`` of
it longer (a runtime that receives the KV inside the step); preempted, it loses that KV
and recomputes it like any other request.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: indices of the ``stats`` array the loop returns
STAT_AREA, STAT_END, STAT_STEPS, STAT_BUSY, STAT_PEAK_RUNNING, STAT_PEAK_BLOCKS, STAT_PREFILL_TOKENS, \
    STAT_DECODE_TOKENS = range(8)
N_STATS = 8
#: how a mixed step's decode and prefill parts combine: the larger, or their sum
MIX_MAX, MIX_SUM = 0, 1


@njit(cache=True)
def _push(heap, size, key):
    i = size
    heap[i] = key
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= heap[i]:
            break
        heap[parent], heap[i] = heap[i], heap[parent]
        i = parent
    return size + 1


@njit(cache=True)
def _pop(heap, size):
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and heap[left + 1] < heap[left]:
            child = left + 1
        if heap[i] <= heap[child]:
            break
        heap[i], heap[child] = heap[child], heap[i]
        i = child
    return top, size


@njit(cache=True)
def _advance(t, t_to, arrival, arrived, insys, area):
    """Move the clock from ``t`` to ``t_to``, counting in the requests that arrive on the way, and
    add the time-integral of the requests in the system (Little's law's area): the new clock,
    arrivals counted, requests in the system and area."""
    n = arrival.shape[0]
    while arrived < n and arrival[arrived] <= t_to:
        a = arrival[arrived] if arrival[arrived] > t else t
        area += insys * (a - t)
        t = a
        insys += 1
        arrived += 1
    area += insys * (t_to - t)
    return t_to, arrived, insys, area


@njit(cache=True)
def _row_time(ctx, dec, length, j, c):
    return np.interp(c, ctx[j, :length[j]], dec[j, :length[j]])


@njit(cache=True)
def decode_time(rows, ctx, dec, length, b, c):
    """Seconds of a decode step of ``b`` sequences attending ``c`` keys each on average:
    linear in ``c`` along a row of the table, linear in ``b`` between rows."""
    if b <= 0:
        return 0.0
    hi = np.searchsorted(rows, b)
    if hi >= len(rows):
        hi = len(rows) - 1
    if rows[hi] == b or hi == 0:
        return _row_time(ctx, dec, length, hi, c)
    lo = hi - 1
    w = (b - rows[lo]) / (rows[hi] - rows[lo])
    return (1.0 - w) * _row_time(ctx, dec, length, lo, c) + w * _row_time(ctx, dec, length, hi, c)


@njit(cache=True)
def simulate(arrival, ready, prompt, output, key, max_running, max_tokens, block_tokens, total_blocks,
             round_steps, mix, rows, ctx, dec, length, pf_n, pf_t, held_in, gen_in, join):
    n = len(arrival)
    first = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    preempt = np.zeros(n, np.int64)
    gen = gen_in.copy()
    held = held_in.copy()
    done = np.zeros(n, np.int64)
    target = np.zeros(n, np.int64)
    blocks = np.zeros(n, np.int64)
    tok = np.zeros(n, np.int64)
    stats = np.zeros(N_STATS)
    heap = np.empty(n, np.int64)
    hsize = 0
    run = np.empty(max_running, np.int64)
    nrun = 0
    free = total_blocks
    t = 0.0
    nxt = 0            # next request to become ready
    arrived = 0        # requests whose arrival time has passed (for the time-average in the system)
    insys = 0
    finished = 0
    round_pos = 0
    area = 0.0
    while finished < n:
        while nxt < n and ready[nxt] <= t:
            hsize = _push(heap, hsize, key[nxt])
            nxt += 1
        if nrun == 0 and hsize == 0:
            t, arrived, insys, area = _advance(t, ready[nxt], arrival, arrived, insys, area)
            continue
        # the running requests first, in the order they were admitted
        budget = max_tokens
        ndec = 0
        ctx_sum = 0.0
        pf_cost = 0.0
        join_cost = 0.0
        i = 0
        while i < nrun:
            r = run[i]
            if done[r] < target[r]:
                k = min(target[r] - done[r], budget)
            else:
                k = min(1, budget)
            tok[r] = k
            if k == 0:
                i += 1
                continue
            need = (done[r] + k + block_tokens - 1) // block_tokens - blocks[r]
            lost = False
            while need > free:
                v = run[nrun - 1]
                free += blocks[v]
                blocks[v] = 0
                done[v] = 0
                tok[v] = 0
                preempt[v] += 1
                hsize = _push(heap, hsize, key[v])
                nrun -= 1
                if v == r:
                    lost = True
                    break
            if lost:
                break
            free -= need
            blocks[r] += need
            budget -= k
            if done[r] < target[r]:
                pf_cost += np.interp(done[r] + k, pf_n, pf_t) - np.interp(done[r], pf_n, pf_t)
                stats[STAT_PREFILL_TOKENS] += k
            else:
                ndec += 1
                ctx_sum += done[r] + 1
            i += 1
        # then the waiting ones, at the start of a scheduling round
        if round_pos == 0 or nrun == 0:
            while hsize > 0 and nrun < max_running and budget > 0:
                r = heap[0] % n
                if held[r] > 0:
                    # its KV arrived from elsewhere: it joins the decode part of this step at once
                    need = (held[r] + block_tokens) // block_tokens
                    if need > free:
                        break
                    _, hsize = _pop(heap, hsize)
                    target[r] = held[r]
                    done[r] = held[r]
                    blocks[r] = need
                    free -= need
                    tok[r] = 1
                    budget -= 1
                    run[nrun] = r
                    nrun += 1
                    ndec += 1
                    ctx_sum += held[r] + 1
                    join_cost += join[r]
                    held[r] = 0            # a preemption later loses it: the request recomputes
                    continue
                want = prompt[r] + gen[r]
                k = min(want, budget)
                need = (k + block_tokens - 1) // block_tokens
                if need > free:
                    break
                _, hsize = _pop(heap, hsize)
                target[r] = want
                done[r] = 0
                blocks[r] = need
                free -= need
                tok[r] = k
                budget -= k
                run[nrun] = r
                nrun += 1
                pf_cost += np.interp(k, pf_n, pf_t) - np.interp(0.0, pf_n, pf_t)
                stats[STAT_PREFILL_TOKENS] += k
        round_pos = (round_pos + 1) % round_steps
        t_dec = decode_time(rows, ctx, dec, length, ndec, ctx_sum / ndec) if ndec else 0.0
        dt = (max(t_dec, pf_cost) if mix == MIX_MAX else t_dec + pf_cost) + join_cost
        t, arrived, insys, area = _advance(t, t + dt, arrival, arrived, insys, area)
        stats[STAT_STEPS] += 1
        stats[STAT_BUSY] += dt
        stats[STAT_DECODE_TOKENS] += ndec
        if nrun > stats[STAT_PEAK_RUNNING]:
            stats[STAT_PEAK_RUNNING] = nrun
        if total_blocks - free > stats[STAT_PEAK_BLOCKS]:
            stats[STAT_PEAK_BLOCKS] = total_blocks - free
        kept = 0
        for i in range(nrun):
            r = run[i]
            k = tok[r]
            if k > 0:
                prefill = done[r] < target[r]
                done[r] += k
                if not prefill or done[r] == target[r]:
                    gen[r] += 1
                    if gen[r] == 1:
                        first[r] = t
            if gen[r] >= output[r]:
                finish[r] = t
                free += blocks[r]
                blocks[r] = 0
                finished += 1
                insys -= 1
            else:
                run[kept] = r
                kept += 1
        nrun = kept
    stats[STAT_AREA] = area
    stats[STAT_END] = t
    return first, finish, preempt, gen, stats
