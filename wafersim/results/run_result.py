"""The outcome of one simulated run, in a form both people and scripts read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .phase import PhaseTime
from .summary import Summary

__all__ = ["LayerArray", "RunResult"]


@dataclass(frozen=True)
class LayerArray:
    """An array for the results file, with named dimensions and units."""
    data: np.ndarray
    dims: tuple[str, ...]
    units: str
    description: str
    labels: dict[str, tuple[str, ...]] | None = None   # names along a dimension, e.g. directions


@dataclass(frozen=True)
class RunResult:
    """The typed summary, the phase breakdowns, per-layer (and per-core, per-link) arrays,
    plain-language notes and the resolved configuration that re-runs it."""
    summary: Summary
    config: dict[str, Any]
    prefill: PhaseTime
    decode: PhaseTime
    arrays: dict[str, LayerArray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    attachments: dict[str, str] = field(default_factory=dict)  # e.g. a GraphML topology

    def __post_init__(self) -> None:
        if not isinstance(self.summary, Summary):
            raise TypeError(f"RunResult.summary must be a Summary, got {type(self.summary).__name__}")

    def to_json(self) -> dict[str, Any]:
        """The summary, both phases' components and the notes, as plain JSON values."""
        out = self.summary.to_dict()
        out["prefill_components_s"] = dict(sorted(self.prefill.components.items()))
        out["decode_components_s"] = dict(sorted(self.decode.components.items()))
        out["notes"] = list(self.notes)
        return out
