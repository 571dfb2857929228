"""Loading TOML presets into frozen, validated dataclasses.

A spec class is a frozen dataclass whose fields carry metadata made by
:func:`quantity`, :func:`integer`, :func:`number`, :func:`choice`, :func:`flag`
or :func:`text`.  :func:`build` walks the raw TOML table against the fields:
it rejects unknown and missing keys, parses units, checks ranges, recurses into
nested spec classes and finally calls the class's ``check()`` hook.  Every
error is a :class:`ConfigError` naming the file, the dotted key and what was
expected.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import stat
import tomllib
import typing
from pathlib import Path
from typing import Any, Mapping

from .units import UnitError, base_unit, parse_quantity
from .nearest import did_you_mean, dotted, field_paths

__all__ = [
    "WafersimError", "ConfigError", "InputError", "Spec", "QUANTITY_RANGES", "INTEGER_MAX", "NUMBER_MAX",
    "NUMBER_TINY", "TOML_MAX_BYTES", "ERROR_TEXT_MAX", "TOML_MAX_DEPTH", "schema_markdown", "quantity", "integer", "number", "choice", "flag", "text",
    "build", "load_toml", "apply_overrides", "parse_override", "to_dict",
]


class WafersimError(ValueError):
    """Every error wafersim reports to its user: bad input, or a file it cannot read.
    The command line prints it as one line, ``wafersim: error: ...``, and exits 2."""


class ConfigError(WafersimError):
    """A configuration value is missing, unknown or out of range."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = source, key, message
        where = f"{source}: " if source else ""
        super().__init__(f"{where}key '{key}': {message}" if key else f"{where}{message}")


class InputError(WafersimError):
    """Inputs each valid on their own that together give no finite, physical result
    (a run whose time, throughput or energy would be NaN, infinite or negative)."""


#: Most characters of an error's text that the command line prints or a sweep records for a
#: failed point: every real message fits, and one that echoes a huge value (a whole table, a
#: long traceback message) stays a bounded line.
ERROR_TEXT_MAX = 2000


#: Physical range of each quantity kind (SI base units): a non-zero value must lie in
#: [low, high].  The ranges hold every real system by orders of magnitude and keep
#: every product an engine forms finite in float64.
QUANTITY_RANGES: dict[str, tuple[float, float]] = {
    "bytes": (1.0, 2.0**60),                  # 1 B .. 1 EiB
    "frequency": (1.0, 1e13),                 # 1 Hz .. 10 THz
    "bandwidth": (1.0, 1e18),                 # 1 B/s .. 1 EB/s
    "time": (1e-15, 1e6),                     # 1 fs .. 11.6 days
    "energy_per_bit": (1e-21, 1e-3),
    "energy_per_flop": (1e-21, 1e-3),
    "flop_rate": (1.0, 1e21),                 # 1 FLOP/s .. 1 ZFLOP/s
    "power": (1e-6, 1e9),                     # 1 uW .. 1 GW
    "length": (1e-12, 1e3),
}
#: Largest value of an integer field that does not state its own maximum (int32 range,
#: so numpy int64 products of two such values stay exact).
INTEGER_MAX = 2**31 - 1
#: Largest value of a plain number that does not state its own maximum.
NUMBER_MAX = 1e12
#: Smallest magnitude of a non-zero plain number (no denormals, no 1e-300 efficiencies).
NUMBER_TINY = 1e-12
#: Largest TOML file read (bytes) and deepest nesting of tables and arrays.
TOML_MAX_BYTES = 1 << 20
TOML_MAX_DEPTH = 32


def _field(kind: str, default: Any, doc: str, **meta: Any) -> Any:
    md = {"kind": kind, "doc": doc, **meta}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=md)
    return dataclasses.field(default=default, metadata=md)


def quantity(unit_kind: str, doc: str = "", *, default: Any = dataclasses.MISSING,
             positive: bool = True, allow_zero: bool = False) -> Any:
    """A physical quantity; TOML gives a number in SI or a string with units.  A non-zero
    value must lie in ``QUANTITY_RANGES[unit_kind]`` (stated as ``minimum``/``maximum``)."""
    low, high = QUANTITY_RANGES[unit_kind]
    return _field("quantity", default, doc, unit=unit_kind, positive=positive, allow_zero=allow_zero,
                  minimum=low, maximum=high)


