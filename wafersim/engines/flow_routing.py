"""Flow-level routing of transfers on a wafer mesh.

A :class:`Transfers` holds many transfers as arrays; :func:`route_transfers`
routes them all with dimension-ordered XY routing (X first, then Y) on a
:class:`~wafersim.hardware.mesh.PhysicalMesh` and returns the bytes each
directed link carries, the busiest link, per-transfer hops and latency and the
link energy.  The model is a *flow* model: all transfers share the links at
once, so the time the phase needs on the network is at least the busiest
link's ``load / bandwidth``; latency is the unloaded path latency.

See :mod:`wafersim.engines._flow_kernels` for the multicast encoding.  Call
:func:`warm_up` once at start-up so that compiling the kernels never happens
mid-run (compiled code is also cached on disk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..hardware.mesh import DIRECTIONS, PhysicalMesh
from . import _flow_kernels as _k

__all__ = [
    "UNICAST", "ROW_MULTICAST", "COL_MULTICAST", "KINDS",
    "Transfers", "RoutingResult", "RoutingBuffers", "route_transfers", "warm_up",
]

UNICAST, ROW_MULTICAST, COL_MULTICAST = _k.UNICAST, _k.ROW_MULTICAST, _k.COL_MULTICAST
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
    def unicast(cls, src_y, src_x, dst_y, dst_x, nbytes) -> "Transfers":
        """Point-to-point transfers."""
        return cls.from_lists(np.atleast_1d(src_y), np.atleast_1d(src_x), np.atleast_1d(dst_y),
                              np.atleast_1d(dst_x), np.atleast_1d(nbytes) if not np.isscalar(nbytes) else nbytes,
                              UNICAST)

    @classmethod
    def row_multicast(cls, src_y, src_x, x_lo, x_hi, nbytes) -> "Transfers":
        """From (src_y, src_x) to every core of row src_y in columns x_lo..x_hi."""
        return cls.from_lists(np.atleast_1d(src_y), np.atleast_1d(src_x), np.atleast_1d(x_lo),
                              np.atleast_1d(x_hi), np.atleast_1d(nbytes) if not np.isscalar(nbytes) else nbytes,
                              ROW_MULTICAST)

    @classmethod
    def col_multicast(cls, src_y, src_x, y_lo, y_hi, nbytes) -> "Transfers":
        """From (src_y, src_x) to every core of column src_x in rows y_lo..y_hi."""
        return cls.from_lists(np.atleast_1d(src_y), np.atleast_1d(src_x), np.atleast_1d(y_lo),
                              np.atleast_1d(y_hi), np.atleast_1d(nbytes) if not np.isscalar(nbytes) else nbytes,
                              COL_MULTICAST)

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


@dataclass(frozen=True, eq=False)
class RoutingResult:
    """What routing a set of transfers puts on the mesh.

    ``link_load`` (ny, nx, 4) bytes per directed link; ``link_time`` the same
    divided by link bandwidth (s); ``hops``, ``scribe_crossings`` and
    ``latency_s`` per transfer; ``max_link_time_s`` and ``max_link``
    ((y, x, direction index) of the busiest link, the first in index order on a
    tie); ``energy_j`` = sum of load x 8 x energy per bit; ``bytes_hops`` =
    sum over transfers of bytes x hops (= ``link_load.sum()``); ``box``
    ((y0, x0, y1, x1), ends exclusive, ``(0, 0, 0, 0)`` when nothing moves) holds
    every loaded link: outside it ``link_load`` and ``link_time`` are 0.
    """
    link_load: np.ndarray
    link_time: np.ndarray
    hops: np.ndarray
    scribe_crossings: np.ndarray
    latency_s: np.ndarray
    max_link_time_s: float
    max_link: tuple[int, int, int]
    energy_j: float
    bytes_hops: float
    box: tuple[int, int, int, int] | None = None

    @property
    def max_link_name(self) -> str:
        y, x, d = self.max_link
        return f"({y}, {x}) {DIRECTIONS[d]}"


def _check_in_mesh(t: Transfers, ny: int, nx: int) -> None:
    def first(mask: np.ndarray) -> int | None:
        return int(np.argmax(mask)) if mask.any() else None

    src_bad = (t.src_y < 0) | (t.src_y >= ny) | (t.src_x < 0) | (t.src_x >= nx)
    i = first(src_bad)
    if i is not None:
        raise ValueError(f"transfer {i}: source (y={t.src_y[i]}, x={t.src_x[i]}) is outside the {ny} x {nx} mesh")
    uni = t.kind == UNICAST
    i = first(uni & ((t.dst_y < 0) | (t.dst_y >= ny) | (t.dst_x < 0) | (t.dst_x >= nx)))
    if i is not None:
        raise ValueError(f"transfer {i}: destination (y={t.dst_y[i]}, x={t.dst_x[i]}) is outside the {ny} x {nx} mesh")
    for kind, src, size, what in ((ROW_MULTICAST, t.src_x, nx, "columns"), (COL_MULTICAST, t.src_y, ny, "rows")):
        lo, hi = t.dst_y, t.dst_x
        i = first((t.kind == kind) & ((lo < 0) | (hi >= size) | (lo > src) | (src > hi)))
        if i is not None:
            raise ValueError(
                f"transfer {i}: {KINDS[kind]} span {what} {lo[i]}..{hi[i]} must contain the source "
                f"{what[:-1]} {src[i]} and lie within 0..{size - 1}")


class RoutingBuffers:
    """Work arrays for :func:`route_transfers` on meshes of one shape, reused call after call.

    Routing a set of transfers needs whole-mesh scratch and output arrays;
    allocating and zeroing them for every call costs more than the routing
    when the transfers touch a small part of the mesh, and for big meshes
    costs page faults every time.  Pass one ``RoutingBuffers`` to many calls
    instead: each call clears only the box the previous one loaded.  The
    :class:`RoutingResult` of a call with buffers shares ``link_load`` and
    ``link_time`` with them, so those arrays hold that call's values only until
    the next call with the same buffers (copy what must outlive it).
    """

    def __init__(self, mesh: PhysicalMesh):
        ny, nx = mesh.shape
        self.shape = (ny, nx)
        self.diff = (np.zeros((ny, nx + 1, 2)), np.zeros((ny, nx + 1, 2), dtype=np.int32),
                     np.zeros((ny + 1, nx, 2)), np.zeros((ny + 1, nx, 2), dtype=np.int32))
        self.load = np.zeros((ny, nx, len(DIRECTIONS)))
        self.link_time = np.zeros(self.load.shape)
        self.box = np.zeros(4, dtype=np.int64)

    def _clear_outside(self, prev: tuple[int, int, int, int]) -> None:
        """Zero what the previous call (box ``prev``) wrote outside this call's box.

        Inside this call's box the kernels overwrite every link; the scratch
        arrays are left zero by the kernel.
        """
        y0, x0, y1, x1 = prev
        n0, m0, n1, m1 = (int(v) for v in self.box)
        r0, r1 = max(y0, n0), min(y1, n1)                 # rows of ``prev`` that the new box spans
        for a in (self.load, self.link_time):
            a[y0:min(y1, n0), x0:x1] = 0.0                # above the new box
            a[max(y0, n1):y1, x0:x1] = 0.0                # below it
            a[r0:r1, x0:min(x1, m0)] = 0.0                # west of it
            a[r0:r1, max(x0, m1):x1] = 0.0                # east of it


def route_transfers(mesh: PhysicalMesh, transfers: Transfers, router_cycles: float = 0.0, *,
                    buffers: RoutingBuffers | None = None) -> RoutingResult:
    """Route ``transfers`` on ``mesh`` with XY routing and sum the link loads.

    ``router_cycles`` is a cost per hop added to each path's latency on top of
    the link latency (which already includes one router traversal per the
    preset's ``hop_latency_cycles``); it is converted with the mesh clock.
    ``buffers`` (a :class:`RoutingBuffers` for a mesh of this shape) lets
    repeated calls reuse their work arrays; the result then shares its link
    arrays with them (valid until the next call).  Without it every call
    allocates its own.  Raises ValueError naming the first transfer that
    leaves the mesh.
    """
    if not isinstance(mesh, PhysicalMesh):
        raise TypeError(f"mesh must be a PhysicalMesh, got {type(mesh).__name__}")
    if not isinstance(transfers, Transfers):
        raise TypeError(f"transfers must be a Transfers, got {type(transfers).__name__}")
    if not np.isfinite(router_cycles) or router_cycles < 0:
        raise ValueError(f"router_cycles must be finite and >= 0, got {router_cycles!r}")
    ny, nx = mesh.shape
    if buffers is None:
        buffers = RoutingBuffers(mesh)
    elif not isinstance(buffers, RoutingBuffers):
        raise TypeError(f"buffers must be a RoutingBuffers, got {type(buffers).__name__}")
    elif buffers.shape != (ny, nx):
        raise ValueError(f"buffers are for a {buffers.shape[0]} x {buffers.shape[1]} mesh, not {ny} x {nx}")
    _check_in_mesh(transfers, ny, nx)

    prev = tuple(int(v) for v in buffers.box)
    n = len(transfers)
    load, link_time, box = buffers.load, buffers.link_time, buffers.box
    hops = np.zeros(n, dtype=np.int32)
    crossings = np.zeros(n, dtype=np.int32)
    latency = np.zeros(n, dtype=np.float64)
    t = transfers
    bytes_hops = _k.route_xy(t.src_y, t.src_x, t.dst_y, t.dst_x, t.nbytes, t.kind,
                             mesh.link_prefix_sums, float(router_cycles) / mesh.clock_hz, buffers.diff,
                             load, hops, crossings, latency, box)
    buffers._clear_outside(prev)
    y0, x0, y1, x1 = (int(v) for v in box)
    max_time, flat, energy = _k.link_stats(load, mesh.bandwidth_bytes_per_s, mesh.energy_j_per_bit, link_time,
                                           y0, x0, y1, x1)
    y, x, d = np.unravel_index(int(flat), load.shape)
    return RoutingResult(
        link_load=load, link_time=link_time, hops=hops, scribe_crossings=crossings, latency_s=latency,
        max_link_time_s=float(max_time), max_link=(int(y), int(x), int(d)),
        energy_j=float(energy), bytes_hops=float(bytes_hops), box=(y0, x0, y1, x1),
    )


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel on a tiny mesh.

    The call goes through :func:`route_transfers` on a real (2 x 2)
    :class:`PhysicalMesh`, so the arrays have exactly the types a real call
    passes (mesh arrays and prefix sums are read-only, which Numba types apart
    from writable ones) and no later call compiles.
    """
    ones = np.ones((2, 2, len(DIRECTIONS)))
    mesh = PhysicalMesh(bandwidth_bytes_per_s=ones, latency_s=ones, energy_j_per_bit=ones,
                        crosses_scribe=np.zeros(ones.shape, dtype=np.bool_),
                        link_hops=np.ones(ones.shape, dtype=np.int32), clock_hz=1.0)
    route_transfers(mesh, Transfers.unicast([0], [0], [1], [1], 1.0), buffers=RoutingBuffers(mesh))
