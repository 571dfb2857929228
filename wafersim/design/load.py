"""Loading a wafer design (``designs/``) and the sources its file gives each value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from ..config import ConfigError
from ..presets import find_preset, list_presets, load_spec
from .spec import WaferDesign

__all__ = ["load_design", "list_designs", "value_sources"]

_TABLE = re.compile(r"^\s*\[([A-Za-z0-9_.]+)\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(?:\"[^\"]*\"|[^#]*?)\s*#\s*(.+?)\s*$")
_BASE = re.compile(r"^\s*base\s*=\s*\"([^\"]+)\"")


def list_designs() -> list[str]:
    return list_presets("designs")


def load_design(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None, *,
                origin: Mapping[str, str] | None = None) -> WaferDesign:
    """Load a wafer design into a frozen, validated :class:`WaferDesign`; ``overrides``
    ({"sram_per_core": "96 KiB"}) are checked as the file is."""
    return load_spec(WaferDesign, name_or_path, "designs", overrides, origin=origin)


def value_sources(name_or_path: str | Path) -> dict[str, str]:
    """The comment beside each value of a design file and of its bases (dotted key ->
    text): the source a design gives for each input.  A file's own comment wins over
    its base's."""
    out: dict[str, str] = {}
    seen: set[Path] = set()
    path: Path | None = find_preset(name_or_path, "designs")
    while path is not None and path.resolve() not in seen:
        seen.add(path.resolve())
        table, base = "", None
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(str(path), "", f"cannot read: {exc}") from None
        for line in lines:
            if m := _TABLE.match(line):
                table = m.group(1)
            elif m := _BASE.match(line):
                base = m.group(1)
            elif m := _KEY.match(line):
                out.setdefault(f"{table}.{m.group(1)}" if table else m.group(1), m.group(2))
        path = None if base is None else _base_path(base, path)
    return out


def _base_path(base: str, child: Path) -> Path | None:
    if "/" in base or base.endswith(".toml"):
        path = Path(base) if Path(base).is_absolute() else child.parent / base
        return path if path.is_file() else None
    try:
        return find_preset(base, "designs")
    except ConfigError:
        return None
