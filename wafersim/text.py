"""Words for the text wafersim prints."""

from __future__ import annotations

import math

__all__ = ["plural", "layers_scope", "format_seconds", "ratio", "RATIO_FIGURES"]

#: significant figures a printed ratio keeps: its error band (often tens of per cent) leaves
#: no meaning to a third
RATIO_FIGURES = 2

#: plurals that are not the word with an "s"
_IRREGULAR = {"copy": "copies", "entry": "entries"}


def plural(n: float, word: str, many: str | None = None, spec: str = "") -> str:
    """``n`` (formatted with ``spec``, e.g. "," for thousands) and ``word``, in the plural
    unless ``n`` is one: "1 token", "2 tokens", "3 copies", "1,024 points".  ``many`` spells
    a plural that is neither the word with an "s" nor one this module knows."""
    if n == 1:
        return f"{n:{spec}} {word}"
    return f"{n:{spec}} {many or _IRREGULAR.get(word) or word + 's'}"


def layers_scope(layers: int, model_layers: int) -> str:
    """What the figures of a run of the first ``layers`` decoder layers (``--layers``) cover."""
    return f"figures for the first {layers} of {model_layers} layers, without embedding and LM head"


def format_seconds(s: float) -> str:
    """A duration for a progress line or an estimate: "42 s", "3 min 05 s", "2 h 10 min"."""
    if s != s or s == float("inf"):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def ratio(x: float, figures: int = RATIO_FIGURES) -> str:
    """A ratio to ``figures`` significant figures, as ``compare`` prints it: 7.63 -> "7.6x",
    2.04 -> "2.0x", 0.171 -> "0.17x", 23.4 -> "23x", 368 -> "370x", 1234 -> "1,200x"
    (never an exponent)."""
    rounded = float(f"{x:.{figures}g}")
    if rounded == 0 or not math.isfinite(rounded):
        return f"{rounded:g}x"
    decimals = max(0, figures - 1 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:,.{decimals}f}x"
