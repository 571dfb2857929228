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

import numpy as np

from .cycle_network import LinkArrays, NetworkConfig, NetworkRun, Packets, simulate_packets

__all__ = ["PATTERNS", "TrafficSpec", "make_packets", "SweepPoint", "run_point", "sweep"]

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


def make_packets(spec: TrafficSpec, ny: int, nx: int, vcs: int = 2) -> Packets:
    """The packets ``spec`` creates on an ny x nx mesh, by creation cycle."""
    rng = np.random.default_rng(spec.seed)
    p = spec.rate / spec.packet_flits
    n = ny * nx
    mean = spec.cycles * p
    m = int(np.ceil(mean + 6 * np.sqrt(mean) + 10))
    gaps = rng.geometric(p, size=(n, m)) if p < 1 else np.ones((n, m), np.int64)
    times = np.cumsum(gaps, axis=1) - 1
    node, _ = np.nonzero(times < spec.cycles)
    t = times[times < spec.cycles]
    sy, sx = node // nx, node % nx
    ty, tx = _destinations(spec, ny, nx, sy, sx, rng)
    moves = (ty != sy) | (tx != sx)
    sy, sx, ty, tx, t = sy[moves], sx[moves], ty[moves], tx[moves], t[moves]
    vc = ((sy * nx + sx) * 7 + ty * nx + tx) % vcs
    order = np.argsort(t, kind="stable")
    return Packets(sy[order], sx[order], ty[order], tx[order], np.full(len(t), spec.packet_flits),
                   t[order], vc[order])


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


def run_point(links: LinkArrays, spec: TrafficSpec, config: NetworkConfig = NetworkConfig()) -> tuple[SweepPoint, NetworkRun]:
    """Simulate ``spec`` on ``links``: packets are created for ``spec.cycles`` cycles; the
    network then drains for up to as long again (latencies of late packets count)."""
    ny, nx = links.shape
    packets = make_packets(spec, ny, nx, config.vcs)
    run = simulate_packets(links, packets, config, max_cycles=2 * spec.cycles, window=(spec.warmup, spec.cycles))
    window = spec.cycles - spec.warmup
    measured = (packets.time >= spec.warmup) & (packets.time < spec.cycles)
    got = measured & (run.done >= 0)
    lat = run.latency[got].astype(float)
    stat = (lambda f: float(f(lat))) if len(lat) else (lambda f: float("nan"))
    point = SweepPoint(
        offered=float(spec.rate), accepted=run.window_flits / (ny * nx * window),
        latency_mean=stat(np.mean), latency_p50=stat(lambda a: np.percentile(a, 50)),
        latency_p99=stat(lambda a: np.percentile(a, 99)),
        delivered_share=float(got.sum() / max(measured.sum(), 1)), status=run.status,
        link_utilisation=(run.link_flits / max(run.cycles, 1)).astype(np.float32),
        visits=run.visits, cycles=run.cycles)
    return point, run


def sweep(links: LinkArrays, rates, base: TrafficSpec = TrafficSpec(),
          config: NetworkConfig = NetworkConfig()) -> list[SweepPoint]:
    """:func:`run_point` at each of ``rates`` (same seed for all)."""
    from dataclasses import replace
    return [run_point(links, replace(base, rate=float(r)), config)[0] for r in rates]