def integer(doc: str = "", *, default: Any = dataclasses.MISSING, minimum: int = 1,
            maximum: int = INTEGER_MAX) -> Any:
    return _field("integer", default, doc, minimum=minimum, maximum=maximum)


def number(doc: str = "", *, default: Any = dataclasses.MISSING, minimum: float | None = 0.0,
           maximum: float | None = NUMBER_MAX, allow_zero: bool = False) -> Any:
    """A plain number: finite, within [minimum, maximum] and, unless zero, at least
    :data:`NUMBER_TINY` in magnitude."""
    return _field("number", default, doc, minimum=minimum, maximum=maximum, allow_zero=allow_zero)


def choice(options: tuple[str, ...], doc: str = "", *, default: Any = dataclasses.MISSING) -> Any:
    return _field("choice", default, doc, options=tuple(options))


def flag(doc: str = "", *, default: Any = dataclasses.MISSING) -> Any:
    return _field("flag", default, doc)


def text(doc: str = "", *, default: Any = dataclasses.MISSING) -> Any:
    return _field("text", default, doc)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _convert(f: dataclasses.Field, raw: Any, source: str, key: str) -> Any:
    md = f.metadata
    kind = md.get("kind")
    if kind == "quantity":
        try:
            value = parse_quantity(raw, md["unit"])
        except UnitError as exc:
            raise ConfigError(source, key, str(exc)) from None
        lo, hi = md["minimum"], md["maximum"]
        if md["positive"]:
            if value < 0 or (value == 0 and not md["allow_zero"]):
                bound = ">= 0" if md["allow_zero"] else "> 0"
                raise ConfigError(source, key, f"expected a {md['unit']} {bound}, got {raw!r}")
        if value != 0 and not lo <= abs(value) <= hi:
            zero = "0 or " if md["allow_zero"] else ""
            raise ConfigError(source, key, f"expected a {md['unit']} of {zero}{lo:g} to {hi:g} in SI units, "
                                           f"got {_show(raw)}")
        return value
    if kind == "integer":
        lo, hi = md["minimum"], md.get("maximum", INTEGER_MAX)
        expected = f"expected an integer >= {lo} and <= {hi}"
        if isinstance(raw, bool) or not isinstance(raw, int):
            if isinstance(raw, float) and raw.is_integer() and abs(raw) <= 2.0**63:
                raw = int(raw)
            else:
                raise ConfigError(source, key, f"{expected}, got {_show(raw)}")
        if not lo <= raw <= hi:
            raise ConfigError(source, key, f"{expected}, got {_show(raw)}")
        return int(raw)
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ConfigError(source, key, f"expected a number, got {_show(raw)}")
        try:
            raw = float(raw)
        except OverflowError:
            raise ConfigError(source, key, f"expected a finite number, got {_show(raw)}") from None
        if not math.isfinite(raw):
            raise ConfigError(source, key, f"expected a finite number, got {raw!r}")
        lo, hi = md["minimum"], md["maximum"]
        if lo is not None and (raw < lo or (raw == lo and not md["allow_zero"] and lo == 0)):
            op = ">=" if md["allow_zero"] or lo != 0 else ">"
            raise ConfigError(source, key, f"expected a number {op} {lo}, got {raw!r}")
        if hi is not None and raw > hi:
            raise ConfigError(source, key, f"expected a number <= {hi:g}, got {raw!r}")
        if raw != 0 and abs(raw) < NUMBER_TINY:
            raise ConfigError(source, key, f"expected 0 or a number of magnitude >= {NUMBER_TINY:g}, got {raw!r}")
        return raw
    if kind == "choice":
        if not isinstance(raw, str) or raw not in md["options"]:
            raise ConfigError(source, key, f"expected one of {', '.join(md['options'])}; got {_show(raw)}")
        return raw
    if kind == "flag":
        if not isinstance(raw, bool):
            raise ConfigError(source, key, f"expected true or false, got {_show(raw)}")
        return raw
    if kind == "text":
        if not isinstance(raw, str):
            raise ConfigError(source, key, f"expected a string, got {_show(raw)}")
        if len(raw) > TEXT_MAX:
            raise ConfigError(source, key, f"expected a string of at most {TEXT_MAX} characters, got {len(raw)}")
        return raw
    raise TypeError(f"field {f.name} has no wafersim config metadata")


#: Longest text field (names, descriptions).
TEXT_MAX = 4096


def _show(raw: Any) -> str:
    """A value for an error message, cut short."""
    text_ = repr(raw)
    return text_ if len(text_) <= 80 else text_[:77] + "..."


