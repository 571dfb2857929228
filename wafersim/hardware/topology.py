"""The link-level graph of a multi-GPU system.

:func:`build_topology` turns a :class:`GpuSystemSpec` into a ``networkx.DiGraph``:

* nodes carry ``kind`` (one of :data:`NODE_KINDS`), ``node`` (the index of the
  server or NVLink domain they sit in; -1 for scale-out fabric switches) and
  ``in_switch_reduction`` (true only on NVSwitch chips that can reduce, NVLink SHARP);
* every physical connection becomes two directed edges, one per direction, with
  ``bandwidth_bytes_per_s`` (per direction), ``latency_s``, ``link_type`` (one of
  :data:`LINK_TYPES`), ``links`` (parallel physical links bundled into the edge)
  and, where the spec knows it, ``energy_j_per_bit``.

The model of each part:

NVSwitch node
    GPU *i* of node *k* is ``n{k}.gpu{i}``.  Its ``nvlink_links_per_gpu`` links are
    spread over the node's ``nvswitch_chips`` as ``InterconnectSpec.links_per_switch()``
    says (DGX H100: 5+4+4+5 over 4 chips; DGX A100: 2 x 6; DGX B200: 9+9; GB200 NVL72:
    one link to each of 18 chips).  All links of one GPU share
    ``nvlink_bandwidth_bytes_per_s`` equally, so the edge to a chip carries
    ``links x bandwidth / links_per_gpu``.  NVSwitch chips are not linked to each other;
    a GPU-to-GPU transfer crosses two edges of ``link_latency_s / 2`` each.
Host side (every system)
    ``cpus_per_node`` CPUs joined all-to-all (``cpu_link_bandwidth_bytes_per_s``); each GPU
    hangs off a PCIe switch (``pcie_switches`` > 0) or directly off a CPU root port.
    GPU and switch uplinks run at ``pcie_bandwidth_bytes_per_s``, each hop costs
    ``pcie_latency_s``.  A ``pcie`` system has only this part: GPU-to-GPU traffic goes
    through PCIe switches and, between sockets, the CPU-CPU link.
Scale-out (``nodes`` > 1)
    One NIC per GPU (``n{k}.nic{i}``), attached to the GPU's PCIe switch or to the GPU.
    Rail-optimised InfiniBand: NIC *i* of every node plugs into leaf ``i mod
    leaf_switches``; every leaf links to every spine with enough bandwidth for its NICs
    divided by ``fabric_oversubscription``.  NIC-leaf and leaf-spine hops cost
    ``nic_latency_s / 2`` each, so GPU to GPU through one leaf costs ``nic_latency_s``
    plus the two PCIe hops.
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx

from ..config import ConfigError
from ..text import plural
from .gpu import GpuSystemSpec, InterconnectSpec

__all__ = [
    "NODE_KINDS", "LINK_TYPES", "MAX_EDGES", "build_topology", "nodes_to_build", "edges_per_node", "graph_edges", "validate_topology", "write_graphml",
    "topology_to_graphml", "gpu_name", "gpu_nodes",
]

NODE_KINDS = ("gpu", "nvswitch", "cpu", "pcie_switch", "nic", "leaf", "spine")
LINK_TYPES = ("nvlink", "pcie", "infiniband")
FABRIC_NODE = -1
"""The ``node`` attribute of scale-out switches, which belong to no server."""


def gpu_name(node: int, gpu: int) -> str:
    return f"n{node}.gpu{gpu}"


def gpu_nodes(graph: nx.DiGraph) -> list[str]:
    """The GPU nodes of ``graph``, ordered by (node, GPU index, name)."""
    gpus = [n for n, d in graph.nodes(data=True) if d.get("kind") == "gpu"]
    return sorted(gpus, key=lambda n: (graph.nodes[n].get("node", 0), graph.nodes[n].get("index", 0), n))


def _add_node(g: nx.DiGraph, name: str, kind: str, node: int, index: int, reduction: bool = False) -> None:
    g.add_node(name, kind=kind, node=node, index=index, in_switch_reduction=reduction)


def _link(g: nx.DiGraph, a: str, b: str, *, bandwidth: float, latency: float, link_type: str,
          links: int = 1, energy: float | None = None) -> None:
    """Add one bidirectional connection as two directed edges."""
    attrs = {"bandwidth_bytes_per_s": float(bandwidth), "latency_s": float(latency),
             "link_type": link_type, "links": int(links)}
    if energy is not None:
        attrs["energy_j_per_bit"] = float(energy)
    g.add_edge(a, b, **attrs)
    g.add_edge(b, a, **attrs)


def _pcie_latency(ic: InterconnectSpec) -> float:
    return ic.pcie_latency_s if ic.pcie_latency_s > 0 else ic.link_latency_s / 2


def _add_nvswitch_domain(g: nx.DiGraph, spec: GpuSystemSpec, k: int) -> None:
    ic = spec.interconnect
    counts = ic.links_per_switch()
    per_link = ic.nvlink_bandwidth_bytes_per_s / ic.nvlink_links_per_gpu
    for s in range(ic.nvswitch_chips):
        _add_node(g, f"n{k}.nvswitch{s}", "nvswitch", k, s, reduction=ic.in_switch_reduction)
    for i in range(ic.gpus_per_node):
        for s, count in enumerate(counts):
            if count:
                _link(g, gpu_name(k, i), f"n{k}.nvswitch{s}", bandwidth=count * per_link,
                      latency=ic.link_latency_s / 2, link_type="nvlink", links=count,
                      energy=spec.energy.link_j_per_bit)


def _add_host(g: nx.DiGraph, spec: GpuSystemSpec, k: int) -> None:
    ic = spec.interconnect
    lat = _pcie_latency(ic)
    pcie = dict(bandwidth=ic.pcie_bandwidth_bytes_per_s, latency=lat, link_type="pcie",
                energy=spec.energy.pcie_j_per_bit)
    cpus = [f"n{k}.cpu{c}" for c in range(ic.cpus_per_node)]
    for c, name in enumerate(cpus):
        _add_node(g, name, "cpu", k, c)
    cpu_bw = ic.cpu_link_bandwidth_bytes_per_s or ic.pcie_bandwidth_bytes_per_s
    for a in range(len(cpus)):
        for b in range(a + 1, len(cpus)):
            _link(g, cpus[a], cpus[b], bandwidth=cpu_bw, latency=lat, link_type="pcie")
    switches = [f"n{k}.pcie{p}" for p in range(ic.pcie_switches)]
    for p, name in enumerate(switches):
        _add_node(g, name, "pcie_switch", k, p)
        _link(g, name, cpus[p * len(cpus) // len(switches)], **pcie)
    for i in range(ic.gpus_per_node):
        g.add_node(gpu_name(k, i), kind="gpu", node=k, index=i, in_switch_reduction=False)
        parent = (switches[i * len(switches) // ic.gpus_per_node] if switches
                  else cpus[i * len(cpus) // ic.gpus_per_node])
        _link(g, gpu_name(k, i), parent, **pcie)


def _nic_parent(g: nx.DiGraph, k: int, i: int) -> str:
    """Where NIC i of node k plugs in: the PCIe switch of GPU i, else GPU i itself."""
    for nbr in sorted(g.successors(gpu_name(k, i))):
        if g.nodes[nbr]["kind"] == "pcie_switch":
            return nbr
    return gpu_name(k, i)


def _add_fabric(g: nx.DiGraph, spec: GpuSystemSpec, nodes: int, built: int) -> None:
    """The scale-out fabric of ``nodes`` servers, with the NICs of the first ``built``."""
    ic = spec.interconnect
    lat = _pcie_latency(ic)
    leaves = ic.leaf_switches or ic.gpus_per_node
    spines = ic.spine_switches or leaves
    for l in range(leaves):
        _add_node(g, f"leaf{l}", "leaf", FABRIC_NODE, l)
    for s in range(spines):
        _add_node(g, f"spine{s}", "spine", FABRIC_NODE, s)
    for k in range(built):
        for i in range(ic.gpus_per_node):
            nic = f"n{k}.nic{i}"
            _add_node(g, nic, "nic", k, i)
            _link(g, _nic_parent(g, k, i), nic, bandwidth=ic.pcie_bandwidth_bytes_per_s, latency=lat,
                  link_type="pcie", energy=spec.energy.pcie_j_per_bit)
            _link(g, nic, f"leaf{i % leaves}", bandwidth=ic.nic_bandwidth_bytes_per_s,
                  latency=ic.nic_latency_s / 2, link_type="infiniband")
    nics_per_leaf = math.ceil(nodes * ic.gpus_per_node / leaves)
    uplink = nics_per_leaf * ic.nic_bandwidth_bytes_per_s / (spines * ic.fabric_oversubscription)
    for l in range(leaves):
        for s in range(spines):
            _link(g, f"leaf{l}", f"spine{s}", bandwidth=uplink, latency=ic.nic_latency_s / 2,
                  link_type="infiniband")


#: Most directed edges a built graph may have (a GB200 NVL72 rack is about 4,300, its
#: fabric about 10,000): 64 such racks, 4,608 GPUs.  Routing is a Dijkstra search per
#: source over the built graph (about 0.5 s at this size), so this bounds the time and
#: memory of costing one collective.
MAX_EDGES = 300_000


def edges_per_node(spec: GpuSystemSpec) -> int:
    """Directed edges one server adds to the graph (host, NVLink and NIC links)."""
    ic = spec.interconnect
    cpus = ic.cpus_per_node
    edges = 2 * (cpus * (cpus - 1) // 2 + ic.pcie_switches + ic.gpus_per_node)
    if ic.topology == "nvswitch":
        edges += 2 * ic.gpus_per_node * sum(1 for c in ic.links_per_switch() if c)
    if ic.nodes > 1:
        edges += 4 * ic.gpus_per_node
    return edges


def graph_edges(spec: GpuSystemSpec, built: int) -> int:
    """Directed edges of the graph of ``spec`` with its first ``built`` servers."""
    ic = spec.interconnect
    fabric = 0
    if ic.nodes > 1:
        leaves = ic.leaf_switches or ic.gpus_per_node
        fabric = 2 * leaves * (ic.spine_switches or leaves)
    return built * edges_per_node(spec) + fabric


def nodes_to_build(spec: GpuSystemSpec, gpus: int) -> int:
    """The servers a job on the first ``gpus`` GPUs needs in its graph: those it uses, and
    at least two when the system has several (so the scale-out fabric is there)."""
    ic = spec.interconnect
    used = max(1, -(-gpus // ic.gpus_per_node))
    return min(ic.nodes, max(used, 2))


def build_topology(spec: GpuSystemSpec, nodes: int | None = None, *, only: int | None = None) -> nx.DiGraph:
    """The link-level graph of ``spec`` with ``nodes`` servers (default ``spec.interconnect.nodes``).

    ``only`` builds just the first ``only`` servers of the ``nodes`` (the fabric keeps the
    bandwidth of all of them).  Routes between built servers are the same as in the full
    graph: a path through another server's NICs, PCIe or NVLink is strictly slower than
    leaf-spine-leaf, so the servers left out carry none of their traffic.  The graph
    attribute ``nodes`` is the full count and ``built_nodes`` the servers present.
    A graph above :data:`MAX_EDGES` edges is refused with a ConfigError."""
    ic = spec.interconnect
    nodes = ic.nodes if nodes is None else nodes
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise ValueError(f"nodes must be an integer >= 1, got {nodes!r}")
    built = nodes if only is None else min(nodes, only)
    if built < 1:
        raise ValueError(f"only must be an integer >= 1, got {only!r}")
    if ic.topology == "nvswitch" and (ic.nvswitch_chips < 1 or ic.nvlink_links_per_gpu < 1):
        raise ValueError(f"{spec.name}: an nvswitch topology needs nvswitch_chips >= 1 and nvlink_links_per_gpu >= 1")
    edges = graph_edges(spec, built) if nodes == ic.nodes else built * edges_per_node(spec)
    if edges > MAX_EDGES:
        fabric = graph_edges(spec, 0)
        if fabric > MAX_EDGES // 2:
            why = (f"its leaf-spine fabric alone has {fabric:,} edges (leaf_switches and spine_switches default "
                   "to gpus_per_node): set fewer leaf and spine switches or fewer GPUs per node")
        else:
            fits = (MAX_EDGES - fabric) // edges_per_node(spec)
            why = (f"at most {fits} such servers fit: use fewer GPUs in the job (tp x pp x ep), or fewer GPUs, "
                   "CPUs or PCIe switches per node")
        raise ConfigError(spec.name, "interconnect",
                          f"a job over {plural(built, 'server')} of {ic.gpus_per_node} GPUs needs a link graph of about "
                          f"{edges:,} edges; at most {MAX_EDGES:,} are costed, and {why}")
    g = nx.DiGraph(name=spec.name, topology=ic.topology, nodes=nodes, gpus_per_node=ic.gpus_per_node)
    if built != nodes:
        g.graph["built_nodes"] = built
    for k in range(built):
        _add_host(g, spec, k)
        if ic.topology == "nvswitch":
            _add_nvswitch_domain(g, spec, k)
    if nodes > 1:
        _add_fabric(g, spec, nodes, built)
    return g


def validate_topology(graph: nx.DiGraph) -> None:
    """Check that ``graph`` is a usable system graph; raise ValueError saying what is wrong."""
    name = graph.graph.get("name", "topology")
    if graph.number_of_nodes() == 0:
        raise ValueError(f"{name}: the graph has no nodes")
    for n, d in sorted(graph.nodes(data=True)):
        if d.get("kind") not in NODE_KINDS:
            raise ValueError(f"{name}: node {n!r} has kind {d.get('kind')!r}; expected one of {', '.join(NODE_KINDS)}")
    for u, v, d in sorted(graph.edges(data=True)):
        bw, lat = d.get("bandwidth_bytes_per_s"), d.get("latency_s")
        if bw is None or not math.isfinite(bw) or bw <= 0:
            raise ValueError(f"{name}: link {u} -> {v} has bandwidth_bytes_per_s {bw!r}; expected a finite value > 0")
        if lat is None or not math.isfinite(lat) or lat < 0:
            raise ValueError(f"{name}: link {u} -> {v} has latency_s {lat!r}; expected a finite value >= 0")
        if d.get("link_type") not in LINK_TYPES:
            raise ValueError(f"{name}: link {u} -> {v} has link_type {d.get('link_type')!r}; "
                             f"expected one of {', '.join(LINK_TYPES)}")
    gpus = gpu_nodes(graph)
    if not gpus:
        raise ValueError(f"{name}: the graph has no GPU nodes")
    if not nx.is_weakly_connected(graph):
        parts = sorted((sorted(c) for c in nx.weakly_connected_components(graph)), key=len)
        raise ValueError(f"{name}: the graph is not connected; {len(parts)} parts, the smallest holds {parts[0][:5]}")
    reach = nx.descendants(graph, gpus[0]) | {gpus[0]}
    for g in gpus:
        if g not in reach:
            raise ValueError(f"{name}: GPU {g} cannot be reached from {gpus[0]}")
        back = nx.descendants(graph, g) | {g}
        if gpus[0] not in back:
            raise ValueError(f"{name}: GPU {gpus[0]} cannot be reached from {g}")


def topology_to_graphml(graph: nx.DiGraph) -> str:
    """The graph as a GraphML document (for storing in a results file)."""
    return "\n".join(nx.generate_graphml(graph))


def write_graphml(graph: nx.DiGraph, path: str | Path) -> None:
    nx.write_graphml(graph, str(path))
