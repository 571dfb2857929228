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

__all__ = ["NetworkConfig", "LinkArrays", "Packets", "NetworkRun", "PacketStream", "transfer_arms", "transfer_packets", "simulate_packets",
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


def _source_lists(src: np.ndarray, time: np.ndarray, index: np.ndarray, routers: int) -> tuple[np.ndarray, np.ndarray]:
    """Each router's packets ``index`` (by source, then creation cycle, then index): the start
    of each router's list and the lists, as the kernel reads them."""
    order = index[np.lexsort((index, time[index], src[index]))].astype(np.int64)
    start = np.zeros(routers + 1, np.int64)
    np.cumsum(np.bincount(src[index], minlength=routers), out=start[1:])
    return start, order


class _Network:
    """The routers of a box of ``by`` x ``bx`` routers between calls of the kernel
    (:func:`wafersim.engines._cycle_kernels.advance`): buffers, allocations, credits, the
    clock and the active routers.  ``R x 5 x vcs x buffer_flits`` slots of 16 bytes."""

    def __init__(self, by: int, bx: int, lat: np.ndarray, period: np.ndarray, config: NetworkConfig):
        R, V, D = by * bx, int(config.vcs), int(config.buffer_flits)
        Q = R * _k.PORTS * V
        self.by, self.bx, self.lat, self.period, self.V, self.D = by, bx, lat, period, V, D
        self.watchdog = int(config.watchdog_cycles)
        self.state = (_k.in_latency(lat, bx), np.zeros((Q, D, 4), np.int32), np.zeros(Q, np.int64),
                      np.zeros(Q, np.int64), np.full(Q, -1, np.int64), np.full(Q, -1, np.int64),
                      np.zeros(R * _k.PORTS, np.int64), np.zeros(R * _k.PORTS, np.int64), np.zeros((R, 4)),
                      np.zeros(R, np.int64), np.full(R, -1, np.int64), np.zeros(R, np.int64),
                      np.empty(R, np.int64), np.empty(R, np.int64), np.full(R, -1, np.int64),
                      np.zeros(6, np.int64))
        self.link_flits = np.zeros((R, 4), np.int64)
        self.stats = np.zeros(6, np.int64)

    @property
    def slots(self) -> np.ndarray:
        return self.state[1]

    @property
    def injecting(self) -> np.ndarray:
        """Per router, the packet whose flits it is injecting (-1: none)."""
        return self.state[10]

    @property
    def scalars(self) -> np.ndarray:
        return self.state[15]

    def advance(self, src, dst, flits, time, vc, got, src_start, src_order, time_order, max_cycles: int,
                win_start: int, win_end: int, head, done) -> int:
        src_next = src_start[:-1].copy()
        return int(_k.advance(self.by, self.bx, self.lat, self.period, self.V, self.D, *self.state,
                              src, dst, flits, time, vc, got, src_start, src_next, src_order, time_order,
                              int(max_cycles), self.watchdog, int(win_start), int(win_end), head, done,
                              self.link_flits, self.stats))


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
    net = _Network(by, bx, lat.reshape(R, 4), period.reshape(R, 4), config)
    time_order = np.argsort(p.time, kind="stable").astype(np.int64)
    src_start, src_order = _source_lists(src, p.time, np.arange(n, dtype=np.int64), R)
    head = np.full(n, -1, np.int64)
    done = np.full(n, -1, np.int64)
    status = net.advance(src, dst, p.flits, p.time, p.vc, np.zeros(n, np.int64), src_start, src_order, time_order,
                         int(max_cycles), int(window[0]), int(window[1]), head, done)
    link_flits, stats = net.link_flits, net.stats
    full = np.zeros((ny, nx, 4), np.int64)
    full[y0:y0 + by, x0:x0 + bx] = link_flits.reshape(by, bx, 4)
    run = NetworkRun(STATUS[int(status)], int(stats[0]), head, done, full, int(stats[1]), int(stats[2]),
                     int(stats[3]), int(stats[4]), int(stats[5]), (y0, x0, y0 + by, x0 + bx), p.time)
    return run


class PacketStream:
    """The network fed packets as they are created, a batch at a time: :meth:`run` adds the
    packets created up to a cycle and simulates up to it; the packets delivered leave,
    so memory follows the packets in flight (queued at their source or in the routers),
    not every packet of the run.  The whole mesh is simulated.  Fed the same packets, it
    gives the cycles, deliveries and link loads :func:`simulate_packets` gives in one run
    (a test holds the two to that)."""

    def __init__(self, links: LinkArrays, config: NetworkConfig = NetworkConfig(),
                 window: tuple[int, int] = (0, 2**62)):
        ny, nx = links.shape
        lat = np.ascontiguousarray(links.latency, dtype=np.int64).reshape(ny * nx, 4).copy()
        if (lat[lat > 0].min(initial=1) < 1):
            raise ValueError("link latencies must be >= 1 cycle")
        self.shape, self.config, self.window = (ny, nx), config, window
        self.net = _Network(ny, nx, lat, np.ascontiguousarray(links.period, dtype=np.float64).reshape(ny * nx, 4).copy(),
                            config)
        empty = np.zeros(0, np.int64)
        # the packets in flight: source and destination router, flits, creation cycle, VC,
        # flits delivered, head cycle
        self.src, self.dst, self.flits, self.time, self.vc, self.got, self.head = (empty,) * 7
        self.status = "done"
        self.delivered = 0

    @property
    def cycles(self) -> int:
        return int(self.net.scalars[_k.T])

    def run(self, packets: Packets, until: int) -> tuple[np.ndarray, np.ndarray]:
        """Add ``packets`` (created at ``self.cycles`` or later, before ``until``) and simulate
        up to cycle ``until``; the creation and delivery cycles of the packets delivered."""
        ny, nx = self.shape
        p = packets
        if len(p) and (p.time.min() < self.cycles or p.time.max() >= until):
            raise ValueError("packets must be created between the stream's clock and the end of the run")
        if len(p) and p.vc.max() >= self.config.vcs:
            raise ValueError(f"packet vc {int(p.vc.max())} >= {self.config.vcs} virtual channels")
        if until >= 2**31 - 2**20:
            raise ValueError("cycles must fit in int32")
        old = len(self.src)
        src = np.concatenate([self.src, p.src_y * nx + p.src_x])
        dst = np.concatenate([self.dst, p.dst_y * nx + p.dst_x])
        flits, time, vc = (np.concatenate([a, b]) for a, b in ((self.flits, p.flits), (self.time, p.time),
                                                                (self.vc, p.vc)))
        got = np.concatenate([self.got, np.zeros(len(p), np.int64)])
        head = np.concatenate([self.head, np.full(len(p), -1, np.int64)])
        done = np.full(len(src), -1, np.int64)
        started = head >= 0
        inj = self.net.injecting
        started[inj[inj >= 0]] = True
        src_start, src_order = _source_lists(src, time, np.nonzero(~started)[0].astype(np.int64), ny * nx)
        sc = self.net.scalars
        sc[_k.GP] = 0
        sc[_k.DELIVERED] = 0
        status = self.net.advance(src, dst, flits, time, vc, got, src_start, src_order,
                                  old + np.arange(len(p), dtype=np.int64), until, self.window[0], self.window[1],
                                  head, done)
        self.status = STATUS[status]
        out = done >= 0
        self.delivered += int(out.sum())
        keep = ~out
        remap = np.full(len(src) + 1, -1, np.int64)           # the last entry maps -1 (a slot never used)
        remap[np.nonzero(keep)[0]] = np.arange(int(keep.sum()))
        slots = self.net.slots
        slots[..., 0] = remap[slots[..., 0]]
        inj[:] = remap[inj]
        self.src, self.dst, self.flits, self.time, self.vc, self.got, self.head = (
            a[keep] for a in (src, dst, flits, time, vc, got, head))
        return time[out], done[out]

    @property
    def in_flight(self) -> int:
        """Packets created and not yet delivered."""
        return len(self.src)


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
    packets = Packets([0], [0], [1], [1], [2], [0], [0])
    simulate_packets(links, packets, NetworkConfig(), max_cycles=100)
    PacketStream(links).run(packets, 100)
