"""First-order (analytic) model of LLM inference on one or several wafers.

The wafer model, per decoder layer:

* **Placement.** ``pipelined``: the layers share the cores of the wafers used,
  each on a square-ish region, in ``mapping.order`` (snake: consecutive layers
  neighbours; raster: a hand-off crosses the block at the end of every band);
  ``sequential``: every layer spread over the whole block of cores, layers run
  one after another; ``streaming``: weights stay in external memory and stream
  in through edge I/O each step.  Several wafers each hold a contiguous range
  of layers.
* **Memory.** Weights stay on chip first (the batch shares them); KV cache
  fills what is left; whatever does not fit spills to external memory.
* **A layer's decode step** is a chain of dependent mesh stages (QKV, attention
  scores, softmax, weighted sum, O, MLP up, MLP down).  Each stage broadcasts its
  input along region rows and tree-reduces partial sums along columns (the
  WaferLLM MeshGEMV pattern): latency = hops x hop latency + scribe crossings x
  extra latency + the reduction's dependent software steps x step cost (the
  broadcast is a hardware multicast: one pass, no software steps); bandwidth =
  slice bytes / link bandwidth.  Core work, spread evenly, is the larger of the SIMD lanes'
  and the SRAM ports' bound per stage (:mod:`.core_datapath`: a GEMV reads every weight once
  per token; a block of tokens shares each weight read).
* **Spill.** Spilled weights and KV are read through edge I/O every step,
  overlapped with on-chip work: the step takes the longer of the two.
* **Prefill** pipelines blocks of prompt tokens through the layers.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..dataflow.stages import attention_reuse, gemm_steps, is_gemm, reduction_steps, stage_shapes
from ..hardware.precision import layer_flops_per_cycle
from ..hardware.wafer import WaferSpec
from ..mapping.options import MappingOptions
from ..mapping.placement import block_shape, program_note
from ..results.phase import PhaseTime
from ..results.run_result import LayerArray, RunResult
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .assembly import MemoryUse, assemble
from .core_datapath import core_cycles
from .pipeline import decode_crossings, decode_step_time, micro_batch_note, micro_batches, prefill_time
from .prefill_blocks import activation_bytes_per_token, block_limit, choose_block
from .prefill_spill import (KV_DISPLACEMENT_TRIPS, displaced_kv_bytes, io_stretch, offchip_activation_bytes,
                            weight_stream_bytes)
from .wafer_memory import WaferCapacity, WaferMemory, spill_note

__all__ = ["AnalyticWafer", "simulate", "capacity"]


class AnalyticWafer:
    """Analytic engine for a :class:`WaferSpec`."""

    def __init__(self, system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions,
                 memory: WaferMemory | None = None):
        """``scenario`` is resolved: ``batch`` (the batch the regions are cut for: the layout
        sizes the head band by it) and ``wafers`` are numbers."""
        self.system, self.model, self.scenario, self.mapping = system, model, scenario, mapping
        self.memory = memory or WaferMemory(system, model, scenario, mapping)
        self.weight_bytes_per_param = self.memory.weight_bytes_per_param
        self.layers = scenario.layers
        self.include_head = self.memory.include_head
        self.batch = scenario.batch
        self._shapes: dict[int, tuple[float, float]] = {}     # layer_shape per wafer count
        self._latencies: dict[tuple[float, float], tuple[float, float]] = {}   # per region shape
        # each stage's (K, N) and how many stages are GEMMs in a prefill block: the same whatever
        # the tokens (only an MoE's weights read vary); and the block
        stages = stage_shapes(model, 1)
        self._stage_kn = tuple((k, n) for _, k, n, _ in stages)
        self._gemm_stages = sum(is_gemm(name, w) for name, _, _, w in stages)
        self._block = block_shape(system, mapping)
        self._geometry: dict[tuple[float, float], tuple[float, float]] = {}   # per region shape
        self._extra_hops: dict[int, tuple[float, float]] = {}                   # per wafer count

    # ---- geometry -------------------------------------------------------------
    def layer_shape(self, wafers: int) -> tuple[float, float]:
        """Mean rows and columns of a layer's region (pipelined: as the placement cuts them)."""
        shape = self._shapes.get(wafers)
        if shape is None:
            if self.mapping.placement == "pipelined":
                lay = self.memory.layout(self.batch, wafers)
                shape = float(lay.region_rows[:self.layers].mean()), float(lay.region_cols[:self.layers].mean())
            else:                       # every layer over the whole block, as the flow engine runs it
                shape = float(self._block[0]), float(self._block[1])
            self._shapes[wafers] = shape
        return shape

    def layer_cores(self, wafers: int) -> float:
        """Mean cores of a layer's region (pipelined: the mean of each region's rows x cols, which
        the mean rows times the mean columns overstates where bands cut regions of two shapes)."""
        if self.mapping.placement == "pipelined":
            lay = self.memory.layout(self.batch, wafers)
            return float((lay.region_rows[:self.layers].astype(float) * lay.region_cols[:self.layers]).mean())
        rows, cols = self.layer_shape(wafers)
        return rows * cols

    def head_cores(self, wafers: int) -> float:
        """Cores the LM head runs on: its own band when pipelined, the whole block otherwise."""
        if self.mapping.placement == "pipelined":
            lay = self.memory.layout(self.batch, wafers)
            return float(lay.region_rows[-1]) * float(lay.region_cols[-1])
        return float(self.memory.cores_per_wafer())

    def activation_room(self) -> tuple[float, float, float]:
        """SRAM bytes per core (pooled over the cores used) a prefill block's activations may
        take: (what the weights kept on chip leave, of it what is free, of it what the KV cache
        holds); activations past the free bytes displace KV cache to external memory, which
        the prefill pays for (:mod:`~wafersim.engines.prefill_spill`)."""
        plan = self.memory.memory_plan(self.batch, self.scenario.wafers)
        cores = plan.wafers * plan.cores_per_wafer
        room = (plan.capacity_bytes - (plan.weight_bytes - plan.spilled_weight_bytes)) / cores
        kv = (plan.kv_bytes - plan.spilled_kv_bytes) / cores
        return room, room - kv, kv

    def _stage_latency_s(self, rows: float, cols: float) -> tuple[float, float]:
        """(hop latency, software step latency) of one broadcast-then-reduce stage."""
        hit = self._latencies.get((rows, cols))
        if hit is None:
            hit = self._latencies[(rows, cols)] = self._stage_latency(rows, cols)
        return hit

    def _stage_latency(self, rows: float, cols: float) -> tuple[float, float]:
        w = self.system
        hops = (cols - 1) + (rows - 1)
        crossings = (cols - 1) / w.mesh.die_cores_x + (rows - 1) / w.mesh.die_cores_y
        cycles_hops = hops * w.mesh.hop_latency_cycles + crossings * w.scribe.extra_latency_cycles
        steps = reduction_steps(rows)   # the reduction's software chain; the broadcast is a hardware multicast
        return cycles_hops / w.core.clock_hz, steps * w.calibration.collective_step_cycles / w.core.clock_hz

    def _stage_geometry(self, rows: float, cols: float) -> tuple[float, float]:
        """Per token and activation byte, over every stage of a layer on a ``rows`` x ``cols``
        region: the elements a core's row and column exchange (``K/rows + N/cols``) and the
        element-hops they travel across the region."""
        hit = self._geometry.get((rows, cols))
        if hit is None:
            hit = self._geometry[(rows, cols)] = (
                sum(k / rows + n / cols for k, n in self._stage_kn),
                sum((k / rows) * rows * (cols - 1) + (n / cols) * cols * (rows - 1) for k, n in self._stage_kn))
        return hit

    def _gemm_step_s(self, rows: float, cols: float, tokens: int) -> float:
        """Shift-step cost of one prefill GEMM stage on a ``rows`` x ``cols`` region."""
        w = self.system
        if not w.calibration.gemm_step_cycles:
            return 0.0
        return gemm_steps(rows, cols, tokens) * w.calibration.gemm_step_cycles / w.core.clock_hz

    def _link_bytes_per_s(self, rows: float, cols: float) -> float:
        """Bandwidth of the slowest link a stage crosses (scribe links if the region spans dies)."""
        w = self.system
        if rows > w.mesh.die_cores_y or cols > w.mesh.die_cores_x:
            return min(w.link_bytes_per_s, w.scribe.link_bytes_per_cycle * w.core.clock_hz)
        return w.link_bytes_per_s

    def layer_time(self, tokens: int, context: float, wafers: int, kv_tokens: float,
                   kv_onchip_fraction: float, weights_onchip_fraction: float,
                   gemm: bool = False) -> tuple[PhaseTime, dict[str, float]]:
        """One layer processing ``tokens`` query tokens at once, each over ``context`` keys;
        ``gemm``: as a prefill block, whose GEMM stages (:func:`~wafersim.dataflow.stages.is_gemm`)
        also take :func:`~wafersim.dataflow.stages.gemm_steps` shift steps.

        Returns the phase time and the work done (bytes, FLOPs, link bit-hops) for energy.
        """
        w, m, s = self.system, self.model, self.scenario
        rows, cols = self.layer_shape(wafers)
        cores = self.layer_cores(wafers)
        core = w.core
        attn_flops = m.attention_flops(tokens, context)
        flops = tokens * m.layer_matmul_flops_per_token + attn_flops
        # the busiest expert's cores set the time (routing skew); ``flops`` stays the work done
        busy = m.layer_busy_matmul_flops(tokens, self.batch * s.query_tokens)
        weights_all = m.layer_weight_bytes_read(tokens, s.weights)
        params_read = m.layer_params - m.routed_params_per_layer + m.routed_params_read(tokens)
        weight_read = weights_all * weights_onchip_fraction
        # each expert's weights live on its own cores, so the busiest expert's region sets the time:
        # its reads grow with its load as its multiply-adds do (routing_slowdown); the weights a
        # skewed batch touches in all (fewer experts) do not shorten that region's work
        hot = self._hot_expert_reads(tokens) * weights_onchip_fraction
        kv_read = kv_tokens * m.kv_bytes_per_token_layer(s.kv_dtype, context) * kv_onchip_fraction
        sram_bytes = weight_read + kv_read
        # the core datapath (core_datapath): the projections, each weight read feeding the tokens
        # that share it, then attention, each key read feeding its query heads and tokens
        w_reuse = tokens * m.layer_matmul_flops_per_token / 2.0 / params_read
        a_reuse = attention_reuse(m, tokens, context, kv_tokens)
        t_compute, t_sram, t_core = self._core_time(
            ((busy / 2.0, weight_read + hot, w_reuse), (attn_flops / 2.0, kv_read, a_reuse)), cores)
        hop_lat, step_lat = self._stage_latency_s(rows, cols)
        link_bw = self._link_bytes_per_s(rows, cols)
        act = s.act_bytes
        per_token_bytes, per_token_bit_hops = self._stage_geometry(rows, cols)
        t_link = tokens * act * per_token_bytes / link_bw
        n_stages = len(self._stage_kn)
        comps = {
            "compute": t_compute, "sram_bandwidth": t_sram,
            "mesh_latency": n_stages * (hop_lat + step_lat)
            + (self._gemm_stages * self._gemm_step_s(rows, cols, tokens) if gemm else 0.0),
            "mesh_bandwidth": t_link,
        }
        if self.pooled and kv_read > 0:            # the KV first comes over from the pool
            pool_lat, pool_link, pool_bit_hops = self.pool_fetch(kv_read, wafers)
            comps["mesh_latency"] += pool_lat
            comps["mesh_bandwidth"] += pool_link
            t_link += pool_link
        # Core work is the larger of lane- and port-bound work per stage; stage latencies and link transfers add.
        t = t_core + comps["mesh_latency"] + t_link
        # link bit-hops: every stage moves its slices across the region's rows and columns
        bit_hops = 8 * tokens * act * per_token_bit_hops
        if self.pooled and kv_read > 0:
            bit_hops += pool_bit_hops
        work = {"flops": flops, "sram_bytes": sram_bytes, "link_bit_hops": bit_hops}
        return PhaseTime(t, comps), work

    def _hot_expert_reads(self, tokens: int) -> float:
        """Weight bytes the busiest expert region reads beyond what the layer reads in all: the
        routed weights a batch reads under uniform routing, times the busiest expert's extra load
        (:meth:`~wafersim.workload.model.ModelSpec.routing_slowdown` - 1), less the reads the skew
        saves by touching fewer experts.  0 without routing skew."""
        m, s = self.model, self.scenario
        if not m.is_moe or m.moe.routing_skew == 0:
            return 0.0
        uniform = self._uniform_routing
        per_param = m.weight_formats(s.weights).bytes("experts")
        routed_uniform = uniform.routed_params_read(tokens) * per_param
        slow = m.routing_slowdown(max(tokens, self.batch * s.query_tokens))
        return routed_uniform * slow - m.routed_params_read(tokens) * per_param

    @functools.cached_property
    def _uniform_routing(self):
        """The model with its routing skew at 0 (uniform routing)."""
        m = self.model
        return dataclasses.replace(m, moe=dataclasses.replace(m.moe, routing_skew=0.0))

    def _core_time(self, stages, cores: float, rate: float | None = None) -> tuple[float, float, float]:
        """(lane-bound, port-bound, core) seconds of ``stages`` of (FMACs, operand bytes, reuse) run
        one after another on ``cores`` cores, at the fitted share of the datapath's bound
        (:mod:`~wafersim.engines.core_datapath`): the core time is each stage's larger bound, added.
        ``rate``: matmul FLOP per cycle (default: the layer's, its tensor groups' formats weighed)."""
        core, s = self.system.core, self.scenario
        rate = layer_flops_per_cycle(core, self.model, s) if rate is None else rate
        scale = core.clock_hz * self.system.calibration.compute_efficiency
        lane = port = both = 0.0
        for fmacs, operand, reuse in stages:
            p, l = core_cycles(core, rate, fmacs / cores, operand / cores, reuse, s.act_bytes)
            lane, port, both = lane + l, port + p, both + max(p, l)
        return lane / scale, port / scale, both / scale

    @property
    def pooled(self) -> bool:
        """The KV cache lives in a pool over the whole block (``mapping.kv = "pooled"``)."""
        return self.mapping.kv == "pooled" and self.mapping.placement == "pipelined"

    def pool_fetch(self, nbytes: float, wafers: int) -> tuple[float, float, float]:
        """A layer fetching ``nbytes`` of KV from the pool over its wafer's block: (path latency,
        link time, bit-hops).  The latency is the path from the farthest pool core (a block row's
        far end, then along a region column), averaged over the layer regions; the bytes enter
        the region over its columns (every block row is sent to one of them), so the busiest
        link carries ``nbytes / cols``, over scribe links when the block spans dies; a byte
        travels on average a third of the block's rows and columns (a uniform pool)."""
        w = self.system
        lay = self.memory.layout(self.batch, wafers)
        by, bx = lay.block
        y0, x0 = lay.region_y0[:self.layers].astype(float), lay.region_x0[:self.layers].astype(float)
        r, c = lay.region_rows[:self.layers].astype(float), lay.region_cols[:self.layers].astype(float)
        hx = float(np.maximum(x0 + c - 1, bx - 1 - x0).mean())
        hy = float(np.maximum(y0, by - (y0 + r)).mean())
        cycles = (hx + hy) * w.mesh.hop_latency_cycles + (hx / w.mesh.die_cores_x + hy / w.mesh.die_cores_y) \
            * w.scribe.extra_latency_cycles
        _, cols = self.layer_shape(wafers)
        link = nbytes / (cols * self._link_bytes_per_s(by, bx))
        return cycles / w.core.clock_hz, link, 8 * nbytes * (by + bx) / 3

    def pool_links_time(self, kv_tokens_layers: float, wafers: int) -> float:
        """The least time the KV of ``kv_tokens_layers`` token-layers (one wafer's fetches in a
        step: every micro-batch, every layer) takes from the pool: every block row sends its
        share along the row, and at best half of it crosses the row's busiest link."""
        if not self.pooled or kv_tokens_layers <= 0:
            return 0.0
        by, bx = self.memory.layout(self.batch, wafers).block
        nbytes = kv_tokens_layers * self.model.kv_bytes_per_token_layer(self.scenario.kv_dtype,
                                                                         self.scenario.mean_decode_context)
        return nbytes / (2 * by * self._link_bytes_per_s(by, bx))

    def handoff_extra_hops(self, wafers: int) -> tuple[float, float]:
        """Mean hops (along x, along y) a hand-off between layers travels beyond a step to a
        neighbouring region (:func:`wafersim.mapping.placement.handoff_extra_hops`): zero in
        snake order, the width of the block crossed at every band's end in raster order."""
        if self.mapping.placement != "pipelined":
            return 0.0, 0.0
        hit = self._extra_hops.get(wafers)
        if hit is None:
            ex, ey = self.memory.layout(self.batch, wafers).handoff_extra_hops[:self.layers].sum(axis=0)
            hit = self._extra_hops[wafers] = (float(ex) / self.layers, float(ey) / self.layers)
        return hit

    def interlayer_time(self, tokens: int, wafers: int) -> tuple[float, float]:
        """Moving one layer's output to the next layer's region: (seconds, bit-hops).
        Down one region (rows - 1 hops), plus, on average, the hops the placement's order puts
        between consecutive regions (scribe crossings counted as in a stage)."""
        if self.mapping.placement != "pipelined":
            return 0.0, 0.0
        rows, cols = self.layer_shape(wafers)
        hop_lat, _ = self._stage_latency_s(rows, 1)
        nbytes = tokens * self.model.hidden_size * self.scenario.act_bytes
        t = hop_lat + nbytes / (cols * self._link_bytes_per_s(rows, cols))
        ex, ey = self.handoff_extra_hops(wafers)
        if ex or ey:
            w = self.system
            t += ((ex + ey) * w.mesh.hop_latency_cycles
                  + (ex / w.mesh.die_cores_x + ey / w.mesh.die_cores_y) * w.scribe.extra_latency_cycles) / w.core.clock_hz
        return t, 8 * nbytes * (rows + ex + ey)

    def crossing_latency_s(self) -> float:
        """One wafer-to-wafer hop, with the on-wafer path to and from the edge ports."""
        return self.system.crossing_latency_s(self._block[1])

    def interwafer_time(self, tokens: int, wafers: int) -> tuple[float, float]:
        """Activations of a decode pass crossing every wafer boundary and back to the first
        wafer for the next token: (seconds, bits)."""
        nbytes = tokens * self.model.hidden_size * self.scenario.act_bytes
        iw = self.system.interwafer
        crossings = decode_crossings(wafers)
        return crossings * (self.crossing_latency_s() + nbytes / iw.bandwidth_bytes_per_s), 8 * nbytes * crossings

    def head_sram_bytes(self) -> float:
        """LM head weights read once per pass."""
        return self.model.lm_head_weight_bytes(self.scenario.weights) if self.include_head else 0.0

    def head_time(self, tokens: int, wafers: int) -> tuple[float, float]:
        """LM head GEMV (d x vocab) over the head's cores: (seconds, FLOPs)."""
        if not self.include_head:
            return 0.0, 0.0
        m = self.model
        cores = self.head_cores(wafers)
        flops = 2.0 * tokens * m.hidden_size * m.vocab_size
        s = self.scenario
        rate = self.system.core.flops_per_cycle(s.weights.of("embedding"), s.compute_dtype)
        _, _, t_core = self._core_time(((flops / 2.0, self.head_sram_bytes(), tokens),), cores, rate)
        rows = cols = math.sqrt(cores)
        hop_lat, step_lat = self._stage_latency_s(rows, cols)
        return t_core + hop_lat + step_lat, flops


