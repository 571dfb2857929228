"""``wafersim noc-sweep``: the latency-throughput curve of the cycle-level mesh network."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import cli_args
from .config import ConfigError
from .text import plural

__all__ = ["add_parser", "cmd_noc_sweep", "NOC_PATTERNS", "CYCLES_MAX", "VCS_MAX", "BUFFER_MAX", "PACKET_MAX",
           "RATE_MIN", "RATES_MAX"]

#: engines.noc_traffic.PATTERNS, spelled out so that start-up does not import Numba (a test checks)
NOC_PATTERNS = ("uniform", "transpose", "bit_complement", "hotspot", "neighbour")
#: most cycles of packet creation: the run drains for as long again, and the kernel keeps
#: cycles in int32 (below 2**31 less a margin for link latencies)
CYCLES_MAX = 10**9
#: most virtual channels per port and flits per virtual channel: every router holds
#: 5 ports x VCs x flits slots, so these bound a router's memory (16 x 1024 x 80 B)
VCS_MAX = 16
BUFFER_MAX = 1024
#: most flits per packet
PACKET_MAX = 1024
#: least injection rate, flits per node per cycle: a node offering less creates a packet
#: every 10**6 cycles or fewer, and the geometric gaps stay far inside int64
RATE_MIN = 1e-6
#: most rates in one sweep
RATES_MAX = 100

DESCRIPTION = """\
Offer synthetic traffic to the cycle-level mesh network (the routers of --fidelity
cycle: virtual channels, wormhole packets, credits, XY routing) at each injection
rate and print the latency-throughput curve: the rate accepted, packet latency
(mean, median, 99th percentile) and the share of the measurement window's packets
delivered.

Every node creates packets of --packet flits as a Bernoulli process at --rates
flits per node per cycle for --cycles cycles, the first --warmup of which are not
measured; the network then drains for up to as long again.  Packets are fed to the
network as they are created, so memory follows the packets in flight.

