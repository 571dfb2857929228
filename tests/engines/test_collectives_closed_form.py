"""Ring, double binary tree, NVLS and direct collectives for 2-8 GPUs of one DGX H100 node,
and the placement of tp x ep x pp groups over two nodes, against arithmetic written out here.

One node: GPU i reaches every other GPU through the four NVSwitch chips (5+4+4+5 of its
18 links), so whatever a GPU sends or receives in a step crosses its 450 GB/s and two
half-latency hops.  The tree's numbers come from drawing the two heap-ordered trees
(the second over the GPUs rotated by n // 2) for each n:

    n            2  3  4  5  6  7  8
    depth        1  1  2  2  2  2  3     (levels below the root of a heap of n)
    max degree   2  3  3  4  4  4  4     (tree edges of the busiest GPU, both trees)
"""

from __future__ import annotations

import pytest

import wafersim
from wafersim.engines.collectives import CollectiveParams, collective_time
from wafersim.engines.gpu_collectives import GraphCollectives
from wafersim.hardware.topology import build_topology

REL = 1e-9
NVLINK, LINK_LAT = 450e9, 1e-6
PARAMS = CollectiveParams(efficiency=0.5, call_latency_s=10e-6, step_latency_s=1e-6, nvls_efficiency=0.25)
S = 12_000_000.0
DEPTH = {2: 1, 3: 1, 4: 2, 5: 2, 6: 2, 7: 2, 8: 3}
MAX_DEGREE = {2: 2, 3: 3, 4: 3, 5: 4, 6: 4, 7: 4, 8: 4}


@pytest.fixture(scope="module")
def node():
    spec = wafersim.load_system("dgx-h100", {
        "interconnect.nvlink_bandwidth_bytes_per_s": "450 GB/s", "interconnect.nvlink_links_per_gpu": 18,
        "interconnect.nvswitch_chips": 4, "interconnect.link_latency_s": "1 us",
        "interconnect.in_switch_reduction": True})
    return build_topology(spec)


def gpus(n):
    return [f"n0.gpu{i}" for i in range(n)]


@pytest.mark.parametrize("n", range(2, 9))
def test_ring_all_reduce(node, n):
    c = collective_time(node, gpus(n), "all_reduce", S, PARAMS, "ring")
    per_step = S / n / (NVLINK * PARAMS.efficiency) + LINK_LAT + PARAMS.step_latency_s
    t = PARAMS.call_latency_s + 2 * (n - 1) * per_step
    assert c.time_s == pytest.approx(t, rel=REL, abs=0)
    assert (c.algorithm, c.steps) == ("ring", 2 * (n - 1))
    assert c.algorithm_bandwidth_bytes_per_s == pytest.approx(S / t, rel=REL, abs=0)
    assert c.bus_bandwidth_bytes_per_s == pytest.approx(S / t * 2 * (n - 1) / n, rel=REL, abs=0)
    assert node.edges[c.bottleneck_link]["link_type"] == "nvlink"


@pytest.mark.parametrize("op", ["all_gather", "reduce_scatter"])
@pytest.mark.parametrize("n", [2, 3, 8])
def test_ring_all_gather_and_reduce_scatter(node, op, n):
    c = collective_time(node, gpus(n), op, S, PARAMS, "ring")
    t = PARAMS.call_latency_s + (n - 1) * (S / n / (NVLINK * PARAMS.efficiency) + LINK_LAT + PARAMS.step_latency_s)
    assert c.time_s == pytest.approx(t, rel=REL, abs=0)
    assert c.steps == n - 1
    assert c.bus_bandwidth_bytes_per_s == pytest.approx(S / t * (n - 1) / n, rel=REL, abs=0)


