"""A discrete design space: named axes, each with a list of values.

A point is a tuple of value indices, one per axis.  Two points are neighbours
when they differ on one axis only: by one step on an *ordered* axis (batch 8 ->
4 or 16, region 64x64 -> 128x128), or by any value on an *unordered* one
(placement, number format), where "one step" means nothing.

Axis keys name what a point sets: a scenario key (``batch``, ``wafers``, ``tp``,
``pp``, ``ep``, ``dtype``, ``kv_dtype``, ...), ``replicas`` (data-parallel
copies of the whole system) or ``mapping.<field>`` (any field of
:class:`~wafersim.mapping.options.MappingOptions`).  Text values are parsed by
:func:`parse_axis` from ``KEY=V1,V2,...``, ``KEY=LO:HI`` (every integer) or
``KEY=LO:HI:x2`` (a geometric range).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from ..config import ConfigError
from ..text import plural
from ..mapping.options import MappingOptions
from .hardware import PREFIX as DESIGN, axis_value, design_keys, int_keys
from ..workload.scenario import DEFAULT_MAXIMUM, MAXIMUM, Scenario

__all__ = ["Axis", "Space", "parse_axis", "axis_keys", "REPLICAS", "REPLICAS_MAX"]

#: the axis of data-parallel copies of the whole system
REPLICAS = "replicas"
#: most copies an axis may ask for
REPLICAS_MAX = 4096
#: scenario keys an axis may not set: the fidelity is a flag of its own, layers are the model's,
#: query tokens per step the runner sets
_FIXED_SCENARIO = ("fidelity", "layers", "act_dtype", "query_tokens")
#: keys whose values have no order, so every other value is a neighbour
_UNORDERED = frozenset({"dtype", "kv_dtype", "mapping.placement", "mapping.order", "mapping.kv", "serve.policy",
                        "serve.mixed_step"})
#: scenario keys whose values are integers (or a word such as 'max')
_INT_KEYS = frozenset({"batch", "prompt_tokens", "output_tokens", "wafers", "tp", "pp", "ep", "gpus", "speculative",
                       REPLICAS, "serve.max_running", "serve.max_batched_tokens", "serve.block_tokens",
                       "serve.scheduler_steps"})
#: integer keys whose least value is not 1
_LEAST = {"speculative": 0}
#: scenario keys whose values are numbers
_FLOAT_KEYS = frozenset({"acceptance", "request_rate", "serve.rate"})
#: the most values one axis may list
AXIS_MAX_VALUES = 4096
#: values of an axis that Space.describe shows before it elides the middle ones: a line stays short
_VALUES_SHOWN = 6


#: serving settings an axis may set when every point is a serving simulation (``serve``):
#: integers, the arrival rate (a number) and the queue order and mixed step (text)
SERVE_INT_KEYS = ("serve.max_running", "serve.max_batched_tokens", "serve.block_tokens", "serve.scheduler_steps")
SERVE_AXIS_KEYS = (*SERVE_INT_KEYS, "serve.rate", "serve.policy", "serve.mixed_step")


def axis_keys() -> tuple[str, ...]:
    """Every key an axis may set (``design.*``: only a hardware search, ``explore --hardware``)."""
    scen = [f.name for f in dataclasses.fields(Scenario) if f.name not in _FIXED_SCENARIO]
    return (*scen, REPLICAS, *(f"mapping.{f.name}" for f in dataclasses.fields(MappingOptions)), *design_keys(),
            *SERVE_AXIS_KEYS)


@dataclass(frozen=True)
class Axis:
    """One dimension of the space: a key, its values, and whether they are ordered."""
    key: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if self.key not in axis_keys():
            raise ConfigError("--axis", self.key, f"expected one of {', '.join(axis_keys())}")
        if not self.values:
            raise ConfigError("--axis", self.key, "expected at least one value")
        if len(self.values) > AXIS_MAX_VALUES:
            raise ConfigError("--axis", self.key, f"expected at most {AXIS_MAX_VALUES} values; got {len(self.values)}")
        if len(set(map(repr, self.values))) != len(self.values):
            raise ConfigError("--axis", self.key, f"a value is listed twice: {list(self.values)}")
        if self.key in _INT_KEYS:
            words = {"batch": "max", "wafers": "auto", "tp": "auto", "gpus": "auto"}
            most = REPLICAS_MAX if self.key == REPLICAS else MAXIMUM.get(self.key, DEFAULT_MAXIMUM)
            least = _LEAST.get(self.key, 1)
            for v in self.values:
                ok = (isinstance(v, int) and not isinstance(v, bool) and least <= v <= most) or v == words.get(self.key)
                if not ok:
                    also = f" or '{words[self.key]}'" if self.key in words else ""
                    raise ConfigError("--axis", self.key, f"expected integers from {least} to {most}{also}; got {v!r}")
        elif self.key in _FLOAT_KEYS:
            for v in self.values:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ConfigError("--axis", self.key, f"expected numbers; got {v!r}")
        elif self.key.startswith(DESIGN):
            for v in self.values:
                if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                    raise ConfigError("--axis", self.key, f"expected numbers or sizes such as '48 KiB'; got {v!r}")
        elif not all(isinstance(v, str) for v in self.values):
            raise ConfigError("--axis", self.key, f"expected text values; got {list(self.values)}")

    @property
    def ordered(self) -> bool:
        return self.key not in _UNORDERED

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Space:
    """The product of its axes."""
    axes: tuple[Axis, ...]

    def __post_init__(self) -> None:
        keys = [a.key for a in self.axes]
        if len(set(keys)) != len(keys):
            raise ConfigError("--axis", next(k for k in keys if keys.count(k) > 1), "the axis is given twice")

    @classmethod
    def of(cls, axes: Mapping[str, Sequence[Any]]) -> "Space":
        """A space from ``{key: values}`` in the mapping's order."""
        return cls(tuple(Axis(k, tuple(v)) for k, v in axes.items()))

    def with_axes(self, axes: Sequence[Axis]) -> "Space":
        """This space with each of ``axes`` replacing the axis of the same key, or added at the end."""
        given = {a.key: a for a in axes}
        kept = [given.pop(a.key, a) for a in self.axes]
        return Space((*kept, *given.values()))

    def without(self, keys: Sequence[str]) -> "Space":
        """This space less the axes of ``keys``."""
        return Space(tuple(a for a in self.axes if a.key not in set(keys)))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a) for a in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def params(self, index: Sequence[int]) -> dict[str, Any]:
        """The values a point sets, by key."""
        return {a.key: a.values[i] for a, i in zip(self.axes, index)}

    def indices(self) -> Iterator[tuple[int, ...]]:
        """Every point, the last axis fastest."""
        return itertools.product(*(range(n) for n in self.shape))

    def neighbours(self, index: Sequence[int]) -> list[tuple[int, ...]]:
        """Points that differ from ``index`` on one axis: one step on an ordered axis,
        any other value on an unordered one; axis by axis, lower values first."""
        out = []
        for d, axis in enumerate(self.axes):
            here = index[d]
            others = [here - 1, here + 1] if axis.ordered else [v for v in range(len(axis)) if v != here]
            for v in others:
                if 0 <= v < len(axis):
                    out.append((*index[:d], v, *index[d + 1:]))
        return out

    def describe(self) -> str:
        parts = [f"{a.key} ({len(a)}: {_values_text(a.key, a.values)})" for a in self.axes]
        return " x ".join(parts) + f" = {plural(self.size, 'point', spec=',')}"


