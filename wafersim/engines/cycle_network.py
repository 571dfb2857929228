"""Cycle-level, flit-level simulation of a wafer mesh (the network under ``--fidelity cycle``).

The rules (routers, virtual channels, wormhole, credits, XY routing, arbitration)
are in :mod:`wafersim.engines._cycle_kernels`; this module checks and prepares
the inputs and reads the outputs:

* :class:`LinkArrays` holds each directed link's latency (whole cycles, at least
  1) and period (cycles per flit).  :meth:`LinkArrays.from_mesh` builds them from
  a :class:`~wafersim.hardware.mesh.PhysicalMesh`: a flit is what an on-die link
  moves in one cycle (``mesh.link_bytes_per_cycle`` bytes), a slower link (a
  scribe crossing with fewer wires) needs ``flit / its bytes per cycle`` cycles
  per flit, and a link's latency (router, wire, scribe extra, defect detour) is
  rounded to whole cycles.
* :class:`Packets` are the packets to send, as arrays; :func:`transfer_packets`
  cuts a :class:`~wafersim.dataflow.transfers.Transfers` into packets (a
  multicast along a row or column is one packet per arm, to the arm's far end:
  every router on the arm hands each flit to its core as it passes, so each
  link carries the bytes once, as in the flow model).
* :func:`simulate_packets` runs them and returns a :class:`NetworkRun`;
  :func:`time_transfers` gives each transfer's completion cycle.

Only the box of routers the packets' XY routes can touch is simulated.  Call
:func:`warm_up` once so that compiling the kernel never happens mid-run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dataflow.transfers import COL_MULTICAST, ROW_MULTICAST, UNICAST, Transfers
from ..hardware.mesh import PhysicalMesh
from . import _cycle_kernels as _k

__all__ = ["NetworkConfig", "LinkArrays", "Packets", "NetworkRun", "transfer_arms", "transfer_packets", "simulate_packets",
           "time_transfers", "warm_up", "STATUS"]

STATUS = {_k.DONE: "done", _k.CYCLE_LIMIT: "cycle limit", _k.STALLED: "stalled", _k.ERROR: "error"}


@dataclass(frozen=True)
class NetworkConfig:
    """Router parameters.  Defaults: 2 VCs of 8 flits per input port (a credit loop of 2
    cycles on 1-cycle links needs 2 slots per VC for full rate; 8 keep uniform-random
    saturation at ~75 % of the bisection bound), packets of at most 16 flits."""
    vcs: int = 2
    buffer_flits: int = 8
    packet_flits: int = 16
    watchdog_cycles: int = 20_000

    def __post_init__(self) -> None:
        for name in ("vcs", "buffer_flits", "packet_flits", "watchdog_cycles"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")


@dataclass(frozen=True, eq=False)
class LinkArrays:
    """Per directed link (ny, nx, 4): ``latency`` in cycles (int64, 0 where no link) and
    ``period`` in cycles per flit (float64); ``flit_bytes`` and ``clock_hz`` to convert."""
    latency: np.ndarray
    period: np.ndarray
    flit_bytes: float = 4.0
    clock_hz: float = 1.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.latency.shape[:2]

    @classmethod
    def uniform(cls, ny: int, nx: int, latency: int = 1, period: float = 1.0, flit_bytes: float = 4.0,
                clock_hz: float = 1.0) -> "LinkArrays":
        """A k x k style mesh with every link alike."""
        exists = _exists(ny, nx)
        return cls(np.where(exists, int(latency), 0).astype(np.int64), np.where(exists, float(period), 0.0),
                   flit_bytes, clock_hz)

    @classmethod
    def from_mesh(cls, mesh: PhysicalMesh) -> "LinkArrays":
        exists = mesh.link_exists
        bytes_per_cycle = mesh.bandwidth_bytes_per_s / mesh.clock_hz
        flit = float(bytes_per_cycle[exists].max()) if exists.any() else 4.0
        lat = np.where(exists, np.maximum(np.rint(mesh.latency_s * mesh.clock_hz), 1), 0).astype(np.int64)
        period = np.divide(flit, bytes_per_cycle, out=np.zeros(exists.shape), where=exists)
        return cls(lat, period, flit, mesh.clock_hz)


def _exists(ny: int, nx: int) -> np.ndarray:
    e = np.zeros((ny, nx, 4), dtype=bool)
    e[:, :-1, 0] = True
    e[:, 1:, 1] = True
    e[1:, :, 2] = True
    e[:-1, :, 3] = True
    return e


@dataclass(frozen=True, eq=False)
class Packets:
    """Packets as arrays: source and destination (mesh coordinates), flits, creation
    cycle and virtual channel (a flow keeps one VC at every hop)."""
    src_y: np.ndarray
    src_x: np.ndarray
    dst_y: np.ndarray
    dst_x: np.ndarray
    flits: np.ndarray
    time: np.ndarray
    vc: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.src_y)
        for name in ("src_y", "src_x", "dst_y", "dst_x", "flits", "time", "vc"):
            a = np.ascontiguousarray(getattr(self, name), dtype=np.int64)
            if a.ndim != 1 or len(a) != n:
                raise ValueError(f"{name} must be one-dimensional with {n} entries, got shape {a.shape}")
            object.__setattr__(self, name, a)
        if n and (self.flits.min() < 1 or self.time.min() < 0 or self.vc.min() < 0):
            raise ValueError("packets need flits >= 1, creation cycle >= 0 and vc >= 0")

    def __len__(self) -> int:
        return len(self.src_y)


@dataclass(frozen=True, eq=False)
class NetworkRun:
    """What a simulation did.  ``head``: cycle each packet's head entered the network;
    ``done``: cycle it was delivered (-1 if not); ``link_flits`` (ny, nx, 4) flits each
    link carried (0 outside the simulated box); ``cycles`` the clock at the end;
    ``window_flits`` flits ejected in the measurement window; ``visits`` router-cycles
    simulated (active routers only); ``order_errors`` flits that reached their
    destination out of order (always 0 unless the model is broken)."""
    status: str
    cycles: int
    head: np.ndarray
    done: np.ndarray
    link_flits: np.ndarray
    window_flits: int
    ejected_flits: int
    delivered: int
    visits: int
    order_errors: int
    box: tuple[int, int, int, int]
    created: np.ndarray

    @property
    def latency(self) -> np.ndarray:
        """Cycles from creation to delivery (meaningful for delivered packets only)."""
        return self.done - self.created


def _box(p: Packets, ny: int, nx: int) -> tuple[int, int, int, int]:
    if not len(p):
        return 0, 0, 0, 0
    return (int(min(p.src_y.min(), p.dst_y.min())), int(min(p.src_x.min(), p.dst_x.min())),
            int(max(p.src_y.max(), p.dst_y.max())) + 1, int(max(p.src_x.max(), p.dst_x.max())) + 1)


def simulate_packets(links: LinkArrays | PhysicalMesh, packets: Packets, config: NetworkConfig = NetworkConfig(),
                     max_cycles: int = 10**9, window: tuple[int, int] = (0, 2**62)) -> NetworkRun:
    """Run ``packets`` through the mesh until all are delivered (or ``max_cycles``, or the
    watchdog: no flit moves for ``config.watchdog_cycles`` cycles while flits wait)."""
    if isinstance(links, PhysicalMesh):
        links = LinkArrays.from_mesh(links)
    ny, nx = links.shape
    p = packets
    n = len(p)
    for name, a, hi in (("src_y", p.src_y, ny), ("dst_y", p.dst_y, ny), ("src_x", p.src_x, nx),
                        ("dst_x", p.dst_x, nx)):
        if n and (a.min() < 0 or a.max() >= hi):
            raise ValueError(f"packet {int(np.argmax((a < 0) | (a >= hi)))}: {name} outside the {ny} x {nx} mesh")
    if n and p.time.max() >= 2**31 - 2**20:
        raise ValueError("creation cycles must fit in int32")
    if n and p.vc.max() >= config.vcs:
        raise ValueError(f"packet vc {int(p.vc.max())} >= {config.vcs} virtual channels")
    y0, x0, y1, x1 = _box(p, ny, nx)
    by, bx = max(y1 - y0, 1), max(x1 - x0, 1)
    lat = np.ascontiguousarray(links.latency[y0:y0 + by, x0:x0 + bx], dtype=np.int64).copy()
    period = np.ascontiguousarray(links.period[y0:y0 + by, x0:x0 + bx], dtype=np.float64).copy()
    # links leaving the box are never used (XY routes stay inside the box of their ends)
    lat[:, -1, 0] = 0; lat[:, 0, 1] = 0; lat[0, :, 2] = 0; lat[-1, :, 3] = 0
    if n and (lat[lat > 0].min(initial=1) < 1):
        raise ValueError("link latencies must be >= 1 cycle")
    R = by * bx
    src = (p.src_y - y0) * bx + (p.src_x - x0)
    dst = (p.dst_y - y0) * bx + (p.dst_x - x0)
    time_order = np.argsort(p.time, kind="stable").astype(np.int64)
    src_order = np.lexsort((p.time, src)).astype(np.int64)   # by source, then creation (then index)
    src_start = np.zeros(R + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=R), out=src_start[1:])
    head = np.full(n, -1, np.int64)
    done = np.full(n, -1, np.int64)
    link_flits = np.zeros((R, 4), np.int64)
    stats = np.zeros(6, np.int64)
    status = _k.run(by, bx, lat.reshape(R, 4), period.reshape(R, 4), int(config.vcs), int(config.buffer_flits),
                    src, dst, p.flits, p.time, p.vc, src_start, src_order, time_order,
                    int(max_cycles), int(config.watchdog_cycles), int(window[0]), int(window[1]),
                    head, done, link_flits, stats)
    full = np.zeros((ny, nx, 4), np.int64)
    full[y0:y0 + by, x0:x0 + bx] = link_flits.reshape(by, bx, 4)
    run = NetworkRun(STATUS[int(status)], int(stats[0]), head, done, full, int(stats[1]), int(stats[2]),
                     int(stats[3]), int(stats[4]), int(stats[5]), (y0, x0, y0 + by, x0 + bx), p.time)
    return run


def transfer_arms(transfers: Transfers, flit_bytes: float) -> tuple[np.ndarray, ...]:
    """The arms of ``transfers`` that move flits: (src_y, src_x, dst_y, dst_x, flits, transfer
    index), int64.  A unicast is one arm; a multicast one arm per direction it spans, to
    the span's end; a transfer of 0 bytes or to its own core has none."""
    t = transfers
    uni, row, col = t.kind == UNICAST, t.kind == ROW_MULTICAST, t.kind == COL_MULTICAST
    # arm 1: unicast as is, rows to the west end, columns to the north end; arm 2: east / south ends
    ty1 = np.where(uni, t.dst_y, np.where(col, t.dst_y, t.src_y))
    tx1 = np.where(uni, t.dst_x, np.where(row, t.dst_y, t.src_x))
    ty2 = np.where(col, t.dst_x, t.src_y)
    tx2 = np.where(row, t.dst_x, t.src_x)
    n = len(t)
    sy = np.concatenate([t.src_y, t.src_y]).astype(np.int64)
    sx = np.concatenate([t.src_x, t.src_x]).astype(np.int64)
    ty = np.concatenate([ty1, ty2]).astype(np.int64)
    tx = np.concatenate([tx1, tx2]).astype(np.int64)
    owner = np.concatenate([np.arange(n), np.arange(n)]).astype(np.int64)
    flits = np.ceil(t.nbytes / flit_bytes).astype(np.int64)[owner]
    keep = (flits > 0) & ((sy != ty) | (sx != tx))
    keep[n:] &= ~uni                                          # a unicast has one arm
    return sy[keep], sx[keep], ty[keep], tx[keep], flits[keep], owner[keep]