def _sum_components(parts: list[PhaseTime], scale: float = 1.0) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in parts:
        for k, v in p.components.items():
            out[k] = out.get(k, 0.0) + v * scale
    return out


def capacity(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions) -> WaferCapacity:
    """What the wafers hold by the memory plan (for :mod:`wafersim.sizing`)."""
    return WaferCapacity(WaferMemory(system, model, scenario, mapping))


def simulate(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions) -> RunResult:
    """Run the analytic wafer model; ``scenario`` is resolved (batch and wafers are numbers)."""
    eng = AnalyticWafer(system, model, scenario, mapping)
    s, w, L = scenario, system, scenario.layers
    batch, wafers = s.batch, s.wafers
    plan = eng.memory.memory_plan(batch, wafers)

    # ---- decode: micro-batches follow each other through the layer regions -------------
    # In a pipelined placement each layer owns its own cores, so the batch runs as
    # min(batch, layers) micro-batches in flight at once; a step for every sequence
    # then costs one micro-batch's walk through the layers.
    micro, tokens = micro_batches(batch, L, mapping.placement == "pipelined")
    ctx = s.mean_decode_context
    kv_tokens = batch * ctx
    weights_on = 1.0 - plan.spilled_weight_fraction
    # each sequence sends query_tokens tokens (k + 1 in a speculative verify pass) over its cached keys
    queries = tokens * s.query_tokens
    layer, work = eng.layer_time(queries, ctx, wafers, tokens * ctx, 1.0 - plan.spilled_kv_fraction, weights_on)
    t_move, move_bits = eng.interlayer_time(queries, wafers)
    t_iw, iw_bits = eng.interwafer_time(queries, wafers)
    t_head, head_flops = eng.head_time(queries, wafers)
    # one micro-batch's walk; the head region must also take every micro-batch in turn
    onchip = decode_step_time(L * (layer.time_s + t_move) + t_iw + t_head, micro, max(layer.time_s + t_move, t_head))
    ext = w.external_memory
    io_bytes = (plan.spilled_weight_bytes
                + plan.spilled_kv_fraction * kv_tokens * L * model.kv_bytes_per_token_layer(s.kv_dtype, ctx))
    io_bw = wafers * ext.io_bandwidth_bytes_per_s    # each wafer has its own edge I/O
    t_io = (io_bytes / io_bw + ext.latency_s) if io_bytes > 0 else 0.0
    t_pool = eng.pool_links_time(kv_tokens * L * (1.0 - plan.spilled_kv_fraction) / wafers, wafers)
    tpot = max(onchip, t_io, t_pool)
    comps = _sum_components([layer], L)
    comps["mesh_latency"] += L * t_move + t_head
    comps["interwafer"] = t_iw
    comps["edge_io"] = t_io
    if eng.pooled:
        comps["kv_pool_links"] = t_pool
    decode = PhaseTime(tpot, comps)
    decode_layer_s = tpot / L if max(t_io, t_pool) > onchip else layer.time_s + t_move

    # ---- prefill: blocks of prompt tokens pipelined through the layers ------------
    # a block of T tokens is a GEMM against each weight block where it lives; T is capped by
    # the SRAM the weights leave for activations and chosen to minimise the prefill's time,
    # its edge I/O included: spilled weights each block needs, activations parked off chip,
    # KV cache the block's activations displace (prefill_spill)
    p_tokens = batch * s.prompt_tokens
    iw = w.interwafer
    pipelined = mapping.placement == "pipelined"
    rows, cols = eng.layer_shape(wafers)
    room, free_room, kv_room = eng.activation_room()
    act_per_token = activation_bytes_per_token(model, rows, cols, s.act_bytes)
    limit = block_limit(room, act_per_token, p_tokens)
    t_phead, _ = eng.head_time(batch, wafers)
    act_offchip = offchip_activation_bytes(model, L, p_tokens, s.act_bytes)
    p_kv_io = plan.spilled_kv_fraction * p_tokens * L * model.kv_bytes_per_token_layer(s.kv_dtype)

    def prefill_pass(block: int) -> tuple[float, float, PhaseTime, float]:
        # a block's queries attend on average to half the prompt
        p_layer, _ = eng.layer_time(block, s.prompt_tokens / 2.0, wafers, 0.0, 1.0, weights_on, gemm=True)
        p_move, _ = eng.interlayer_time(block, wafers)
        t, t_iw = prefill_time([p_layer.time_s + p_move] * L, math.ceil(p_tokens / block), pipelined, wafers - 1,
                               eng.crossing_latency_s(),
                               block * model.hidden_size * s.act_bytes / iw.bandwidth_bytes_per_s)
        return t, t_iw, p_layer, p_layer.time_s + p_move

    def prefill_io(block: int) -> float:
        nbytes = (weight_stream_bytes(plan.spilled_weight_bytes, math.ceil(p_tokens / block), act_offchip) + p_kv_io
                  + KV_DISPLACEMENT_TRIPS * displaced_kv_bytes(block * act_per_token, free_room, kv_room,
                                                               plan.wafers * plan.cores_per_wafer))
        return (nbytes / io_bw + ext.latency_s) if nbytes > 0 else 0.0

    block, block_notes = choose_block(lambda b: max(prefill_pass(b)[0] + t_phead, prefill_io(b)), p_tokens, limit,
                                      w.calibration.prefill_block_tokens, room)
    n_blocks = math.ceil(p_tokens / block)
    t_layers, t_piw, p_layer, per_block = prefill_pass(block)
    p_io = prefill_io(block)
    ttft = max(t_layers + t_phead, p_io)
    # where edge I/O is the longer, every layer waits on it as long
    prefill_layer_s = n_blocks * per_block * io_stretch(t_layers + t_phead, p_io)
    p_comps = _sum_components([p_layer], n_blocks * (1 if mapping.placement == "pipelined" else L))
    p_comps["interwafer"] = t_piw
    p_comps["edge_io"] = p_io
    prefill = PhaseTime(ttft, p_comps)

    # ---- energy per generated token ------------------------------------------------
    en = w.energy
    step_energy = {
        "sram": micro * (L * work["sram_bytes"] + eng.head_sram_bytes()) * 8 * en.sram_j_per_bit,
        "compute": micro * (L * work["flops"] + head_flops) * en.flop_j,
        "links": micro * L * (work["link_bit_hops"] + move_bits) * en.link_j_per_bit,
        "interwafer": micro * iw_bits * w.interwafer.energy_j_per_bit,
        "io": io_bytes * 8 * ext.energy_j_per_bit,
        "static": en.static_power_w * wafers * tpot,
    }
    notes = spill_note(plan.spilled_weight_bytes, plan.spilled_kv_bytes, ext.io_bandwidth_bytes_per_s,
                       plan.capacity_bytes, wafers) + block_notes + program_note(w, mapping)
    if micro > 1:
        notes.append(micro_batch_note(batch, micro, tokens))
    layer_idx = np.arange(L)
    arrays = {
        "decode_layer_s": LayerArray(np.full(L, decode_layer_s), ("layer",), "s", "time of each layer in a decode step"),
        "prefill_layer_s": LayerArray(np.full(L, prefill_layer_s), ("layer",), "s", "time each layer is busy in prefill"),
        "layer_wafer": LayerArray((layer_idx * wafers) // L, ("layer",), "", "wafer holding each layer"),
    }
    memory = MemoryUse(fits=plan.fits, weight_bytes=plan.weight_bytes, kv_bytes=plan.kv_bytes,
                       spilled_bytes=plan.spilled_bytes, spill_capacity_bytes=wafers * ext.capacity_bytes,
                       spill_memory="external memory")
    return assemble(
        system=w, model=model, kind="wafer", fidelity="analytic", scenario=s, devices=wafers,
        prefill=prefill, decode=decode, memory=memory, step_energy_j=step_energy,
        decode_layer_s=decode_layer_s, prefill_layer_s=prefill_layer_s,
        details={"placement": mapping.placement, "cores_per_wafer": plan.cores_per_wafer,
                 "sram_capacity_bytes": plan.capacity_bytes, "micro_batches": micro,
                 "prefill_block_tokens": block},
        notes=notes, arrays=arrays, mapping=mapping)
