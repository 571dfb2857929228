"""Step times of one deployment, asked of its engine once and interpolated after.

A serving step decodes ``b`` sequences that attend ``c`` keys each on average and
prefills chunks of prompts.  The table holds:

* decode: the engine's time per output token for a batch of ``b`` sequences at a mean
  context of ``c`` tokens (a run of ``b`` sequences, prompt ``c - 1``, one output
  token), on one row per batch size: every batch up to :data:`EXACT_ROWS`, then batch
  sizes a factor :data:`ROW_RATIO` apart up to the most the scheduler runs; along each
  row, contexts a factor :data:`CONTEXT_RATIO` apart from 2 up to the longest context
  the KV capacity leaves each of ``b`` sequences, with the middle of an interval added
  wherever the engine's time there is off the line between its ends (down to one
  token: :func:`refined`).  Between points it is linear in ``c`` and in ``b``.
* prefill: the time one request's prefill of ``n`` tokens keeps the devices busy (the
  engine's time to first token at batch 1, less the runtime's per-request host time,
  :func:`wafersim.engines.arrivals.prefill_busy_s`), at lengths a factor
  :data:`PREFILL_RATIO` apart.  A chunk from token ``d`` to ``d + k`` of a prompt costs
  ``P(d + k) - P(d)``, so the chunks of a prompt cost what its whole prefill does (``P``
  taken non-decreasing, so that no chunk costs less than nothing).

The engines are step functions in places (a GPU's tiles fill another wave over the SMs
at some batch and context): the halving finds the steps along a row to within a token;
between rows above :data:`EXACT_ROWS` the table smooths them (docs/models.md, "Serving").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["StepTable", "build", "EXACT_ROWS", "ROW_RATIO", "CONTEXT_RATIO", "PREFILL_RATIO"]

#: every batch size up to this has a row of its own
EXACT_ROWS = 32
#: above it, rows a factor this far apart
ROW_RATIO = 1.06
#: contexts along a row a factor this far apart
CONTEXT_RATIO = 1.2
#: prefill lengths a factor this far apart
PREFILL_RATIO = 1.1
#: an interval between two points is halved while the time at its middle differs from the
#: line between its ends by more than this share (the engines' steps are found this way)
REFINE_TOLERANCE = 0.004
#: most extra engine calls the halving spends on one row or on the prefill points
REFINE_CALLS = 96
#: the shortest mean context a decode row starts from (a prompt of one token and its output)
MIN_CONTEXT = 2


@dataclass(frozen=True)
class StepTable:
    """``rows``: batch sizes (ascending, from 1); ``ctx``/``dec``: per row, mean contexts and
    decode step seconds (the first ``length[row]`` entries); ``pf_n``/``pf_t``: prefill
    lengths (from 0) and the seconds a prefill of that many tokens takes."""
    rows: np.ndarray
    ctx: np.ndarray
    dec: np.ndarray
    length: np.ndarray
    pf_n: np.ndarray
    pf_t: np.ndarray
    calls: int = 0                 # engine calls the table took

    def decode(self, batch: int, context: float) -> float:
        from ._kernels import decode_time
        return float(decode_time(self.rows, self.ctx, self.dec, self.length, batch, float(context)))

    def prefill(self, tokens: float) -> float:
        return float(np.interp(tokens, self.pf_n, self.pf_t))

    @property
    def max_batch(self) -> int:
        return int(self.rows[-1])

    @classmethod
    def constant(cls, decode_s: float, prefill_s: float, max_batch: int, max_context: int) -> "StepTable":
        """A table of constant times: every decode step ``decode_s``, every prefill ``prefill_s``
        however long (a deployment of closed-form service times, for checks)."""
        rows = np.arange(1, max_batch + 1, dtype=np.int64)
        ctx = np.tile(np.array([MIN_CONTEXT, max(max_context, MIN_CONTEXT + 1)], np.float64), (max_batch, 1))
        return cls(rows, ctx, np.full_like(ctx, decode_s), np.full(max_batch, 2, np.int64),
                   np.array([0.0, 1.0, float(max(max_context, 2))]), np.array([0.0, prefill_s, prefill_s]))


def _geometric(lo: int, hi: int, ratio: float) -> list[int]:
    """Integers from ``lo`` to ``hi``, both included, about ``ratio`` apart (every one where the
    ratio is below one step)."""
    out, x = [], float(lo)
    while x < hi:
        out.append(int(round(x)))
        x = max(x * ratio, x + 1)
    out.append(hi)
    return sorted(set(out))


def refined(f: Callable[[int], float], points: list[int]) -> tuple[list[int], list[float], int]:
    """``f`` at ``points`` and at the middles the halving adds (see :data:`REFINE_TOLERANCE`):
    the points, the values and the calls made."""
    values = {p: f(p) for p in points}
    calls = len(points)
    todo = [(a, b) for a, b in zip(points, points[1:]) if b - a > 1]
    while todo and calls < len(points) + REFINE_CALLS:
        a, b = todo.pop()
        mid = (a + b) // 2
        v = f(mid)
        values[mid] = v
        calls += 1
        line = values[a] + (values[b] - values[a]) * (mid - a) / (b - a)
        if abs(line - v) > REFINE_TOLERANCE * abs(v):
            todo += [(x, y) for x, y in ((a, mid), (mid, b)) if y - x > 1]
    keys = sorted(values)
    return keys, [values[k] for k in keys], calls


def batch_rows(max_batch: int) -> list[int]:
    exact = list(range(1, min(max_batch, EXACT_ROWS) + 1))
    return sorted(set(exact + (_geometric(EXACT_ROWS, max_batch, ROW_RATIO) if max_batch > EXACT_ROWS else [])))


def build(decode: Callable[[int, int], float], prefill: Callable[[int], float], max_batch: int,
          max_context: int, kv_tokens: int) -> StepTable:
    """Ask ``decode(batch, context)`` and ``prefill(tokens)`` for the table's points (see the
    module docs): ``max_batch`` the most sequences a step runs, ``max_context`` the longest
    context a request reaches, ``kv_tokens`` the tokens the KV cache holds."""
    rows = batch_rows(max_batch)
    per_row = []
    for b in rows:
        top = max(MIN_CONTEXT, min(max_context, kv_tokens // b))
        per_row.append(_geometric(MIN_CONTEXT, top, CONTEXT_RATIO))
    width = max(len(p) for p in per_row) + REFINE_CALLS
    ctx = np.zeros((len(rows), width))
    dec = np.zeros((len(rows), width))
    length = np.zeros(len(rows), np.int64)
    calls = 0
    for j, (b, coarse) in enumerate(zip(rows, per_row)):
        points, times, made = refined(lambda c, b=b: decode(b, c), coarse)
        calls += made
        ctx[j, :len(points)] = points
        dec[j, :len(points)] = times
        ctx[j, len(points):] = points[-1]
        dec[j, len(points):] = times[-1]
        length[j] = len(points)
    lengths, pf_t, made = refined(prefill, _geometric(1, max(max_context, 2), PREFILL_RATIO))
    pf_t = [0.0, *pf_t]
    calls += made
    width = int(length.max())
    ctx, dec = ctx[:, :width], dec[:, :width]
    return StepTable(np.asarray(rows, np.int64), ctx, dec, length, np.asarray([0.0, *lengths], np.float64),
                     np.maximum.accumulate(np.asarray(pf_t, np.float64)), calls)
