"""Routes on small hand-made graphs: CPUs avoided, then lowest latency, then fewest hops; ties split by bandwidth."""

from __future__ import annotations

import networkx as nx
import pytest

from wafersim.engines.routing import Router


def graph(edges, cpus=()):
    """``edges``: (u, v, latency_s, bandwidth) in both directions."""
    g = nx.DiGraph()
    for u, v, lat, bw in edges:
        for a, b in ((u, v), (v, u)):
            g.add_edge(a, b, latency_s=lat, bandwidth_bytes_per_s=bw)
    for n in g.nodes:
        g.nodes[n]["kind"] = "cpu" if n in cpus else "gpu"
    return g


def shares(route):
    return {e: pytest.approx(s) for e, s in route.shares}


def test_lower_latency_beats_fewer_hops():
    r = Router(graph([("s", "a", 1.0, 1), ("a", "b", 1.0, 1), ("b", "d", 1.0, 1), ("s", "d", 5.0, 1)])).route("s", "d")
    assert shares(r) == {("s", "a"): 1.0, ("a", "b"): 1.0, ("b", "d"): 1.0}
    assert r.latency_s == 3.0


def test_latencies_equal_up_to_rounding_go_by_hops():
    """3.0 over two hops and 3.0 (1 + 1e-12) over one: equal latency, so the single hop wins."""
    one_hop = 3.0 * (1 + 1e-12)
    r = Router(graph([("s", "a", 1.0, 1), ("a", "d", 2.0, 1), ("s", "d", one_hop, 1)])).route("s", "d")
    assert shares(r) == {("s", "d"): 1.0}
    assert r.latency_s == one_hop
    # a real difference (1e-6 relative) is not rounding: the two-hop path is faster
    r = Router(graph([("s", "a", 1.0, 1), ("a", "d", 2.0, 1), ("s", "d", 3.0 * (1 + 1e-6), 1)])).route("s", "d")
    assert shares(r) == {("s", "a"): 1.0, ("a", "d"): 1.0}


def test_a_cpu_is_crossed_only_where_no_other_path_exists():
    g = graph([("s", "c", 1.0, 1), ("c", "d", 1.0, 1), ("s", "x", 10.0, 1), ("x", "d", 10.0, 1)], cpus=("c",))
    r = Router(g).route("s", "d")
    assert shares(r) == {("s", "x"): 1.0, ("x", "d"): 1.0} and r.latency_s == 20.0
    # from the CPU itself (the source is not crossed) the short path is fine
    assert shares(Router(g).route("c", "d")) == {("c", "d"): 1.0}
    only = graph([("s", "c", 1.0, 1), ("c", "d", 1.0, 1)], cpus=("c",))
    assert shares(Router(only).route("s", "d")) == {("s", "c"): 1.0, ("c", "d"): 1.0}


def test_equal_cost_paths_split_by_link_bandwidth():
    g = graph([("s", "a", 1.0, 1.0), ("a", "d", 1.0, 5.0), ("s", "b", 1.0, 3.0), ("b", "d", 1.0, 5.0)])
    r = Router(g).route("s", "d")
    assert shares(r) == {("s", "a"): 0.25, ("a", "d"): 0.25, ("s", "b"): 0.75, ("b", "d"): 0.75}
    assert r.latency_s == 2.0


def test_no_route_and_self_route():
    g = graph([("s", "a", 1.0, 1)])
    g.add_node("z", kind="gpu")
    router = Router(g)
    assert router.route("s", "s").shares == () and router.route("s", "s").latency_s == 0.0
    with pytest.raises(ValueError, match="no route"):
        router.route("s", "z")
