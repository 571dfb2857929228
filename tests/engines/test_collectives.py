"""Collective costs: exact closed forms on hand-built graphs, calibration against
measured NCCL bus bandwidths (nccl-tests #212, nccl #1455).

Calibration (tolerance 10 %, 1 GiB messages, 8 GPUs):
  dgx-h100  efficiency.collective = 0.82        -> ring all-reduce ~365-370 GB/s (nccl-tests #212)
  dgx-h100  interconnect.nvls_efficiency = 0.61 -> NVLS all-reduce ~480 GB/s (nccl #1455)
  dgx-a100  efficiency.collective = 0.78        -> ring all-reduce ~235 GB/s
  dgx-h100  efficiency.collective_latency_s     -> small-message all-reduce ~10 us
"""

from __future__ import annotations

import math

import networkx as nx
import pytest
from hypothesis import given, settings, strategies as st

from wafersim.config import build
from wafersim.engines.collectives import (
    ALGORITHMS, CollectiveCost, CollectiveParams, available_algorithms, collective_time,
)
from wafersim.hardware.gpu import GpuSystemSpec
from wafersim.hardware.topology import build_topology, gpu_nodes, validate_topology
from wafersim.presets import find_preset, list_presets, load_system

REL = 1e-9
CALIBRATION_TOL = 0.10
GIB = 2**30
P = CollectiveParams(efficiency=0.8, call_latency_s=5e-6, step_latency_s=2e-7, nvls_efficiency=0.6)


def ring_graph(n: int, bw: float, lat: float) -> nx.DiGraph:
    g = nx.DiGraph(name="ring")
    for i in range(n):
        g.add_node(f"g{i}", kind="gpu", node=0, index=i, in_switch_reduction=False)
    for i in range(n):
        for a, b in ((i, (i + 1) % n), ((i + 1) % n, i)):
            g.add_edge(f"g{a}", f"g{b}", bandwidth_bytes_per_s=bw, latency_s=lat, link_type="nvlink", links=1)
    return g


def star_graph(n: int, bws: tuple[float, ...], lat: float, reduction: bool = True) -> nx.DiGraph:
    """n GPUs, each linked to every switch s with bandwidth bws[s]."""
    g = nx.DiGraph(name="star")
    for s in range(len(bws)):
        g.add_node(f"sw{s}", kind="nvswitch", node=0, index=s, in_switch_reduction=reduction)
    for i in range(n):
        g.add_node(f"g{i}", kind="gpu", node=0, index=i, in_switch_reduction=False)
        for s, bw in enumerate(bws):
            for a, b in ((f"g{i}", f"sw{s}"), (f"sw{s}", f"g{i}")):
                g.add_edge(a, b, bandwidth_bytes_per_s=bw, latency_s=lat, link_type="nvlink", links=1)
    return g


def gpus(n):
    return [f"g{i}" for i in range(n)]


# ---------------------------------------------------------------- closed forms

@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 12), size=st.floats(1e3, 1e10), bw=st.floats(1e9, 1e12), lat=st.floats(0, 1e-5))
def test_ring_all_reduce_on_a_ring(n, size, bw, lat):
    c = collective_time(ring_graph(n, bw, lat), gpus(n), "all_reduce", size, P, "ring")
    step = size / n / (bw * P.efficiency) + lat + P.step_latency_s
    assert c.time_s == pytest.approx(2 * (n - 1) * step + P.call_latency_s, rel=REL)
    assert c.steps == 2 * (n - 1)
    assert c.algorithm == "ring"
    assert c.algorithm_bandwidth_bytes_per_s == pytest.approx(size / c.time_s, rel=REL)
    assert c.bus_bandwidth_bytes_per_s == pytest.approx(size / c.time_s * 2 * (n - 1) / n, rel=REL)


@pytest.mark.parametrize("op", ["all_gather", "reduce_scatter"])
@pytest.mark.parametrize("n", [3, 8])
def test_all_gather_reduce_scatter_are_half_the_all_reduce(op, n):
    g = ring_graph(n, 100e9, 1e-6)
    ar = collective_time(g, gpus(n), "all_reduce", GIB, P, "ring")
    half = collective_time(g, gpus(n), op, GIB, P, "ring")
    assert half.time_s - P.call_latency_s == pytest.approx((ar.time_s - P.call_latency_s) / 2, rel=REL)
    assert half.steps == n - 1
    assert half.bus_bandwidth_bytes_per_s == pytest.approx(GIB / half.time_s * (n - 1) / n, rel=REL)


