"""Time of NCCL-style collectives, costed on the links of a system graph.

``nbytes`` follows nccl-tests: the buffer per GPU of an all-reduce, the *output* per
GPU of an all-gather, the *input* per GPU of a reduce-scatter, the send buffer per GPU
of an all-to-all, the message of a point-to-point transfer (``gpus[0]`` to ``gpus[1]``).

The model.  An algorithm is a sequence of steps; each step is a set of flows
(source GPU, destination GPU, bytes) routed on the graph by :class:`~.routing.Router`
(shortest by latency, split over equal-cost paths by bandwidth).  The bytes of all
flows of a step are added per directed link, so flows sharing a link share its
bandwidth, and the step takes::

    max over links (bytes / (bandwidth x efficiency)) + max route latency + step latency

A call adds ``call_latency_s`` once.  With n GPUs:

ring
    all-reduce = reduce-scatter + all-gather: 2(n-1) steps, in each every GPU sends
    S/n to the next GPU of the ring.  All-gather and reduce-scatter are n-1 such steps.
    On several nodes there is one ring per GPU of a node, each carrying S / rings and
    entered at a different local GPU, so that each ring crosses between nodes on its
    own rail (as NCCL builds one ring per NIC).
tree (all-reduce only)
    NCCL's double binary tree: two complementary binary trees (heap order over the
    GPUs, and the same shape over the GPUs rotated by n // 2, so a GPU inner in one is
    a leaf in the other) each reduce S/2 up to the root and broadcast it down.  The
    chunks are pipelined, so all tree edges carry their S/2 in both directions in one
    phase, and the latency of 2 x depth dependent steps is paid once.  Limitation: the
    trees are flat over all GPUs, not NCCL's node-level trees with chains inside nodes,
    so across nodes they cross NICs far more often than NCCL's (auto then picks ring).
nvls (NVLink SHARP; NVSwitch chips marked ``in_switch_reduction``)
    The switch reduces and multicasts, so in an all-reduce each GPU sends S once and
    receives S once (the ring moves 2(n-1)/n x S each way): one step whose link loads
    are S on every GPU's up- and downlinks, split over the switch chips in proportion
    to their link bandwidth.  All-gather: S/n up, S down; reduce-scatter: S up, S/n
    down.  Its efficiency is ``nvls_efficiency`` (switch reductions reach a lower share
    of link bandwidth than ring copies).  Only within one NVLink domain.
direct (all-to-all, point-to-point)
    All transfers at once in one step: S/n from every GPU to every other, or S from one
    GPU to another.

Bus bandwidth follows nccl-tests: algorithm bandwidth S / time times 2(n-1)/n for an
all-reduce, (n-1)/n for all-gather, reduce-scatter and all-to-all, 1 for point-to-point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import networkx as nx

from .routing import Edge, Router

__all__ = ["OPS", "ALGORITHMS", "CollectiveParams", "CollectiveCost", "CollectiveModel", "collective_time",
           "collective_model", "available_algorithms"]

OPS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "point_to_point")
ALGORITHMS: dict[str, tuple[str, ...]] = {
    "all_reduce": ("ring", "tree", "nvls"),
    "all_gather": ("ring", "nvls"),
    "reduce_scatter": ("ring", "nvls"),
    "all_to_all": ("direct",),
    "point_to_point": ("direct",),
}


@dataclass(frozen=True, kw_only=True)
class CollectiveParams:
    """The fitted factors of the collective model (all from a preset, see :meth:`from_spec`)."""
    efficiency: float
    """achieved share of link bandwidth in ring, tree and direct transfers"""
    call_latency_s: float
    """fixed latency of one collective call"""
    step_latency_s: float
    """overhead of one dependent step"""
    nvls_efficiency: float
    """achieved share of link bandwidth when the switch reduces"""

    def __post_init__(self) -> None:
        for name in ("efficiency", "nvls_efficiency"):
            value = getattr(self, name)
            if not (0 < value <= 1):
                raise ValueError(f"CollectiveParams.{name} must be in (0, 1], got {value!r}")
        for name in ("call_latency_s", "step_latency_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"CollectiveParams.{name} must be >= 0, got {value!r}")

    @classmethod
    def from_spec(cls, spec: Any) -> "CollectiveParams":
        """From ``spec.efficiency`` (collective, collective_latency_s, collective_step_latency_s)
        and ``spec.interconnect.nvls_efficiency`` (0: the collective efficiency)."""
        eff = spec.efficiency
        return cls(efficiency=eff.collective, call_latency_s=eff.collective_latency_s,
                   step_latency_s=eff.collective_step_latency_s,
                   nvls_efficiency=spec.interconnect.nvls_efficiency or eff.collective)


@dataclass(frozen=True)
class CollectiveCost:
    time_s: float
    algorithm: str
    bus_bandwidth_bytes_per_s: float
    algorithm_bandwidth_bytes_per_s: float
    bottleneck_link: tuple[str, str] | None
    """the directed link that set the bandwidth term; None when nothing moves"""
    steps: int
    """dependent steps whose latency was paid"""


@dataclass(frozen=True)
class _Plan:
    time_s: float
    bottleneck: Edge | None
    steps: int
    load_s: float
    """the bandwidth term of ``time_s``: every flow's bytes, so every link's load, are
    proportional to the message, so the rest of ``time_s`` does not depend on it"""


def _bus_factor(op: str, n: int) -> float:
    if op == "all_reduce":
        return 2 * (n - 1) / n
    if op == "point_to_point":
        return 1.0
    return (n - 1) / n


def _load_time(graph: nx.DiGraph, loads: dict[Edge, float], efficiency: float) -> tuple[float, Edge | None]:
    worst, where = 0.0, None
    for edge in sorted(loads):
        t = loads[edge] / (graph.edges[edge]["bandwidth_bytes_per_s"] * efficiency)
        if t > worst:
            worst, where = t, edge
    return worst, where


def _route_flows(router: Router, flows: Sequence[tuple[str, str, float]]) -> tuple[dict[Edge, float], float]:
    """Per-link bytes of a set of concurrent flows, and their largest route latency."""
    per_pair: dict[Edge, float] = {}
    for src, dst, nbytes in flows:
        per_pair[(src, dst)] = per_pair.get((src, dst), 0.0) + nbytes
    loads: dict[Edge, float] = {}
    latency = 0.0
    for (src, dst), nbytes in sorted(per_pair.items()):
        route = router.route(src, dst)
        latency = max(latency, route.latency_s)
        for edge, share in route.shares:
            loads[edge] = loads.get(edge, 0.0) + share * nbytes
    return loads, latency


def _rings(graph: nx.DiGraph, gpus: Sequence[str]) -> list[list[str]]:
    """One ring in the given order; on several equal nodes one ring per local GPU, rotated."""
    groups: dict[int, list[str]] = {}
    for g in gpus:
        groups.setdefault(graph.nodes[g].get("node", 0), []).append(g)
    sizes = {len(v) for v in groups.values()}
    if len(groups) < 2 or len(sizes) != 1:
        return [list(gpus)]
    m = sizes.pop()
    return [[g for members in groups.values() for g in members[r:] + members[:r]] for r in range(m)]


def _ring(graph, router, gpus, op, nbytes, params) -> _Plan:
    n = len(gpus)
    rings = _rings(graph, gpus)
    chunk = nbytes / (n * len(rings))
    flows = [(ring[i], ring[(i + 1) % n], chunk) for ring in rings for i in range(n)]
    loads, latency = _route_flows(router, flows)
    load_t, where = _load_time(graph, loads, params.efficiency)
    steps = 2 * (n - 1) if op == "all_reduce" else n - 1
    return _Plan(params.call_latency_s + steps * (load_t + latency + params.step_latency_s), where, steps,
                 steps * load_t)


def _tree_edges(gpus: Sequence[str]) -> list[tuple[str, str]]:
    """(child, parent) edges of the two complementary heap-ordered binary trees."""
    n = len(gpus)
    edges = []
    for shift in (0, n // 2):
        order = [gpus[(p + shift) % n] for p in range(n)]
        edges += [(order[p], order[(p - 1) // 2]) for p in range(1, n)]
    return edges


def _tree(graph, router, gpus, op, nbytes, params) -> _Plan:
    n = len(gpus)
    half = nbytes / 2
    flows = []
    for child, parent in _tree_edges(gpus):
        flows += [(child, parent, half), (parent, child, half)]
    loads, latency = _route_flows(router, flows)
    load_t, where = _load_time(graph, loads, params.efficiency)
    depth = int(math.floor(math.log2(n)))
    steps = 2 * depth
    return _Plan(params.call_latency_s + load_t + steps * (latency + params.step_latency_s), where, steps, load_t)


def _nvls_switches(graph: nx.DiGraph, gpus: Sequence[str]) -> list[str]:
    """Switch chips with in-switch reduction linked (both ways) to every GPU of ``gpus``."""
    common: set[str] | None = None
    for g in gpus:
        mine = {s for s in graph.successors(g)
                if graph.nodes[s].get("kind") == "nvswitch" and graph.nodes[s].get("in_switch_reduction")
                and graph.has_edge(s, g)}
        common = mine if common is None else common & mine
    return sorted(common or ())


def _nvls(graph, router, gpus, op, nbytes, params) -> _Plan:
    n = len(gpus)
    switches = _nvls_switches(graph, gpus)
    weight = {s: sum(graph.edges[g, s]["bandwidth_bytes_per_s"] for g in gpus) for s in switches}
    total = sum(weight.values())
    up, down = {"all_reduce": (nbytes, nbytes), "all_gather": (nbytes / n, nbytes),
                "reduce_scatter": (nbytes, nbytes / n)}[op]
    loads: dict[Edge, float] = {}
    latency = 0.0
    for g in gpus:
        for s in switches:
            share = weight[s] / total
            loads[(g, s)] = up * share
            loads[(s, g)] = down * share
            latency = max(latency, graph.edges[g, s]["latency_s"] + graph.edges[s, g]["latency_s"])
    load_t, where = _load_time(graph, loads, params.nvls_efficiency)
    return _Plan(params.call_latency_s + load_t + latency + params.step_latency_s, where, 1, load_t)


def _direct(graph, router, gpus, op, nbytes, params) -> _Plan:
    n = len(gpus)
    if op == "point_to_point":
        flows = [(gpus[0], gpus[1], float(nbytes))]
    else:
        flows = [(a, b, nbytes / n) for a in gpus for b in gpus if a != b]
    loads, latency = _route_flows(router, flows)
    load_t, where = _load_time(graph, loads, params.efficiency)
    return _Plan(params.call_latency_s + load_t + latency + params.step_latency_s, where, 1, load_t)


_PLANNERS = {"ring": _ring, "tree": _tree, "nvls": _nvls, "direct": _direct}


def _normalise_op(op: str) -> str:
    key = str(op).strip().lower().replace("-", "_")
    if key not in ALGORITHMS:
        raise ValueError(f"unknown collective {op!r}; expected one of {', '.join(OPS)}")
    return key


def _check_gpus(graph: nx.DiGraph, gpus: Sequence[str]) -> list[str]:
    gpus = list(gpus)
    if not gpus:
        raise ValueError("a collective needs at least one GPU")
    if len(set(gpus)) != len(gpus):
        dup = sorted({g for g in gpus if gpus.count(g) > 1})
        raise ValueError(f"GPUs listed more than once: {', '.join(dup)}")
    for g in gpus:
        if g not in graph:
            raise ValueError(f"{g!r} is not a node of the graph")
        if graph.nodes[g].get("kind") != "gpu":
            raise ValueError(f"{g!r} is a {graph.nodes[g].get('kind')!r} node, not a GPU")
    return gpus


def available_algorithms(graph: nx.DiGraph, gpus: Sequence[str], op: str) -> tuple[str, ...]:
    """The algorithms of ``op`` that this graph supports for these GPUs."""
    op = _normalise_op(op)
    gpus = _check_gpus(graph, gpus)
    return tuple(a for a in ALGORITHMS[op] if a != "nvls" or _nvls_switches(graph, gpus))


@dataclass(frozen=True)
class CollectiveModel:
    """The cost of collective ``op`` over one group of ``n`` GPUs in closed form: each
    algorithm's time is ``fixed_s + per_byte_s x nbytes`` (every flow's bytes, so every
    link's load, are proportional to the message, and nothing else depends on it), so a
    message size never seen costs a few multiplications, not a routing of its flows.
    ``lines`` holds (algorithm, fixed_s, per_byte_s, bottleneck link, steps) of each
    algorithm allowed, in :data:`ALGORITHMS` order; :meth:`cost` takes the fastest (ties to
    the earlier), as :func:`collective_time` does."""
    op: str
    n: int
    lines: tuple[tuple[str, float, float, Edge | None, int], ...]

    def cost(self, nbytes: float) -> CollectiveCost:
        if self.n == 1 or nbytes == 0:
            return CollectiveCost(0.0, "none", 0.0, 0.0, None, 0)
        best = None
        for line in self.lines:
            t = line[1] + line[2] * nbytes
            if best is None or t < best[0]:
                best = (t, line)
        t, (name, _, _, where, steps) = best
        algbw = nbytes / t
        return CollectiveCost(t, name, algbw * _bus_factor(self.op, self.n), algbw, where, steps)


#: the message size (bytes) a :class:`CollectiveModel` is planned at: any size gives the
#: same lines, since the flows' bytes scale with it
_UNIT_BYTES = 1.0


def collective_model(graph: nx.DiGraph, gpus: Sequence[str], op: str, params: CollectiveParams,
                     algorithm: str = "auto", router: Router | None = None) -> CollectiveModel:
    """:func:`collective_time` of ``op`` over ``gpus`` for every message size at once: the
    routes are found once (``router`` keeps them), then each size costs O(algorithms)."""
    op = _normalise_op(op)
    gpus = _check_gpus(graph, gpus)
    n = len(gpus)
    if n == 1 or (op == "point_to_point" and n != 2):
        collective_time(graph, gpus, op, 0.0, params, algorithm, router)          # the same errors
        return CollectiveModel(op, n, ())
    available = available_algorithms(graph, gpus, op)
    if algorithm != "auto":
        collective_time(graph, gpus, op, 0.0, params, algorithm, router)          # checks the name
        if algorithm not in available:
            raise ValueError(f"algorithm {algorithm!r} is not available for {op} over these GPUs")
    router = router if router is not None else Router(graph)
    lines = []
    for name in (available if algorithm == "auto" else (algorithm,)):
        plan = _PLANNERS[name](graph, router, gpus, op, _UNIT_BYTES, params)
        per_byte = plan.load_s / _UNIT_BYTES
        lines.append((name, plan.time_s - plan.load_s, per_byte, plan.bottleneck, plan.steps))
    return CollectiveModel(op, n, tuple(lines))


def collective_time(graph: nx.DiGraph, gpus: Sequence[str], op: str, nbytes: float,
                    params: CollectiveParams, algorithm: str = "auto", router: Router | None = None) -> CollectiveCost:
    """Cost of collective ``op`` of ``nbytes`` over ``gpus`` (in ring order) on ``graph``.

    ``algorithm`` is one of ``ALGORITHMS[op]`` or "auto" (the fastest available; ties go
    to the earlier in ``ALGORITHMS[op]``).  With one GPU or no bytes nothing moves: the
    cost is zero and the algorithm "none".  ``router`` (of this ``graph``) reuses routes
    found before; by default a new one is made.
    """
    op = _normalise_op(op)
    gpus = _check_gpus(graph, gpus)
    if not (isinstance(nbytes, (int, float)) and math.isfinite(nbytes) and nbytes >= 0):
        raise ValueError(f"nbytes must be a finite number >= 0, got {nbytes!r}")
    if op == "point_to_point" and len(gpus) != 2:
        raise ValueError(f"point_to_point takes exactly two GPUs (source, destination), got {len(gpus)}")
    if algorithm != "auto" and algorithm not in ALGORITHMS[op]:
        raise ValueError(f"unknown algorithm {algorithm!r} for {op}; expected auto or one of {', '.join(ALGORITHMS[op])}")
    n = len(gpus)
    if n == 1 or nbytes == 0:
        return CollectiveCost(0.0, "none", 0.0, 0.0, None, 0)
    available = available_algorithms(graph, gpus, op)
    if algorithm != "auto" and algorithm not in available:
        raise ValueError(f"algorithm {algorithm!r} is not available for {op} over these GPUs: it needs NVSwitch "
                         f"chips with in_switch_reduction linked to every GPU; available: {', '.join(available)}")
    router = router if router is not None else Router(graph)
    best_name, best = None, None
    for name in (available if algorithm == "auto" else (algorithm,)):
        plan = _PLANNERS[name](graph, router, gpus, op, nbytes, params)
        if best is None or plan.time_s < best.time_s:
            best_name, best = name, plan
    algbw = nbytes / best.time_s
    return CollectiveCost(best.time_s, best_name, algbw * _bus_factor(op, n), algbw, best.bottleneck, best.steps)
