"""Physical quantities written with units ("48 KiB", "1.1 GHz", "3.35 TB/s").

Each quantity *kind* has a base SI unit and a table of accepted unit spellings.
Strings are parsed once, when a config is loaded; everything downstream works in
SI floats (bytes, Hz, bytes/s, seconds, joules, FLOP).  Plain numbers are taken
to be in the base unit already.
"""

from __future__ import annotations

import math
import re

__all__ = ["UnitError", "KINDS", "parse_quantity", "format_quantity", "base_unit"]


class UnitError(ValueError):
    """A quantity could not be read as the expected kind."""


_SI = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BIN = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_SMALL = {"": 1.0, "m": 1e-3, "u": 1e-6, "\u00b5": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}


def _bytes_table() -> dict[str, float]:
    t = {f"{p}B": s for p, s in _SI.items()}
    t.update({f"{p}B": s for p, s in _BIN.items()})
    t.update({f"{p}b": s / 8 for p, s in _SI.items()})
    t.update({f"{p}bit": s / 8 for p, s in _SI.items()})
    return t


def _rate_table(base: dict[str, float]) -> dict[str, float]:
    return {f"{u}/s": s for u, s in base.items()} | {f"{u}ps": s for u, s in base.items() if u.endswith("b")}


_BYTES = _bytes_table()
_TABLES: dict[str, tuple[str, dict[str, float], str]] = {
    # kind: (base unit name, accepted units -> factor to base, example)
    "bytes": ("B", _BYTES, "48 KiB"),
    "frequency": ("Hz", {f"{p}Hz": s for p, s in _SI.items()}, "1.1 GHz"),
    "bandwidth": ("B/s", _rate_table(_BYTES), "3.35 TB/s"),
    "time": ("s", {f"{p}s": s for p, s in _SMALL.items()}, "0.6 us"),
    "energy_per_bit": ("J/bit", {f"{p}J/bit": s for p, s in _SMALL.items()} | {f"{p}J/b": s for p, s in _SMALL.items()}, "0.25 pJ/bit"),
    "energy_per_flop": ("J/FLOP", {f"{p}J/FLOP": s for p, s in _SMALL.items()}, "0.5 pJ/FLOP"),
    "flop_rate": ("FLOP/s", {f"{p}FLOP/s": s for p, s in _SI.items()} | {f"{p}FLOPS": s for p, s in _SI.items()}, "989 TFLOP/s"),
    "power": ("W", {f"{p}W": s for p, s in _SI.items()}, "700 W"),
    "length": ("m", {f"{p}m": s for p, s in _SMALL.items()}, "26 mm"),
}
KINDS = tuple(_TABLES)

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d].*?)?\s*$")


def parse_quantity(value: object, kind: str) -> float:
    """Return ``value`` in the SI base unit of ``kind``.

    ``value`` is a number (already in the base unit) or a string "<number> <unit>".
    Raises :class:`UnitError` with a message that says what was expected.
    """
    if kind not in _TABLES:
        raise KeyError(f"unknown quantity kind {kind!r}; known: {', '.join(KINDS)}")
    base, table, example = _TABLES[kind]
    if isinstance(value, bool):
        raise UnitError(f"expected a {kind} such as {example!r}, got a boolean")
    if isinstance(value, (int, float)):
        try:
            out = float(value)
        except OverflowError:
            raise UnitError(f"expected a {kind} such as {example!r}; {str(value)[:20]}... is beyond any "
                            "floating-point number") from None
    elif isinstance(value, str):
        m = _NUMBER_UNIT.match(value)
        if not m:
            raise UnitError(f"expected a {kind} such as {example!r}, got {value!r}")
        number, unit = float(m.group(1)), (m.group(2) or "")
        if unit == "":
            out = number
        elif unit in table:
            out = number * table[unit]
        else:
            raise UnitError(
                f"expected a {kind} such as {example!r}; unit {unit!r} is not a {kind} unit "
                f"(base unit {base})"
            )
    else:
        raise UnitError(f"expected a {kind} such as {example!r}, got {type(value).__name__}")
    if not math.isfinite(out):
        raise UnitError(f"expected a finite {kind}, got {value!r}")
    return out


def base_unit(kind: str) -> str:
    """The SI base unit a quantity kind is stored in ("B", "Hz", "B/s", ...)."""
    return _TABLES[kind][0]


def format_quantity(value: float, kind: str, digits: int = 3) -> str:
    """A readable string for an SI value, e.g. 4.4e10 bytes -> '44 GB'."""
    base = _TABLES[kind][0]
    if kind == "bytes":
        prefixes = [("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0)]
    elif kind in ("time", "energy_per_bit", "energy_per_flop", "length"):
        prefixes = [("", 1.0), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12), ("f", 1e-15)]
    else:
        prefixes = [("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0)]
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {base}"
    for p, s in prefixes:
        if abs(value) >= s * 0.9995:
            return f"{value / s:.{digits}g} {p}{base}"
    p, s = prefixes[-1]
    return f"{value / s:.{digits}g} {p}{base}"