@pytest.mark.parametrize("n", [2, 5, 8])
def test_ring_all_reduce_through_one_switch(n):
    bw, lat, size = 200e9, 0.5e-6, 3e8
    c = collective_time(star_graph(n, (bw,), lat), gpus(n), "all_reduce", size, P, "ring")
    step = size / n / (bw * P.efficiency) + 2 * lat + P.step_latency_s
    assert c.time_s == pytest.approx(2 * (n - 1) * step + P.call_latency_s, rel=REL)
    assert c.bottleneck_link == ("g0", "sw0")


def test_traffic_spreads_over_switch_chips_by_bandwidth():
    """Links 5+4+4+5 to four chips behave like one switch with their sum."""
    n, lat, size = 8, 0.5e-6, GIB
    bws = (125e9, 100e9, 100e9, 125e9)
    c = collective_time(star_graph(n, bws, lat), gpus(n), "all_reduce", size, P, "ring")
    step = size / n / (sum(bws) * P.efficiency) + 2 * lat + P.step_latency_s
    assert c.time_s == pytest.approx(2 * (n - 1) * step + P.call_latency_s, rel=REL)


@pytest.mark.parametrize("op, up, down", [
    ("all_reduce", 1.0, 1.0), ("all_gather", 1 / 8, 1.0), ("reduce_scatter", 1.0, 1 / 8)])
def test_nvls_sends_and_receives_the_buffer_once(op, up, down):
    n, bw, lat, size = 8, 400e9, 0.5e-6, GIB
    c = collective_time(star_graph(n, (bw / 2, bw / 2), lat), gpus(n), op, size, P, "nvls")
    t = max(up, down) * size / (bw * P.nvls_efficiency) + 2 * lat + P.step_latency_s + P.call_latency_s
    assert c.time_s == pytest.approx(t, rel=REL)
    assert c.steps == 1 and c.algorithm == "nvls"


def test_nvls_bus_bandwidth_exceeds_ring_at_equal_efficiency():
    n, bw = 8, 400e9
    params = CollectiveParams(efficiency=0.8, call_latency_s=0.0, step_latency_s=0.0, nvls_efficiency=0.8)
    g = star_graph(n, (bw,), 0.0)
    ring = collective_time(g, gpus(n), "all_reduce", GIB, params, "ring")
    nvls = collective_time(g, gpus(n), "all_reduce", GIB, params, "nvls")
    assert ring.bus_bandwidth_bytes_per_s == pytest.approx(bw * 0.8, rel=REL)
    assert nvls.bus_bandwidth_bytes_per_s == pytest.approx(bw * 0.8 * 2 * (n - 1) / n, rel=REL)


def test_double_binary_tree_on_a_switch():
    """n = 4: every GPU has three tree edges in all (inner in one tree, leaf in the other),
    each carrying S/2 both ways, and depth 2 gives 4 dependent steps of two hops."""
    n, bw, lat, size = 4, 100e9, 0.5e-6, GIB
    c = collective_time(star_graph(n, (bw,), lat), gpus(n), "all_reduce", size, P, "tree")
    t = 1.5 * size / (bw * P.efficiency) + 4 * (2 * lat + P.step_latency_s) + P.call_latency_s
    assert c.time_s == pytest.approx(t, rel=REL)
    assert c.steps == 4


def test_all_to_all_and_point_to_point():
    n, bw, lat, size = 6, 100e9, 1e-6, GIB
    g = star_graph(n, (bw,), lat)
    a2a = collective_time(g, gpus(n), "all_to_all", size, P)
    t = (n - 1) / n * size / (bw * P.efficiency) + 2 * lat + P.step_latency_s + P.call_latency_s
    assert a2a.time_s == pytest.approx(t, rel=REL) and a2a.algorithm == "direct"
    p2p = collective_time(ring_graph(n, bw, lat), ["g0", "g1"], "point-to-point", size, P)
    t = size / (bw * P.efficiency) + lat + P.step_latency_s + P.call_latency_s
    assert p2p.time_s == pytest.approx(t, rel=REL)
    assert p2p.bus_bandwidth_bytes_per_s == pytest.approx(size / t, rel=REL)


def test_auto_picks_the_fastest():
    g = star_graph(8, (400e9,), 0.5e-6)
    for size in (1e3, 1e6, GIB):
        costs = {a: collective_time(g, gpus(8), "all_reduce", size, P, a).time_s for a in ALGORITHMS["all_reduce"]}
        auto = collective_time(g, gpus(8), "all_reduce", size, P)
        assert auto.time_s == min(costs.values())
        assert auto.algorithm == min(costs, key=costs.get)


