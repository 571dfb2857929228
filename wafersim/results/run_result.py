"""The outcome of one simulated run, in a form both people and scripts read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .phase import PhaseTime
from .summary import Summary

__all__ = ["LayerArray", "RunResult"]


class LayerArray:
    """An array for the results file, with named dimensions and units.

    ``data`` is the whole array.  An array that is zero outside a leading corner (the
    cores and links a run used on a large wafer) may be given as that corner with the
    whole array's ``shape``: only the corner is held (``stored``), files keep only the
    corner's bytes, and the whole array is built the first time ``data`` is read.
    """

    __slots__ = ("stored", "dims", "units", "description", "labels", "shape", "_whole")

    def __init__(self, data: np.ndarray, dims: tuple[str, ...], units: str, description: str,
                 labels: dict[str, tuple[str, ...]] | None = None, shape: tuple[int, ...] | None = None) -> None:
        if not isinstance(data, np.ndarray):
            data = np.asarray(data)
        whole = data.shape if shape is None else tuple(int(n) for n in shape)
        if shape is not None and (len(whole) != data.ndim or any(n > w for n, w in zip(data.shape, whole))):
            raise ValueError(f"array of shape {data.shape} is not a leading corner of shape {whole}")
        if len(dims) != data.ndim:
            raise ValueError(f"{len(dims)} dimension names {tuple(dims)} for an array of {data.ndim} dimensions")
        put = object.__setattr__
        put(self, "stored", data)
        put(self, "dims", tuple(dims))
        put(self, "units", units)
        put(self, "description", description)
        put(self, "labels", labels)
        put(self, "shape", whole)
        put(self, "_whole", data if data.shape == whole else None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"LayerArray is read-only ({name})")

    @property
    def data(self) -> np.ndarray:
        """The whole array (zero outside ``stored`` when a corner was given)."""
        if self._whole is None:
            whole = np.zeros(self.shape, self.stored.dtype)
            whole[self.corner] = self.stored
            object.__setattr__(self, "_whole", whole)
        return self._whole

    def slab(self, index: int) -> np.ndarray:
        """The whole array at ``index`` along its first dimension (one wafer's map), built from
        the corner alone: a plot of one wafer of a large run builds no other wafer's."""
        if not 0 <= index < self.shape[0]:
            raise IndexError(f"index {index} is out of range 0..{self.shape[0] - 1}")
        if self._whole is not None:
            return self._whole[index]
        out = np.zeros(self.shape[1:], self.stored.dtype)
        if index < self.stored.shape[0]:
            out[self.corner[1:]] = self.stored[index]
        return out

    @property
    def dtype(self) -> np.dtype:
        return self.stored.dtype

    @property
    def corner(self) -> tuple[slice, ...]:
        """The index of ``stored`` within the whole array."""
        return tuple(slice(0, n) for n in self.stored.shape)

    def __eq__(self, other: object) -> bool:
        """Same dimensions, units, description, labels and whole array (NaN equal to NaN)."""
        if not isinstance(other, LayerArray):
            return NotImplemented
        if (self.dims, self.units, self.description, self.labels, self.shape) != \
                (other.dims, other.units, other.description, other.labels, other.shape):
            return False
        if self.stored.shape == other.stored.shape:
            return bool(np.array_equal(self.stored, other.stored, equal_nan=True))
        return bool(np.array_equal(self.data, other.data, equal_nan=True))

    __hash__ = None     # type: ignore[assignment]   (holds an array: compared by content, not hashed)

    def __reduce__(self) -> tuple:
        return LayerArray, (self.stored, self.dims, self.units, self.description, self.labels, self.shape)

    def __repr__(self) -> str:
        return (f"LayerArray(shape={self.shape}, stored={self.stored.shape}, dtype={self.dtype}, dims={self.dims}, "
                f"units={self.units!r})")


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
