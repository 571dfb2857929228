"""Synthetic traffic for the cycle-level mesh network, and the latency-throughput sweep.

Patterns on an ny x nx mesh (node ``(y, x)``; the classic definitions of Dally &
Towles, "Principles and Practices of Interconnection Networks", ch. 3):

* ``uniform``: every packet to a node drawn uniformly from the others;
* ``transpose``: ``(y, x) -> (x, y)`` (square meshes; nodes on the diagonal send nothing);
* ``bit_complement``: ``(y, x) -> (ny - 1 - y, nx - 1 - x)``;
* ``hotspot``: a share ``hotspot_fraction`` of packets to the centre node, the rest uniform;
* ``neighbour``: to one of the node's mesh neighbours, drawn uniformly.

Each node creates packets of ``packet_flits`` flits as a Bernoulli process with
``rate / packet_flits`` packets per cycle (``rate`` in flits per node per
cycle).  A source-destination pair is bound to one virtual channel.  All draws
come from one ``numpy.random.Generator`` seeded by ``seed``: a seed gives the
same packets, and the simulation is deterministic, so the same results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from .cycle_network import LinkArrays, NetworkConfig, Packets, PacketStream

__all__ = ["PATTERNS", "TrafficSpec", "packet_batches", "make_packets", "LatencyCounts", "SweepPoint", "run_point",
           "sweep"]

PATTERNS = ("uniform", "transpose", "bit_complement", "hotspot", "neighbour")


@dataclass(frozen=True)
class TrafficSpec:
    pattern: str = "uniform"
    rate: float = 0.1                  # flits per node per cycle offered
    packet_flits: int = 4
    cycles: int = 3000                 # cycles during which packets are created
    warmup: int = 1000                 # cycles before the measurement window
    hotspot_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, got {self.pattern!r}")
        if not 0 < self.rate <= self.packet_flits:
            raise ValueError(f"rate must be in (0, packet_flits], got {self.rate!r}")
        if not 0 <= self.warmup < self.cycles:
            raise ValueError("warmup must be >= 0 and below cycles")


def _destinations(spec: TrafficSpec, ny: int, nx: int, sy: np.ndarray, sx: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = ny * nx
    src = sy * nx + sx
    if spec.pattern in ("uniform", "hotspot"):
        d = rng.integers(0, n - 1, size=len(src))
        d = d + (d >= src)                                      # any node but the source
        if spec.pattern == "hotspot":
            hot = (ny // 2) * nx + nx // 2
            d = np.where((rng.random(len(src)) < spec.hotspot_fraction) & (src != hot), hot, d)
        return d // nx, d % nx
    if spec.pattern == "transpose":
        if ny != nx:
            raise ValueError("transpose traffic needs a square mesh")
        return sx.copy(), sy.copy()
    if spec.pattern == "bit_complement":
        return ny - 1 - sy, nx - 1 - sx
    # neighbour: draw among the existing neighbours
    dy = np.array([0, 0, -1, 1])
    dx = np.array([1, -1, 0, 0])
    ok = np.stack([sx + 1 < nx, sx > 0, sy > 0, sy + 1 < ny], axis=1).astype(float)
    ok /= ok.sum(axis=1, keepdims=True)
    pick = (rng.random(len(src))[:, None] > np.cumsum(ok, axis=1)).sum(axis=1)
    return sy + dy[pick], sx + dx[pick]


#: packets a batch of :func:`packet_batches` holds about (the batch spans whole cycles, at
#: least :data:`BATCH_MIN_CYCLES`): what bounds a sweep point's memory besides the packets in flight
BATCH_PACKETS = 2**16
#: fewest cycles a batch spans, so that a large mesh is not fed a cycle at a time
BATCH_MIN_CYCLES = 64


def batch_cycles(spec: TrafficSpec, ny: int, nx: int) -> int:
    """Cycles each batch of :func:`packet_batches` spans."""
    per_cycle = ny * nx * spec.rate / spec.packet_flits
    return max(BATCH_MIN_CYCLES, int(BATCH_PACKETS / per_cycle))


def _creations(rng: np.random.Generator, p: float, nxt: np.ndarray, end: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Creation cycles before ``end`` of each node whose next creation is ``nxt`` (updated in
    place to the first at or after ``end``): gaps are geometric (Bernoulli creation)."""
    nodes, times = [], []
    active = np.nonzero(nxt < end)[0]
    while len(active):
        gaps = rng.geometric(p, size=(len(active), width)) if p < 1 else np.ones((len(active), width), np.int64)
        t = nxt[active, None] + np.cumsum(gaps, axis=1) - gaps            # row k: after k gaps
        keep = t < end
        r, _ = np.nonzero(keep)
        nodes.append(active[r])
        times.append(t[keep])
        k = keep.sum(axis=1)
        nxt[active] = np.where(k == width, t[:, -1] + gaps[:, -1], t[np.arange(len(active)), np.minimum(k, width - 1)])
        active = active[(k == width) & (nxt[active] < end)]
    node, time = np.concatenate(nodes or [np.zeros(0, np.int64)]), np.concatenate(times or [np.zeros(0, np.int64)])
    order = np.lexsort((node, time))
    return node[order], time[order]


