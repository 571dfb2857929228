"""A serving-runtime profile: the software that runs a model on the hardware.

A profile (``runtimes/*.toml``) holds what the serving stack, not the chip,
decides: per-request and per-step overheads, how close its kernels come to the
hardware's best (memory-bound decode kernels, attention), how many kernels a
layer launches, and scheduler limits.  It names the preset keys it sets for
each kind of system it applies to (``[gpu.efficiency]`` for GPU systems,
``[wafer.calibration]`` for wafers); loading a system with a runtime lays those
values over the hardware preset, and ``--set`` wins over both.

Each profile has a class: ``ideal`` (the hardware alone, an upper bound),
``best-known`` (the fastest published software) or ``typical`` (a mainstream
serving stack as shipped).  ``compare`` runs both sides in the same class unless
asked otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..config import Spec, choice, text
from ..provenance import Provenance, provenance_field

__all__ = ["RUNTIME_CLASSES", "RuntimeSpec"]

#: the classes of software maturity a profile belongs to, fastest first
RUNTIME_CLASSES = ("ideal", "best-known", "typical")


@dataclass(frozen=True, kw_only=True)
class RuntimeSpec(Spec):
    kind: str = choice(("runtime",), "must be 'runtime'")
    name: str = text("profile name")
    description: str = text("what the profile describes", default="")
    runtime_class: str = choice(RUNTIME_CLASSES, "class of software maturity (TOML key 'class')")
    version: str = text("runtime version the values describe; empty when not one release", default="")
    #: system kind -> dotted preset key -> value laid over a system of that kind
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False,
                                                      metadata={"doc": "preset keys set per system kind"})
    provenance: Provenance | None = provenance_field()

    def applies_to(self, kind: str) -> bool:
        return kind in self.settings

    def overrides_for(self, kind: str) -> dict[str, Any]:
        """The dotted preset keys this profile sets on a system of ``kind``."""
        return dict(self.settings.get(kind, {}))

    def record(self) -> dict[str, Any]:
        """What a result stores about the runtime it ran with."""
        prov = self.provenance
        return {"name": self.name, "class": self.runtime_class, "version": self.version,
                "path": prov.path if prov else None, "set": list(prov.set) if prov else []}