@pytest.mark.parametrize("n", range(2, 9))
def test_tree_all_reduce(node, n):
    """Every tree edge carries S/2 each way at once; 2 x depth dependent steps of latency."""
    c = collective_time(node, gpus(n), "all_reduce", S, PARAMS, "tree")
    depth = DEPTH[n]
    t = (PARAMS.call_latency_s + MAX_DEGREE[n] * S / 2 / (NVLINK * PARAMS.efficiency)
         + 2 * depth * (LINK_LAT + PARAMS.step_latency_s))
    assert c.time_s == pytest.approx(t, rel=REL, abs=0)
    assert (c.algorithm, c.steps) == ("tree", 2 * depth)
    assert c.bus_bandwidth_bytes_per_s == pytest.approx(S / t * 2 * (n - 1) / n, rel=REL, abs=0)


@pytest.mark.parametrize("op,up,down", [("all_reduce", 1, 1), ("all_gather", "1/n", 1), ("reduce_scatter", 1, "1/n")])
@pytest.mark.parametrize("n", [2, 5, 8])
def test_nvls(node, op, up, down, n):
    """The switch reduces: one step, S up and S down per GPU (S/n on the scattered side)."""
    share = {1: 1.0, "1/n": 1.0 / n}
    c = collective_time(node, gpus(n), op, S, PARAMS, "nvls")
    t = (PARAMS.call_latency_s + max(share[up], share[down]) * S / (NVLINK * PARAMS.nvls_efficiency)
         + LINK_LAT + PARAMS.step_latency_s)
    assert c.time_s == pytest.approx(t, rel=REL, abs=0)
    assert (c.algorithm, c.steps) == ("nvls", 1)


@pytest.mark.parametrize("n", range(2, 9))
def test_all_to_all_direct(node, n):
    c = collective_time(node, gpus(n), "all_to_all", S, PARAMS)
    t = PARAMS.call_latency_s + (n - 1) / n * S / (NVLINK * PARAMS.efficiency) + LINK_LAT + PARAMS.step_latency_s
    assert c.time_s == pytest.approx(t, rel=REL, abs=0)
    assert (c.algorithm, c.steps) == ("direct", 1)
    assert c.bus_bandwidth_bytes_per_s == pytest.approx(S / t * (n - 1) / n, rel=REL, abs=0)


@pytest.mark.parametrize("n", range(2, 9))
def test_auto_is_the_fastest_of_the_three(node, n):
    times = {a: collective_time(node, gpus(n), "all_reduce", S, PARAMS, a).time_s for a in ("ring", "tree", "nvls")}
    auto = collective_time(node, gpus(n), "all_reduce", S, PARAMS)
    assert auto.algorithm == min(times, key=times.get) and auto.time_s == min(times.values())


# ---- placement over two nodes ----------------------------------------------------------------------
def two_nodes():
    return wafersim.load_system("dgx-h100", {"interconnect.nodes": 2})


@pytest.mark.parametrize("tp,ep,pp", [(4, 2, 2), (2, 4, 2), (2, 2, 4), (8, 1, 2), (1, 8, 2), (16, 1, 1)])
def test_rank_order_is_tp_then_ep_then_pp(tp, ep, pp):
    """Rank (stage, expert rank, tensor rank) is GPU (stage x ep + expert rank) x tp + tensor rank,
    counting node 0's eight GPUs first."""
    gc = GraphCollectives(two_nodes(), tp=tp, pp=pp, ep=ep)
    names = [f"n{k}.gpu{i}" for k in range(2) for i in range(8)]
    p = gc.placement
    for stage in range(pp):
        for e in range(ep):
            assert p.tp_group(stage, e) == tuple(names[(stage * ep + e) * tp + t] for t in range(tp))
        for t in range(tp):
            assert p.ep_group(stage, t) == tuple(names[(stage * ep + e) * tp + t] for e in range(ep))
    for stage in range(pp - 1):
        assert p.stage_pair(stage) == (names[stage * ep * tp], names[(stage + 1) * ep * tp])
    assert gc.group("all_reduce", tp) == p.tp_group(0, 0)
    assert gc.group("all_to_all", ep) == p.ep_group(0, 0)
    if pp > 1:
        assert gc.group("p2p", 2) == p.stage_pair(0)


