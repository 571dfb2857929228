"""How a mixture-of-experts router spreads a batch over its experts.

Routing skew is a Zipf-like exponent ``s``: the expert of popularity rank ``r``
(0 the hottest) is among a token's ``k`` choices with probability
``pi_r = k w_r / sum(w)``, ``w_r = (r + 1) ** -s``, no probability above 1
(what an expert above 1 would get is shared out over the others, in proportion
to their weights).  ``s = 0`` is uniform routing, ``pi = k / E`` for every expert.

A batch of ``B`` tokens routes ``Bin(B, pi_e)`` tokens to expert ``e``.  The
expected load of the busiest expert is ``E[max_e X_e] = sum_m (1 - prod_e
P(X_e < m))`` with the experts' loads taken as independent (each token's ``k``
choices are distinct, which correlates them slightly; the loads are at least
``ceil(B k / E)`` in any case).  It is exact up to :data:`EXACT_TOKENS` tokens;
past it only the fluctuation above the hottest expert's mean load is scaled, as
``sqrt(B)`` (a sum of independent choices).
"""

from __future__ import annotations

import functools
import math

import numpy as np

#: Largest batch (tokens) whose busiest-expert load is summed exactly over every load.
EXACT_TOKENS = 4096


@functools.lru_cache(maxsize=256)
def inclusion_probabilities(experts: int, k: int, skew: float) -> tuple[float, ...]:
    """``pi_e``, hottest first: the probability that a token's ``k`` choices include expert ``e``."""
    w = np.arange(1, experts + 1, dtype=np.float64) ** -float(skew)
    pi = np.zeros(experts)
    free = np.ones(experts, dtype=bool)
    left = float(k)
    while True:
        pi[free] = left * w[free] / w[free].sum()
        over = free & (pi > 1.0)
        if not over.any():
            break
        pi[over] = 1.0
        free &= ~over
        left = k - float((~free).sum())
    return tuple(float(p) for p in np.minimum(pi, 1.0))


def expected_touched(pi: tuple[float, ...], tokens: float) -> float:
    """Expected distinct experts a batch of ``tokens`` routes to: ``sum_e 1 - (1 - pi_e)^B``."""
    p = np.asarray(pi)
    return float(np.sum(1.0 - (1.0 - p) ** max(tokens, 0.0)))


@functools.lru_cache(maxsize=1024)
def expected_max_load(pi: tuple[float, ...], tokens: int) -> float:
    """Expected tokens routed to the busiest expert by a batch of ``tokens`` (see the module)."""
    if tokens <= 0:
        return 0.0
    b = min(int(tokens), EXACT_TOKENS)
    exact = _exact_max(pi, b)
    if tokens <= EXACT_TOKENS:
        return exact
    top = max(pi)
    return tokens * top + (exact - b * top) * math.sqrt(tokens / b)


def _exact_max(pi: tuple[float, ...], tokens: int) -> float:
    values, counts = np.unique(np.asarray(pi), return_counts=True)
    m = np.arange(tokens + 1, dtype=np.float64)
    lg = np.vectorize(math.lgamma)
    log_choose = lg(tokens + 1.0) - lg(m + 1.0) - lg(tokens - m + 1.0)
    log_prod = np.zeros(tokens + 1)              # log P(every expert's load <= m)
    for p, n in zip(values, counts):
        if p >= 1.0:
            cdf = (m >= tokens).astype(np.float64)
        elif p <= 0.0:
            cdf = np.ones(tokens + 1)
        else:
            pmf = np.exp(log_choose + m * math.log(p) + (tokens - m) * math.log1p(-p))
            cdf = np.minimum(np.cumsum(pmf), 1.0)
        with np.errstate(divide="ignore"):
            log_prod += n * np.log(cdf)
    below = np.exp(log_prod[:-1])                # P(max <= m) for m = 0 .. B-1
    expected = float(np.sum(1.0 - below))
    k = sum(pi)
    return max(expected, math.ceil(tokens * k / len(pi) - 1e-9))


def rank_shares(pi: tuple[float, ...], ranks: int) -> tuple[float, ...]:
    """Each expert-parallel rank's share of the routed work, experts dealt to ranks in
    popularity order (rank 0 gets the hottest, the next rank the next, and round again):
    the placement that best spreads a known skew over the ranks."""
    p = np.asarray(pi)
    total = p.sum()
    return tuple(float(p[r::ranks].sum() / total) for r in range(ranks))