def transfer_packets(transfers: Transfers, flit_bytes: float, config: NetworkConfig = NetworkConfig(),
                     time: int = 0) -> tuple[Packets, np.ndarray]:
    """Cut ``transfers`` into packets of at most ``config.packet_flits`` flits, all created at
    ``time`` (one arm after the other from each source, see :func:`transfer_arms`);
    returns the packets and, per packet, the index of its transfer."""
    sy, sx, ty, tx, flits, owner = transfer_arms(transfers, flit_bytes)
    per = (flits + config.packet_flits - 1) // config.packet_flits
    rep = np.repeat(np.arange(len(flits)), per)
    first = np.repeat(np.cumsum(per) - per, per)
    k = np.arange(len(rep)) - first                                   # packet number within its arm
    size = np.minimum(flits[rep] - k * config.packet_flits, config.packet_flits)
    vc = owner[rep] % config.vcs
    pk = Packets(sy[rep], sx[rep], ty[rep], tx[rep], size, np.full(len(rep), time, np.int64), vc)
    return pk, owner[rep]


def time_transfers(links: LinkArrays | PhysicalMesh, transfers: Transfers, config: NetworkConfig = NetworkConfig(),
                   max_cycles: int = 10**9) -> tuple[np.ndarray, NetworkRun]:
    """Send every transfer at cycle 0; each transfer's completion (cycles, 0 for one that
    moves nothing) and the run.  Raises RuntimeError if the network stalls or runs out of cycles."""
    if isinstance(links, PhysicalMesh):
        links = LinkArrays.from_mesh(links)
    packets, owner = transfer_packets(transfers, links.flit_bytes, config)
    run = simulate_packets(links, packets, config, max_cycles=max_cycles)
    if run.status != "done":
        raise RuntimeError(f"cycle simulation ended with status {run.status!r} after {run.cycles} cycles "
                           f"({run.delivered} of {len(packets)} packets delivered)")
    done = np.zeros(len(transfers), np.int64)
    np.maximum.at(done, owner, run.done)
    return done, run


def warm_up() -> None:
    """Compile (or load from the on-disk cache) the kernel with the types real calls use."""
    links = LinkArrays.uniform(2, 2)
    simulate_packets(links, Packets([0], [0], [1], [1], [2], [0], [0]), NetworkConfig(), max_cycles=100)
