"""Every edge of the system graph against the preset numbers it is built from."""

from __future__ import annotations

import pytest

import wafersim
from wafersim.hardware.topology import build_topology, gpu_nodes

REL = 1e-12
BASE = {
    "interconnect.nvlink_bandwidth_bytes_per_s": "450 GB/s", "interconnect.nvlink_links_per_gpu": 18,
    "interconnect.nvswitch_chips": 4, "interconnect.link_latency_s": "2 us", "interconnect.in_switch_reduction": True,
    "interconnect.pcie_bandwidth_bytes_per_s": "50 GB/s", "interconnect.pcie_latency_s": 0.0,
    "interconnect.nic_bandwidth_bytes_per_s": "40 GB/s", "interconnect.nic_latency_s": "6 us",
    "interconnect.cpus_per_node": 2, "interconnect.pcie_switches": 0, "interconnect.cpu_link_bandwidth_bytes_per_s": 0.0,
    "interconnect.leaf_switches": 0, "interconnect.spine_switches": 0, "interconnect.fabric_oversubscription": 1.0,
    "energy.link_j_per_bit": "1 pJ/bit", "energy.pcie_j_per_bit": "8 pJ/bit",
}


def graph(nodes=1, **more):
    spec = wafersim.load_system("dgx-h100", {**BASE, "interconnect.nodes": nodes,
                                             **{"interconnect." + k: v for k, v in more.items()}})
    return build_topology(spec)


def edge(g, a, b):
    d = g.edges[a, b]
    assert g.edges[b, a] == d                  # one connection, the same both ways
    return d


def test_one_node_nvswitch_and_host():
    g = graph()
    assert g.graph["nodes"] == 1 and g.graph["gpus_per_node"] == 8 and g.graph["topology"] == "nvswitch"
    kinds = {}
    for _, d in g.nodes(data=True):
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
    assert kinds == {"gpu": 8, "nvswitch": 4, "cpu": 2}
    for s, links in enumerate((5, 4, 4, 5)):
        d = edge(g, "n0.gpu6", f"n0.nvswitch{s}")
        assert d["bandwidth_bytes_per_s"] == pytest.approx(links * 450e9 / 18, rel=REL, abs=0)
        assert (d["latency_s"], d["links"], d["link_type"]) == (1e-6, links, "nvlink")
        assert d["energy_j_per_bit"] == 1e-12
        assert g.nodes[f"n0.nvswitch{s}"] == {"kind": "nvswitch", "node": 0, "index": s, "in_switch_reduction": True}
    # GPUs 0-3 on CPU 0, 4-7 on CPU 1, at PCIe bandwidth and half the link latency
    for i in range(8):
        d = edge(g, f"n0.gpu{i}", f"n0.cpu{i * 2 // 8}")
        assert (d["bandwidth_bytes_per_s"], d["latency_s"], d["link_type"], d["links"]) == (50e9, 1e-6, "pcie", 1)
        assert d["energy_j_per_bit"] == 8e-12
        assert g.nodes[f"n0.gpu{i}"] == {"kind": "gpu", "node": 0, "index": i, "in_switch_reduction": False}
    cpu = edge(g, "n0.cpu0", "n0.cpu1")
    assert (cpu["bandwidth_bytes_per_s"], cpu["latency_s"]) == (50e9, 1e-6) and "energy_j_per_bit" not in cpu
    assert g.number_of_edges() == 2 * (8 * 4 + 8 + 1)
    assert gpu_nodes(g) == [f"n0.gpu{i}" for i in range(8)]


def test_host_options():
    g = graph(pcie_switches=4, cpus_per_node=2, pcie_latency_s="0.3 us", cpu_link_bandwidth_bytes_per_s="100 GB/s")
    for i in range(8):
        d = edge(g, f"n0.gpu{i}", f"n0.pcie{i * 4 // 8}")
        assert (d["bandwidth_bytes_per_s"], d["latency_s"]) == (50e9, 0.3e-6)
    for p in range(4):
        assert edge(g, f"n0.pcie{p}", f"n0.cpu{p * 2 // 4}")["latency_s"] == 0.3e-6
        assert g.nodes[f"n0.pcie{p}"]["kind"] == "pcie_switch"
    assert edge(g, "n0.cpu0", "n0.cpu1")["bandwidth_bytes_per_s"] == 100e9
    three = graph(cpus_per_node=3)
    assert all(three.has_edge(f"n0.cpu{a}", f"n0.cpu{b}") for a in range(3) for b in range(3) if a != b)
    assert [three.has_edge(f"n0.gpu{i}", f"n0.cpu{i * 3 // 8}") for i in range(8)] == [True] * 8