def test_tp4_ep2_pp2_groups_by_name():
    p = GraphCollectives(two_nodes(), tp=4, pp=2, ep=2).placement
    assert p.tp_group() == ("n0.gpu0", "n0.gpu1", "n0.gpu2", "n0.gpu3")
    assert p.tp_group(0, 1) == ("n0.gpu4", "n0.gpu5", "n0.gpu6", "n0.gpu7")
    assert p.ep_group() == ("n0.gpu0", "n0.gpu4")
    assert p.ep_group(1, 3) == ("n1.gpu3", "n1.gpu7")
    assert p.stage_pair(0) == ("n0.gpu0", "n1.gpu0")


def test_group_size_must_match_the_placement():
    gc = GraphCollectives(two_nodes(), tp=4, pp=2, ep=2)
    with pytest.raises(ValueError, match="all_reduce over 8 GPUs, but the placement's group has 4"):
        gc("all_reduce", 1e6, 8)
    with pytest.raises(ValueError, match="16 GPUs needed"):
        GraphCollectives(wafersim.load_system("dgx-h100"), tp=8, pp=2)


def test_costs_are_cached_at_six_significant_digits():
    """1,234,567 bytes is costed as 1,234,570 (NBYTES_DIGITS = 6); the cached cost is reused."""
    spec = wafersim.load_system("dgx-h100")
    gc = GraphCollectives(spec, tp=8, pp=1)
    graph = build_topology(spec)
    exact = collective_time(graph, gpus(8), "all_reduce", 1_234_570.0, CollectiveParams.from_spec(spec))
    assert gc("all_reduce", 1_234_567, 8) == pytest.approx(exact.time_s, rel=1e-12, abs=0)
    assert gc("all_reduce", 1_234_574, 8) == pytest.approx(exact.time_s, rel=1e-12, abs=0)
    other = collective_time(graph, gpus(8), "all_reduce", 1_234_567.0, CollectiveParams.from_spec(spec))
    assert other.time_s != exact.time_s
    assert gc.chosen == {"all_reduce": exact.algorithm}


# ---- parameters and errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("field,value,ok", [
    ("efficiency", 0.0, False), ("efficiency", -0.1, False), ("efficiency", 1.0, True), ("efficiency", 1.01, False),
    ("nvls_efficiency", 0.0, False), ("nvls_efficiency", 1.0, True), ("nvls_efficiency", 2.0, False),
    ("call_latency_s", 0.0, True), ("call_latency_s", -1e-9, False), ("call_latency_s", float("inf"), False),
    ("step_latency_s", 0.0, True), ("step_latency_s", -1e-9, False), ("step_latency_s", float("nan"), False),
])
def test_params_are_validated_at_their_limits(field, value, ok):
    kw = dict(efficiency=0.5, call_latency_s=1e-6, step_latency_s=1e-6, nvls_efficiency=0.5)
    kw[field] = value
    if ok:
        assert getattr(CollectiveParams(**kw), field) == value
    else:
        with pytest.raises(ValueError, match=f"CollectiveParams.{field} must be"):
            CollectiveParams(**kw)


def test_params_from_a_preset():
    spec = wafersim.load_system("dgx-h100", {"efficiency.collective": 0.7, "efficiency.collective_latency_s": "9 us",
                                             "efficiency.collective_step_latency_s": "0.5 us",
                                             "interconnect.nvls_efficiency": 0.6})
    assert CollectiveParams.from_spec(spec) == CollectiveParams(efficiency=0.7, call_latency_s=9e-6,
                                                                step_latency_s=0.5e-6, nvls_efficiency=0.6)
    unset = wafersim.load_system("dgx-h100", {"efficiency.collective": 0.7, "interconnect.nvls_efficiency": 0.0})
    assert CollectiveParams.from_spec(unset).nvls_efficiency == 0.7


