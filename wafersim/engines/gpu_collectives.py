"""Collectives of the GPU engine, costed on the system's link graph.

:class:`GraphCollectives` builds the topology graph of a system once
(:func:`~wafersim.hardware.topology.build_topology`), places the parallel groups on
its GPUs and costs each collective with
:func:`~wafersim.engines.collectives.collective_model` (the costs of
:func:`~wafersim.engines.collectives.collective_time` for every message size).

Placement.  GPUs are taken in :func:`~wafersim.hardware.topology.gpu_nodes` order
(node 0 first, then node 1, ...), and rank ``r`` of a job with ``tp`` x ``ep`` x
``pp`` GPUs is ``r = (stage x ep + ep_rank) x tp + tp_rank``: a tensor-parallel group
is ``tp`` consecutive GPUs (the first is GPUs 0..tp-1 of node 0, inside one node
whenever tp <= GPUs per node), the expert-parallel ranks of a stage follow each
other, and pipeline stages take the next GPUs, then the next nodes.

What is costed:

* ``all_reduce`` / ``all_gather`` / ``reduce_scatter``: the tensor-parallel group of
  stage 0, expert rank 0 (all groups are alike, and they run at the same time on
  disjoint GPUs);
* ``all_to_all``: the expert-parallel group of stage 0 at tensor rank 0 (GPUs that
  share a tensor rank exchange their shards; the tp lanes run on disjoint GPUs);
* ``p2p`` (the engine's stage send, the collectives module's ``point_to_point``):
  tensor rank 0, expert rank 0 of stage ``s`` to the same ranks of stage ``s + 1``.

The algorithm is ``interconnect.collective_algorithm``; where it does not apply to an
op or a group (tree is only for all-reduce, nvls only inside one NVLink domain with
in-switch reduction) the fastest available is used, as with "auto".

The graph, its router (shortest paths per source) and the costs are built once
per system spec and shared by every simulate call on it (specs are frozen, so
this is safe; treat ``GraphCollectives.graph`` as read-only).  Each (op, group,
algorithm) is planned once, as a closed form in the message size
(:class:`~wafersim.engines.collectives.CollectiveModel`: every algorithm's time
is affine in the bytes), so a message size not seen before (a new prompt length)
costs a few multiplications; sizes are rounded to :data:`NBYTES_DIGITS`
significant digits, as they were when each size was routed and cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import networkx as nx

from ..config import ConfigError
from ..hardware.gpu import GpuSystemSpec
from ..hardware.topology import build_topology, gpu_nodes, nodes_to_build, topology_to_graphml
from .collectives import (ALGORITHMS, CollectiveCost, CollectiveModel, CollectiveParams, available_algorithms,
                          collective_model)
from .routing import Router

__all__ = ["NBYTES_DIGITS", "GpuPlacement", "GraphCollectives"]

NBYTES_DIGITS = 6
"""Significant digits of the message size in the cache key (sizes closer than this share a cost)."""

GRAPHML_CACHE_SIZE = 16
"""System specs whose GraphML text is kept between simulate calls."""

GRAPHML_MAX_EDGES = 20_000
"""Largest graph (directed edges) attached to a result as GraphML; writing GraphML takes
about 0.5 ms an edge, so a larger graph (a job over several racks) is not attached."""

GRAPH_CACHE_SIZE = 16
"""System specs whose graph, routes and collective costs are kept between simulate calls."""

_OPS = {"all_reduce": "all_reduce", "all_gather": "all_gather", "reduce_scatter": "reduce_scatter",
        "all_to_all": "all_to_all", "p2p": "point_to_point"}


@dataclass(frozen=True)
class GpuPlacement:
    """Which GPUs of the graph a tp x ep x pp job uses, and its groups."""
    gpus: tuple[str, ...]
    tp: int
    ep: int
    pp: int

    def rank(self, stage: int, ep_rank: int, tp_rank: int) -> str:
        return self.gpus[(stage * self.ep + ep_rank) * self.tp + tp_rank]

    def tp_group(self, stage: int = 0, ep_rank: int = 0) -> tuple[str, ...]:
        return tuple(self.rank(stage, ep_rank, t) for t in range(self.tp))

    def ep_group(self, stage: int = 0, tp_rank: int = 0) -> tuple[str, ...]:
        return tuple(self.rank(stage, e, tp_rank) for e in range(self.ep))

    def stage_pair(self, stage: int) -> tuple[str, str]:
        """The GPUs of the activation send from ``stage`` to ``stage + 1``."""
        return self.rank(stage, 0, 0), self.rank(stage + 1, 0, 0)


@dataclass(frozen=True, eq=False)
class SystemGraph:
    """What every simulate call on one system spec shares: its link graph (read-only), the
    GPUs in placement order, the collective parameters, a router and the costs so far."""
    graph: nx.DiGraph
    gpus: tuple[str, ...]
    params: CollectiveParams
    router: Router
    costs: dict[tuple[str, tuple[str, ...], str], CollectiveModel] = field(default_factory=dict)


def system_graph(system: GpuSystemSpec, gpus: int | None = None) -> SystemGraph:
    """The shared graph state of ``system`` for a job on its first ``gpus`` GPUs (default
    all), built on first use: only the servers the job uses (at least two when the system
    has several; see :func:`~wafersim.hardware.topology.build_topology`), so a job on one
    rack of a thousand-rack system costs what it costs on two racks."""
    return _system_graph(system, nodes_to_build(system, system.num_gpus if gpus is None else gpus))


@lru_cache(maxsize=GRAPH_CACHE_SIZE)
def _system_graph(system: GpuSystemSpec, nodes: int) -> SystemGraph:
    graph = build_topology(system, only=nodes)
    return SystemGraph(graph, tuple(gpu_nodes(graph)), CollectiveParams.from_spec(system), Router(graph))


@lru_cache(maxsize=GRAPHML_CACHE_SIZE)
def _graphml(system: GpuSystemSpec, nodes: int) -> str:
    return topology_to_graphml(_system_graph(system, nodes).graph)


class GraphCollectives:
    """Collective costs of one simulate call on the graph of ``system``.

    Callable as the engine's ``CollectiveFn`` ``(op, nbytes, gpus) -> seconds``; the
    group is the placement's group for ``op`` (``gpus`` must match its size).
    """

    def __init__(self, system: GpuSystemSpec, tp: int, pp: int, ep: int = 1):
        self.system = system
        self._nodes = nodes_to_build(system, tp * ep * pp)
        shared = _system_graph(system, self._nodes)
        self.graph: nx.DiGraph = shared.graph
        self._router = shared.router
        all_gpus = shared.gpus
        need = tp * ep * pp
        if need > len(all_gpus):
            raise ConfigError("scenario", "tp", f"{need} GPUs needed (tp x pp x ep) but {system.name} has {system.num_gpus}")
        self.placement = GpuPlacement(tuple(all_gpus[:need]), tp, ep, pp)
        self.params = shared.params
        self.algorithm = system.interconnect.collective_algorithm
        self._cache = shared.costs
        self.chosen: dict[str, str] = {}
        """op -> algorithm of the last costed call that moved bytes"""

    def graphml(self) -> str | None:
        """The graph of the servers the job uses as GraphML (text cached per system spec and
        server count: writing it costs more than a simulate call); None above
        :data:`GRAPHML_MAX_EDGES` edges."""
        if self.graph.number_of_edges() > GRAPHML_MAX_EDGES:
            return None
        return _graphml(self.system, self._nodes)

    def group(self, op: str, n: int) -> tuple[str, ...]:
        p = self.placement
        if op == "all_to_all":
            group = p.ep_group()
        elif op == "p2p":
            group = p.stage_pair(0)
        else:
            group = p.tp_group()
        if len(group) != n:
            raise ValueError(f"{op} over {n} GPUs, but the placement's group has {len(group)}")
        return group

    def cost(self, op: str, nbytes: float, group: tuple[str, ...]) -> CollectiveCost:
        if op not in _OPS:
            raise ValueError(f"unknown collective {op!r}; expected one of {', '.join(_OPS)}")
        name = _OPS[op]
        key = (name, tuple(group), self.algorithm)
        model = self._cache.get(key)
        if model is None:
            algorithm = self.algorithm
            if algorithm != "auto" and (algorithm not in ALGORITHMS[name]
                                        or algorithm not in available_algorithms(self.graph, group, name)):
                algorithm = "auto"
            model = collective_model(self.graph, group, name, self.params, algorithm, self._router)
            self._cache[key] = model
        hit = model.cost(float(f"{nbytes:.{NBYTES_DIGITS}g}"))
        if hit.algorithm != "none":
            self.chosen[op] = hit.algorithm
        return hit

    def __call__(self, op: str, nbytes: float, n: int) -> float:
        if n <= 1 or nbytes <= 0:
            return 0.0
        return self.cost(op, nbytes, self.group(op, n)).time_s

    def algorithm_used(self, op: str) -> str:
        return self.chosen.get(op, "none")

    def stage_send(self, stage: int, nbytes: float) -> float:
        """Seconds of the activation send from ``stage`` to ``stage + 1``."""
        if nbytes <= 0:
            return 0.0
        return self.cost("p2p", nbytes, self.placement.stage_pair(stage)).time_s