def test_two_nodes_rail_optimised_fabric():
    g = graph(nodes=2)
    assert g.graph["nodes"] == 2
    assert gpu_nodes(g) == [f"n{k}.gpu{i}" for k in range(2) for i in range(8)]
    for k in range(2):
        for i in range(8):
            nic = f"n{k}.nic{i}"
            assert g.nodes[nic] == {"kind": "nic", "node": k, "index": i, "in_switch_reduction": False}
            up = edge(g, f"n{k}.gpu{i}", nic)       # no PCIe switches: the NIC hangs off its GPU
            assert (up["bandwidth_bytes_per_s"], up["latency_s"], up["link_type"]) == (50e9, 1e-6, "pcie")
            ib = edge(g, nic, f"leaf{i}")
            assert (ib["bandwidth_bytes_per_s"], ib["latency_s"], ib["link_type"]) == (40e9, 3e-6, "infiniband")
    # 8 leaves, 8 spines; each leaf has 2 NICs, so each of its 8 uplinks carries 2 x 40 / 8 GB/s
    for l in range(8):
        assert g.nodes[f"leaf{l}"]["node"] == -1 and g.nodes[f"spine{l}"]["kind"] == "spine"
        for s in range(8):
            d = edge(g, f"leaf{l}", f"spine{s}")
            assert d["bandwidth_bytes_per_s"] == pytest.approx(2 * 40e9 / 8, rel=REL, abs=0)
            assert d["latency_s"] == 3e-6
    assert not g.has_node("leaf8") and not g.has_node("spine8")


def test_fabric_sizes_and_oversubscription():
    g = graph(nodes=4, leaf_switches=2, spine_switches=3, fabric_oversubscription=2.0, pcie_switches=2)
    for k in range(4):
        for i in range(8):
            assert g.has_edge(f"n{k}.nic{i}", f"leaf{i % 2}")
            assert g.has_edge(f"n{k}.pcie{i * 2 // 8}", f"n{k}.nic{i}")     # NIC on its GPU's PCIe switch
            assert not g.has_edge(f"n{k}.gpu{i}", f"n{k}.nic{i}")
    nics_per_leaf = 4 * 8 // 2
    for l in range(2):
        for s in range(3):
            assert g.edges[f"leaf{l}", f"spine{s}"]["bandwidth_bytes_per_s"] == pytest.approx(
                nics_per_leaf * 40e9 / (3 * 2.0), rel=REL, abs=0)
    assert not g.has_node("leaf2") and g.has_node("spine2") and not g.has_node("spine3")


def test_pcie_only_system_has_no_nvlink():
    g = graph(topology="pcie", nvlink_bandwidth_bytes_per_s=0, nvlink_links_per_gpu=0, nvswitch_chips=0,
              in_switch_reduction=False)
    assert {d["link_type"] for _, _, d in g.edges(data=True)} == {"pcie"}
    assert g.graph["topology"] == "pcie"


@pytest.mark.parametrize("nodes", [0, -1, True, 1.5])
def test_nodes_must_be_a_positive_integer(nodes):
    with pytest.raises(ValueError, match="nodes must be an integer >= 1"):
        build_topology(wafersim.load_system("dgx-h100"), nodes)


def test_gpu_order_defaults_missing_node_and_index_to_zero():
    import networkx as nx

    from wafersim.hardware.topology import gpu_nodes as order

    g = nx.DiGraph()
    g.add_node("a", kind="gpu", node=1, index=0)
    g.add_node("b", kind="gpu", index=0)                 # no node: node 0
    g.add_node("s", kind="nvswitch", node=0, index=0)
    assert order(g) == ["b", "a"]
    h = nx.DiGraph()
    h.add_node("c", kind="gpu", node=0, index=1)
    h.add_node("d", kind="gpu", node=0)                  # no index: index 0
    assert order(h) == ["d", "c"]


def test_build_refuses_an_nvswitch_spec_without_chips_or_links():
    """Presets are checked when loaded; build_topology checks specs made in code too."""
    import dataclasses

    spec = wafersim.load_system("dgx-h100", BASE)
    for change in ({"nvswitch_chips": 0}, {"nvlink_links_per_gpu": 0}):
        # specs validate when made, dataclasses.replace included, so the bad spec never exists
        with pytest.raises(ValueError, match="needs nvswitch_chips >= 1 and nvlink_links_per_gpu >= 1"):
            build_topology(dataclasses.replace(spec, interconnect=dataclasses.replace(spec.interconnect, **change)))
    one = dataclasses.replace(spec, interconnect=dataclasses.replace(
        spec.interconnect, nvswitch_chips=1, nvlink_links_per_gpu=1, nvlink_links_per_switch=""))
    g = build_topology(one)
    assert g.edges["n0.gpu0", "n0.nvswitch0"]["bandwidth_bytes_per_s"] == 450e9


def test_validate_accepts_a_single_gpu_and_refuses_an_empty_graph():
    import networkx as nx

    from wafersim.hardware.topology import validate_topology

    g = nx.DiGraph(name="one")
    g.add_node("g0", kind="gpu", node=0, index=0)
    validate_topology(g)
    g.add_node("g1", kind="gpu", node=0, index=1)
    for a, b in (("g0", "g1"), ("g1", "g0")):
        g.add_edge(a, b, bandwidth_bytes_per_s=1e9, latency_s=0.0, link_type="nvlink")   # zero latency is allowed
    validate_topology(g)
    with pytest.raises(ValueError, match="empty: the graph has no nodes"):
        validate_topology(nx.DiGraph(name="empty"))
