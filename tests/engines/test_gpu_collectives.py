"""The GPU engine's collectives on the topology graph: placement, cache, summary, GraphML."""

import time

import pytest

import wafersim
from wafersim.engines.analytic_gpu import ring_collective
from wafersim.engines.collectives import CollectiveParams, collective_time
from wafersim.engines.gpu_collectives import GraphCollectives
from wafersim.hardware.topology import build_topology, gpu_nodes
from wafersim.runner import simulate


def test_tp_group_is_first_gpus_of_node0_and_stages_follow():
    g = wafersim.load_system("dgx-h100")
    gc = GraphCollectives(g, tp=4, pp=2)
    assert gc.placement.tp_group() == tuple(f"n0.gpu{i}" for i in range(4))
    assert gc.placement.stage_pair(0) == ("n0.gpu0", "n0.gpu4")


def test_engine_all_reduce_equals_collective_time_on_the_graph():
    g = wafersim.load_system("dgx-a100")
    gc = GraphCollectives(g, tp=8, pp=1)
    graph = build_topology(g)
    expected = collective_time(graph, gpu_nodes(graph)[:8], "all_reduce", 8192.0, CollectiveParams.from_spec(g))
    assert gc("all_reduce", 8192.0, 8) == pytest.approx(expected.time_s, rel=1e-12)
    assert gc.chosen["all_reduce"] == expected.algorithm


def test_each_group_is_planned_once_for_every_size():
    """One closed form per (op, group, algorithm): a size not seen before adds no entry, sizes
    within NBYTES_DIGITS cost the same, and every call on the same spec shares the plans."""
    system = wafersim.load_system("dgx-h100", {"efficiency.collective_latency_s": "7.9 us"})   # a fresh spec
    gc = GraphCollectives(system, tp=8, pp=1)
    before = len(gc._cache)
    a = gc("all_reduce", 16384.0, 8)
    assert len(gc._cache) == before + 1
    assert gc("all_reduce", 16384.0 * (1 + 1e-9), 8) == a
    assert gc("all_reduce", 3 * 16384.0, 8) > a and len(gc._cache) == before + 1
    again = GraphCollectives(system, tp=8, pp=1)
    assert again._cache is gc._cache and again("all_reduce", 16384.0, 8) == a
    assert len(gc._cache) == before + 1


def test_configured_algorithm_is_used():
    ring = wafersim.load_system("dgx-h100", {"interconnect.collective_algorithm": "ring"})
    r = simulate(ring, "llama-3.1-70b", tp=8)
    assert r.summary["allreduce_algorithm"] == "ring"
    nvls = wafersim.load_system("dgx-h100", {"interconnect.collective_algorithm": "nvls"})
    assert simulate(nvls, "llama-3.1-70b", tp=8).summary["allreduce_algorithm"] == "nvls"


def test_summary_and_graphml_attachment():
    r = simulate("dgx-h100", "llama-3.1-70b", tp=4, pp=2)
    assert r.summary["allreduce_algorithm"] in ("ring", "tree", "nvls")
    assert r.summary["p2p_algorithm"] == "direct"
    assert r.attachments["topology_graphml"].lstrip().startswith("<graphml")
    one = simulate("dgx-h100", "llama-3.1-8b", tp=1)
    assert one.summary["allreduce_algorithm"] == "none" and one.summary["p2p_algorithm"] == "none"


def test_graph_close_to_closed_form_for_large_messages():
    """Bandwidth-bound ring on one NVSwitch node: the graph and the closed form agree within 5 %."""
    g = wafersim.load_system("dgx-a100")
    S = 1e9
    gc = GraphCollectives(g, tp=8, pp=1)
    graph_ring = collective_time(gc.graph, gc.placement.tp_group(), "all_reduce", S, gc.params, "ring").time_s
    assert graph_ring == pytest.approx(ring_collective(g)("all_reduce", S, 8), rel=0.05)


def test_simulate_is_fast_on_8_gpus():
    simulate("dgx-h100", "llama-3.1-70b", tp=8)   # warm imports
    t0 = time.perf_counter()
    for _ in range(5):
        simulate("dgx-h100", "llama-3.1-70b", tp=8)
    assert (time.perf_counter() - t0) / 5 < 0.1