def packet_batches(spec: TrafficSpec, ny: int, nx: int, vcs: int = 2) -> Iterator[tuple[int, Packets]]:
    """The packets ``spec`` creates on an ny x nx mesh, a batch of :func:`batch_cycles` cycles
    at a time, by creation cycle: (end of the batch, its packets)."""
    rng = np.random.default_rng(spec.seed)
    p = spec.rate / spec.packet_flits
    n = ny * nx
    span = batch_cycles(spec, ny, nx)
    mean = span * p
    width = int(np.ceil(mean + 6 * np.sqrt(mean) + 10))
    nxt = (rng.geometric(p, size=n) - 1) if p < 1 else np.zeros(n, np.int64)
    for start in range(0, spec.cycles, span):
        end = min(start + span, spec.cycles)
        node, t = _creations(rng, p, nxt, end, width)
        sy, sx = node // nx, node % nx
        ty, tx = _destinations(spec, ny, nx, sy, sx, rng)
        moves = (ty != sy) | (tx != sx)
        sy, sx, ty, tx, t = sy[moves], sx[moves], ty[moves], tx[moves], t[moves]
        vc = ((sy * nx + sx) * 7 + ty * nx + tx) % vcs
        yield end, Packets(sy, sx, ty, tx, np.full(len(t), spec.packet_flits), t, vc)


def make_packets(spec: TrafficSpec, ny: int, nx: int, vcs: int = 2) -> Packets:
    """Every packet ``spec`` creates on an ny x nx mesh, by creation cycle (the batches of
    :func:`packet_batches` joined)."""
    parts = [pk for _, pk in packet_batches(spec, ny, nx, vcs)]
    return Packets(*(np.concatenate([getattr(pk, f) for pk in parts] or [np.zeros(0, np.int64)])
                     for f in ("src_y", "src_x", "dst_y", "dst_x", "flits", "time", "vc")))


class LatencyCounts:
    """Packet latencies as a histogram (whole cycles: value and count), so that the
    percentiles of a long run are exact without keeping every packet's latency."""

    def __init__(self) -> None:
        self.values = np.zeros(0, np.int64)
        self.counts = np.zeros(0, np.int64)

    def add(self, latencies: np.ndarray) -> None:
        both = np.concatenate([self.values, latencies.astype(np.int64)])
        weights = np.concatenate([self.counts, np.ones(len(latencies), np.int64)])
        v, inverse = np.unique(both, return_inverse=True)
        self.values, self.counts = v, np.bincount(inverse, weights=weights, minlength=len(v)).astype(np.int64)

    def __len__(self) -> int:
        return int(self.counts.sum())

    def mean(self) -> float:
        n = len(self)
        return float((self.values * self.counts).sum() / n) if n else float("nan")

    def percentile(self, q: float) -> float:
        """As ``numpy.percentile`` (linear interpolation) of the latencies added."""
        n = len(self)
        if not n:
            return float("nan")
        cum = np.cumsum(self.counts)
        h = (n - 1) * q / 100.0
        lo = int(np.floor(h))
        a = float(self.values[np.searchsorted(cum, lo, side="right")])
        b = float(self.values[np.searchsorted(cum, min(lo + 1, n - 1), side="right")])
        return a + (b - a) * (h - lo)


@dataclass(frozen=True)
class SweepPoint:
    """One injection rate: offered and accepted flits/node/cycle, latency (cycles) of the
    packets created in the measurement window, the share of them delivered, per-link
    utilisation over the window (flits per cycle, (ny, nx, 4)) and the router-cycles run."""
    offered: float
    accepted: float
    latency_mean: float
    latency_p50: float
    latency_p99: float
    delivered_share: float
    status: str
    link_utilisation: np.ndarray = field(repr=False)
    visits: int
    cycles: int


def run_point(links: LinkArrays, spec: TrafficSpec, config: NetworkConfig = NetworkConfig(),
              progress: Callable[[int], None] | None = None) -> tuple[SweepPoint, PacketStream]:
    """Simulate ``spec`` on ``links``: packets are created for ``spec.cycles`` cycles, fed to
    the network as they are created (:class:`~wafersim.engines.cycle_network.PacketStream`,
    so memory follows the packets in flight); the network then drains for up to as long
    again (latencies of late packets count).  ``progress(cycles)`` is called after each
    batch with the cycles simulated so far.  Returns the point and the stream (its
    status, clock, and the packets still in flight)."""
    ny, nx = links.shape
    stream = PacketStream(links, config, window=(spec.warmup, spec.cycles))
    latencies = LatencyCounts()
    measured = 0

    def account(created: np.ndarray, done: np.ndarray) -> None:
        mine = (created >= spec.warmup) & (created < spec.cycles)
        latencies.add((done - created)[mine])

    for end, packets in packet_batches(spec, ny, nx, config.vcs):
        measured += int(((packets.time >= spec.warmup) & (packets.time < spec.cycles)).sum())
        account(*stream.run(packets, end))
        if progress is not None:
            progress(stream.cycles)
    account(*stream.run(Packets(*([],) * 7), 2 * spec.cycles))
    if progress is not None:
        progress(stream.cycles)
    net = stream.net
    window = spec.cycles - spec.warmup
    cycles = int(net.stats[0])
    point = SweepPoint(
        offered=float(spec.rate), accepted=int(net.stats[1]) / (ny * nx * window),
        latency_mean=latencies.mean(), latency_p50=latencies.percentile(50), latency_p99=latencies.percentile(99),
        delivered_share=float(len(latencies) / max(measured, 1)), status=stream.status,
        link_utilisation=(net.link_flits.reshape(ny, nx, 4) / max(cycles, 1)).astype(np.float32),
        visits=int(net.stats[4]), cycles=cycles)
    return point, stream


def sweep(links: LinkArrays, rates, base: TrafficSpec = TrafficSpec(),
          config: NetworkConfig = NetworkConfig()) -> list[SweepPoint]:
    """:func:`run_point` at each of ``rates`` (same seed for all)."""
    from dataclasses import replace
    return [run_point(links, replace(base, rate=float(r)), config)[0] for r in rates]
