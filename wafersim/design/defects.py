"""Yield: which cores a defect kills, and whether every die row can route around its own.

A core of area ``a`` fails with probability ``p = 1 - Y``: Poisson ``Y = exp(-D a)``
or, with clustering ``alpha``, negative binomial ``Y = (1 + D a / alpha) ** -alpha``.
A die row of ``n`` physical cores with ``s`` spare columns keeps its logical width
while at most ``s`` of its cores fail (routing shifts around a failed core, as
Cerebras describes); the failures in a row are binomial ``B(n, p)``, so the wafer
gives its whole logical mesh with probability ``P(K <= s) ** (rows x dies)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .geometry import Geometry
from .spec import DefectSpec


@dataclass(frozen=True)
class Defects:
    core_yield: float               # share of physical cores that work
    row_fail: float                 # chance one die row has more failures than spares
    wafer_yield: float              # chance the whole logical mesh forms

    def failed_cores(self, physical: int) -> float:
        return physical * (1 - self.core_yield)


def core_yield(spec: DefectSpec, core_mm2: float) -> float:
    load = spec.density_per_mm2 * core_mm2
    if spec.clustering == 0:
        return math.exp(-load)
    return (1 + load / spec.clustering) ** -spec.clustering


def binomial_tail(n: int, p: float, s: int) -> float:
    """P(K > s) for K ~ B(n, p), summed from the tail so a tiny chance is not lost to 1 - cdf."""
    if s >= n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for k in range(s + 1, n + 1):
        term = math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p
                        + (n - k) * log_q)
        total += term
        if k > n * p and term < total * 1e-17:
            break
    return min(total, 1.0)


def defects(spec: DefectSpec, g: Geometry, spare_cols: int) -> Defects:
    y = core_yield(spec, g.core_mm2)
    tail = binomial_tail(g.die_cols, 1 - y, spare_cols)
    rows = g.die_rows * g.dies
    wafer = 0.0 if tail >= 1 else math.exp(rows * math.log1p(-tail))
    return Defects(core_yield=y, row_fail=tail, wafer_yield=wafer)
