"""Cycle-level wafer engine (``--fidelity cycle``): the flow engine's dataflow program, with
every stage's transfers simulated flit by flit on the mesh.

Placement, lowering, the decode-step and prefill composition, edge I/O ports,
energy and the result are the flow engine's (:func:`wafersim.engines.flow.run_program`);
only how long a stage's transfers take on the network differs.  Where the flow
engine adds the busiest link's ``load / bandwidth`` to the longest unloaded path
latency, this engine cuts the stage's transfers into packets, sends them all at
the stage's start through the routers of :mod:`wafersim.engines.cycle_network`
(virtual channels, wormhole, credits, XY routing, per-link latency and
bandwidth of the physical mesh) and takes, per region, the cycle its last packet
is delivered.  That time is reported as the unloaded path latency (``mesh_latency``,
as in the flow engine) plus the rest (``mesh_bandwidth``: serialisation, contention,
injection).  Tree steps (software) are added as in the flow engine.

Regions that run concurrently (pipelined placement) are simulated together on
their wafer, so they contend for shared links as they would; regions that take
turns on the same cores (sequential placement) are simulated one at a time, and
identical regions once.

Cost: a stage costs about its flits x hops in router visits.  Edge-I/O streams of
spilled weights can be gigabytes; a stage whose flit-hops exceed
``MAX_FLIT_HOPS`` (or 8 flits per transfer arm, if more) is simulated twice,
with every transfer scaled down to a share s and 2s of its bytes (at least one
flit each; the larger run within the budget), and each transfer's completion is
extrapolated along the line through the two, against the flit-hops each run
moved, to the full stage: a stream in steady state takes a fixed
time (latency, pipeline fill) plus time in proportion to its bytes.  A note says so.
"""

from __future__ import annotations

import numpy as np

from ..dataflow.program import StageBatch
from ..dataflow.transfers import Transfers
from ..hardware.precision import layer_flops_per_cycle
from ..hardware.wafer import WaferSpec
from ..mapping.options import MappingOptions
from ..results.run_result import RunResult
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from . import cost, flow
from .cycle_network import LinkArrays, NetworkConfig, time_transfers, transfer_arms
from .cycle_network import warm_up as _warm_network
from .flow_routing import warm_up as _warm_routing

__all__ = ["simulate", "capacity", "warm_up", "CycleTimer", "MAX_FLIT_HOPS"]

#: the most flit-hops one stage is simulated with before it is scaled down (~0.2 s on one core)
MAX_FLIT_HOPS = 1e6

capacity = flow.capacity


def warm_up() -> None:
    _warm_routing()
    _warm_network()


def _subset(t: Transfers, sel: np.ndarray) -> Transfers:
    return Transfers(t.src_y[sel], t.src_x[sel], t.dst_y[sel], t.dst_x[sel], t.nbytes[sel], t.kind[sel])