def test_nothing_moves_for_one_gpu_or_no_bytes():
    g = ring_graph(4, 1e9, 1e-6)
    for c in (collective_time(g, ["g0"], "all_reduce", GIB, P), collective_time(g, gpus(4), "all_gather", 0, P)):
        assert c == CollectiveCost(0.0, "none", 0.0, 0.0, None, 0)


@pytest.mark.parametrize("args, message", [
    ((["g0", "g0"], "all_reduce", 1.0, "ring"), "more than once"),
    ((["g0", "zz"], "all_reduce", 1.0, "ring"), "not a node"),
    ((["g0", "sw0"], "all_reduce", 1.0, "ring"), "not a GPU"),
    ((["g0", "g1"], "all_reduce", -1.0, "ring"), "nbytes"),
    ((["g0", "g1"], "broadcast", 1.0, "ring"), "unknown collective"),
    ((["g0", "g1"], "all_reduce", 1.0, "magic"), "unknown algorithm"),
    ((["g0", "g1", "g2"], "point_to_point", 1.0, "auto"), "exactly two"),
])
def test_errors_are_clear(args, message):
    g = star_graph(4, (1e9,), 1e-6)
    with pytest.raises(ValueError, match=message):
        collective_time(g, *args[:3], P, args[3])


def test_nvls_only_where_switches_reduce():
    g = star_graph(4, (1e9,), 1e-6, reduction=False)
    assert available_algorithms(g, gpus(4), "all_reduce") == ("ring", "tree")
    with pytest.raises(ValueError, match="in_switch_reduction"):
        collective_time(g, gpus(4), "all_reduce", GIB, P, "nvls")


def test_params_are_validated():
    with pytest.raises(ValueError, match="efficiency"):
        CollectiveParams(efficiency=1.5, call_latency_s=0.0, step_latency_s=0.0, nvls_efficiency=0.5)


def test_deterministic():
    spec = load_system("dgx-h100")
    a = collective_time(build_topology(spec, 2), gpu_nodes(build_topology(spec, 2)), "all_reduce", GIB,
                        CollectiveParams.from_spec(spec))
    b = collective_time(build_topology(spec, 2), gpu_nodes(build_topology(spec, 2)), "all_reduce", GIB,
                        CollectiveParams.from_spec(spec))
    assert a == b


# ---------------------------------------------------------------- calibration

A100_TEST_SYSTEM = {
    # Used only when meshes/dgx-a100.toml is not there; values from the NVIDIA A100 datasheet and measured NCCL bus bandwidth.
    "kind": "gpu", "name": "dgx-a100-test",
    "gpu": {"model": "A100 SXM 80GB", "hbm_bytes": "80 GB", "hbm_bandwidth_bytes_per_s": "2.0 TB/s",
            "bf16_flops_per_s": "312 TFLOP/s"},
    "interconnect": {"topology": "nvswitch", "gpus_per_node": 8, "nvlink_bandwidth_bytes_per_s": "300 GB/s",
                     "nvlink_links_per_gpu": 12, "nvswitch_chips": 6, "in_switch_reduction": False,
                     "link_latency_s": "1 us", "pcie_bandwidth_bytes_per_s": "31.5 GB/s", "host_memory_bytes": "2 TB",
                     "nic_bandwidth_bytes_per_s": "200 Gb/s", "nic_latency_s": "3 us"},
    "efficiency": {"gemm": 0.87, "memory": 0.7, "collective": 0.78, "kernel_launch_s": "1.3 us",
                   "kernels_per_layer": 12, "collective_latency_s": "8 us", "collective_step_latency_s": "0.3 us",
                   "workspace_fraction": 0.1},
    "energy": {"hbm_j_per_bit": "3.9 pJ/bit", "flop_j": "0.8 pJ/FLOP", "link_j_per_bit": "1.3 pJ/bit",
               "pcie_j_per_bit": "5 pJ/bit", "static_power_w": "90 W"},
}


def _a100():
    if "dgx-a100" in list_presets("meshes"):
        return load_system("dgx-a100")
    return build(GpuSystemSpec, A100_TEST_SYSTEM, "test")


def _busbw(spec, algorithm, size=GIB):
    g = build_topology(spec)
    return collective_time(g, gpu_nodes(g), "all_reduce", size, CollectiveParams.from_spec(spec), algorithm)


MEASURED = {"h100_ring": 367.5e9, "h100_nvls": 480e9, "a100_ring": 235e9}


