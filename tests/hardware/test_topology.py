"""The link-level graphs of GPU systems: every GPU preset builds and validates."""

from __future__ import annotations

import dataclasses

import networkx as nx
import pytest

from wafersim.config import load_toml
from wafersim.hardware.topology import (
    LINK_TYPES, NODE_KINDS, build_topology, gpu_nodes, topology_to_graphml, validate_topology, write_graphml,
)
from wafersim.presets import find_preset, list_presets, load_system


def _gpu_presets() -> list[str]:
    return [name for name in list_presets("meshes") if load_toml(find_preset(name, "meshes")).get("kind") == "gpu"]


GPU_PRESETS = _gpu_presets()


def test_there_are_gpu_presets():
    assert "dgx-h100" in GPU_PRESETS


@pytest.mark.parametrize("name", GPU_PRESETS)
def test_preset_builds_and_validates(name):
    spec = load_system(name)
    g = build_topology(spec)
    validate_topology(g)
    ic = spec.interconnect
    assert len(gpu_nodes(g)) == spec.num_gpus
    assert {d["kind"] for _, d in g.nodes(data=True)} <= set(NODE_KINDS)
    assert {d["link_type"] for _, _, d in g.edges(data=True)} <= set(LINK_TYPES)
    for u, v in g.edges:
        assert g.has_edge(v, u), f"{u} -> {v} has no reverse edge"
    if ic.topology == "nvswitch":
        switches = [n for n, d in g.nodes(data=True) if d["kind"] == "nvswitch"]
        assert len(switches) == ic.nvswitch_chips * ic.nodes
        gpu = gpu_nodes(g)[0]
        nvlink = [d for _, _, d in g.out_edges(gpu, data=True) if d["link_type"] == "nvlink"]
        assert sum(d["links"] for d in nvlink) == ic.nvlink_links_per_gpu
        assert sum(d["bandwidth_bytes_per_s"] for d in nvlink) == pytest.approx(ic.nvlink_bandwidth_bytes_per_s, rel=1e-12)
        assert all(g.nodes[s]["in_switch_reduction"] == ic.in_switch_reduction for s in switches)
    else:
        assert not any(d["link_type"] == "nvlink" for _, _, d in g.edges(data=True))


@pytest.mark.parametrize("nodes", [2, 4])
@pytest.mark.parametrize("name", GPU_PRESETS)
def test_multi_node_builds_validate(name, nodes):
    spec = load_system(name)
    g = build_topology(spec, nodes)
    validate_topology(g)
    ic = spec.interconnect
    assert len(gpu_nodes(g)) == nodes * ic.gpus_per_node
    leaves = sorted(n for n, d in g.nodes(data=True) if d["kind"] == "leaf")
    assert len(leaves) == ic.gpus_per_node
    # Rail-optimised: NIC i of every node is on leaf i.
    for k in range(nodes):
        for i in range(ic.gpus_per_node):
            assert g.has_edge(f"n{k}.nic{i}", f"leaf{i}")
            assert g.edges[f"n{k}.nic{i}", f"leaf{i}"]["link_type"] == "infiniband"


def test_dgx_h100_links_spread_5_4_4_5():
    g = build_topology(load_system("dgx-h100"))
    per_chip = [g.edges["n0.gpu3", f"n0.nvswitch{s}"]["links"] for s in range(4)]
    assert per_chip == [5, 4, 4, 5]
    assert g.edges["n0.gpu3", "n0.nvswitch0"]["bandwidth_bytes_per_s"] == pytest.approx(5 * 450e9 / 18, rel=1e-12)
    assert g.edges["n0.gpu3", "n0.nvswitch0"]["energy_j_per_bit"] > 0


