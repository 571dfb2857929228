"""Flow-level routing of transfers on a wafer mesh.

A :class:`~wafersim.dataflow.transfers.Transfers` holds many transfers as arrays; :func:`route_transfers`
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

import weakref
from dataclasses import dataclass

import numpy as np

from ..dataflow.transfers import COL_MULTICAST, KINDS, ROW_MULTICAST, UNICAST, Transfers
from ..hardware.directions import DIRECTIONS, EAST, NORTH, SOUTH, WEST
from ..hardware.mesh import PhysicalMesh
from . import _flow_kernels as _k

__all__ = ["RoutingResult", "RoutingBuffers", "route_stage", "route_transfers", "warm_up"]


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


@dataclass(frozen=True, eq=False)
class LineTables:
    """What :func:`route_stage` reads of a mesh, laid out along its lines (computed once per mesh).

    ``energy_prefix``: prefix sums of link energy per bit along rows and columns,
    ``(e_x, e_y)``, laid out as the latency sums of ``PhysicalMesh.link_prefix_sums``.
    ``lines``: ``(h_bw, h_next, v_bw, v_next)``: east/west link bandwidth per row
    (2, ny, nx) and north/south per column (2, nx, ny), each with the position of the next
    link along the line whose bandwidth differs (int32), so a run of equal links is one step.
    """
    energy_prefix: tuple[np.ndarray, np.ndarray]
    lines: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


_TABLES: "weakref.WeakKeyDictionary[PhysicalMesh, LineTables]" = weakref.WeakKeyDictionary()


def _next_change(bw: np.ndarray) -> np.ndarray:
    """For each position of each line (last axis), the next position whose value differs (or the length)."""
    n = bw.shape[-1]
    nxt = np.empty(bw.shape, dtype=np.int32)
    nxt[..., -1] = n
    change = bw[..., 1:] != bw[..., :-1]                  # position p + 1 starts a new run
    idx = np.where(change, np.arange(1, n, dtype=np.int32), n).astype(np.int32)
    nxt[..., :-1] = np.minimum.accumulate(idx[..., ::-1], axis=-1)[..., ::-1]
    return nxt


def line_tables(mesh: PhysicalMesh) -> LineTables:
    """The :class:`LineTables` of ``mesh``, built on first use and kept while the mesh lives."""
    tables = _TABLES.get(mesh)
    if tables is None:
        ny, nx = mesh.shape
        e_x, e_y = np.zeros((ny, nx + 1, 2)), np.zeros((ny + 1, nx, 2))
        np.cumsum(mesh.energy_j_per_bit[:, :, EAST:WEST + 1], axis=1, out=e_x[:, 1:])
        np.cumsum(mesh.energy_j_per_bit[:, :, NORTH:SOUTH + 1], axis=0, out=e_y[1:])
        bw = mesh.bandwidth_bytes_per_s
        h_bw = np.ascontiguousarray(bw[:, :, EAST:WEST + 1].transpose(2, 0, 1))
        v_bw = np.ascontiguousarray(bw[:, :, NORTH:SOUTH + 1].transpose(2, 1, 0))
        arrays = (e_x, e_y, h_bw, _next_change(h_bw), v_bw, _next_change(v_bw))
        for a in arrays:
            a.setflags(write=False)
        tables = _TABLES[mesh] = LineTables(arrays[:2], arrays[2:])
    return tables


def route_stage(mesh: PhysicalMesh, transfers: Transfers, region: np.ndarray, group_start: np.ndarray,
                group_wafer: np.ndarray, group_mult: np.ndarray, region_box: np.ndarray,
                link_max: np.ndarray, lat_max: np.ndarray, totals: tuple[np.ndarray, ...] | None = None,
                router_cycles: float = 0.0) -> np.ndarray:
    """Route one stage of many regions in one kernel call; return each group's link energy (J).

    ``transfers`` come in groups (``group_start``, G + 1 offsets into them); group ``g``
    is routed alone on wafer ``group_wafer[g]`` and counts ``group_mult[g]`` times.
    ``region`` gives each transfer's region (an index into ``region_box``, (R, 4)
    ``y0, x0, y1, x1`` with exclusive ends).  For every region with transfers in a group,
    ``link_max[region]`` becomes the busiest link time inside its box in that group's
    route and ``lat_max[region]`` the longest path latency so far.  With ``totals``
    ``(h_load, h_time, v_load, v_time)`` every link's load and time, times the group's
    multiplicity, are added: east/west links into ``h_*`` ((wafers, 2, ny, nx): east, west
    planes), north/south links into ``v_*`` ((wafers, 2, nx, ny): north, south planes,
    column by column), so that every run of links is written in memory order.  Loads, times and latencies equal, to the bit,
    routing each group with :func:`route_transfers`; the energy sums bytes x energy per
    bit along each path rather than link by link, so it agrees to rounding.
    """
    if not isinstance(mesh, PhysicalMesh):
        raise TypeError(f"mesh must be a PhysicalMesh, got {type(mesh).__name__}")
    if not isinstance(transfers, Transfers):
        raise TypeError(f"transfers must be a Transfers, got {type(transfers).__name__}")
    ny, nx = mesh.shape
    _check_in_mesh(transfers, ny, nx)
    n = len(transfers)
    group_start = np.asarray(group_start, dtype=np.int64)
    region = np.asarray(region, dtype=np.int32)
    region_box = np.ascontiguousarray(region_box, dtype=np.int64)
    R = len(link_max)
    if region.shape != (n,) or (n and (region.min() < 0 or region.max() >= R)) or region_box.shape != (R, 4):
        raise ValueError(f"region must give each of the {n} transfers one of {R} regions with a box each")
    if len(group_start) < 1 or group_start[0] != 0 or group_start[-1] != n or np.any(np.diff(group_start) < 0):
        raise ValueError(f"group_start must rise from 0 to {n}")
    groups = len(group_start) - 1
    if totals is None:
        none = np.zeros((0, 1, 1, 1))
        totals = (none, none, none, none)
    else:
        w = 1 + int(np.max(group_wafer, initial=0))
        h_load, h_time, v_load, v_time = totals
        if (h_load.shape[0] < w or h_load.shape[1:] != (2, ny, nx) or h_time.shape != h_load.shape
                or v_load.shape != (h_load.shape[0], 2, nx, ny) or v_time.shape != v_load.shape):
            raise ValueError(f"link totals must be (wafers, 2, {ny}, {nx}) twice and "
                             f"(wafers, 2, {nx}, {ny}) twice, for every group's wafer")
    energy = np.zeros(groups)
    t = transfers
    tables = line_tables(mesh)
    _k.route_stage(t.src_y, t.src_x, t.dst_y, t.dst_x, t.nbytes, t.kind, region, group_start,
                   np.asarray(group_wafer, dtype=np.int64), np.asarray(group_mult, dtype=np.float64),
                   mesh.link_prefix_sums, tables.energy_prefix, float(router_cycles) / mesh.clock_hz,
                   tables.lines, region_box, *totals, link_max, lat_max, energy)
    return energy


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
    one = Transfers.unicast([0], [0], [1], [1], 1.0)
    route_transfers(mesh, one, buffers=RoutingBuffers(mesh))
    start, box = np.array([0, 1]), np.array([[0, 0, 2, 2]])
    planes = tuple(np.zeros((1, 2, 2, 2)) for _ in range(4))
    _k.busiest_link(planes[1], planes[3])
    out = np.zeros((2, 1, 3, 3, 4), np.float32)                   # whole result arrays and a window of them
    _k.link_arrays(*planes, 1.0, out[0, :, :2, :2], out[1, :, :2, :2])
    _k.link_arrays(*planes, 1.0, np.zeros((1, 2, 2, 4), np.float32), np.zeros((1, 2, 2, 4), np.float32))
    for totals in (None, planes):
        route_stage(mesh, one, np.zeros(1, np.int32), start, np.zeros(1, np.int64), np.ones(1), box,
                    np.zeros(1), np.zeros(1), totals)