def test_h100_ring_bus_bandwidth():
    c = _busbw(load_system("dgx-h100"), "ring")
    assert c.bus_bandwidth_bytes_per_s == pytest.approx(MEASURED["h100_ring"], rel=CALIBRATION_TOL)


def test_h100_nvls_bus_bandwidth():
    c = _busbw(load_system("dgx-h100"), "nvls")
    assert c.bus_bandwidth_bytes_per_s == pytest.approx(MEASURED["h100_nvls"], rel=CALIBRATION_TOL)
    assert _busbw(load_system("dgx-h100"), "auto").algorithm == "nvls"


def test_a100_ring_bus_bandwidth():
    c = _busbw(_a100(), "auto")
    assert c.algorithm == "ring"
    assert c.bus_bandwidth_bytes_per_s == pytest.approx(MEASURED["a100_ring"], rel=CALIBRATION_TOL)


def test_bus_bandwidth_ratios():
    h_ring = _busbw(load_system("dgx-h100"), "ring").bus_bandwidth_bytes_per_s
    h_nvls = _busbw(load_system("dgx-h100"), "nvls").bus_bandwidth_bytes_per_s
    a_ring = _busbw(_a100(), "ring").bus_bandwidth_bytes_per_s
    assert h_ring / a_ring == pytest.approx(MEASURED["h100_ring"] / MEASURED["a100_ring"], rel=CALIBRATION_TOL)
    assert h_nvls / h_ring == pytest.approx(MEASURED["h100_nvls"] / MEASURED["h100_ring"], rel=CALIBRATION_TOL)


def test_h100_small_message_latency():
    c = _busbw(load_system("dgx-h100"), "auto", size=8 * 1024)
    assert c.time_s == pytest.approx(10e-6, rel=CALIBRATION_TOL)


def _gpu_presets():
    from wafersim.config import load_toml
    return [n for n in list_presets("meshes") if load_toml(find_preset(n, "meshes")).get("kind") == "gpu"]


#: GPUs in a graph from which costing every algorithm takes seconds (two NVL72 racks: 144)
SLOW_GRAPH_GPUS = 100


def _preset_cases():
    """(nodes, name) for one and two nodes of every GPU preset; the graphs past
    SLOW_GRAPH_GPUS are marked slow."""
    return [pytest.param(nodes, name, id=f"{nodes}-{name}",
                         marks=[pytest.mark.slow] if nodes * load_system(name).num_gpus > SLOW_GRAPH_GPUS else [])
            for nodes in (1, 2) for name in _gpu_presets()]


@pytest.mark.parametrize("nodes,name", _preset_cases())
def test_every_preset_costs_every_collective(name, nodes):
    spec = load_system(name)
    g = build_topology(spec, nodes)
    validate_topology(g)
    params = CollectiveParams.from_spec(spec)
    ids = gpu_nodes(g)
    ops = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all") if nodes == 1 else ("all_reduce",)
    for op in ops:
        for algorithm in available_algorithms(g, ids, op):
            c = collective_time(g, ids, op, GIB, params, algorithm)
            assert math.isfinite(c.time_s) and c.time_s > params.call_latency_s
            assert c.bottleneck_link is not None and g.has_edge(*c.bottleneck_link)
    if nodes > 1:
        assert "nvls" not in available_algorithms(g, ids, "all_reduce")
        # Adding nodes behind NICs never makes a ring faster than within one node.
        one = build_topology(spec, 1)
        within = collective_time(one, gpu_nodes(one), "all_reduce", GIB, params, "ring")
        across = collective_time(g, ids, "all_reduce", GIB, params, "ring")
        assert across.bus_bandwidth_bytes_per_s <= within.bus_bandwidth_bytes_per_s * (1 + REL)


def test_multi_node_ring_uses_one_rail_per_ring():
    """DGX H100 x 2: eight rings, each crossing on its own rail, so every NIC carries
    one ring's crossing and the rings reach the NIC bandwidth of all eight rails."""
    spec = load_system("dgx-h100")
    g = build_topology(spec, 2)
    params = CollectiveParams.from_spec(spec)
    c = collective_time(g, gpu_nodes(g), "all_reduce", GIB, params, "ring")
    assert g.edges[c.bottleneck_link]["link_type"] == "infiniband"
    nic = spec.interconnect.nic_bandwidth_bytes_per_s
    n = 16
    per_step = GIB / (n * 8) / (nic * params.efficiency)  # one ring's chunk per NIC per direction
    assert c.time_s > 2 * (n - 1) * per_step
    assert c.time_s < 2 * (n - 1) * per_step * 1.1
