"""Where a loaded spec came from: its preset file, the files it inherits from, and
the ``--set`` overrides applied on top.

:func:`wafersim.load_system` and :func:`wafersim.load_model` attach a
:class:`Provenance` to the spec they return (``spec.provenance``).  The field is
left out of equality, hashing, ``repr`` and :func:`wafersim.config.to_dict`, so a
spec loaded from ``wse3.toml`` still equals one built from the same values, and
the ``system`` / ``model`` tables of a result are unchanged.  ``simulate`` copies
both records into ``result.config["provenance"]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["PresetFile", "Provenance", "provenance_field", "attach", "record", "describe"]


@dataclass(frozen=True)
class PresetFile:
    """One preset file: the name it resolves to and its absolute path."""

    name: str
    path: str


@dataclass(frozen=True)
class Provenance:
    """A spec's origin.  ``bases`` runs from the nearest base to the root; ``set`` holds
    each override as the user typed it, ``overrides`` the same as dotted key -> value
    (relative to the spec, ready to pass back to ``load_system`` / ``load_model``)."""

    name: str
    path: str | None
    bases: tuple[PresetFile, ...] = ()
    set: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    #: the serving-runtime profile laid over a system preset (name, class, version, path, set)
    runtime: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "path": self.path,
               "bases": [{"name": b.name, "path": b.path} for b in self.bases],
               "set": list(self.set), "overrides": dict(self.overrides)}
        if self.runtime is not None:
            out["runtime"] = dict(self.runtime)
        return out


def provenance_field() -> Any:
    """The ``provenance`` field of a top-level spec: not read from TOML (``init=False``),
    not compared, hashed or printed; set once by the preset loader."""
    return field(default=None, init=False, compare=False, repr=False,
                 metadata={"kind": "provenance", "doc": "where the spec was loaded from"})


def attach(spec: Any, provenance: Provenance) -> Any:
    """Set ``spec.provenance`` on a freshly built frozen spec; returns the spec."""
    object.__setattr__(spec, "provenance", provenance)
    return spec


def record(spec: Any) -> dict[str, Any]:
    """The JSON record of a spec's provenance; a spec built or changed in Python (no
    preset file behind it) has ``path`` null."""
    prov = getattr(spec, "provenance", None)
    if prov is None:
        prov = Provenance(name=spec.name, path=None)
    return prov.as_dict()


def typed_value(value: Any) -> str:
    """A value as one would type it after ``--set key=`` (TOML syntax)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value) if isinstance(value, str) else json.dumps(value, default=str)


def describe(provenance: Mapping[str, Any] | None, indent: str = "  ") -> str:
    """Plain-text lines for ``wafersim show``: preset, base chain and overrides of each side."""
    if not provenance:
        return f"{indent}(no provenance recorded)"
    out = []
    roles = sorted(provenance, key=lambda r: ({"system": 0, "model": 1}.get(r, 2), r))
    for role in roles:
        rec = provenance[role]
        if not isinstance(rec, Mapping):
            continue
        out.append(f"{indent}{role:<7} {rec.get('name')}  ({rec.get('path') or 'built in Python'})")
        for base in rec.get("bases", []):
            out.append(f"{indent}  base  {base.get('name')}  ({base.get('path')})")
        for typed in rec.get("set", []):
            out.append(f"{indent}  --set {typed}")
        runtime = rec.get("runtime")
        if isinstance(runtime, Mapping):
            version = f", version {runtime.get('version')}" if runtime.get("version") else ""
            out.append(f"{indent}  runtime {runtime.get('name')}  (class {runtime.get('class')}{version}; "
                       f"{runtime.get('path') or 'built in Python'})")
            for typed in runtime.get("set", []):
                out.append(f"{indent}    --set {typed}")
    return "\n".join(out)
