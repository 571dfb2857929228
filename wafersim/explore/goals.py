"""What a search optimises (objectives) and what a point must satisfy (constraints).

Both read a run's summary (after any ``replicas``).  An objective is a summary key and a
direction; the named ones are the figures ``compare`` weighs systems by.  A constraint is
``KEY<=VALUE``, ``KEY>=VALUE`` or a yes/no key alone (``fits_on_chip``); the value may carry
the key's units (``ttft_s<=2 s``, ``power_w<=20 kW``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..config import ConfigError
from ..results.summary import Summary, field_info
from ..units import UnitError, parse_quantity
from .hardware import DESIGN_METRICS, metric_info

__all__ = ["Objective", "Constraint", "OBJECTIVES", "objective", "constraint", "DEFAULT_CONSTRAINTS",
           "DEFAULT_PARETO"]

#: what every point must satisfy unless told otherwise
DEFAULT_CONSTRAINTS = ("fits_on_chip",)
#: the two objectives of the Pareto front unless told otherwise: interactivity against throughput
DEFAULT_PARETO = ("per-user", "per-device")


@dataclass(frozen=True)
class Objective:
    """A summary key, and whether more of it is better."""
    key: str
    maximize: bool
    label: str

    def value(self, metrics: Mapping[str, Any]) -> float | None:
        v = metrics.get(self.key)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def loss(self, metrics: Mapping[str, Any]) -> float:
        """The value to minimise: the key's value, negated when more is better."""
        v = self.value(metrics)
        if v is None:
            return math.inf
        return -v if self.maximize else v

    def text(self) -> str:
        return f"{self.label} ({'higher' if self.maximize else 'lower'} is better)"


#: the named objectives: name -> (summary key, more is better, words)
OBJECTIVES: dict[str, tuple[str, bool, str]] = {
    "tpot": ("tpot_s", False, "time per output token"),
    "per-user": ("tokens_per_s_per_user", True, "tokens/s per user"),
    "per-device": ("tokens_per_s_per_device", True, "tokens/s per device"),
    "per-kw": ("tokens_per_s_per_kw", True, "tokens/s per kW"),
    "per-dollar": ("usd_per_million_tokens", False, "dollars per million tokens"),
    "throughput": ("tokens_per_s", True, "tokens/s of the whole system"),
    "energy": ("energy_per_token_j", False, "energy per token"),
    "ttft": ("ttft_s", False, "time to first token"),
    "goodput": ("goodput_requests_per_s", True, "requests/s meeting the SLOs (explore --serve)"),
}


def _numeric_keys() -> list[str]:
    """Summary keys that hold numbers, ``replicas``, and a design's figures (a hardware search)."""
    return [f.name for f in dataclasses.fields(Summary)
            if ("int" in str(f.type) or "float" in str(f.type)) and "bool" not in str(f.type)] + ["replicas",
                                                                                                 *DESIGN_METRICS]


def key_info(key: str) -> tuple[str, str]:
    """(units, description) of a summary key or a design's figure."""
    return field_info(key) if key in Summary.__dataclass_fields__ else metric_info(key)


def objective(spec: "str | Objective") -> Objective:
    """An objective by name (:data:`OBJECTIVES`), or ``max:KEY`` / ``min:KEY`` for a numeric summary key."""
    if isinstance(spec, Objective):
        return spec
    if not isinstance(spec, str):
        raise ConfigError("objective", "", f"expected a name or 'max:KEY'/'min:KEY'; got {type(spec).__name__}")
    if spec in OBJECTIVES:
        key, more, words = OBJECTIVES[spec]
        return Objective(key, more, words)
    way, _, key = spec.partition(":")
    if way in ("max", "min") and key in _numeric_keys():
        return Objective(key, way == "max", key)
    raise ConfigError("objective", spec[:60], f"expected one of {', '.join(OBJECTIVES)}, or max:KEY / min:KEY "
                                              "with KEY a summary key such as tokens_per_s")


