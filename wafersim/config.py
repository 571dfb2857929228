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
import json
import tomllib
import typing
from pathlib import Path
from typing import Any, Mapping

from .units import UnitError, parse_quantity

__all__ = [
    "ConfigError", "quantity", "integer", "number", "choice", "flag", "text",
    "build", "load_toml", "apply_overrides", "parse_override", "to_dict",
]


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = source, key, message
        where = f"{source}: " if source else ""
        super().__init__(f"{where}key '{key}': {message}" if key else f"{where}{message}")


def _field(kind: str, default: Any, doc: str, **meta: Any) -> Any:
    md = {"kind": kind, "doc": doc, **meta}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=md)
    return dataclasses.field(default=default, metadata=md)


def quantity(unit_kind: str, doc: str = "", *, default: Any = dataclasses.MISSING,
             positive: bool = True, allow_zero: bool = False) -> Any:
    """A physical quantity; TOML gives a number in SI or a string with units."""
    return _field("quantity", default, doc, unit=unit_kind, positive=positive, allow_zero=allow_zero)


def integer(doc: str = "", *, default: Any = dataclasses.MISSING, minimum: int = 1) -> Any:
    return _field("integer", default, doc, minimum=minimum)


def number(doc: str = "", *, default: Any = dataclasses.MISSING, minimum: float | None = 0.0,
           maximum: float | None = None, allow_zero: bool = False) -> Any:
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
        if md["positive"]:
            if value < 0 or (value == 0 and not md["allow_zero"]):
                bound = ">= 0" if md["allow_zero"] else "> 0"
                raise ConfigError(source, key, f"expected a {md['unit']} {bound}, got {raw!r}")
        return value
    if kind == "integer":
        if isinstance(raw, bool) or not isinstance(raw, int):
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            else:
                raise ConfigError(source, key, f"expected an integer >= {md['minimum']}, got {raw!r}")
        if raw < md["minimum"]:
            raise ConfigError(source, key, f"expected an integer >= {md['minimum']}, got {raw!r}")
        return int(raw)
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ConfigError(source, key, f"expected a number, got {raw!r}")
        lo, hi = md["minimum"], md["maximum"]
        if lo is not None and (raw < lo or (raw == lo and not md["allow_zero"] and lo == 0)):
            op = ">=" if md["allow_zero"] or lo != 0 else ">"
            raise ConfigError(source, key, f"expected a number {op} {lo}, got {raw!r}")
        if hi is not None and raw > hi:
            raise ConfigError(source, key, f"expected a number <= {hi}, got {raw!r}")
        return float(raw)
    if kind == "choice":
        if raw not in md["options"]:
            raise ConfigError(source, key, f"expected one of {', '.join(md['options'])}; got {raw!r}")
        return raw
    if kind == "flag":
        if not isinstance(raw, bool):
            raise ConfigError(source, key, f"expected true or false, got {raw!r}")
        return raw
    if kind == "text":
        if not isinstance(raw, str):
            raise ConfigError(source, key, f"expected a string, got {raw!r}")
        return raw
    raise TypeError(f"field {f.name} has no wafersim config metadata")


def build(cls: type, data: Mapping[str, Any], source: str = "", prefix: str = "") -> Any:
    """Build the frozen spec ``cls`` from the raw table ``data``."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, prefix, f"expected a table, got {data!r}")
    fields, hints = _fields(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = _join(prefix, unknown[0])
        raise ConfigError(source, key, f"unknown key; expected one of: {', '.join(sorted(fields))}")
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
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        try:
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
    try:
        return copy.deepcopy(_parse_toml(str(path.resolve()), st.st_size, st.st_mtime_ns))
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from None


@functools.lru_cache(maxsize=256)
def _parse_toml(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    """``size`` and ``mtime_ns`` are only part of the cache key."""
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def parse_override(text_: str) -> tuple[str, Any]:
    """Split 'a.b.c=value'; the value is read as a TOML value when it is one, else as a string."""
    if "=" not in text_:
        raise ConfigError("--set", text_, "expected key.path=value")
    key, _, value = text_.partition("=")
    key, value = key.strip(), value.strip()
    if not key:
        raise ConfigError("--set", text_, "expected key.path=value")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return key, parsed


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], source: str = "--set") -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-key overrides applied (validation happens in build)."""
    out = json.loads(json.dumps(data))
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