class Spec:
    """Base of every spec class: a frozen dataclass whose fields carry config metadata.

    Construction validates: every field with metadata is converted and range-checked
    as :func:`build` does, nested specs must be of their declared class, and the class's
    ``check()`` runs.  So ``dataclasses.replace(spec, ...)`` cannot make an invalid spec
    (the error is a :class:`ConfigError` whose key is relative to the class)."""

    def __post_init__(self) -> None:
        fields, hints = _fields(type(self))
        for name, f in fields.items():
            value = getattr(self, name)
            hint = hints[name]
            if dataclasses.is_dataclass(hint):
                if not isinstance(value, hint):
                    raise ConfigError("", name, f"expected a {hint.__name__}, got {_show(value)}")
            elif "kind" in f.metadata and f.metadata["kind"] != "provenance":
                converted = _convert(f, value, "", name)
                if converted is not value:
                    object.__setattr__(self, name, converted)
        check = getattr(self, "check", None)
        if check is not None:
            check()


def build(cls: type, data: Mapping[str, Any], source: str = "", prefix: str = "") -> Any:
    """Build the frozen spec ``cls`` from the raw table ``data``."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, prefix, f"expected a table, got {data!r}")
    fields, hints = _fields(cls)
    odd = [k for k in data if not isinstance(k, str)]
    if odd:
        raise ConfigError(source, prefix, f"expected text keys, got {_show(odd[0])}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = _join(prefix, unknown[0])
        hint = did_you_mean(dotted(unknown[0], data[unknown[0]]), field_paths(cls), prefix=_join(prefix, ""))
        raise ConfigError(source, key, f"unknown key; {hint + ' ' if hint else ''}expected one of: {', '.join(sorted(fields))}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = _join(prefix, name)
        if name not in data:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            nested = dataclasses.is_dataclass(hints[name])
            if nested and not has_default:
                raise ConfigError(source, key, f"missing table [{key}]")
            if not has_default:
                doc = f.metadata.get("doc", "")
                raise ConfigError(source, key, "missing" + (f" ({doc})" if doc else ""))
            if nested and f.default_factory is not dataclasses.MISSING:
                kwargs[name] = build(hints[name], {}, source, key)
            continue
        raw = data[name]
        if dataclasses.is_dataclass(hints[name]):
            kwargs[name] = build(hints[name], raw, source, key)
        else:
            kwargs[name] = _convert(f, raw, source, key)
    try:
        obj = cls(**kwargs)              # a Spec validates and runs check() here
        check = None if isinstance(obj, Spec) else getattr(obj, "check", None)
        if check is not None:
            check()
    except ConfigError as exc:
        raise ConfigError(source, _join(prefix, exc.key), exc.message) from None
    return obj


@functools.cache
def _fields(cls: type) -> tuple[dict[str, dataclasses.Field], dict[str, Any]]:
    """The init fields of a spec class and their resolved type hints (read once per class)."""
    return {f.name: f for f in dataclasses.fields(cls) if f.init}, typing.get_type_hints(cls)


def load_toml(path: str | Path) -> dict[str, Any]:
    """The table of a TOML file.  Parsed once per version of the file (its path, size and
    modification time): a preset loaded by name in every call of a sweep is read once,
    and an edited file is read again.  The caller gets its own copy."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(str(path), "", "not a regular file")
    if st.st_size > TOML_MAX_BYTES:
        raise ConfigError(str(path), "", f"file of {st.st_size} bytes; a preset is at most {TOML_MAX_BYTES} bytes")
    try:
        return copy.deepcopy(_parse_toml(str(path.resolve()), st.st_size, st.st_mtime_ns))
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror or exc}") from None


