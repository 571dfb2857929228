"""Lowering a placement to a dataflow program (decode steps and prefill blocks).

Per region (a layer, or the embedding + LM head), each stage of
:func:`~wafersim.dataflow.stages.stage_shapes` is lowered the MeshGEMV way:

* the stage input is broadcast along every region row: a row multicast from
  the row's west core, ``tokens x act_bytes x K / rows`` bytes;
* partial sums are reduced along every region column toward the top row: a
  chain of ``tokens x act_bytes x N / cols`` bytes from the bottom core, which
  loads each column link once (the software tree over the same links costs
  ``log2`` dependent steps, counted in ``tree_steps``);
* compute and SRAM reads are spread evenly over the region's cores.

Between consecutive regions on a wafer the layer output moves from the top row
of one region to the top row of the next (one unicast per column).  Spilled
weights and KV enter through the west edge of the wafer, one flow per region
row, to the region's west column.
"""

from __future__ import annotations

import math

import numpy as np

from ..engines.flow_routing import COL_MULTICAST, ROW_MULTICAST, UNICAST, Transfers
from ..mapping.placement import Placement
from ..workload.dtypes import dtype_bytes
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .program import DataflowProgram, StageBatch
from .stages import ATTENTION_STAGES, is_gemv, stage_shapes

__all__ = ["lower_pass", "COL_MULTICAST"]


def _log2ceil(n: int) -> int:
    return 0 if n <= 1 else math.ceil(math.log2(n))


def _batch(name, parts, regions, flops, sram, steps, cores) -> StageBatch:
    sy, sx, dy, dx, nb, kd, tw, tr = ([] for _ in range(8))
    for (wafer, region, t) in parts:
        sy.append(t[0]); sx.append(t[1]); dy.append(t[2]); dx.append(t[3]); nb.append(t[4]); kd.append(t[5])
        tw.append(np.full(len(t[0]), wafer, np.int32)); tr.append(np.full(len(t[0]), region, np.int32))
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    transfers = Transfers(cat(sy, np.int32), cat(sx, np.int32), cat(dy, np.int32), cat(dx, np.int32),
                          cat(nb, np.float64), cat(kd, np.int8))
    return StageBatch(name, transfers, cat(tw, np.int32), cat(tr, np.int32),
                      flops / cores, sram / cores, steps.astype(np.int32), flops, sram)


def _row_bcast(y0, x0, r, c, nbytes):
    ys = np.arange(y0, y0 + r)
    return (ys, np.full(r, x0), np.full(r, x0), np.full(r, x0 + c - 1), np.full(r, nbytes), np.full(r, ROW_MULTICAST))


def _col_reduce(y0, x0, r, c, nbytes):
    xs = np.arange(x0, x0 + c)
    return (np.full(c, y0 + r - 1), xs, np.full(c, y0), xs, np.full(c, nbytes), np.full(c, UNICAST))


def lower_pass(placement: Placement, model: ModelSpec, scenario: Scenario, tokens: int, context: float,
               kv_tokens: float) -> DataflowProgram:
    """One pass of ``tokens`` query tokens (each over ``context`` keys) through every region.

    ``kv_tokens`` is how many cached tokens' KV the pass reads (decode: batch x context;
    prefill: 0, the block's own keys are in flight).
    """
    pl = placement
    R = pl.regions
    wb = dtype_bytes(scenario.dtype)
    act = dtype_bytes(scenario.act_dtype)
    kvl = model.kv_bytes_per_token_layer(scenario.kv_dtype)
    cores = pl.layer_cores.astype(np.float64)
    w_frac = 1.0 - pl.spilled_weight_bytes / np.maximum(pl.region_weight_bytes, 1)
    kv_frac = 1.0 - pl.spilled_kv_bytes / np.maximum(pl.region_kv_bytes, 1)
    is_layer = np.arange(R) < pl.layers
    stages = []
    for name, K, N in stage_shapes(model, tokens):
        parts, flops, sram, steps = [], np.zeros(R), np.zeros(R), np.zeros(R, np.int32)
        for i in range(R):
            y0, x0, r, c, wafer = (int(pl.region_y0[i]), int(pl.region_x0[i]), int(pl.region_rows[i]),
                                   int(pl.region_cols[i]), int(pl.region_wafer[i]))
            if is_layer[i]:
                k_i, n_i = K, N
            elif name == "mlp_down":      # the head region runs one GEMV: d -> vocab
                k_i, n_i = model.hidden_size, model.vocab_size
            else:
                continue
            parts.append((wafer, i, _row_bcast(y0, x0, r, c, tokens * act * k_i / r)))
            if r > 1:
                parts.append((wafer, i, _col_reduce(y0, x0, r, c, tokens * act * n_i / c)))
            steps[i] = _log2ceil(r) + _log2ceil(c)
            if is_gemv(name) or not is_layer[i]:
                flops[i] = 2.0 * tokens * k_i * n_i
                sram[i] = k_i * n_i * wb * (w_frac[i] if is_layer[i] else 1.0)
            elif name in ATTENTION_STAGES:
                flops[i] = model.attention_flops(tokens, context) / len(ATTENTION_STAGES)
                sram[i] = kv_tokens * kvl * kv_frac[i] / len(ATTENTION_STAGES)
        stages.append(_batch(name, parts, R, flops, sram, steps, cores))

    # hand-off between consecutive regions of a wafer
    parts = []
    for i in range(R - 1):
        if pl.region_wafer[i] != pl.region_wafer[i + 1] or pl.strategy != "pipelined":
            continue
        c_src, c_dst = int(pl.region_cols[i]), int(pl.region_cols[i + 1])
        xs = np.arange(c_src)
        src_x = pl.region_x0[i] + xs
        dst_x = pl.region_x0[i + 1] + (xs * c_dst) // c_src
        parts.append((int(pl.region_wafer[i]), i, (np.full(c_src, pl.region_y0[i]), src_x,
                                                   np.full(c_src, pl.region_y0[i + 1]), dst_x,
                                                   np.full(c_src, tokens * act * model.hidden_size / c_src),
                                                   np.full(c_src, UNICAST))))
    zero = np.zeros(R)
    handoff = _batch("handoff", parts, R, zero, zero, np.zeros(R, np.int32), cores)

    # spilled bytes read this pass, from the west edge into each region row
    spilled_w = pl.spilled_weight_bytes.astype(np.float64)
    spilled_kv_read = np.where(pl.region_kv_bytes > 0,
                               pl.spilled_kv_bytes / np.maximum(pl.region_kv_bytes, 1), 0.0) * kv_tokens * kvl
    io_region = spilled_w + np.where(is_layer, spilled_kv_read, 0.0)
    parts = []
    for i in np.nonzero(io_region > 0)[0]:
        y0, x0, r = int(pl.region_y0[i]), int(pl.region_x0[i]), int(pl.region_rows[i])
        ys = np.arange(y0, y0 + r)
        parts.append((int(pl.region_wafer[i]), int(i), (ys, np.zeros(r, int), ys, np.full(r, x0),
                                                         np.full(r, io_region[i] / r), np.full(r, UNICAST))))
    io = _batch("edge_io", parts, R, zero, zero, np.zeros(R, np.int32), cores)
    return DataflowProgram(tokens, R, pl.region_wafer, tuple(stages), handoff, io, float(io_region.sum()),
                           tokens * act * model.hidden_size)