#: summary units -> the quantity kind a constraint's value is read as
_UNIT_KIND = {"s": "time", "W": "power", "B": "bytes", "Hz": "frequency"}
#: the least |bound| a violation is measured relative to, so that a bound of 0 gives a finite violation
_BOUND_TINY = 1e-300
#: the least shortfall of a yes/no key that is no: above 0, so the point still counts as breaking it
_SHORTFALL_LEAST = 1e-12
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*(.+?)\s*$")
#: keys a yes/no constraint may name
_FLAGS = tuple(f.name for f in dataclasses.fields(Summary) if "bool" in str(f.type))


@dataclass(frozen=True)
class Constraint:
    """``key <= bound``, ``key >= bound``, or (``op`` "is") ``key`` is true."""
    key: str
    op: str
    bound: float = 1.0

    def violation(self, metrics: Mapping[str, Any]) -> float | None:
        """None when the point satisfies it; else how far off it is, relative to the bound
        (1 for a yes/no key that is no, or a key the run does not report)."""
        v = metrics.get(self.key)
        if self.op == "is":
            return None if v is True else _flag_shortfall(self.key, metrics)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return 1.0
        off = v - self.bound if self.op == "<=" else self.bound - v
        return None if off <= 0 else off / max(abs(self.bound), _BOUND_TINY)

    def text(self) -> str:
        if self.op == "is":
            return self.key
        unit = key_info(self.key)[0]
        return f"{self.key} {self.op} {self.bound:g}{' ' + unit if unit else ''}"


#: yes/no keys with a measure of how far a "no" is from "yes": key -> (amount short, of what total)
_SHORTFALL = {"fits_on_chip": ("spilled_bytes", ("weight_bytes", "kv_bytes"))}


def _flag_shortfall(key: str, metrics: Mapping[str, Any]) -> float:
    """How far a yes/no key is from yes, in (0, 1]: e.g. the share of the bytes that spill off chip,
    so that a search can tell a layout that nearly fits from one that is far off; 1 when unknown."""
    short, totals = _SHORTFALL.get(key, ("", ()))
    amount = metrics.get(short)
    total = sum(metrics.get(t) or 0.0 for t in totals)
    if not isinstance(amount, (int, float)) or not total > 0:
        return 1.0
    return min(1.0, max(float(amount) / total, _SHORTFALL_LEAST))


def constraint(spec: "str | Constraint") -> Constraint:
    """``'ttft_s<=2 s'``, ``'devices<=8'``, ``'tokens_per_s_per_user>=50'``, ``'fits_on_chip'``."""
    if isinstance(spec, Constraint):
        return spec
    if not isinstance(spec, str):
        raise ConfigError("--constraint", "", f"expected text such as 'ttft_s<=2 s'; got {type(spec).__name__}")
    text = spec.strip()
    if text in _FLAGS:
        return Constraint(text, "is")
    m = _CONSTRAINT.match(text)
    if not m:
        raise ConfigError("--constraint", text[:60], "expected KEY<=VALUE, KEY>=VALUE or fits_on_chip "
                                                     "(e.g. 'ttft_s<=2 s', 'devices<=8')")
    key, op, raw = m.groups()
    if key not in _numeric_keys():
        raise ConfigError("--constraint", key, f"expected a numeric summary key such as ttft_s, devices, power_w, "
                                               "tokens_per_s_per_user, or a design's figure (--hardware) such as "
                                               "area_mm2, wafer_power_w")
    unit = key_info(key)[0]
    try:
        if unit in _UNIT_KIND:
            bound = parse_quantity(raw, _UNIT_KIND[unit])
        else:
            number = raw[:-len(unit)].strip() if unit and raw.endswith(unit) else raw
            bound = float(number)
    except (UnitError, ValueError):
        raise ConfigError("--constraint", key, f"expected a number{' in ' + unit if unit else ''}; "
                                               f"got {raw[:40]!r}") from None
    if not math.isfinite(bound):
        raise ConfigError("--constraint", key, f"expected a finite bound; got {raw[:40]!r}")
    if op == "<=" and bound < 0:        # results are never negative (a run refuses one)
        raise ConfigError("--constraint", key, f"no point can have {key} <= {raw.strip()[:40]}: it is never "
                                               "negative, so the search would find nothing")
    return Constraint(key, op, bound)