def test_one_gpu_or_no_bytes_costs_nothing(node):
    for group, nbytes in ((gpus(1), S), (gpus(4), 0.0), (gpus(4), 0)):
        c = collective_time(node, group, "all_reduce", nbytes, PARAMS)
        assert (c.time_s, c.algorithm, c.steps, c.bottleneck_link) == (0.0, "none", 0, None)


@pytest.mark.parametrize("nbytes", [float("nan"), float("inf"), -1.0, "1 GB", None])
def test_nbytes_must_be_finite_and_not_negative(node, nbytes):
    with pytest.raises(ValueError, match="nbytes must be a finite number >= 0"):
        collective_time(node, gpus(2), "all_reduce", nbytes, PARAMS)


def test_op_names_are_normalised(node):
    a = collective_time(node, gpus(4), "All-Reduce ", S, PARAMS, "ring")
    assert a.time_s == collective_time(node, gpus(4), "all_reduce", S, PARAMS, "ring").time_s
    with pytest.raises(ValueError, match="unknown collective 'gather'; expected one of all_reduce, all_gather"):
        collective_time(node, gpus(4), "gather", S, PARAMS)
    with pytest.raises(ValueError, match="algorithm 'tree' for all_gather"):
        collective_time(node, gpus(4), "all_gather", S, PARAMS, "tree")
    with pytest.raises(ValueError, match="at least one GPU"):
        collective_time(node, [], "all_reduce", S, PARAMS)


def test_engine_calls_that_move_nothing_cost_nothing():
    gc = GraphCollectives(wafersim.load_system("dgx-h100"), tp=4, pp=2)
    assert gc("all_reduce", 1e6, 1) == 0.0 and gc("all_reduce", 0, 4) == 0.0 and gc("all_reduce", -1.0, 4) == 0.0
    assert gc("all_reduce", 0.5, 4) > 0.0
    assert gc.stage_send(0, 0) == 0.0 and gc.stage_send(0, -1.0) == 0.0
    assert gc.stage_send(0, 0.5) > 0.0
    assert gc.chosen == {"all_reduce": gc.cost("all_reduce", 0.5, gc.placement.tp_group()).algorithm,
                         "p2p": "direct"}


def test_configured_algorithm_falls_back_where_it_cannot_run():
    """nvls configured, but a tp group over two nodes is outside one NVLink domain: auto decides."""
    spec = wafersim.load_system("dgx-h100", {"interconnect.nodes": 2, "interconnect.collective_algorithm": "nvls"})
    gc = GraphCollectives(spec, tp=16, pp=1)
    t = gc("all_reduce", 1e6, 16)
    auto = collective_time(gc.graph, gc.placement.tp_group(), "all_reduce", 1e6, gc.params)
    assert t == auto.time_s and gc.chosen["all_reduce"] == auto.algorithm != "nvls"
    inside = GraphCollectives(spec, tp=8, pp=2)
    assert inside("all_reduce", 1e6, 8) > 0 and inside.chosen["all_reduce"] == "nvls"


def test_nvls_pays_the_slowest_gpus_round_trip():
    """Hand-built: four GPUs on one reducing switch at 100 GB/s; GPU 0's link has 5 us each way, the
    others 0.5 us.  NVLS is one step whose latency is the slowest GPU's up-and-down trip."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_node("sw", kind="nvswitch", node=0, index=0, in_switch_reduction=True)
    for i in range(4):
        g.add_node(f"g{i}", kind="gpu", node=0, index=i, in_switch_reduction=False)
        lat = 5e-6 if i == 0 else 0.5e-6
        for a, b in ((f"g{i}", "sw"), ("sw", f"g{i}")):
            g.add_edge(a, b, bandwidth_bytes_per_s=100e9, latency_s=lat, link_type="nvlink", links=1)
    c = collective_time(g, [f"g{i}" for i in range(4)], "all_reduce", S, PARAMS, "nvls")
    t = PARAMS.call_latency_s + S / (100e9 * PARAMS.nvls_efficiency) + 10e-6 + PARAMS.step_latency_s
    assert c.time_s == pytest.approx(t, rel=REL, abs=0)
