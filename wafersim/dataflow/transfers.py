"""Transfers: the bytes a dataflow stage moves on the mesh, as a structure of arrays.

A transfer goes from a source core to a destination core (``UNICAST``), or from
a source core to a span of its row (``ROW_MULTICAST``) or column
(``COL_MULTICAST``).  For a multicast ``dst_y`` and ``dst_x`` hold the low and
high end of the span.  Lowering (:mod:`wafersim.dataflow.lower`) writes them;
engines route them (:mod:`wafersim.engines.flow_routing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["UNICAST", "ROW_MULTICAST", "COL_MULTICAST", "KINDS", "Transfers"]

UNICAST, ROW_MULTICAST, COL_MULTICAST = 0, 1, 2
KINDS = ("unicast", "row_multicast", "col_multicast")
_INT_FIELDS = ("src_y", "src_x", "dst_y", "dst_x")


def _as_int32(name: str, values) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
    info = np.iinfo(np.int32)
    if a.size and (a.min() < info.min or a.max() > info.max):
        i = int(np.argmax((a < info.min) | (a > info.max)))
        raise ValueError(f"transfer {i}: {name}={a[i]} does not fit in int32")
    return np.ascontiguousarray(a, dtype=np.int32)


@dataclass(frozen=True, eq=False)
class Transfers:
    """Transfers as a structure of arrays (see the module docs for ``kind``).

    ``src_y, src_x, dst_y, dst_x`` are int32, ``nbytes`` float64 (finite,
    >= 0), ``kind`` int8 (UNICAST, ROW_MULTICAST or COL_MULTICAST).  For a
    multicast ``dst_y`` and ``dst_x`` hold the low and high end of the span
    (columns for a row multicast, rows for a column multicast); prefer the
    :meth:`row_multicast` and :meth:`col_multicast` constructors.
    """
    src_y: np.ndarray
    src_x: np.ndarray
    dst_y: np.ndarray
    dst_x: np.ndarray
    nbytes: np.ndarray
    kind: np.ndarray

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            object.__setattr__(self, name, _as_int32(name, getattr(self, name)))
        nbytes = np.asarray(self.nbytes)
        if nbytes.ndim != 1:
            raise ValueError(f"nbytes must be one-dimensional, got shape {nbytes.shape}")
        if nbytes.size and not (np.issubdtype(nbytes.dtype, np.integer) or np.issubdtype(nbytes.dtype, np.floating)):
            raise ValueError(f"nbytes must be numbers, got dtype {nbytes.dtype}")
        nbytes = np.ascontiguousarray(nbytes, dtype=np.float64)
        bad = ~np.isfinite(nbytes) | (nbytes < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"transfer {i}: nbytes must be finite and >= 0, got {nbytes[i]!r}")
        kind = np.asarray(self.kind)
        if kind.ndim != 1:
            raise ValueError(f"kind must be one-dimensional, got shape {kind.shape}")
        if kind.size and not np.issubdtype(kind.dtype, np.integer):
            raise ValueError(f"kind must hold integers, got dtype {kind.dtype}")
        bad = (kind < 0) | (kind >= len(KINDS))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"transfer {i}: kind={kind[i]} is not one of 0 ({KINDS[0]}), 1 ({KINDS[1]}), 2 ({KINDS[2]})")
        object.__setattr__(self, "nbytes", nbytes)
        object.__setattr__(self, "kind", np.ascontiguousarray(kind, dtype=np.int8))
        n = len(self.src_y)
        for name in ("src_x", "dst_y", "dst_x", "nbytes", "kind"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, src_y has {n}")

    def __len__(self) -> int:
        return len(self.src_y)

    @classmethod
    def from_lists(cls, src_y: Sequence[int], src_x: Sequence[int], dst_y: Sequence[int],
                   dst_x: Sequence[int], nbytes: Sequence[float] | float,
                   kind: Sequence[int] | int = UNICAST) -> "Transfers":
        """Build from sequences; a scalar ``nbytes`` or ``kind`` applies to all."""
        n = len(src_y)
        nb = np.full(n, nbytes, dtype=np.float64) if np.isscalar(nbytes) else np.asarray(nbytes)
        kd = np.full(n, kind, dtype=np.int8) if np.isscalar(kind) else np.asarray(kind)
        return cls(np.asarray(src_y), np.asarray(src_x), np.asarray(dst_y), np.asarray(dst_x), nb, kd)

    @classmethod
    def _of_kind(cls, kind: int, src_y: ArrayLike, src_x: ArrayLike, a: ArrayLike, b: ArrayLike,
                 nbytes: ArrayLike) -> "Transfers":
        """Transfers of one kind from scalars or arrays (a scalar byte count applies to all)."""
        return cls.from_lists(np.atleast_1d(src_y), np.atleast_1d(src_x), np.atleast_1d(a), np.atleast_1d(b),
                              nbytes if np.isscalar(nbytes) else np.atleast_1d(nbytes), kind)

    @classmethod
    def unicast(cls, src_y: ArrayLike, src_x: ArrayLike, dst_y: ArrayLike, dst_x: ArrayLike,
                nbytes: ArrayLike) -> "Transfers":
        """Point-to-point transfers."""
        return cls._of_kind(UNICAST, src_y, src_x, dst_y, dst_x, nbytes)

    @classmethod
    def row_multicast(cls, src_y: ArrayLike, src_x: ArrayLike, x_lo: ArrayLike, x_hi: ArrayLike,
                      nbytes: ArrayLike) -> "Transfers":
        """From (src_y, src_x) to every core of row src_y in columns x_lo..x_hi."""
        return cls._of_kind(ROW_MULTICAST, src_y, src_x, x_lo, x_hi, nbytes)

    @classmethod
    def col_multicast(cls, src_y: ArrayLike, src_x: ArrayLike, y_lo: ArrayLike, y_hi: ArrayLike,
                      nbytes: ArrayLike) -> "Transfers":
        """From (src_y, src_x) to every core of column src_x in rows y_lo..y_hi."""
        return cls._of_kind(COL_MULTICAST, src_y, src_x, y_lo, y_hi, nbytes)

    @classmethod
    def empty(cls) -> "Transfers":
        z = np.zeros(0, dtype=np.int32)
        return cls(z, z, z, z, np.zeros(0), np.zeros(0, dtype=np.int8))

    @classmethod
    def concat(cls, parts: Sequence["Transfers"]) -> "Transfers":
        """All transfers of ``parts``, in order."""
        parts = list(parts)
        if not parts:
            return cls.empty()
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        return cls(cat("src_y"), cat("src_x"), cat("dst_y"), cat("dst_x"), cat("nbytes"), cat("kind"))