@functools.lru_cache(maxsize=256)
def _parse_toml(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    """``size`` and ``mtime_ns`` are only part of the cache key."""
    with open(path, "rb") as fh:
        raw = fh.read(TOML_MAX_BYTES + 1)
    return parse_toml_text(raw, path)


def parse_toml_text(raw: bytes | str, source: str) -> dict[str, Any]:
    """Parse TOML text with the limits every input gets: at most :data:`TOML_MAX_BYTES`,
    UTF-8, nesting at most :data:`TOML_MAX_DEPTH` deep.  Errors are ConfigErrors."""
    if len(raw) > TOML_MAX_BYTES:
        raise ConfigError(source, "", f"more than {TOML_MAX_BYTES} bytes")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(source, "", f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(source, "", f"nested too deep; at most {TOML_MAX_DEPTH} levels are read") from None
    except ValueError as exc:        # an integer of more digits than Python converts (4,300)
        raise ConfigError(source, "", f"not valid TOML: {' '.join(str(exc).split()[:12])}") from None
    if _depth(data) > TOML_MAX_DEPTH:
        raise ConfigError(source, "", f"nested too deep; at most {TOML_MAX_DEPTH} levels are read")
    return data


def _depth(value: Any, level: int = 0) -> int:
    if level > TOML_MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def parse_override(text_: str) -> tuple[str, Any]:
    """Split 'a.b.c=value'; the value is read as a TOML value when it is one, else as a string."""
    if "=" not in text_:
        raise ConfigError("--set", text_, "expected key.path=value")
    if len(text_) > TEXT_MAX:
        raise ConfigError("--set", _show(text_), f"expected at most {TEXT_MAX} characters")
    key, _, value = text_.partition("=")
    key, value = key.strip(), value.strip()
    if not key or any(not part.strip() for part in key.split(".")):
        raise ConfigError("--set", _show(text_), "expected key.path=value")
    if "\n" in value or "\r" in value:
        raise ConfigError("--set", key, "expected a value on one line")
    try:
        table = parse_toml_text(f"v = {value}", "--set")
        parsed = table["v"] if len(table) == 1 else value
    except ConfigError:
        parsed = value
    return key, parsed


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], source: str = "--set") -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-key overrides applied (validation happens in build)."""
    if not isinstance(overrides, Mapping):
        raise ConfigError(source, "", f"overrides must be a mapping of dotted keys to values; got "
                                      f"{type(overrides).__name__}")
    bad = [k for k in overrides if not isinstance(k, str) or not k]
    if bad:
        raise ConfigError(source, "", f"override keys must be non-empty dotted text such as 'core.sram_bytes'; "
                                      f"got {bad[0]!r:.60}")
    out = copy.deepcopy(data)
    for key, value in overrides.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(source, key, f"'{part}' is a value, not a table")
            node = nxt
        node[parts[-1]] = value
    return out


def to_dict(spec: Any) -> dict[str, Any]:
    """A JSON-ready dict of a spec, in SI units (without its provenance, which
    ``simulate`` records separately)."""
    out = dataclasses.asdict(spec)
    for f in dataclasses.fields(spec):
        if f.metadata.get("kind") == "provenance":
            del out[f.name]
    return out


def _range_text(md: Mapping[str, Any]) -> str:
    kind = md.get("kind")
    if kind == "quantity":
        lo, hi = md["minimum"], md["maximum"]
        zero = "0 or " if md.get("allow_zero") else ""
        return f"{zero}{lo:g} .. {hi:g} {base_unit(md['unit'])}"
    if kind == "integer":
        return f"{md['minimum']} .. {md.get('maximum', INTEGER_MAX)}"
    if kind == "number":
        lo, hi = md.get("minimum"), md.get("maximum")
        low = "-inf" if lo is None else (f"{lo:g}" if md.get("allow_zero") or lo != 0 else f"> {lo:g}")
        return f"{low} .. {'inf' if hi is None else f'{hi:g}'}"
    if kind == "choice":
        return ", ".join(md["options"])
    if kind == "flag":
        return "true, false"
    if kind == "text":
        return f"at most {TEXT_MAX} characters"
    return ""


def schema_markdown(cls: type, prefix: str = "") -> str:
    """The fields of spec class ``cls`` (nested specs flattened to dotted keys) as a
    Markdown table: key, kind, range and meaning (docs/preset-schema.md is made of these)."""
    rows = [] if prefix else ["| key | kind | allowed values | meaning |", "|---|---|---|---|"]
    fields, hints = _fields(cls)
    for name, f in fields.items():
        key = _join(prefix, name)
        if dataclasses.is_dataclass(hints[name]):
            rows.append(schema_markdown(hints[name], key))
            continue
        md = f.metadata
        kind = md.get("kind", "")
        has_default = f.default is not dataclasses.MISSING
        default = f" (default `{f.default!r}`)" if has_default else ""
        doc = str(md.get("doc", "")).replace("|", "\\|")
        rows.append(f"| `{key}` | {kind} | {_range_text(md)} | {doc}{default} |")
    return "\n".join(rows)
