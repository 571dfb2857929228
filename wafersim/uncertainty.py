"""The odds of a comparison: each ratio as a median and 90 % interval, and the chance each
side wins on each basis, from sampling what is uncertain (``compare --uncertainty N``).

What is sampled, per side, independently and uniformly:

* ``deployment.unit_power_w`` over ``unit_power_w_low`` .. ``unit_power_w_high`` and
  ``deployment.unit_price_usd`` over its ``_low`` .. ``_high`` (the sourced ranges on each
  preset's ``[deployment]``; a figure without a range is held at its value);
* the side's speed (every tokens/s figure at once), as a factor whose logarithm is uniform
  between ``-log(1 + e)`` and ``log(1 + e)``, where ``e`` is the median out-of-sample error
  of tokens/s per user for the side's kind of system (``validation/error_band.json``,
  written by ``wafersim validate --write-band``).  This stands for the ``[u]`` and fitted
  parameters of the performance model (runtime efficiencies, wafer calibration constants,
  link latencies) together, by the spread of what they predict against published
  measurements they were not fitted to, rather than for each parameter alone.

Every figure a sample changes is a closed form of the run's summary (tokens/s scale with
the speed, per kW with speed over power, dollars per million tokens with the unit's hourly
cost over speed), so no engine runs again: 1,000 samples take milliseconds.  The samples
come from ``numpy.random.default_rng(seed)`` in a fixed order, so a seed gives the same
answer bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .hardware.deployment import HOURS_PER_YEAR

__all__ = ["SideRanges", "side_ranges", "sample", "INTERVAL", "RATIO_BASES", "speed_spread"]

#: the interval reported: 5th to 95th percentile
INTERVAL = (5.0, 95.0)
#: what is compared: basis -> (summary key, words, more is better)
RATIO_BASES = {"user": ("tokens_per_s_per_user", "per user", True),
               "device": ("tokens_per_s_per_device", "per device", True),
               "kW": ("tokens_per_s_per_kw", "per kW", True),
               "dollar": ("usd_per_million_tokens", "per dollar", False)}
#: the error band entry whose median out-of-sample error is a kind's speed spread
_SPEED_BAND = "{kind}/tokens_per_s_per_user"


@dataclass(frozen=True)
class SideRanges:
    """What one side's samples range over: its unit's power and price (low, point, high) and
    its speed's relative spread ``e`` (the factor runs from 1/(1+e) to 1+e)."""
    power_w: tuple[float, float, float]
    price_usd: tuple[float, float, float]
    speed_spread: float
    amortisation_years: float
    usd_per_kwh: float
    rental_usd_per_hour: float

    def to_json(self) -> dict[str, Any]:
        return {"unit_power_w": [self.power_w[0], self.power_w[2]], "unit_price_usd": [self.price_usd[0], self.price_usd[2]],
                "speed_factor": [1 / (1 + self.speed_spread), 1 + self.speed_spread],
                "speed_spread": self.speed_spread}


def speed_spread(kind: str) -> float:
    """The median out-of-sample error of tokens/s per user on ``kind`` systems; 0 when no band
    has been written."""
    from .engines.assembly import _error_band
    return float(_error_band().get(_SPEED_BAND.format(kind=kind), {}).get("median_abs_error", 0.0))


def side_ranges(system: Any, spread: float | None = None) -> SideRanges:
    """A side's ranges from its preset's ``[deployment]`` and its kind's error band (or ``spread``)."""
    d = system.deployment

    def ranged(key: str) -> tuple[float, float, float]:
        value = getattr(d, key)
        low, high = d.figure_range(key) or (value, value)
        return (low, value, high)
    return SideRanges(ranged("unit_power_w"), ranged("unit_price_usd"),
                      speed_spread(system.kind) if spread is None else float(spread),
                      d.amortisation_years, d.usd_per_kwh, d.unit_usd_per_hour)


