"""Flow-level wafer engine: route every transfer of the dataflow program on the mesh.

For each stage of each region the time is

    max(core compute, core SRAM reads) + busiest link (load / bandwidth)
    + longest path latency (hops, routers, scribe crossings, defect detours)
    + tree levels x software step cost,

where link loads come from dimension-ordered routing of every transfer
(:mod:`wafersim.engines.flow_routing`).  Stages of a layer run one after
another; layers run one after another for a token.  In a pipelined placement
the batch is split into micro-batches (as many as there are layers, at most one
per sequence) that follow each other through the layer regions, so a step for
all sequences costs the layer walk of one micro-batch.  Spilled weights and KV
stream through the edge ports during the step: the step takes the longer of
on-chip work and edge I/O.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..config import ConfigError
from ..dataflow.edge_io import io_edges, port_time, region_flows
from ..dataflow.lower import KV_POOL_STAGE, lower_pass
from ..dataflow.program import DataflowProgram, StageBatch
from ..dataflow.transfers import COL_MULTICAST, UNICAST
from ..dataflow.stages import stage_shapes
from ..hardware.defects import DefectSpec
from ..hardware.directions import DIRECTIONS, EAST, NORTH, SOUTH, WEST
from ..hardware.mesh import PhysicalMesh
from ..hardware.precision import layer_flops_per_cycle
from ..hardware.wafer import WaferSpec
from ..mapping.options import MappingOptions
from ..mapping.placement import Placement, block_shape, place, program_note
from ..results.phase import PhaseTime
from ..results.run_result import LayerArray, RunResult
from ..text import plural
from ..units import format_quantity
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .assembly import MemoryUse, assemble
from .capacity import largest_fitting
from .core_datapath import core_cycles
from . import _flow_kernels as _k
from .flow_routing import RoutingBuffers, route_stage, warm_up
from .pipeline import decode_crossings, decode_step_time, micro_batch_note, micro_batches, prefill_time
from .prefill_blocks import activation_bytes_per_token, block_limit, choose_block
from .prefill_spill import (KV_DISPLACEMENT_TRIPS, displaced_kv_bytes, io_stretch, offchip_activation_bytes,
                            weight_stream_bytes)
from .wafer_memory import WaferCapacity, WaferMemory, spill_note


@functools.lru_cache(maxsize=2)
def physical_mesh(system: WaferSpec, window: tuple[int, int] | None = None) -> PhysicalMesh:
    """The (read-only) mesh of ``system``, built once per spec and window: sweeps that rerun
    one system reuse its link arrays and their prefix sums instead of rebuilding them.
    ``window`` ``(rows, cols)``: only the cores ``[0:rows, 0:cols]`` (see
    :meth:`PhysicalMesh.from_spec`); the whole wafer when ``None``."""
    d = system.defects
    if d.density == 0.0:
        return PhysicalMesh.from_spec(system, window=window)
    return PhysicalMesh.from_spec(system, DefectSpec(density=d.density, spare_fraction=d.spare_fraction, seed=d.seed),
                                  window=window)


def _window(pl: Placement, programs: list[DataflowProgram]) -> tuple[int, int] | None:
    """The rows and columns from the wafer's corner that the block and every transfer of
    ``programs`` reach (``None``: the whole wafer), so the mesh holds only the cores in use."""
    ny, nx = pl.shape
    rows, cols = pl.block
    if (rows, cols) == (ny, nx):
        return None
    for prog in programs:
        for sb in (*prog.stages, prog.handoff, prog.io):
            t = sb.transfers
            if len(t) == 0:
                continue
            uni, col = t.kind == UNICAST, t.kind == COL_MULTICAST    # multicast spans: dst_y = lo, dst_x = hi
            rows = max(rows, int(t.src_y.max()) + 1, int(np.where(uni, t.dst_y, np.where(col, t.dst_x, 0)).max()) + 1)
            cols = max(cols, int(t.src_x.max()) + 1, int(np.where(col, 0, t.dst_x).max()) + 1)
    return None if (rows, cols) == (ny, nx) else (rows, cols)


def _groups_by_wafer(transfer_wafer: np.ndarray):
    """Group a stage's transfers by wafer (order kept within each), one route per wafer."""
    wafers, counts = np.unique(transfer_wafer, return_counts=True)
    starts = np.zeros(len(wafers) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    order = None if len(wafers) == 1 else np.argsort(transfer_wafer, kind="stable")
    return order, starts, wafers.astype(np.int64), np.ones(len(wafers)), []


class _Timer:
    """Times a dataflow program on the wafers' meshes and keeps the link loads."""

    def __init__(self, system: WaferSpec, mesh: PhysicalMesh, placement: Placement, dtype: str,
                 buffers: RoutingBuffers | None = None, keep_links: bool = True, act_bytes: float = 2.0,
                 flops_per_cycle: float | None = None):
        """``buffers`` is accepted for callers that pass one; stages route without whole-mesh work
        arrays now (:func:`~wafersim.engines.flow_routing.route_stage`).  With
        ``keep_links=False`` the per-link totals ``load`` and ``link_time`` are not kept
        (``None``), which saves two (wafers, ny, nx, 4) arrays where nobody reads them.
        ``act_bytes``: bytes of an activation and of a partial sum (the core datapath's)."""
        self.system, self.mesh, self.pl = system, mesh, placement
        core = system.core
        # a mixed checkpoint's rate comes from its tensor groups (hardware.precision.layer_flops_per_cycle)
        self.dtype = flops_per_cycle if flops_per_cycle is not None else dtype
        self.act_bytes = act_bytes
        self.core_hz = core.clock_hz * system.calibration.compute_efficiency   # datapath cycles -> seconds
        self.step_s = system.calibration.collective_step_cycles / core.clock_hz
        self.shift_s = system.calibration.gemm_step_cycles / core.clock_hz
        self.buffers = buffers
        ny, nx = mesh.shape
        # per-link sums by direction plane: east/west (wafers, 2, ny, nx), north/south (wafers, 2, nx, ny)
        self._totals = self._links_done = None
        if keep_links:
            w = placement.wafers
            self._totals = (np.zeros((w, 2, ny, nx)), np.zeros((w, 2, ny, nx)),
                            np.zeros((w, 2, nx, ny)), np.zeros((w, 2, nx, ny)))
        self.link_energy = 0.0
        self.notes: list[str] = []            # what a subclass wants said about how it timed stages

    @property
    def load(self) -> np.ndarray | None:
        """Bytes each link carried over every stage routed so far, (wafers, ny, nx, 4) (``None``
        when links are not kept)."""
        return self._links()[0]

    @property
    def link_time(self) -> np.ndarray | None:
        """Seconds each link was busy over every stage routed so far (as :attr:`load`)."""
        return self._links()[1]

    def link_planes(self) -> tuple[np.ndarray, ...] | None:
        """The per-link totals as direction planes, ``(h_load, h_time, v_load, v_time)``: east
        and west (wafers, 2, ny, nx), north and south (wafers, 2, nx, ny); ``None`` when
        links are not kept (see :func:`~wafersim.engines.flow_routing.route_stage`)."""
        return self._totals

    def _links(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The direction planes of the totals gathered into (wafers, ny, nx, 4) arrays, once:
        the timer routes no more after that."""
        if self._links_done is None and self._totals is not None:
            h_load, h_time, v_load, v_time = self._totals
            self._totals = None
            done = []
            for h, v in ((h_load, v_load), (h_time, v_time)):
                a = np.empty(h.shape[:1] + h.shape[2:] + (len(DIRECTIONS),))
                a[..., EAST:WEST + 1] = h.transpose(0, 2, 3, 1)
                a[..., NORTH:SOUTH + 1] = v.transpose(0, 3, 2, 1)
                done.append(a)
            self._links_done = tuple(done)
        return self._links_done if self._links_done is not None else (None, None)

    def _route(self, sb: StageBatch, boxes: list[tuple[int, int, int, int]],
               one_at_a_time: bool = False, distinct: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per region: (busiest link time inside its box, longest path latency).

        Regions placed side by side (pipelined) run at once: each wafer's transfers are
        routed together and every region's busiest link is sought inside its box.
        ``one_at_a_time``: the regions share cores (sequential placement) and run one
        after another, so each is routed alone; identical regions share one route,
        counted once per region in the link totals.  One kernel call does the whole
        stage (every wafer and every group), adding to the link totals as it goes.
        ``distinct``: with ``one_at_a_time``, every region routes its own transfers (none
        stands for another).
        """
        R = self.pl.regions
        link_max, lat_max = np.zeros(R), np.zeros(R)
        if len(sb.transfers) == 0:
            return link_max, lat_max
        if one_at_a_time:
            order, starts, wafer_of, mult, copies = self._groups_each(sb, boxes, distinct)
        else:
            order, starts, wafer_of, mult, copies = _groups_by_wafer(sb.transfer_wafer)
        t = sb.transfers
        if order is not None:
            t = type(t)(t.src_y[order], t.src_x[order], t.dst_y[order], t.dst_x[order], t.nbytes[order],
                        t.kind[order])
        region = sb.transfer_region if order is None else sb.transfer_region[order]
        energy = route_stage(self.mesh, t, region, starts, wafer_of, mult, np.asarray(boxes, dtype=np.int64),
                             link_max, lat_max, self._totals)
        for m, e in zip(mult.tolist(), energy.tolist()):
            self.link_energy += m * e
        for rep, others in copies:
            link_max[others], lat_max[others] = link_max[rep], lat_max[rep]
        return link_max, lat_max

    @staticmethod
    def _region_groups(sb: StageBatch, boxes, distinct: bool = False) -> dict[tuple, list[int]]:
        """Regions that run one after another, grouped where they are identical (same wafer,
        box, transfer count and bytes; never when ``distinct``), keyed by (wafer, ...): one
        representative's transfers stand for the group."""
        t = sb.transfers
        groups: dict[tuple, list[int]] = {}
        for i in np.unique(sb.transfer_region):
            sel = np.nonzero(sb.transfer_region == i)[0]
            key = (int(sb.transfer_wafer[sel[0]]), boxes[i], len(sel), float(t.nbytes[sel].sum()),
                   int(i) if distinct else -1)
            groups.setdefault(key, []).append(int(i))
        return groups

    @classmethod
    def _groups_each(cls, sb: StageBatch, boxes, distinct: bool = False):
        """:meth:`_region_groups` laid out for the stage kernel: one representative's
        transfers route for the group."""
        groups = cls._region_groups(sb, boxes, distinct)
        sels = [np.nonzero(sb.transfer_region == regions[0])[0] for regions in groups.values()]
        starts = np.zeros(len(sels) + 1, dtype=np.int64)
        np.cumsum([len(sel) for sel in sels], out=starts[1:])
        wafer_of = np.array([key[0] for key in groups], dtype=np.int64)
        mult = np.array([float(len(regions)) for regions in groups.values()])
        copies = [(regions[0], regions[1:]) for regions in groups.values() if len(regions) > 1]
        return np.concatenate(sels), starts, wafer_of, mult, copies

    @classmethod
    def before_timing(cls, system: WaferSpec, placement: Placement, passes: list[DataflowProgram],
                      io: DataflowProgram | None) -> None:
        """Called once the passes a run times are lowered, before any is timed (``io``: the
        pass whose edge-I/O reads are routed, if any).  The flow engine's cost is bounded by
        its core count (:data:`FLOW_MAX_CORES`); a subclass whose cost is not estimates it here."""

    def route_io(self, prog: DataflowProgram) -> float:
        """Route the program's edge-I/O reads; the busiest link's seconds."""
        link_max, _ = self._route(prog.io, [(0, 0, self.mesh.ny, self.mesh.nx)] * self.pl.regions)
        return float(link_max.max()) if len(link_max) else 0.0

    def run(self, prog: DataflowProgram) -> dict[str, np.ndarray]:
        """Time every stage and hand-off of one pass (edge I/O is routed by :meth:`route_io`)."""
        pl = self.pl
        own = [(int(pl.region_y0[i]), int(pl.region_x0[i]), int(pl.region_y0[i] + pl.region_rows[i]),
                int(pl.region_x0[i] + pl.region_cols[i])) for i in range(pl.regions)]
        comps = {k: np.zeros(pl.regions) for k in ("compute", "sram_bandwidth", "mesh_bandwidth", "mesh_latency")}
        stage_time = np.zeros((pl.regions, len(prog.stages)))
        parts = {k: np.zeros((pl.regions, len(prog.stages)))
                 for k in ("compute", "sram", "link", "latency", "shift", "shift_side")}
        # a prefill GEMM's shift steps are min(tokens, side) (dataflow.stages.gemm_steps): kept apart
        # so that scaled_pass can give another block its own
        side = np.ceil(np.maximum(pl.region_rows, pl.region_cols)).astype(np.float64)
        flops = sram = 0.0
        fmacs, operand, reuse = (np.zeros((pl.regions, len(prog.stages))) for _ in range(3))
        shared = pl.strategy != "pipelined"      # every layer on the same cores, one after another
        block = [(0, 0, pl.block[0], pl.block[1])] * pl.regions
        for s, sb in enumerate(prog.stages):
            if sb.name == KV_POOL_STAGE:
                # each region's fetch crosses the block; the regions fetch at their own turns in the
                # layer walk, so each is routed alone and its busiest link sought over the block
                link_max, lat_max = self._route(sb, block, one_at_a_time=True, distinct=True)
            else:
                link_max, lat_max = self._route(sb, own, one_at_a_time=shared)
            t_sram, t_cmp = self.core_time(sb.flops_per_core / 2.0, sb.sram_bytes_per_core,
                                           np.ones(pl.regions) if sb.reuse is None else sb.reuse)
            fmacs[:, s], operand[:, s] = sb.flops_per_core / 2.0, sb.sram_bytes_per_core
            reuse[:, s] = 1.0 if sb.reuse is None else sb.reuse
            t_shift = sb.shift_steps * self.shift_s
            t_lat = lat_max + sb.tree_steps * self.step_s + t_shift
            stage_time[:, s] = np.maximum(t_cmp, t_sram) + link_max + t_lat
            for key, v in (("compute", t_cmp), ("sram", t_sram), ("link", link_max), ("latency", t_lat),
                           ("shift", t_shift), ("shift_side", np.where(sb.shift_steps > 0, side, 0.0))):
                parts[key][:, s] = v
            comps["compute"] += t_cmp; comps["sram_bandwidth"] += t_sram
            comps["mesh_bandwidth"] += link_max; comps["mesh_latency"] += t_lat
            flops += sb.flops.sum(); sram += sb.sram_bytes.sum()
        pair = [(min(own[i][0], own[j][0]), min(own[i][1], own[j][1]), max(own[i][2], own[j][2]),
                 max(own[i][3], own[j][3])) for i, j in zip(range(pl.regions), list(range(1, pl.regions)) + [0])]
        h_link, h_lat = self._route(prog.handoff, pair)
        comps["mesh_bandwidth"] += h_link; comps["mesh_latency"] += h_lat
        return {"region_time": stage_time.sum(axis=1) + h_link + h_lat, "stage_time": stage_time,
                "flops": flops, "sram_bytes": sram, **{f"c_{k}": v for k, v in comps.items()},
                "parts": {**parts, "handoff_link": h_link, "handoff_latency": h_lat},
                "core": (fmacs, operand, reuse, self.core_time),
                "tokens": prog.tokens, "shift_s": self.shift_s}

    def core_time(self, fmacs, operand, reuse) -> tuple[np.ndarray, np.ndarray]:
        """(port-bound, lane-bound) seconds of a core's work (:mod:`.core_datapath`) at the fitted
        share of the bound: ``fmacs`` FMACs on ``operand`` bytes read, each element feeding ``reuse``."""
        port, lane = core_cycles(self.system.core, self.dtype, fmacs, operand, reuse, self.act_bytes)
        return port / self.core_hz, lane / self.core_hz


def scaled_pass(out: dict, factor: float) -> dict:
    """A timed pass (:meth:`_Timer.run`) with ``factor`` times the tokens: core work and
    link times scale with the tokens; SRAM reads of the weights, path latencies and tree
    steps do not; a prefill GEMM's shift steps become min(tokens, side) for the new block
    (exact for a dense model's pass, whose transfers all carry tokens x bytes)."""
    p = out["parts"]
    link = p["link"] * factor
    tokens = round(out["tokens"] * factor)
    fmacs, operand, reuse, core_time = out["core"]
    fmacs, reuse = fmacs * factor, reuse * factor       # the operand read once, shared by more tokens
    sram, cmp = core_time(fmacs, operand, reuse)
    latency = p["latency"] - p["shift"] + np.minimum(tokens, p["shift_side"]) * out["shift_s"]
    stage_time = np.maximum(cmp, sram) + link + latency
    h_link = p["handoff_link"] * factor
    return {"region_time": stage_time.sum(axis=1) + h_link + p["handoff_latency"], "stage_time": stage_time,
            "flops": out["flops"] * factor, "sram_bytes": out["sram_bytes"],
            "c_compute": cmp.sum(axis=1), "c_sram_bandwidth": sram.sum(axis=1),
            "c_mesh_bandwidth": link.sum(axis=1) + h_link,
            "c_mesh_latency": latency.sum(axis=1) + p["handoff_latency"],
            "core": (fmacs, operand, reuse, core_time),
            "parts": {**p, "compute": cmp, "sram": sram, "link": link, "latency": latency, "handoff_link": h_link,
                      "shift": np.minimum(tokens, p["shift_side"]) * out["shift_s"]},
            "tokens": tokens, "shift_s": out["shift_s"]}


def activation_regions(pl: Placement, model: ModelSpec, act_bytes: float) -> tuple[np.ndarray, ...]:
    """Per layer region, for a prefill block's activations: (bytes per token on each core, free
    bytes on the fullest core, KV-cache bytes on its cores on average, cores).  Activations may
    take the KV cache's SRAM too, displacing it to external memory (``prefill_spill``)."""
    free = pl.free_bytes()
    per_token, free_min, kv_mean, cores = (np.zeros(pl.layers) for _ in range(4))
    for i in range(pl.layers):
        y0, x0, r, c = (int(pl.region_y0[i]), int(pl.region_x0[i]), int(pl.region_rows[i]), int(pl.region_cols[i]))
        at = (int(pl.region_wafer[i]), slice(y0, y0 + r), slice(x0, x0 + c))
        per_token[i] = activation_bytes_per_token(model, r, c, act_bytes)
        free_min[i] = float(free[at].min())
        kv_mean[i] = float(pl.core_kv_bytes[at].mean())
        cores[i] = r * c
    return per_token, free_min, kv_mean, cores


def activation_limit(pl: Placement, model: ModelSpec, act_bytes: float, p_tokens: int) -> tuple[float, int]:
    """(SRAM bytes a block's activations may take on the fullest core of any layer region: its
    free bytes and its KV cache's, most prompt tokens whose activations fit there on every
    layer region)."""
    free = pl.free_bytes()
    room, limit = float("inf"), p_tokens
    for i in range(pl.layers):
        y0, x0, r, c = (int(pl.region_y0[i]), int(pl.region_x0[i]), int(pl.region_rows[i]), int(pl.region_cols[i]))
        cores = (int(pl.region_wafer[i]), slice(y0, y0 + r), slice(x0, x0 + c))
        region_room = float((free[cores] + pl.core_kv_bytes[cores]).min())
        room = min(room, region_room)
        limit = min(limit, block_limit(region_room, activation_bytes_per_token(model, r, c, act_bytes), p_tokens))
    return (room if room != float("inf") else 0.0), limit


def _edge_io_units(pl: Placement, edges: tuple[int, ...], ports: int) -> tuple[np.ndarray, ...]:
    """Every region's share of one byte entering it through edge I/O: (region, wafer, edge,
    position, share) of each flow (region_flows with one byte; the flows scale linearly)."""
    region, wafer, edge, pos, share = [], [], [], [], []
    for i in range(pl.regions):
        flows, e, p = region_flows(int(pl.region_y0[i]), int(pl.region_x0[i]), int(pl.region_rows[i]),
                                   int(pl.region_cols[i]), 1.0, pl.shape, edges, ports)
        region.append(np.full(len(e), i)); wafer.append(np.full(len(e), pl.region_wafer[i]))
        edge.append(e); pos.append(p); share.append(flows[4])
    return tuple(np.concatenate(a) for a in (region, wafer, edge, pos, share))


class PlacementCapacity(WaferCapacity):
    """Capacity by the per-core placement itself, so ``--batch max`` never lands past the
    flow engine's own cliff.  The pooled memory plan screens it: a placement never holds
    what the plan (the same layout, or whole layers pooled per wafer) cannot."""

    def fits(self, batch: int, devices: int) -> bool:
        mem = self.memory
        return place(mem.system, mem.model, mem.scenario, mem.mapping, batch, devices).fits

    def device_range(self, batch: int) -> tuple[int, int]:
        """From the fewest wafers whose memory plan holds ``batch`` (the last if none does)."""
        start, limit = super().device_range(batch)
        plan_fits = super().fits
        return next((n for n in range(start, limit + 1) if plan_fits(batch, n)), limit), limit

    def largest_batch(self, devices: int) -> int:
        return largest_fitting(lambda b: self.fits(b, devices), super().largest_batch(devices))


def capacity(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions) -> PlacementCapacity:
    """What the wafers hold by the per-core placement (for :mod:`wafersim.sizing`)."""
    return PlacementCapacity(WaferMemory(system, model, scenario, mapping))


#: Most cores (wafers x cores of the block used on each) one flow run routes: 2**24, about
#: 19 WSE-3 wafers, some 15 s and 2 GB.  Larger jobs are refused; the analytic engine
#: costs them in milliseconds.
FLOW_MAX_CORES = 2**24


def simulate(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions) -> RunResult:
    """Run the flow engine; ``scenario`` is resolved (batch and wafers are numbers)."""
    rows, cols = block_shape(system, mapping)
    if scenario.wafers * rows * cols > FLOW_MAX_CORES:
        raise ConfigError("scenario", "fidelity", f"the flow engine routes at most {FLOW_MAX_CORES} cores in one "
                          f"run; {plural(scenario.wafers, 'wafer')} of {rows} x {cols} "
                          "cores exceed it (use --fidelity analytic, fewer wafers or a smaller --cores block)")
    warm_up()
    return run_program(system, model, scenario, mapping)


def run_program(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions, *,
                fidelity: str = "flow", timer_class: type[_Timer] = _Timer) -> RunResult:
    """Place, lower and time a decode step and a prefill with ``timer_class`` (a
    :class:`_Timer` or a subclass that times stages another way, as the cycle engine's
    does), then assemble the result under ``fidelity``.  Both wafer engines that run a
    dataflow program share everything here but how a stage's transfers are timed."""
    s, w, L = scenario, system, scenario.layers
    batch, wafers = s.batch, s.wafers
    pl = place(system, model, scenario, mapping, batch, wafers)
    ext, iw = w.external_memory, w.interwafer
    edges = io_edges(system)
    stage_names = [f"{name}.{part}" for name, _, _, _ in stage_shapes(model, 1) for part in ("broadcast", "reduce")]
    if pl.pooled:
        stage_names.append(KV_POOL_STAGE)

    # ---- every pass lowered first: the mesh is built for the cores they reach ------------
    micro, tokens = micro_batches(batch, L, mapping.placement == "pipelined")
    ctx = s.mean_decode_context
    q = s.query_tokens                                  # k + 1 in a speculative verify pass
    prog = lower_pass(pl, model, scenario, tokens * q, ctx, tokens * ctx, io_edges=edges, io_ports=ext.io_ports)
    # spilled bytes for the whole batch stream in once per step
    full = prog if micro == 1 else lower_pass(pl, model, scenario, batch * q, ctx, batch * ctx,
                                              io_edges=edges, io_ports=ext.io_ports)
    # the prefill block is capped by the SRAM its activations find free and chosen for the
    # fastest pipeline (prefill_blocks); a probe block is routed once and its times scale
    p_tokens = batch * s.prompt_tokens
    room, limit = activation_limit(pl, model, s.act_bytes, p_tokens)
    fixed = w.calibration.prefill_block_tokens
    probe = min(fixed or p_tokens, p_tokens, limit)

    def prefill_prog(block: int) -> DataflowProgram:
        return lower_pass(pl, model, scenario, block, s.prompt_tokens / 2.0, 0.0, head=False,
                          io_edges=edges, io_ports=ext.io_ports, gemm=True)

    p_prog = prefill_prog(probe)
    h_prog = lower_pass(pl, model, scenario, batch, s.prompt_tokens, 0.0, only=pl.regions - 1) if pl.has_head else None
    try:
        mesh = physical_mesh(system, _window(pl, [p for p in (prog, full, p_prog, h_prog) if p is not None]))
    except ValueError as exc:
        raise ConfigError(system.name, "defects", str(exc)) from None

    timer_class.before_timing(system, pl, [p for p in (prog, p_prog, p_prog, h_prog) if p is not None],
                              full if full.io_bytes > 0 else None)

    # ---- decode: micro-batches follow each other through the layer regions ---------------
    fpc = layer_flops_per_cycle(system.core, model, s)
    timer = timer_class(system, mesh, pl, s.dtype, act_bytes=s.act_bytes, flops_per_cycle=fpc)
    out = timer.run(prog)
    # every boundary once, and back to the first wafer for the next token (pipeline.decode_crossings)
    crossing_s = system.crossing_latency_s(pl.block[1])
    t_iw = decode_crossings(wafers) * (crossing_s + prog.interwafer_bytes / iw.bandwidth_bytes_per_s)
    # one micro-batch's walk, but no region can take every micro-batch in less than the step
    onchip = decode_step_time(float(out["region_time"].sum()) + t_iw, micro, float(out["region_time"].max()))
    io_bytes = full.io_bytes
    io_timer = None                                     # edge I/O for the whole batch, once a step
    t_io = 0.0
    if io_bytes > 0:
        io_timer = timer_class(system, mesh, pl, s.dtype, act_bytes=s.act_bytes, flops_per_cycle=fpc)
        io = full.io
        t_ports = port_time(system, wafers, io.transfer_wafer, full.io_edge, full.io_position, io.transfers.nbytes)
        t_io = max(t_ports, io_timer.route_io(full)) + ext.latency_s
    # what each link carries in a step: every micro-batch's pass, plus the edge I/O (in place:
    # the arrays are (wafers, ny, nx, 4) and the timer's totals are not needed apart)
    planes = timer.link_planes()
    if micro != 1:
        for a in planes:
            a *= micro
    if io_timer is not None:
        for a, b in zip(planes, io_timer.link_planes()):
            a += b
    h_load, h_time, v_load, v_time = planes
    busy_max, flat = _k.busiest_link(h_time, v_time)
    links_shape = (wafers, *pl.shape, len(DIRECTIONS))          # the whole wafer; zero outside the mesh used
    busiest_flat = int(np.ravel_multi_index(np.unravel_index(flat, (wafers, *mesh.shape, len(DIRECTIONS))),
                                            links_shape))
    tpot = max(onchip, t_io, busy_max)
    comps = {k[2:]: float(v.sum()) for k, v in out.items() if k.startswith("c_")}
    comps.update(interwafer=t_iw, edge_io=t_io)
    decode = PhaseTime(tpot, comps)
    layer_time = out["region_time"][:L]
    onchip_bound = tpot == onchip
    decode_layer_s = float(layer_time.mean()) if onchip_bound else tpot / L

    # ---- prefill: blocks of prompt tokens pipelined through the regions ---------------
    p_timer = timer_class(system, mesh, pl, s.dtype, keep_links=False, act_bytes=s.act_bytes, flops_per_cycle=fpc)
    p_out = p_timer.run(p_prog)
    pipelined = mapping.placement == "pipelined"
    # logits for each sequence's last prompt token, after the last block
    t_phead = 0.0
    if pl.has_head:
        h_out = timer_class(system, mesh, pl, s.dtype, keep_links=False, act_bytes=s.act_bytes, flops_per_cycle=fpc).run(h_prog)
        t_phead = float(h_out["region_time"][-1])

    def prefill_pass(block: int, region_time: np.ndarray) -> tuple[float, float]:
        return prefill_time(region_time, math.ceil(p_tokens / block), pipelined, wafers - 1, crossing_s,
                            block * model.hidden_size * s.act_bytes / iw.bandwidth_bytes_per_s)

    # edge I/O of the prefill (prefill_spill): the spilled weights each block needs (or the
    # activations parked off chip), the prompt's share of the spilled KV cache (allocated for
    # prompt + output), and the KV cache a block's activations displace, out and back
    act_per_token, act_free, act_kv, act_cores = activation_regions(pl, model, s.act_bytes)
    w_spilled = float(pl.spilled_weight_bytes.sum())
    act_offchip = offchip_activation_bytes(model, L, p_tokens, s.act_bytes)
    kv_spilled = pl.spilled_kv_bytes * (s.prompt_tokens / s.max_context)
    io_units = None

    def prefill_io(block: int) -> float:
        nonlocal io_units
        passes = weight_stream_bytes(w_spilled, math.ceil(p_tokens / block), act_offchip) / w_spilled \
            if w_spilled else 0.0
        nbytes = pl.spilled_weight_bytes * passes + kv_spilled
        nbytes[:L] += KV_DISPLACEMENT_TRIPS * np.array(
            [displaced_kv_bytes(block * a, f, k, c) for a, f, k, c in zip(act_per_token, act_free, act_kv, act_cores)])
        if not nbytes.any():
            return 0.0
        if io_units is None:
            io_units = _edge_io_units(pl, edges, ext.io_ports)
        region, wafer, edge, pos, share = io_units
        return port_time(system, wafers, wafer, edge, pos, share * nbytes[region]) + ext.latency_s

    block, block_notes = choose_block(
        lambda b: max(prefill_pass(b, scaled_pass(p_out, b / probe)["region_time"])[0] + t_phead, prefill_io(b)),
        p_tokens, limit, fixed, room)
    if block != probe:
        if timer_class is _Timer and not model.is_moe:       # exact: every term is linear in the block
            p_out = scaled_pass(p_out, block / probe)
        else:
            p_timer = timer_class(system, mesh, pl, s.dtype, keep_links=False, act_bytes=s.act_bytes, flops_per_cycle=fpc)
            p_out = p_timer.run(prefill_prog(block))
    n_blocks = math.ceil(p_tokens / block)
    per_block = p_out["region_time"]
    t_layers, t_piw = prefill_pass(block, per_block)
    t_layers += t_phead
    p_io = prefill_io(block)
    ttft = max(t_layers, p_io)
    # where edge I/O is the longer, every layer waits on it as long
    stretch = io_stretch(t_layers, p_io)
    p_comps = {k[2:]: float(v.sum()) * n_blocks for k, v in p_out.items() if k.startswith("c_")}
    p_comps.update(interwafer=t_piw, edge_io=p_io)
    prefill = PhaseTime(ttft, p_comps)

    # ---- energy per generated token ------------------------------------------------------
    en = w.energy
    step_energy = {
        "sram": micro * out["sram_bytes"] * 8 * en.sram_j_per_bit,
        "compute": micro * out["flops"] * en.flop_j,
        "links": micro * timer.link_energy + (io_timer.link_energy if io_timer is not None else 0.0),
        "interwafer": decode_crossings(wafers) * 8 * prog.interwafer_bytes * micro * iw.energy_j_per_bit,
        "io": io_bytes * 8 * ext.energy_j_per_bit,
        "static": en.static_power_w * wafers * tpot,
    }
    notes = list(dict.fromkeys(n for t in (timer, io_timer, p_timer) if t is not None for n in t.notes))
    dm = mesh.defect_map
    if dm is not None:
        notes.append(f"defects (seed {dm.seed}): {dm.failed_cores} of {dm.physical_cores} physical cores failed; "
                     f"{dm.detoured_links} logical links detour around them")
    notes += spill_note(float(pl.spilled_weight_bytes.sum()), float(pl.spilled_kv_bytes.sum()),
                        ext.io_bandwidth_bytes_per_s) + block_notes + program_note(w, mapping)
    if micro > 1:
        notes.append(micro_batch_note(batch, micro, tokens))
    busiest = np.unravel_index(busiest_flat, links_shape)
    notes.append(f"busiest link in a decode step: wafer {busiest[0]} core ({busiest[1]}, {busiest[2]}) "
                 f"{DIRECTIONS[busiest[3]]}, {format_quantity(busy_max, 'time')} busy")
    # per-core and per-link arrays hold only the block (the links: the mesh routed, which the
    # block starts) from each wafer's corner; they read as whole wafers, zero outside
    cores_shape = (wafers, *pl.shape)
    routed = (wafers, mesh.ny, mesh.nx, len(DIRECTIONS))
    load32, share32 = np.zeros(routed, np.float32), np.zeros(routed, np.float32)
    _k.link_arrays(h_load, h_time, v_load, v_time, tpot, load32, share32)
    regions = ("region",)
    arrays = {
        "decode_layer_s": LayerArray(layer_time if onchip_bound else np.full(L, decode_layer_s), ("layer",), "s",
                                     "time of each layer in a decode step"),
        "prefill_layer_s": LayerArray(n_blocks * per_block[:L] * stretch, ("layer",), "s",
                                      "time each layer is busy in prefill"),
        "decode_stage_s": LayerArray(out["stage_time"][:L], ("layer", "stage"), "s", "time of each stage of each layer",
                                     {"stage": tuple(stage_names)}),
        "region_wafer": LayerArray(pl.region_wafer, regions, "", "wafer of each region (layers, then the head)"),
        "region_y0": LayerArray(pl.region_y0, regions, "core", "top row of each region"),
        "region_x0": LayerArray(pl.region_x0, regions, "core", "west column of each region"),
        "region_rows": LayerArray(pl.region_rows, regions, "core", "rows of each region"),
        "region_cols": LayerArray(pl.region_cols, regions, "core", "columns of each region"),
        "region_spilled_weight_bytes": LayerArray(pl.spilled_weight_bytes, regions, "B", "weights spilled per region"),
        "region_spilled_kv_bytes": LayerArray(pl.spilled_kv_bytes, regions, "B", "KV cache spilled per region"),
        "sram_weight_bytes": LayerArray(pl.core_weight_bytes, ("wafer", "y", "x"), "B", "weight bytes on each core",
                                        shape=cores_shape),
        "sram_kv_bytes": LayerArray(pl.core_kv_bytes, ("wafer", "y", "x"), "B", "KV-cache bytes on each core",
                                    shape=cores_shape),
        "sram_free_bytes": LayerArray(pl.free_bytes(), ("wafer", "y", "x"), "B", "free SRAM on each core",
                                      shape=cores_shape),
        "link_load_bytes": LayerArray(load32, ("wafer", "y", "x", "direction"), "B",
                                      "bytes each directed link carries in one decode step",
                                      {"direction": DIRECTIONS}, shape=links_shape),
        "link_utilisation": LayerArray(share32, ("wafer", "y", "x", "direction"), "",
                                       "share of a decode step each directed link is busy", {"direction": DIRECTIONS},
                                       shape=links_shape),
    }
    memory = MemoryUse(fits=pl.fits, weight_bytes=pl.region_weight_bytes.sum(), kv_bytes=pl.region_kv_bytes.sum(),
                       spilled_bytes=pl.total_spilled_bytes, spill_capacity_bytes=wafers * ext.capacity_bytes,
                       spill_memory="external memory")
    return assemble(
        system=w, model=model, kind="wafer", fidelity=fidelity, scenario=s, devices=wafers,
        prefill=prefill, decode=decode, memory=memory, step_energy_j=step_energy,
        decode_layer_s=decode_layer_s, prefill_layer_s=n_blocks * float(per_block[:L].mean()) * stretch,
        details={"placement": mapping.placement, "cores_per_wafer": pl.block[0] * pl.block[1],
                 "micro_batches": micro, "max_link_utilisation": float(busy_max / tpot),
                 "prefill_block_tokens": block},
        notes=notes, arrays=arrays, mapping=mapping)
