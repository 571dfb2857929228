"""Lowering a placement to a dataflow program (decode steps and prefill blocks).

Per region (a layer, or the embedding + LM head), each stage of
:func:`~wafersim.dataflow.stages.stage_shapes` is lowered the MeshGEMV way
(a region entered from above or below runs it transposed: swap rows and
columns below, input entering along the top row):

* the stage input is broadcast along every region row: a row multicast from
  the row's west core, ``tokens x act_bytes x K / rows`` bytes, which the
  routers forward to every core of the row in one pass (a hardware multicast:
  no software steps);
* the cores compute (spread evenly over the region);
* partial sums are reduced along every region column toward a row on the
  region's diagonal: chains of ``tokens x act_bytes x N / cols`` bytes from the
  column's two ends, which load each column link once (the kernel's two-level
  chain over the same links costs :func:`~.stages.reduction_steps` dependent
  software steps, counted in ``tree_steps``).

Broadcast and reduction are separate dependent stage batches, so their link
times and latencies add.  Between consecutive regions on a wafer each output
slice moves from the diagonal its reduction ended on to where the next region's
input enters, so the hand-off spreads over many rows and columns.  Spilled
weights and KV enter through the wafer's I/O edges (see :mod:`.edge_io`).

With the KV cache pooled over the block (``mapping.kv = "pooled"``) every layer
region first fetches the on-chip KV its attention reads this pass from the pool
(stage :data:`KV_POOL_STAGE`): each block row's pool bytes (in proportion to the
KV its cores hold) travel along the row from its first and from its last core
holding KV to a column of the region (rows spread over the region's columns),
then along that column into the region; one transfer per row and side carries
that side's bytes, so the links next to the destination carry what they would
and links farther out are charged as much (link energy is an upper bound).
"""

from __future__ import annotations

import numpy as np

from ..mapping.placement import Placement
from ..workload.dtypes import dtype_bytes
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .program import DataflowProgram, StageBatch
from .edge_io import region_flows
from .stages import ATTENTION_STAGES, attention_reuse, gemm_steps, is_gemm, reduction_steps, stage_shapes
from .transfers import COL_MULTICAST, ROW_MULTICAST, UNICAST, Transfers

__all__ = ["lower_pass", "COL_MULTICAST", "KV_POOL_STAGE", "pool_flows"]

#: the stage in which each layer region fetches its KV cache from the pool
KV_POOL_STAGE = "kv_pool.fetch"



def _batch(name, parts, regions, flops, sram, steps, cores, shifts=None, reuse=None) -> StageBatch:
    sy, sx, dy, dx, nb, kd, tw, tr = ([] for _ in range(8))
    for (wafer, region, t) in parts:
        sy.append(t[0]); sx.append(t[1]); dy.append(t[2]); dx.append(t[3]); nb.append(t[4]); kd.append(t[5])
        tw.append(np.full(len(t[0]), wafer, np.int32)); tr.append(np.full(len(t[0]), region, np.int32))
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    transfers = Transfers(cat(sy, np.int32), cat(sx, np.int32), cat(dy, np.int32), cat(dx, np.int32),
                          cat(nb, np.float64), cat(kd, np.int8))
    return StageBatch(name, transfers, cat(tw, np.int32), cat(tr, np.int32),
                      flops / cores, sram / cores, steps.astype(np.int32),
                      np.zeros(regions, np.int32) if shifts is None else shifts.astype(np.int32), flops, sram, reuse)


def _orientations(pl: Placement) -> np.ndarray:
    """True where a region runs its GEMVs transposed (input enters its top row).

    A region whose predecessor on the same wafer sits above or below it (a turn of
    the snake) takes its input along its top row; otherwise along its west column.
    Either way a hand-off leaves the previous region on distinct rows and reaches
    the next region on distinct rows or columns, so it spreads over many links.
    """
    t = np.zeros(pl.regions, dtype=bool)
    if pl.strategy != "pipelined":
        return t
    for i in range(1, pl.regions):
        if pl.region_wafer[i] != pl.region_wafer[i - 1]:
            continue
        a0, a1 = pl.region_y0[i - 1], pl.region_y0[i - 1] + pl.region_rows[i - 1]
        b0, b1 = pl.region_y0[i], pl.region_y0[i] + pl.region_rows[i]
        t[i] = b0 >= a1 or a0 >= b1          # no shared rows: stacked vertically
    return t