def _hourly(price: Any, power: Any, r: SideRanges) -> Any:
    """One unit's cost per hour (as :meth:`DeploymentSpec.usd_per_hour`)."""
    if r.rental_usd_per_hour > 0:
        return np.full_like(np.asarray(power, dtype=float), r.rental_usd_per_hour)
    return price / (r.amortisation_years * HOURS_PER_YEAR) + power / 1e3 * r.usd_per_kwh


def _side(s: Mapping[str, Any], r: SideRanges, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` samples of a side's per-user, per-device, per-kW and per-dollar figures."""
    power = rng.uniform(r.power_w[0], r.power_w[2], n) if r.power_w[2] > r.power_w[0] else np.full(n, r.power_w[0])
    price = rng.uniform(r.price_usd[0], r.price_usd[2], n) if r.price_usd[2] > r.price_usd[0] \
        else np.full(n, r.price_usd[0])
    width = math.log1p(r.speed_spread)
    speed = np.exp(rng.uniform(-width, width, n)) if width > 0 else np.ones(n)
    out = {"tokens_per_s_per_user": s["tokens_per_s_per_user"] * speed,
           "tokens_per_s_per_device": s["tokens_per_s_per_device"] * speed}
    if "tokens_per_s_per_kw" in s and r.power_w[1] > 0:
        out["tokens_per_s_per_kw"] = s["tokens_per_s_per_kw"] * speed * (r.power_w[1] / power)
    if "usd_per_million_tokens" in s:
        point = _hourly(np.float64(r.price_usd[1]), np.float64(r.power_w[1]), r)
        out["usd_per_million_tokens"] = s["usd_per_million_tokens"] * (_hourly(price, power, r) / point) / speed
    return out


def _interval(values: np.ndarray) -> dict[str, float]:
    low, median, high = np.percentile(values, [INTERVAL[0], 50.0, INTERVAL[1]])
    return {"median": float(median), "low": float(low), "high": float(high)}


def sample(a: Mapping[str, Any], ra: SideRanges, b: Mapping[str, Any], rb: SideRanges, n: int,
           seed: int = 0) -> dict[str, Any]:
    """``n`` samples of both sides (summaries ``a``, ``b``; ranges ``ra``, ``rb``): per basis
    the ratio A/B (point, median, 5th and 95th percentile) and the share of samples in
    which each side is better (a tie is neither's)."""
    rng = np.random.default_rng(seed)
    xa, xb = _side(a, ra, rng, n), _side(b, rb, rng, n)
    out: dict[str, Any] = {"samples": n, "seed": seed, "interval": list(INTERVAL),
                           "ranges": {"a": ra.to_json(), "b": rb.to_json()}, "ratio": {}, "win": {}}
    for basis, (key, _, more) in RATIO_BASES.items():
        if key not in xa or key not in xb or not b.get(key):
            continue
        out["ratio"][key] = {"point": a[key] / b[key], **_interval(xa[key] / xb[key])}
        a_better = xa[key] > xb[key] if more else xa[key] < xb[key]
        b_better = xb[key] > xa[key] if more else xb[key] < xa[key]
        out["win"][basis] = {"a": float(np.mean(a_better)), "b": float(np.mean(b_better))}
    return out


def text(result: Mapping[str, Any], labels: tuple[str, str]) -> str:
    """The odds as ``compare`` prints them: a line per basis."""
    from .text import ratio
    lo, hi = result["interval"]
    out = [f"uncertainty ({result['samples']:,} samples, seed {result['seed']}: unit power and price over their "
           f"sourced ranges, each side's speed within its kind's error band; docs/models.md):"]
    for basis, (key, words, more) in RATIO_BASES.items():
        if key not in result["ratio"]:
            out.append(f"  {words}: unknown (a price or power is missing)")
            continue
        r, win = result["ratio"][key], result["win"][basis]
        what = " (dollars per million tokens)" if basis == "dollar" else ""
        out.append(f"  {words}{what}: A/B {ratio(r['point'])} (median {ratio(r['median'])}, {hi - lo:g} % interval "
                   f"{ratio(r['low'])} to {ratio(r['high'])}); {labels[0]} better in {win['a']:.0%} of samples, "
                   f"{labels[1]} in {win['b']:.0%}")
    return "\n".join(out)
