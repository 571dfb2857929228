"""A slow, readable reference of the request simulator's event loop, for tests.

The same scheduling rules as :mod:`wafersim.serving._kernels` (see its docs and
:mod:`wafersim.serving.scheduler`), written with lists, a sorted waiting queue and a
dict of the step's tokens.  It takes the kernel's arguments and returns what the kernel
returns, so a test can hold the two to the same per-request outputs.  The time-average
count in the system is not tracked step by step here: by Little's law it is the sum of
the requests' times from arrival to finish.
"""

from __future__ import annotations

from bisect import insort

#: the positions of the kernel's ``stats`` array, by name
STAT_NAMES = ("area", "end", "steps", "busy", "peak_running", "peak_blocks", "prefill_tokens", "decode_tokens")
MIX_MAX = 0              # a mixed step lasts the larger of its decode and prefill parts (else their sum)


def interp(x, xs, ys):
    """Linear interpolation of the points (xs, ys), held flat beyond the ends."""
    if x <= xs[0]:
        return float(ys[0])
    if x >= xs[-1]:
        return float(ys[-1])
    j = 0
    while xs[j + 1] < x:
        j += 1
    return float(ys[j] + (ys[j + 1] - ys[j]) * (x - xs[j]) / (xs[j + 1] - xs[j]))


def decode_time(rows, ctx, dec, length, batch, context):
    """Seconds of a decode step: along a row linear in the mean context, between the two rows
    around ``batch`` linear in the batch (below the first row: the first row; above the last:
    the line through the last two rows)."""
    if batch <= 0:
        return 0.0

    def row(j):
        return interp(context, list(ctx[j][:length[j]]), list(dec[j][:length[j]]))

    rows = list(rows)
    if batch in rows:
        return row(rows.index(batch))
    if batch < rows[0] or len(rows) == 1:
        return row(0)
    hi = next((j for j, b in enumerate(rows) if b > batch), len(rows) - 1)
    lo = hi - 1
    w = (batch - rows[lo]) / (rows[hi] - rows[lo])
    return (1.0 - w) * row(lo) + w * row(hi)


def blocks_for(tokens, block_tokens):
    """KV blocks that hold ``tokens`` tokens."""
    return -(-tokens // block_tokens)


def simulate(arrival, ready, prompt, output, key, max_running, max_tokens, block_tokens, total_blocks,
             round_steps, mix, rows, ctx, dec, length, pf_n, pf_t, held_in, gen_in, join):
    n = len(arrival)
    first = [float("nan")] * n
    finish = [float("nan")] * n
    preempt = [0] * n
    gen = [int(g) for g in gen_in]
    held = [int(h) for h in held_in]
    done = [0] * n          # tokens of its context whose KV it holds
    target = [0] * n        # tokens of context to compute before it decodes (its prefill)
    blocks = [0] * n
    stats = dict.fromkeys(STAT_NAMES, 0.0)
    waiting = []            # keys, sorted: the lowest key is admitted first
    running = []            # request indices, in the order they were admitted
    free = total_blocks
    t = 0.0
    seen = 0                # requests put in the waiting queue so far (they come in order of ready time)
    finished = 0
    round_pos = 0

    def prefill_s(start, end):
        return interp(end, pf_n, pf_t) - interp(start, pf_n, pf_t)

    while finished < n:
        while seen < n and ready[seen] <= t:
            insort(waiting, int(key[seen]))
            seen += 1
        if not running and not waiting:
            t = float(ready[seen])
            continue

        budget = max_tokens
        tokens = {}          # this step's tokens, per request
        contexts = []        # mean context of each decoding request
        pf_cost = 0.0
        join_cost = 0.0
        i = 0
        while i < len(running):
            r = running[i]
            in_prefill = done[r] < target[r]
            k = min(target[r] - done[r] if in_prefill else 1, budget)
            tokens[r] = k
            if k == 0:
                i += 1
                continue
            need = blocks_for(done[r] + k, block_tokens) - blocks[r]
            while need > free and r in running:
                victim = running.pop()          # the most recently admitted
                free += blocks[victim]
                blocks[victim] = 0
                done[victim] = 0
                tokens.pop(victim, None)
                preempt[victim] += 1
                insort(waiting, int(key[victim]))
            if r not in running:
                break
            free -= need
            blocks[r] += need
            budget -= k
            if in_prefill:
                pf_cost += prefill_s(done[r], done[r] + k)
                stats["prefill_tokens"] += k
            else:
                contexts.append(done[r] + 1)
            i += 1

        if round_pos == 0 or not running:
            while waiting and len(running) < max_running and budget > 0:
                r = waiting[0] % n
                if held[r] > 0:
                    need = blocks_for(held[r] + 1, block_tokens)
                    if need > free:
                        break
                    waiting.pop(0)
                    target[r] = done[r] = held[r]
                    blocks[r] = need
                    free -= need
                    tokens[r] = 1
                    budget -= 1
                    running.append(r)
                    contexts.append(held[r] + 1)
                    join_cost += join[r]
                    held[r] = 0
                    continue
                want = prompt[r] + gen[r]
                k = min(want, budget)
                need = blocks_for(k, block_tokens)
                if need > free:
                    break
                waiting.pop(0)
                target[r] = want
                done[r] = 0
                blocks[r] = need
                free -= need
                tokens[r] = k
                budget -= k
                running.append(r)
                pf_cost += prefill_s(0, k)
                stats["prefill_tokens"] += k
        round_pos = (round_pos + 1) % round_steps

        t_dec = decode_time(rows, ctx, dec, length, len(contexts), sum(contexts) / len(contexts)) if contexts else 0.0
        dt = (max(t_dec, pf_cost) if mix == MIX_MAX else t_dec + pf_cost) + join_cost
        t = t + dt
        stats["steps"] += 1
        stats["busy"] += dt
        stats["decode_tokens"] += len(contexts)
        stats["peak_running"] = max(stats["peak_running"], len(running))
        stats["peak_blocks"] = max(stats["peak_blocks"], total_blocks - free)

        still = []
        for r in running:
            k = tokens.get(r, 0)
            if k > 0:
                in_prefill = done[r] < target[r]
                done[r] += k
                if not in_prefill or done[r] == target[r]:
                    gen[r] += 1
                    if gen[r] == 1:
                        first[r] = t
            if gen[r] >= output[r]:
                finish[r] = t
                free += blocks[r]
                blocks[r] = 0
                finished += 1
            else:
                still.append(r)
        running = still

    stats["end"] = t
    stats["area"] = sum(finish[r] - arrival[r] for r in range(n))
    return first, finish, preempt, gen, [stats[name] for name in STAT_NAMES]