def _chains(fixed, lo, hi, target, nbytes, along_x: bool):
    """Reduction chains on lines ``fixed`` (rows if along_x, else columns) from both
    ends lo and hi toward ``target``; each link of a line carries the partial sums once."""
    first, last = target > lo, target < hi
    line = np.concatenate([fixed[first], fixed[last]])
    src = np.concatenate([np.full(int(first.sum()), lo), np.full(int(last.sum()), hi)])
    dst = np.concatenate([target[first], target[last]])
    n = len(line)
    if along_x:
        return (line, src, line, dst, np.full(n, nbytes), np.full(n, UNICAST))
    return (src, line, dst, line, np.full(n, nbytes), np.full(n, UNICAST))


def _gemv(y0, x0, r, c, k_bytes, n_bytes, transposed):
    """Broadcast of ``k_bytes`` of input and reduction of ``n_bytes`` of output on a region.

    Normal: row multicasts from the west column, column chains toward a diagonal row.
    Transposed: column multicasts from the top row, row chains toward a diagonal column.
    Returns (broadcast, reduction or None, broadcast tree steps, reduction tree steps): the
    broadcast is a hardware multicast, one pass with no software steps; the reduction a
    two-level software chain over the line's cores (:func:`~.stages.reduction_steps`).
    """
    if not transposed:
        ys = np.arange(y0, y0 + r)
        bcast = (ys, np.full(r, x0), np.full(r, x0), np.full(r, x0 + c - 1), np.full(r, k_bytes / r),
                 np.full(r, ROW_MULTICAST))
        j = np.arange(c)
        red = _chains(x0 + j, y0, y0 + r - 1, y0 + (j * r) // c, n_bytes / c, along_x=False) if r > 1 else None
        return bcast, red, 0, reduction_steps(r)
    xs = np.arange(x0, x0 + c)
    bcast = (np.full(c, y0), xs, np.full(c, y0), np.full(c, y0 + r - 1), np.full(c, k_bytes / c),
             np.full(c, COL_MULTICAST))
    i = np.arange(r)
    red = _chains(y0 + i, x0, x0 + c - 1, x0 + (i * c) // r, n_bytes / r, along_x=True) if c > 1 else None
    return bcast, red, 0, reduction_steps(c)


def _outputs(y0, x0, r, c, transposed):
    """Where a region's output slices end up (the diagonal its reductions end on)."""
    if not transposed:
        j = np.arange(c)
        return y0 + (j * r) // c, x0 + j
    i = np.arange(r)
    return y0 + i, x0 + (i * c) // r


def _inputs(y0, x0, r, c, transposed, n):
    """Where ``n`` input slices enter a region: its west column, or its top row if transposed."""
    s = np.arange(n)
    if not transposed:
        return y0 + (s * r) // n, np.full(n, x0)
    return np.full(n, y0), x0 + (s * c) // n


def pool_flows(pool: np.ndarray, y0: int, x0: int, r: int, c: int, nbytes: float) -> tuple[np.ndarray, ...]:
    """Transfers (src_y, src_x, dst_y, dst_x, bytes, kind) bringing ``nbytes`` from a pool whose
    cores hold ``pool`` (rows x cols of the block, bytes each) into the region at (y0, x0) of
    r x c cores.  Block row y goes to column x0 + y c // rows, row y clamped into the region."""
    rows = pool.shape[0]
    total = float(pool.sum())
    if total <= 0 or nbytes <= 0:
        return tuple(np.zeros(0, dt) for dt in (np.int64,) * 4 + (np.float64, np.int8))
    ys = np.arange(rows)
    dx = x0 + (ys * c) // rows
    dy = np.clip(ys, y0, y0 + r - 1)
    cum = np.cumsum(pool, axis=1)
    west = np.where(dx > 0, cum[ys, np.maximum(dx - 1, 0)], 0)
    east = cum[:, -1] - west
    held = pool > 0
    first = np.argmax(held, axis=1)
    last = pool.shape[1] - 1 - np.argmax(held[:, ::-1], axis=1)
    sel_w, sel_e = west > 0, east > 0
    src_y = np.concatenate([ys[sel_w], ys[sel_e]])
    src_x = np.concatenate([first[sel_w], last[sel_e]])
    dst_y = np.concatenate([dy[sel_w], dy[sel_e]])
    dst_x = np.concatenate([dx[sel_w], dx[sel_e]])
    share = np.concatenate([west[sel_w], east[sel_e]]).astype(np.float64) / total * nbytes
    return src_y, src_x, dst_y, dst_x, share, np.full(len(src_y), UNICAST)


def lower_pass(placement: Placement, model: ModelSpec, scenario: Scenario, tokens: int, context: float,
               kv_tokens: float, head: bool = True, only: int | None = None,
               io_edges: tuple[int, ...] = (0,), io_ports: int | None = None, gemm: bool = False) -> DataflowProgram:
    """One pass of ``tokens`` query tokens (each over ``context`` keys) through every region.

    ``kv_tokens`` is how many cached tokens' KV the pass reads (decode: batch x context;
    prefill: 0, the block's own keys are in flight).  ``head=False`` leaves the LM head
    idle (prefill blocks: only each sequence's last token needs logits).  ``only`` lowers
    the stages of that one region and nothing else (no hand-offs, no edge I/O).
    ``io_edges`` are the edges spilled bytes enter through (see :mod:`.edge_io`).
    ``gemm``: a prefill block, whose GEMM stages (:func:`~wafersim.dataflow.stages.is_gemm`)
    also take :func:`~wafersim.dataflow.stages.gemm_steps` shift steps on each region.
    """
    pl = placement
    R = pl.regions
    wb = model.layer_bytes_per_param(scenario.weights)
    wb_head = scenario.weights.bytes("embedding")
    act = dtype_bytes(scenario.act_dtype)
    kvl = model.kv_bytes_per_token_layer(scenario.kv_dtype, context)
    cores = pl.layer_cores.astype(np.float64)
    w_frac = 1.0 - pl.spilled_weight_bytes / np.maximum(pl.region_weight_bytes, 1)
    kv_frac = 1.0 - pl.spilled_kv_bytes / np.maximum(pl.region_kv_bytes, 1)
    is_layer = np.arange(R) < pl.layers
    turned = _orientations(pl)
    stages = []
    for name, K, N, weight_elems in stage_shapes(model, tokens):
        bcast, reduce = [], []
        flops, sram, reuse = np.zeros(R), np.zeros(R), np.ones(R)
        steps_b, steps_r, shifts = np.zeros(R, np.int32), np.zeros(R, np.int32), np.zeros(R, np.int32)
        for i in range(R):
            y0, x0, r, c, wafer = (int(pl.region_y0[i]), int(pl.region_x0[i]), int(pl.region_rows[i]),
                                   int(pl.region_cols[i]), int(pl.region_wafer[i]))
            if only is not None and i != only:
                continue
            if is_layer[i]:
                k_i, n_i, w_i = K, N, weight_elems
            elif name == "mlp_down" and head:      # the head region runs one GEMV: d -> vocab
                k_i, n_i = model.hidden_size, model.vocab_size
                w_i = k_i * n_i
            else:
                continue
            b_t, r_t, steps_b[i], steps_r[i] = _gemv(y0, x0, r, c, tokens * act * k_i, tokens * act * n_i, turned[i])
            bcast.append((wafer, i, b_t))
            if gemm and is_gemm(name, w_i):
                shifts[i] = gemm_steps(r, c, tokens)
            if r_t is not None:
                reduce.append((wafer, i, r_t))
            if w_i:
                flops[i] = 2.0 * tokens * k_i * n_i
                sram[i] = w_i * wb * w_frac[i] if is_layer[i] else w_i * wb_head
                reuse[i] = tokens * k_i * n_i / w_i         # the tokens sharing each weight read
            elif name in ATTENTION_STAGES:
                flops[i] = model.attention_flops(tokens, context) / len(ATTENTION_STAGES)
                sram[i] = kv_tokens * kvl * kv_frac[i] / len(ATTENTION_STAGES)
                reuse[i] = attention_reuse(model, tokens, context, kv_tokens)
        zero = np.zeros(R)
        # the broadcast, then the cores' work, then the reduction: dependent, so their times add
        stages.append(_batch(f"{name}.broadcast", bcast, R, flops, sram, steps_b, cores, shifts, reuse))
        stages.append(_batch(f"{name}.reduce", reduce, R, zero, zero, steps_r, cores))

    if pl.pooled:
        parts = []
        for i in range(R if only is None else 0):
            if not is_layer[i]:
                continue
            flows = pool_flows(pl.core_kv_bytes[int(pl.region_wafer[i])], int(pl.region_y0[i]),
                               int(pl.region_x0[i]), int(pl.region_rows[i]), int(pl.region_cols[i]),
                               float(kv_tokens * kvl * kv_frac[i]))
            parts.append((int(pl.region_wafer[i]), i, flows))
        zero = np.zeros(R)
        stages.append(_batch(KV_POOL_STAGE, parts, R, zero, zero, np.zeros(R, np.int32), cores))

    # hand-off between consecutive regions of a wafer: each output slice goes from
    # the diagonal its reduction ended on to where the next region's input enters
    parts = []
    for i in range(R - 1 if only is None else 0):
        if pl.region_wafer[i] != pl.region_wafer[i + 1] or pl.strategy != "pipelined":
            continue
        src_y, src_x = _outputs(int(pl.region_y0[i]), int(pl.region_x0[i]), int(pl.region_rows[i]),
                                int(pl.region_cols[i]), turned[i])
        n = len(src_y)
        dst_y, dst_x = _inputs(int(pl.region_y0[i + 1]), int(pl.region_x0[i + 1]), int(pl.region_rows[i + 1]),
                               int(pl.region_cols[i + 1]), turned[i + 1], n)
        parts.append((int(pl.region_wafer[i]), i, (src_y, src_x, dst_y, dst_x,
                                                   np.full(n, tokens * act * model.hidden_size / n),
                                                   np.full(n, UNICAST))))
    zero = np.zeros(R)
    handoff = _batch("handoff", parts, R, zero, zero, np.zeros(R, np.int32), cores)

    # spilled bytes read this pass, into each region row from the wafer's side edges
    spilled_w = pl.spilled_weight_bytes.astype(np.float64)
    spilled_kv_read = np.where(pl.region_kv_bytes > 0,
                               pl.spilled_kv_bytes / np.maximum(pl.region_kv_bytes, 1), 0.0) * kv_tokens * kvl
    io_region = spilled_w + np.where(is_layer, spilled_kv_read, 0.0)
    parts, edge, position = [], [], []
    for i in (np.nonzero(io_region > 0)[0] if only is None else []):
        flows, e, p = region_flows(int(pl.region_y0[i]), int(pl.region_x0[i]), int(pl.region_rows[i]),
                                   int(pl.region_cols[i]), float(io_region[i]), pl.shape, io_edges, io_ports)
        parts.append((int(pl.region_wafer[i]), int(i), flows))
        edge.append(e)
        position.append(p)
    io = _batch("edge_io", parts, R, zero, zero, np.zeros(R, np.int32), cores)
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    return DataflowProgram(tokens, R, pl.region_wafer, tuple(stages), handoff, io,
                           cat(edge, np.int8), cat(position, np.int64),
                           float(io_region.sum()) if only is None else 0.0,
                           tokens * act * model.hidden_size)