@pytest.mark.parametrize("overrides, chips", [
    ({"interconnect.nvswitch_chips": 6, "interconnect.nvlink_links_per_gpu": 12,
      "interconnect.nvlink_bandwidth_bytes_per_s": "300 GB/s"}, (2, 2, 2, 2, 2, 2)),      # DGX A100
    ({"interconnect.nvswitch_chips": 2, "interconnect.nvlink_bandwidth_bytes_per_s": "900 GB/s"}, (9, 9)),  # DGX B200
    ({"interconnect.gpus_per_node": 72, "interconnect.nvswitch_chips": 18}, (1,) * 18),  # GB200 NVL72
    ({"interconnect.nvlink_links_per_switch": "6,3,3,6"}, (6, 3, 3, 6)),
])
def test_links_per_switch_patterns(overrides, chips):
    spec = load_system("dgx-h100", overrides)
    assert spec.interconnect.links_per_switch() == chips
    g = build_topology(spec)
    validate_topology(g)
    assert len(gpu_nodes(g)) == spec.interconnect.gpus_per_node


def test_bad_links_per_switch_is_rejected():
    from wafersim.config import ConfigError
    with pytest.raises(ConfigError, match="nvlink_links_per_switch"):
        load_system("dgx-h100", {"interconnect.nvlink_links_per_switch": "5,5,5,5"})


def test_pcie_box_routes_through_pcie_switches_and_cpus():
    spec = load_system("dgx-h100", {
        "interconnect.topology": "pcie", "interconnect.nvlink_bandwidth_bytes_per_s": 0,
        "interconnect.nvlink_links_per_gpu": 0, "interconnect.nvswitch_chips": 0,
        "interconnect.in_switch_reduction": False, "interconnect.pcie_switches": 4})
    g = build_topology(spec)
    validate_topology(g)
    kinds = sorted({d["kind"] for _, d in g.nodes(data=True)})
    assert kinds == ["cpu", "gpu", "pcie_switch"]
    assert g.has_edge("n0.cpu0", "n0.cpu1")
    assert g.has_edge("n0.gpu0", "n0.pcie0") and g.has_edge("n0.pcie3", "n0.cpu1")


def test_graphml_round_trip(tmp_path):
    g = build_topology(load_system("dgx-h100"), 2)
    path = tmp_path / "h100.graphml"
    write_graphml(g, path)
    for back in (nx.read_graphml(path), nx.parse_graphml(topology_to_graphml(g))):
        assert isinstance(back, nx.DiGraph)
        assert sorted(back.nodes) == sorted(g.nodes)
        assert sorted(back.edges) == sorted(g.edges)
        for n in g.nodes:
            assert back.nodes[n] == g.nodes[n]
        for e in g.edges:
            assert back.edges[e] == g.edges[e]
        validate_topology(back)


def _small_graph() -> nx.DiGraph:
    return build_topology(load_system("dgx-h100"))


@pytest.mark.parametrize("mutate, message", [
    (lambda g: g.edges["n0.gpu0", "n0.nvswitch0"].update(bandwidth_bytes_per_s=0.0), "bandwidth"),
    (lambda g: g.edges["n0.gpu0", "n0.nvswitch0"].update(latency_s=-1.0), "latency"),
    (lambda g: g.edges["n0.gpu0", "n0.nvswitch0"].update(link_type="ethernet"), "link_type"),
    (lambda g: g.nodes["n0.gpu0"].update(kind="tpu"), "kind"),
    (lambda g: g.add_node("lonely", kind="gpu", node=5), "not connected"),
    (lambda g: g.remove_edges_from([(f"n0.nvswitch{s}", "n0.gpu7") for s in range(4)] + [("n0.cpu1", "n0.gpu7")]),
     "cannot be reached"),
])
def test_validate_topology_rejects(mutate, message):
    g = _small_graph()
    mutate(g)
    with pytest.raises(ValueError, match=message):
        validate_topology(g)


def test_nodes_argument_is_checked():
    with pytest.raises(ValueError, match="nodes"):
        build_topology(load_system("dgx-h100"), 0)


def test_build_is_deterministic():
    spec = load_system("dgx-h100")
    assert topology_to_graphml(build_topology(spec, 2)) == topology_to_graphml(build_topology(spec, 2))


def test_default_nodes_come_from_the_spec():
    spec = load_system("dgx-h100")
    spec2 = dataclasses.replace(spec, interconnect=dataclasses.replace(spec.interconnect, nodes=3))
    assert build_topology(spec2).graph["nodes"] == 3