class CycleTimer(flow._Timer):
    """A flow-engine timer whose stage network time comes from the cycle-level simulation.
    Link loads and energy are the flow routing's (the same bytes on the same links)."""

    config = NetworkConfig()
    max_flit_hops = MAX_FLIT_HOPS
    #: the progress of the run this class times (a subclass made per run: see :func:`simulate`)
    run_progress: "_RunProgress | None" = None

    @classmethod
    def before_timing(cls, system: WaferSpec, placement, passes, io) -> None:
        """Estimate the router-cycles of every stage simulation the run will make, report the
        estimate and refuse the run above the bound in force (:mod:`wafersim.engines.cost`)."""
        links = _links(flow.physical_mesh(system))
        work = 0.0
        shared = placement.strategy != "pipelined"
        for prog in passes:
            for sb in (*prog.stages, prog.handoff):
                work += cls._stage_work(sb, links.flit_bytes, by_region=shared)
        if io is not None:
            work += cls._stage_work(io.io, links.flit_bytes, by_region=False)
        cost.check(work, f"the cycle engine on {system.name}", "scenario", "fidelity",
                   "use --fidelity flow (the same program, links in closed form), --layers N or a smaller "
                   "--cores block")
        if cls.run_progress is not None:
            cls.run_progress.start(f"{system.name} cycle engine", work)

    @classmethod
    def _stage_work(cls, sb: StageBatch, flit_bytes: float, by_region: bool) -> float:
        """Router-cycles of one stage's simulations: per simulation (each wafer's transfers,
        or each region's when regions take turns) the routers of its box set up, plus its
        flit-hops, at most the budget (run twice, at one and two shares, past it)."""
        t = sb.transfers
        if not len(t):
            return 0.0
        keys = sb.transfer_region if by_region else sb.transfer_wafer
        sy, sx, ty, tx, flits, owner = transfer_arms(t, flit_bytes)
        work = 0.0
        seen = set()
        for key in np.unique(keys):
            arm = keys[owner] == key
            if not arm.any():
                continue
            if by_region:           # identical regions taking turns are simulated once (flow._Timer._region_groups)
                sel = keys == key
                same = (int(sb.transfer_wafer[sel][0]), int(sel.sum()), float(t.nbytes[sel].sum()))
                if same in seen:
                    continue
                seen.add(same)
            ys, xs = np.concatenate([sy[arm], ty[arm]]), np.concatenate([sx[arm], tx[arm]])
            box = float((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
            hops = np.abs(sy[arm] - ty[arm]) + np.abs(sx[arm] - tx[arm])
            fh = float((flits[arm] * hops).sum())
            budget = max(cls.max_flit_hops, 8.0 * float(hops.sum()))
            runs = 1 if fh <= budget else 2
            work += runs * box * cost.SETUP_ROUTER_CYCLES + (fh if runs == 1 else 1.5 * budget)
        return work

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.links = _links(self.mesh)
        self.clock = self.mesh.clock_hz
        self.router_cycles = 0          # router visits simulated (for benchmarks)
        self.sim_cycles = 0

    def _network_cycles(self, t: Transfers) -> np.ndarray:
        """Completion cycle of each transfer, all sent at cycle 0.

        A stage beyond its budget of flit-hops (``max_flit_hops``, or 8 flits per arm if that
        is more, so that few reduced transfers sit at the one-flit floor) is run at two
        reduced sizes, s and 2s of its bytes, and each completion extrapolated along the line
        through the two, against the flit-hops each run actually moved, to the full stage."""
        work, base = self._flit_hops(t)
        if work == 0:
            return np.zeros(len(t), np.int64)
        budget = max(self.max_flit_hops, 8.0 * base)
        if work <= budget:
            return self._run(t).astype(np.float64)
        s1 = budget / work / 2
        small, large = self._scaled(t, s1), self._scaled(t, 2 * s1)
        w1, w2 = self._flit_hops(small)[0], self._flit_hops(large)[0]
        done1 = self._run(small).astype(np.float64)
        done2 = self._run(large).astype(np.float64)
        self.notes.append(f"cycle engine: stages beyond {self.max_flit_hops:.0e} flit-hops (edge-I/O streams, "
                          "prefill blocks) were simulated at two reduced sizes and extrapolated linearly to full size")
        return done1 + np.maximum(done2 - done1, 0.0) * (work - w1) / max(w2 - w1, 1.0)

    def _flit_hops(self, t: Transfers) -> tuple[float, float]:
        """(flits x hops, hops) summed over the arms of ``t``."""
        sy, sx, ty, tx, flits, _ = transfer_arms(t, self.links.flit_bytes)
        hops = np.abs(sy - ty) + np.abs(sx - tx)
        return float((flits * hops).sum()), float(hops.sum())

    def _scaled(self, t: Transfers, scale: float) -> Transfers:
        return Transfers(t.src_y, t.src_x, t.dst_y, t.dst_x,
                         np.where(t.nbytes > 0, np.maximum(t.nbytes * scale, self.links.flit_bytes), 0.0), t.kind)

    def _run(self, t: Transfers) -> np.ndarray:
        done, run = time_transfers(self.links, t, self.config)
        self.router_cycles += run.visits
        self.sim_cycles += run.cycles
        if self.run_progress is not None:
            y0, x0, y1, x1 = run.box
            self.run_progress.add((y1 - y0) * (x1 - x0) * cost.SETUP_ROUTER_CYCLES + run.visits)
        return done

    def _route(self, sb: StageBatch, boxes, one_at_a_time: bool = False, distinct: bool = False):
        link_max, lat_max = super()._route(sb, boxes, one_at_a_time, distinct)   # loads, energy, unloaded latency
        R = self.pl.regions
        net = np.zeros(R)
        if len(sb.transfers) == 0:
            return link_max, lat_max
        t = sb.transfers
        if one_at_a_time:
            for regions in self._region_groups(sb, boxes, distinct).values():
                sel = np.nonzero(sb.transfer_region == regions[0])[0]
                net[regions] = self._network_cycles(_subset(t, sel)).max() / self.clock
        else:
            for wafer in np.unique(sb.transfer_wafer):
                sel = np.nonzero(sb.transfer_wafer == wafer)[0]
                done = self._network_cycles(_subset(t, sel)) / self.clock
                np.maximum.at(net, sb.transfer_region[sel], done)
        # the network time, split as the flow engine splits it: unloaded latency + the rest
        return np.maximum(net - lat_max, 0.0), np.minimum(lat_max, net)


_LINKS: dict[int, tuple[object, LinkArrays]] = {}


def _links(mesh) -> LinkArrays:
    """Link arrays of ``mesh``, built once per mesh object (meshes are cached per spec)."""
    hit = _LINKS.get(id(mesh))
    if hit is None or hit[0] is not mesh:
        _LINKS.clear()
        hit = _LINKS[id(mesh)] = (mesh, LinkArrays.from_mesh(mesh))
    return hit[1]


class _RunProgress:
    """The work one run has done against its estimate, on the meter the caller asked for."""

    def __init__(self) -> None:
        self.meter: cost.Meter = cost.Meter()
        self.done = 0.0

    def start(self, label: str, total: float) -> None:
        self.meter = cost.meter(label, total)

    def add(self, work: float) -> None:
        self.done += work
        self.meter.update(self.done)


def simulate(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions) -> RunResult:
    """Run the cycle engine; ``scenario`` is resolved (batch and wafers are numbers).  The run
    is estimated before any stage is simulated and refused above the work bound in force
    (:mod:`wafersim.engines.cost`)."""
    warm_up()
    progress = _RunProgress()
    timer = type("CycleTimerOfRun", (CycleTimer,), {"run_progress": progress})
    try:
        return flow.run_program(system, model, scenario, mapping, fidelity="cycle", timer_class=timer)
    finally:
        progress.meter.close()


def network_times(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions,
                  tokens: int = 1, config: NetworkConfig = NetworkConfig()) -> list[dict]:
    """Cross-validation: the network time of every stage of one decode pass (``tokens``
    tokens), of the hand-offs between layers and of the edge-I/O stream, by the flow model
    (busiest link's load / bandwidth + longest unloaded path) and by the cycle simulation
    (all transfers sent at once, the last one delivered), each the slowest region's, and
    ``flow_ports_s``: the flow model with the cores' injection and ejection ports counted
    as links (one flit a cycle each; see docs/models.md, "cycle engine").
    ``scenario`` must be resolved (batch and wafers are numbers).  Rows: ``stage``,
    ``flow_s``, ``cycle_s``, ``flits``, ``flit_hops``, ``scaled`` (True where the stage was
    simulated scaled down, see the module docs)."""
    from ..dataflow.edge_io import io_edges
    from ..dataflow.lower import lower_pass
    from ..mapping.placement import place
    from .flow_routing import route_transfers
    pl = place(system, model, scenario, mapping, scenario.batch, scenario.wafers)
    mesh = flow.physical_mesh(system)
    links = _links(mesh)
    prog = lower_pass(pl, model, scenario, tokens, scenario.mean_decode_context, tokens * scenario.mean_decode_context,
                      io_edges=io_edges(system), io_ports=system.external_memory.io_ports)
    timer = CycleTimer(system, mesh, pl, scenario.dtype, keep_links=False,
                       flops_per_cycle=layer_flops_per_cycle(system.core, model, scenario))
    timer.config = config
    rows = []
    for sb in (*prog.stages, prog.handoff, prog.io):
        t = sb.transfers
        if not len(t) or t.nbytes.sum() == 0:
            continue
        f_time, c_time, e_time = 0.0, 0.0, 0.0
        groups = ([np.nonzero(sb.transfer_region == i)[0] for i in np.unique(sb.transfer_region)]
                  if pl.strategy != "pipelined" else [np.nonzero(sb.transfer_wafer == w)[0]
                                                      for w in np.unique(sb.transfer_wafer)])
        flits = hops = 0.0
        notes_before = len(timer.notes)
        for sel in groups[:1] if pl.strategy != "pipelined" else groups:
            sub = _subset(t, sel)
            res = route_transfers(mesh, sub)
            f_time = max(f_time, res.max_link_time_s + float(res.latency_s.max()))
            c_time = max(c_time, float(timer._network_cycles(sub).max()) / mesh.clock_hz)
            sy, sx, ty, tx, f, owner = transfer_arms(sub, links.flit_bytes)   # arms: packets of one arm
            lat = res.latency_s[owner] * mesh.clock_hz                         # share its latency
            ports = max(_port_bound(sy, sx, f, lat), _port_bound(ty, tx, f, lat))
            e_time = max(e_time, res.max_link_time_s + float(res.latency_s.max()), ports / mesh.clock_hz)
            flits += float(f.sum())
            hops += float((f * (np.abs(sy - ty) + np.abs(sx - tx))).sum())
        rows.append({"stage": sb.name, "flow_s": f_time, "flow_ports_s": e_time, "cycle_s": c_time,
                     "flits": flits, "flit_hops": hops,
                     "scaled": len(timer.notes) > notes_before})
    return rows


def _port_bound(y: np.ndarray, x: np.ndarray, flits: np.ndarray, latency: np.ndarray) -> float:
    """Cycles the busiest core port needs, one flit a cycle: at each core, for packets that
    can reach the port no earlier than ``a`` (unloaded latency), at least ``a`` plus all
    their flits (a single-server queue bound); the largest over cores and ``a``."""
    if not len(y):
        return 0.0
    core = y.astype(np.int64) * (1 << 32) + x
    order = np.lexsort((-latency, core))                   # by core, latest-arriving first
    c, f, a = core[order], flits[order].astype(float), latency[order]
    run = np.cumsum(f)
    start = np.r_[0, np.nonzero(c[1:] != c[:-1])[0] + 1]
    before = np.repeat(np.r_[0.0, run][start], np.diff(np.r_[start, len(c)]))
    return float((a + run - before).max())
