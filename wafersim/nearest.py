"""The nearest valid names to a misspelt one, for error messages: "did you mean wse3?".

One helper for every place a name is looked up and not found: preset names,
preset keys (``--set``, preset files, sweep specs and the Python API all build
specs through :func:`wafersim.config.build`), runtime settings and ``--set``
targets.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Iterable, Mapping

__all__ = ["nearest", "did_you_mean", "field_paths", "dotted"]

#: most names a hint offers
HINTS_MAX = 3
#: least similarity (difflib's ratio, 0 to 1) of a name offered
HINT_CUTOFF = 0.6
#: a name offered is at most this much less similar than the nearest one (wse-3: wse3, not wse2)
HINT_SPREAD = 0.1


def nearest(word: str, options: Iterable[str], n: int = HINTS_MAX) -> list[str]:
    """The options closest to ``word``, best first: those that end in the same last
    dotted part (``sram_bytes`` -> ``core.sram_bytes``), then the most similar (as
    :func:`difflib.get_close_matches`, and only those nearly as close as the closest)."""
    options = list(dict.fromkeys(options))
    tail = word.rpartition(".")[2]
    same_tail = [o for o in options if o.rpartition(".")[2] == tail and o != word]
    scored = []
    for option in options:
        m = difflib.SequenceMatcher(None, word, option)
        if m.real_quick_ratio() >= HINT_CUTOFF and m.quick_ratio() >= HINT_CUTOFF and m.ratio() >= HINT_CUTOFF:
            scored.append((m.ratio(), option))
    best = max((r for r, _ in scored), default=0.0)
    close = [o for r, o in sorted(scored, key=lambda ro: -ro[0]) if r >= best - HINT_SPREAD]
    return list(dict.fromkeys([*same_tail, *close]))[:n]


def did_you_mean(word: str, options: Iterable[str], n: int = HINTS_MAX, prefix: str = "") -> str:
    """``"did you mean X?"`` (or ``"X, Y or Z?"``) for the options nearest ``word``, each
    shown after ``prefix``; "" when none is near."""
    near = [prefix + o for o in nearest(word, options, n)]
    if not near:
        return ""
    names = near[0] if len(near) == 1 else ", ".join(near[:-1]) + " or " + near[-1]
    return f"did you mean {names}?"


def dotted(key: str, value: Any) -> str:
    """The first dotted path a raw value spells: ``cor`` holding ``{"sram_bytes": 1}`` is
    ``cor.sram_bytes`` (an override written as one key arrives as nested tables)."""
    while isinstance(value, Mapping) and value:
        inner = next(iter(value))
        key, value = f"{key}.{inner}", value[inner]
    return key


def field_paths(cls: type, prefix: str = "") -> list[str]:
    """Every key of a spec class, dotted: its tables and the values in them."""
    out: list[str] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("kind") == "provenance":
            continue
        path = f"{prefix}{f.name}"
        out.append(path)
        if dataclasses.is_dataclass(hints.get(f.name)):
            out += field_paths(hints[f.name], path + ".")
    return out
