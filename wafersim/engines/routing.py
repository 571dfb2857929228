"""Routes between nodes of a system graph, split over equal-cost paths.

The model:

* A route's cost is compared as (CPUs passed through, latency, hops): like NCCL's
  path ranking, traffic crosses a host CPU only where no other path exists; among
  the rest the lowest total ``latency_s`` wins, then the fewest hops.  Latencies equal
  to within :data:`LATENCY_RTOL` (float rounding) count as equal.
* Traffic is split over *all* equal-cost routes, as NVLink spreads a transfer over
  every NVSwitch chip and ECMP spreads it over spines: walking the shortest-path DAG
  from the source, the flow reaching a node is divided among its next hops in
  proportion to their link bandwidths.  For an NVSwitch node this puts exactly
  links_to_chip / links_per_gpu of every transfer on each chip.

Everything is deterministic: neighbours are visited in sorted order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import networkx as nx

__all__ = ["LATENCY_RTOL", "Route", "Router"]

LATENCY_RTOL = 1e-9
"""Relative tolerance under which two path latencies count as equal (float rounding only)."""

Edge = tuple[str, str]


@dataclass(frozen=True)
class Route:
    """How a transfer from ``src`` to ``dst`` uses the links.

    ``shares`` pairs each directed edge with the fraction of the transfer it carries
    (sorted by edge); ``latency_s`` is the latency of the (equal-cost) paths.
    """
    src: str
    dst: str
    shares: tuple[tuple[Edge, float], ...]
    latency_s: float


def _cost_less(a: tuple[int, float, int], b: tuple[int, float, int]) -> bool:
    if a[0] != b[0]:
        return a[0] < b[0]
    tol = LATENCY_RTOL * max(abs(a[1]), abs(b[1]))
    if abs(a[1] - b[1]) > tol:
        return a[1] < b[1]
    return a[2] < b[2]


class Router:
    """Shortest-path routes on ``graph``, cached per source.  Do not mutate the graph while in use."""

    def __init__(self, graph: nx.DiGraph):
        self.graph = graph
        # Sorted adjacency with the attributes routing reads, built once.
        self._adj = {u: [(v, float(graph.edges[u, v]["latency_s"]), float(graph.edges[u, v]["bandwidth_bytes_per_s"]))
                         for v in sorted(graph.successors(u))] for u in graph.nodes}
        self._bw = {(u, v): bw for u, nbrs in self._adj.items() for v, _, bw in nbrs}
        self._is_cpu = {u: graph.nodes[u].get("kind") == "cpu" for u in graph.nodes}
        self._preds: dict[str, tuple[dict[str, tuple[int, float, int]], dict[str, list[str]]]] = {}
        self._routes: dict[Edge, Route] = {}

    def _dijkstra(self, src: str):
        if src in self._preds:
            return self._preds[src]
        adj, is_cpu = self._adj, self._is_cpu
        dist: dict[str, tuple[int, float, int]] = {src: (0, 0.0, 0)}
        preds: dict[str, list[str]] = {src: []}
        done: set[str] = set()
        heap = [(0, 0.0, 0, src)]
        while heap:
            c, lat, hops, u = heapq.heappop(heap)
            if u in done:
                continue
            done.add(u)
            transit = 1 if (u != src and is_cpu[u]) else 0
            for v, edge_lat, _ in adj[u]:
                if v in done:
                    continue
                cand = (c + transit, lat + edge_lat, hops + 1)
                old = dist.get(v)
                if old is None or _cost_less(cand, old):
                    dist[v], preds[v] = cand, [u]
                    heapq.heappush(heap, (*cand, v))
                elif not _cost_less(old, cand):
                    preds[v].append(u)
        self._preds[src] = (dist, preds)
        return self._preds[src]

    def route(self, src: str, dst: str) -> Route:
        """The route of a transfer from ``src`` to ``dst``; raises ValueError when there is none."""
        key = (src, dst)
        if key in self._routes:
            return self._routes[key]
        if src == dst:
            route = Route(src, dst, (), 0.0)
            self._routes[key] = route
            return route
        dist, preds = self._dijkstra(src)
        if dst not in dist:
            raise ValueError(f"no route from {src} to {dst}")
        # The sub-DAG of shortest paths ending at dst.
        succ: dict[str, list[str]] = {}
        stack, seen = [dst], {dst}
        while stack:
            v = stack.pop()
            for u in preds[v]:
                succ.setdefault(u, []).append(v)
                if u not in seen:
                    seen.add(u)
                    stack.append(u)
        flow = {src: 1.0}
        shares: dict[Edge, float] = {}
        order = sorted(seen, key=lambda n: (dist[n][2], n))  # hops strictly grow along DAG edges
        bw = self._bw
        for u in order:
            if u == dst or u not in flow:
                continue
            nxt = sorted(succ.get(u, ()))
            total = sum(bw[u, v] for v in nxt)
            for v in nxt:
                part = flow[u] * bw[u, v] / total
                shares[(u, v)] = shares.get((u, v), 0.0) + part
                flow[v] = flow.get(v, 0.0) + part
        route = Route(src, dst, tuple(sorted(shares.items())), dist[dst][1])
        self._routes[key] = route
        return route