The mesh is uniform (1-cycle links of one flit a cycle) of --mesh RxC routers, or a
wafer preset's (--system: its link latencies and bandwidths, scribe crossings
included), cut to --mesh if given.  Before it starts, the sweep prints its
estimated work (router-cycles) and is refused above the bound (see README,
"Reliability") unless --force; a long run shows its progress on stderr.
"""

EPILOG = """\
examples:
  wafersim noc-sweep --mesh 16x16 --pattern transpose --rates 0.05,0.1,0.2 -o noc.h5
  wafersim noc-sweep --system wse3 --mesh 32x32 --cycles 5000
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``noc-sweep`` to the subcommands of the ``wafersim`` parser."""
    n = sub.add_parser("noc-sweep", help="latency-throughput curve of the cycle-level mesh network",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    m = n.add_argument_group("network")
    m.add_argument("--system", default=None, metavar="WAFER",
                   help="take link latency and bandwidth from this wafer preset or path (GPU systems have no mesh)")
    m.add_argument("--mesh", type=cli_args.mesh_size, default=None, metavar="RxC",
                   help="routers, rows x columns, read as --cores is (default 8x8, or the preset's whole mesh)")
    m.add_argument("--vcs", type=cli_args.int_in(1, VCS_MAX, f"virtual channels from 1 to {VCS_MAX}"), default=2,
                   help=f"virtual channels per input port, 1 to {VCS_MAX} (default 2)")
    m.add_argument("--buffer", type=cli_args.int_in(1, BUFFER_MAX, f"flits from 1 to {BUFFER_MAX}"), default=8,
                   help=f"flit slots per virtual channel, 1 to {BUFFER_MAX} (default 8)")
    t = n.add_argument_group("traffic")
    t.add_argument("--pattern", choices=NOC_PATTERNS, default="uniform",
                   help="uniform (any other node), transpose (y, x) -> (x, y) on a square mesh, bit_complement "
                        "(mirror through the centre), hotspot (a fifth of packets to the centre), neighbour "
                        "(default uniform)")
    t.add_argument("--rates", type=cli_args.float_list(RATE_MIN, float(PACKET_MAX),
                                                       f"a rate from {RATE_MIN:g} to --packet", RATES_MAX),
                   default=[0.05, 0.1, 0.2, 0.3, 0.4, 0.5], metavar="R1,R2,...",
                   help=f"injection rates offered, flits per node per cycle, comma-separated (at most {RATES_MAX}, "
                        f"each from {RATE_MIN:g} to --packet; default 0.05,0.1,0.2,0.3,0.4,0.5)")
    t.add_argument("--packet", type=cli_args.int_in(1, PACKET_MAX, f"flits from 1 to {PACKET_MAX}"), default=4,
                   help=f"flits per packet, 1 to {PACKET_MAX} (default 4)")
    t.add_argument("--cycles", type=cli_args.int_in(1, CYCLES_MAX, f"cycles from 1 to {CYCLES_MAX}"), default=3000,
                   help=f"cycles of packet creation, 1 to {CYCLES_MAX:.0e} (default 3000)")
    t.add_argument("--warmup", type=cli_args.int_in(0, CYCLES_MAX, "a number of cycles below --cycles"),
                   default=None, help="cycles before the measurement window, below --cycles "
                                      "(default 1000, or a third of --cycles if that is less)")
    t.add_argument("--seed", type=cli_args.int_in(0, cli_args.FLAG_MAX, f"a seed from 0 to {cli_args.FLAG_MAX}"),
                   default=0, help="random seed of the traffic: a seed gives the same packets and results (default 0)")
    o = n.add_argument_group("output")
    o.add_argument("-o", "--out", default=None, metavar="FILE.h5", help="write the curve to an HDF5 file")
    o.add_argument("--force", action="store_true",
                   help="let -o replace an existing file, and run a sweep whose estimated work is above the bound")
    n.set_defaults(func=cmd_noc_sweep)
    return n


def _network(ns: argparse.Namespace):
    """The links of the mesh asked for, and how to describe it in the results file."""
    import dataclasses

    from .engines.cycle_network import LinkArrays
    from .hardware.mesh import PhysicalMesh
    from .presets import load_system

    if not ns.system:
        rows, cols = ns.mesh or (8, 8)
        _check_size(rows, cols, "--mesh")
        return (rows, cols), lambda: LinkArrays.uniform(rows, cols), {
            "uniform": True, "cores_y": rows, "cores_x": cols, "latency_cycles": 1, "period_cycles": 1}
    system = load_system(ns.system)
    if system.kind != "wafer":
        raise ConfigError("--system", "", f"noc-sweep simulates a wafer's mesh; {system.name} is a GPU system "
                          "(name a wafer preset such as wse3, or leave --system out for a uniform mesh)")
    if ns.mesh:
        rows, cols = ns.mesh
        m = system.mesh
        dies_y = m.dies_y if rows % m.dies_y == 0 else 1
        dies_x = m.dies_x if cols % m.dies_x == 0 else 1
        system = dataclasses.replace(system, mesh=dataclasses.replace(m, cores_y=rows, cores_x=cols,
                                                                      dies_y=dies_y, dies_x=dies_x))
    rows, cols = system.mesh.cores_y, system.mesh.cores_x
    _check_size(rows, cols, "--mesh")
    return (rows, cols), lambda: LinkArrays.from_mesh(PhysicalMesh.from_spec(system)), {
        "system": system.name, "cores_y": rows, "cores_x": cols}


#: most routers a mesh may have (a wafer preset's bound, hardware.wafer.MAX_CORES, holds it too)
def _check_size(rows: int, cols: int, flag: str) -> None:
    from .hardware.wafer import MAX_CORES
    if rows * cols > MAX_CORES:
        raise ConfigError("command line", flag.lstrip("-"), f"a {rows} x {cols} mesh has more than {MAX_CORES} routers")
    if rows * cols < 2:
        raise ConfigError("command line", flag.lstrip("-"), "a mesh needs at least 2 routers for traffic to cross it")


def _spec_checks(ns: argparse.Namespace, shape: tuple[int, int]) -> int:
    """The warm-up (default: 1000 cycles or a third of --cycles), checked against the
    other flags as the traffic model needs them."""
    warmup = ns.warmup if ns.warmup is not None else min(1000, ns.cycles // 3)
    if warmup >= ns.cycles:
        raise ConfigError("command line", "warmup", f"expected fewer cycles than --cycles ({ns.cycles}); got {warmup}")
    over = [r for r in ns.rates if r > ns.packet]
    if over:
        raise ConfigError("command line", "rates", f"a node creates at most one packet a cycle: rates above --packet "
                          f"({ns.packet} flits) cannot be offered; got {over[0]:g}")
    if ns.pattern == "transpose" and shape[0] != shape[1]:
        raise ConfigError("command line", "pattern", f"transpose traffic needs a square mesh; got {shape[0]}x{shape[1]}")
    return warmup


def estimate(ns: argparse.Namespace, shape: tuple[int, int]) -> tuple[float, float]:
    """(router-cycles, bytes of router buffers) of the sweep: at most every router busy for
    every cycle of creation at every rate, and each router's 5 ports x VCs x slots of 16 bytes."""
    from .engines.cost import SETUP_ROUTER_CYCLES
    routers = shape[0] * shape[1]
    work = len(ns.rates) * routers * (ns.cycles + SETUP_ROUTER_CYCLES)
    return float(work), float(routers * 5 * ns.vcs * ns.buffer * 16)


