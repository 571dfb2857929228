"""Jobs spanning several nodes: pipeline sends and tensor-parallel groups over InfiniBand."""

import json

import pytest

import wafersim
from wafersim.cli import main
from wafersim.engines.gpu_collectives import GraphCollectives
from wafersim.runner import simulate


def two_nodes():
    return wafersim.load_system("dgx-h100", {"interconnect.nodes": 2})


def test_pipeline_send_between_nodes_is_the_infiniband_closed_form():
    g = two_nodes()
    ic = g.interconnect
    gc = GraphCollectives(g, tp=8, pp=2)
    assert gc.placement.stage_pair(0) == ("n0.gpu0", "n1.gpu0")
    nbytes = 1_000_000    # exact at the cache key's 6 significant digits
    c = gc.cost("p2p", nbytes, gc.placement.stage_pair(0))
    pcie_hop = ic.pcie_latency_s or ic.link_latency_s / 2
    # GPU -> NIC (PCIe), NIC -> leaf -> NIC (InfiniBand), NIC -> GPU (PCIe); the NIC is the narrowest link
    latency = 2 * pcie_hop + ic.nic_latency_s
    bw = min(ic.nic_bandwidth_bytes_per_s, ic.pcie_bandwidth_bytes_per_s)
    assert bw == ic.nic_bandwidth_bytes_per_s
    expected = gc.params.call_latency_s + gc.params.step_latency_s + latency + nbytes / (bw * gc.params.efficiency)
    assert c.time_s == pytest.approx(expected, rel=1e-9, abs=0)
    assert gc.graph.edges[c.bottleneck_link]["link_type"] == "infiniband"


def test_simulate_pays_the_infiniband_send_per_step():
    """tp 8 x pp 2 on two nodes: per layer two all-reduces inside node 0 (the fastest of ring,
    tree and NVLS), per step one stage send over InfiniBand, all written out."""
    g = two_nodes()
    ic, eff = g.interconnect, g.efficiency
    m = wafersim.load_model("llama-3.1-70b")
    r = simulate(g, m, tp=8, pp=2, batch=4)
    # two stages: the batch of 4 runs as 2 micro-batches of 2 sequences
    nbytes = 2 * 8192 * 2
    nvlink, hop = ic.nvlink_bandwidth_bytes_per_s, ic.link_latency_s    # GPU -> NVSwitch -> GPU
    pcie_hop = ic.pcie_latency_s or ic.link_latency_s / 2
    call, step, n = eff.collective_latency_s, eff.collective_step_latency_s, 8
    ring = call + 2 * (n - 1) * (nbytes / n / (nvlink * eff.collective) + hop + step)
    tree = call + 4 * nbytes / 2 / (nvlink * eff.collective) + 2 * 3 * (hop + step)  # busiest GPU: 4 tree edges
    nvls = call + nbytes / (nvlink * ic.nvls_efficiency) + hop + step
    send = call + nbytes / (ic.nic_bandwidth_bytes_per_s * eff.collective) + 2 * pcie_hop + ic.nic_latency_s + step
    expected = m.num_layers * 2 * min(ring, tree, nvls) + send
    assert r.decode.components["interconnect"] == pytest.approx(expected, rel=1e-9, abs=0)
    assert r.summary["p2p_algorithm"] == "direct"
    inside = simulate(g, m, tp=4, pp=2, batch=4)      # both stages in node 0: NVLink
    assert inside.summary["p2p_algorithm"] == "direct"
    assert inside.decode.components["interconnect"] < r.decode.components["interconnect"]


def test_tp16_across_nodes_runs_and_each_all_reduce_is_slower():
    g = two_nodes()
    m = wafersim.load_model("llama-3.1-70b")
    nbytes = m.hidden_size * 2.0
    t8 = GraphCollectives(g, tp=8, pp=1)("all_reduce", nbytes, 8)
    t16 = GraphCollectives(g, tp=16, pp=1)("all_reduce", nbytes, 16)
    assert t16 > t8
    r = simulate(g, m, tp=16)
    assert r.summary["devices"] == 16 and r.summary["allreduce_algorithm"] in ("ring", "tree")


def test_cli_multi_node(capsys):
    assert main(["run", "dgx-h100", "llama-3.1-70b", "--tp", "8", "--pp", "2",
                 "--set", "system.interconnect.nodes=2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["devices"] == 16 and out["p2p_algorithm"] == "direct"