#: what the empty value (the default) of a text axis means, as tables print it and ``--axis`` takes it
BLANK_LABELS = {"mapping.cores": "all", "mapping.region": "uncapped"}


def value_label(key: str, value: Any) -> str:
    """An axis value as tables print it: the empty value of ``mapping.region`` as "uncapped",
    of ``mapping.cores`` as "all", of any other text axis as "default"."""
    return BLANK_LABELS.get(key, "default") if value == "" else str(value)


def _values_text(key: str, values: Sequence[Any], most: int = _VALUES_SHOWN) -> str:
    shown = [value_label(key, v) for v in values]
    if len(shown) > most:
        shown = [*shown[:most - 2], "...", shown[-1]]
    return ", ".join(shown)


def _number(key: str, text: str) -> int | str:
    if text in ("max", "auto"):
        return text
    try:
        return int(text)
    except ValueError:
        raise ConfigError("--axis", key, f"expected an integer, 'LO:HI' or 'LO:HI:xF'; got {text[:40]!r}") from None


def _range(key: str, text: str) -> list[int]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ConfigError("--axis", key, f"expected LO:HI or LO:HI:xFACTOR; got {text[:40]!r}")
    lo, hi = (_number(key, p) for p in parts[:2])
    least = _LEAST.get(key, 1)
    if not isinstance(lo, int) or not isinstance(hi, int) or not least <= lo <= hi:
        raise ConfigError("--axis", key, f"expected {least} <= LO <= HI in {text[:40]!r}")
    if len(parts) == 2:
        if hi - lo >= AXIS_MAX_VALUES:
            raise ConfigError("--axis", key, f"{text[:40]!r} holds more than {AXIS_MAX_VALUES} values")
        return list(range(lo, hi + 1))
    step = parts[2]
    if not step.startswith("x") or _number(key, step[1:]) in ("max", "auto") or int(step[1:]) < 2:
        raise ConfigError("--axis", key, f"expected a factor such as 'x2' after the second ':'; got {step[:20]!r}")
    if lo < 1:
        raise ConfigError("--axis", key, f"a geometric range starts at 1 or more; got {text[:40]!r}")
    factor, out, v = int(step[1:]), [], lo
    while v <= hi:
        out.append(v)
        v *= factor
    return out


def parse_axis(text: str) -> Axis:
    """``KEY=V1,V2,...``, ``KEY=LO:HI`` or ``KEY=LO:HI:x2`` (integer keys) -> an :class:`Axis`.
    An empty text value (``mapping.region=,64x64``) stands for the default (''), as does
    the word tables print for it (``uncapped`` for ``mapping.region``, ``all`` for ``mapping.cores``)."""
    if "=" not in text:
        raise ConfigError("--axis", text[:40], "expected KEY=V1,V2,... such as batch=1,2,4 or wafers=1:8")
    key, _, raw = (s.strip() for s in text.partition("="))
    if key not in axis_keys():
        raise ConfigError("--axis", key[:40], f"expected one of {', '.join(axis_keys())}")
    values: list[Any] = []
    if key.startswith(DESIGN):
        for item in raw.split(","):
            item = item.strip()
            values.extend(_range(key, item) if ":" in item and key in int_keys() else [axis_value(key, item)])
    elif key in _INT_KEYS:
        for item in raw.split(","):
            item = item.strip()
            values.extend(_range(key, item) if ":" in item else [_number(key, item)])
    elif key in _FLOAT_KEYS:
        try:
            values = [float(v) for v in raw.split(",")]
        except ValueError:
            raise ConfigError("--axis", key, f"expected numbers such as 0.6,0.8; got {raw[:40]!r}") from None
    else:
        values = ["" if v.strip() == BLANK_LABELS.get(key) else v.strip() for v in raw.split(",")]
    return Axis(key, tuple(values))