def cmd_noc_sweep(ns: argparse.Namespace) -> int:
    cli_args.check_out(ns)
    shape, build_links, mesh_desc = _network(ns)
    warmup = _spec_checks(ns, shape)
    from .engines import cost
    work, memory = estimate(ns, shape)
    print(f"estimated work: {cost.describe(work, memory)}; {plural(len(ns.rates), 'rate')} x {shape[0]}x{shape[1]} routers "
          f"x {ns.cycles} cycles")
    with cost.budget(force=ns.force):
        cost.check(work, "this sweep", "command line", "",
                   "fewer --cycles or --rates, or a smaller --mesh", memory)
    return _sweep(ns, build_links(), mesh_desc, warmup, work)


def _sweep(ns: argparse.Namespace, links, mesh_desc: dict, warmup: int, work: float) -> int:
    import dataclasses
    import time

    import numpy as np

    from .engines.cycle_network import NetworkConfig, warm_up
    from .engines.noc_traffic import TrafficSpec, run_point
    from .results.hdf5 import write_noc_sweep
    from .sweep.progress import WorkMeter

    config = NetworkConfig(vcs=ns.vcs, buffer_flits=ns.buffer)
    routers = links.shape[0] * links.shape[1]
    warm_up()
    points = []
    meter = WorkMeter("noc-sweep", work, stream=sys.stderr)
    for i, rate in enumerate(ns.rates):
        spec = TrafficSpec(pattern=ns.pattern, rate=rate, packet_flits=ns.packet, cycles=ns.cycles,
                           warmup=warmup, seed=ns.seed)
        t0 = time.perf_counter()
        before = i * routers * ns.cycles
        pt, _ = run_point(links, spec, config,
                          progress=lambda cycles: meter.update(before + routers * min(cycles, ns.cycles)))
        points.append(pt)
        print(f"offered {rate:6.3f}  accepted {pt.accepted:6.3f} flit/node/cycle  latency mean {pt.latency_mean:8.1f}"
              f"  p99 {pt.latency_p99:8.1f} cycles  delivered {pt.delivered_share:6.1%}  "
              f"({pt.visits / max(time.perf_counter() - t0, 1e-9):.3g} router-cycles/s)", flush=True)
    meter.close()
    if ns.out:
        cols_ = [("offered", [p.offered for p in points], "flit/node/cycle", "injection rate offered"),
                 ("accepted", [p.accepted for p in points], "flit/node/cycle", "flits ejected in the window per node per cycle"),
                 ("latency_mean", [p.latency_mean for p in points], "cycle", "mean packet latency, creation to delivery"),
                 ("latency_p50", [p.latency_p50 for p in points], "cycle", "median packet latency"),
                 ("latency_p99", [p.latency_p99 for p in points], "cycle", "99th percentile packet latency"),
                 ("delivered_share", [p.delivered_share for p in points], "", "share of window packets delivered"),
                 ("router_cycles", [p.visits for p in points], "", "router-cycles simulated (active routers)")]
        cfg = {"mesh": mesh_desc, "pattern": ns.pattern, "packet_flits": ns.packet, "cycles": ns.cycles,
               "warmup": warmup, "seed": ns.seed, "router": dataclasses.asdict(config)}
        write_noc_sweep(ns.out, cols_, np.stack([p.link_utilisation for p in points]), cfg)
        print(f"results written to {ns.out}")
    return 0
