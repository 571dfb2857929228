"""Where every weight and KV byte lives: regions of cores, per-core accounting, spill.

Strategies (``mapping.placement``):

* ``pipelined``: each wafer holds a contiguous range of layers, balanced by
  bytes; its block of cores is cut into bands of near-square regions visited
  in ``mapping.order``: ``snake`` (left to right, then right to left on the
  next band), so consecutive layers are neighbours, or ``raster`` (every band
  left to right), so the hand-off from the end of a band to the start of the
  next crosses the block.  The embedding and LM head take a full-width band at
  the bottom of the last wafer: the rows their weights need (by their share of
  the weights when the weights do not fit).
* ``sequential``: every layer of a wafer is spread over the wafer's whole block;
  layers run one after another (the mapping published wafer kernels use).
* ``streaming``: as sequential, but weights stay in external memory and stream in.

Accounting is exact and in whole bytes: a region of n cores holding B bytes
gives every core B // n and the first B % n cores (row-major) one more.  Per
region, weights take SRAM first, then the layer's KV cache spreads evenly over
the same cores up to their free space; whatever does not fit spills to external
memory and is recorded per layer.  Every byte is on a core or in the spill table.

``mapping.kv = "pooled"`` (pipelined): every region takes its weights first; then
the KV cache of all the layers of a wafer fills the SRAM the weights leave free
on every core of the wafer's block (the cores no region covers too), each core in
proportion to its free bytes (:func:`pool_shares`); what does not fit spills, an
equal share of it per layer.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..config import ConfigError
from ..hardware.wafer import WaferSpec
from ..workload.dtypes import WeightFormats
from ..workload.model import ModelSpec
from .buffers import core_buffers
from .options import MappingOptions
from ..workload.scenario import Scenario
from ..text import plural


@dataclass(frozen=True, eq=False)
class Placement:
    """Arrays describing a mapping.  Region ``L`` (if present) is the embedding + LM head."""
    strategy: str
    wafers: int
    shape: tuple[int, int]                 # (ny, nx) of one wafer's mesh
    block: tuple[int, int]                 # (rows, cols) of the block used on each wafer
    region_wafer: np.ndarray               # int32 [regions]
    region_y0: np.ndarray                  # int32 [regions]
    region_x0: np.ndarray
    region_rows: np.ndarray
    region_cols: np.ndarray
    region_weight_bytes: np.ndarray        # int64 [regions]: what the region must hold
    region_kv_bytes: np.ndarray            # int64 [regions]
    spilled_weight_bytes: np.ndarray       # int64 [regions]
    spilled_kv_bytes: np.ndarray           # int64 [regions]
    core_capacity_bytes: int               # SRAM per core for weights and KV (what the buffers leave)
    # per core of the block, which starts at each wafer's corner (0, 0): core (y, x) of wafer w
    # is [w, y, x] for y < block rows, x < block cols; every core outside the block holds nothing
    core_weight_bytes: np.ndarray          # int64 [wafers, block rows, block cols]
    core_kv_bytes: np.ndarray              # int64 [wafers, block rows, block cols]
    layers: int
    has_head: bool
    pooled: bool = False                   # mapping.kv = "pooled": KV lives in a pool over the block
    core_buffer_bytes: int = 0             # per core: code, routing buffers, decode activation tile

    @property
    def regions(self) -> int:
        return len(self.region_wafer)

    @property
    def layer_cores(self) -> np.ndarray:
        return (self.region_rows * self.region_cols).astype(np.int64)

    @property
    def total_spilled_bytes(self) -> int:
        return int(self.spilled_weight_bytes.sum() + self.spilled_kv_bytes.sum())

    @property
    def fits(self) -> bool:
        return self.total_spilled_bytes == 0

    def free_bytes(self) -> np.ndarray:
        """Free SRAM per core of the block [wafers, block rows, block cols], as
        :attr:`core_weight_bytes` (the cores outside the block are not used: nothing is free there)."""
        return self.core_capacity_bytes - self.core_weight_bytes - self.core_kv_bytes


@functools.lru_cache(maxsize=256)
def _bands(n: int, rows: int, cols: int, order: str = "snake") -> tuple[tuple[int, int, int, int], ...]:
    """n rectangles (y0, x0, h, w) tiling a rows x cols block in ``order`` (snake: every
    other band right to left; raster: every band left to right).

    The block is cut into horizontal bands; each band's width is shared by the
    layers in it, so no core is left out but the few rows and columns that do
    not divide.  Band heights follow the number of layers in each band, and the
    band count makes the regions closest to square.  Depends on the three counts only,
    so it is worked out once per shape (sizing searches lay out one block many times).
    """
    best = None
    for g in range(1, min(n, rows) + 1):
        per = [n // g + (1 if b < n % g else 0) for b in range(g)]
        h = rows // g
        if max(per) > cols or h == 0:
            continue
        w = cols // max(per)
        key = max(h / w, w / h)
        if best is None or key < best[0]:
            best = (key, g, per, h)
    if best is None:
        raise ConfigError("mapping", "cores", f"{n} regions do not fit a {rows} x {cols} block")
    _, g, per, _ = best
    # band heights follow their layer counts, so every region gets about rows x cols / n cores
    edges = [round(rows * sum(per[:b]) / n) for b in range(g + 1)]
    out = []
    for b, k in enumerate(per):
        w = cols // k
        xs = [i * w for i in range(k)]
        if b % 2 and order == "snake":
            xs.reverse()
        out.extend((edges[b], x, edges[b + 1] - edges[b], w) for x in xs)
    return tuple(out)


def _spread(total: int, n: int) -> np.ndarray:
    out = np.full(n, total // n, dtype=np.int64)
    out[: total % n] += 1
    return out


def split_layers(layers: int, wafers: int, layer_bytes: float, head_bytes: float) -> list[int]:
    """First layer of each wafer (and ``layers`` at the end) for contiguous ranges that
    minimise the fullest wafer.  ``layer_bytes`` is what one layer holds (weights and
    KV); the head (embedding, LM head) sits after the last layer on the last wafer.
    Layers are whole: a wafer holds a layer entirely or not at all.
    """
    if wafers <= 1:
        return [0, layers]
    best = None
    for last in range(1, layers - wafers + 2):
        rest = layers - last
        fullest = max(last * layer_bytes + head_bytes, math.ceil(rest / (wafers - 1)) * layer_bytes)
        if best is None or fullest < best[0]:
            best = (fullest, last)
    last = best[1]
    rest, others = layers - last, wafers - 1
    first = [0]
    for i in range(others):
        first.append(first[-1] + rest // others + (1 if i < rest % others else 0))
    first.append(layers)
    return first


def head_band_rows(model: ModelSpec, dtype: "str | WeightFormats", rows: int, layers: int) -> int:
    """Rows of a ``rows``-row block for the LM head's band beside ``layers`` layer regions: its
    share of the weights a decode pass reads per token (the LM head's ``vocab x hidden`` and
    each layer's), so that the head and a layer region take about as long per token.  It does
    not depend on the batch or the SRAM."""
    w_h = model.lm_head_weight_bytes(dtype)
    w_l = model.layer_weight_bytes_read(1, dtype)
    return round(rows * w_h / (w_h + layers * w_l))


def block_shape(system: WaferSpec, mapping: MappingOptions) -> tuple[int, int]:
    """(rows, cols) of the block of cores a run uses on each wafer, from the mesh's corner:
    ``mapping.cores``, or by default the largest a program may use (``mesh.program_shape``)."""
    rows, cols = mapping.block
    py, px = system.mesh.program_shape
    if (rows, cols) == (0, 0):
        return py, px
    if rows > py or cols > px:
        ny, nx = system.mesh.cores_y, system.mesh.cores_x
        where = f"the {ny}x{nx} mesh" if (py, px) == (ny, nx) else \
            f"the {py}x{px} cores a program may use of the {ny}x{nx} mesh"
        raise ConfigError("mapping", "cores", f"{rows}x{cols} does not fit {where} of {system.name}")
    return rows, cols


def program_note(system: WaferSpec, mapping: MappingOptions) -> list[str]:
    """The note of a run whose default block leaves cores of the mesh out (``mesh.program_cores_*``),
    so that a mesh enlarged by ``--set`` without its program rectangle shows."""
    py, px = system.mesh.program_shape
    ny, nx = system.mesh.cores_y, system.mesh.cores_x
    if mapping.block != (0, 0) or (py, px) == (ny, nx):
        return []
    return [f"a program uses {py} x {px} of the {ny} x {nx} cores of each wafer (mesh.program_cores_y/x: what "
            "the vendor SDK's host transfers leave a program; set them with a larger mesh)"]


@dataclass(frozen=True, eq=False)
class Layout:
    """The geometry of a placement without per-core accounting: where each region sits
    and what it must hold.  Cheap enough to compute many times (no per-core arrays)."""
    wafers: int
    shape: tuple[int, int]
    block: tuple[int, int]
    region_wafer: np.ndarray
    region_y0: np.ndarray
    region_x0: np.ndarray
    region_rows: np.ndarray
    region_cols: np.ndarray
    region_weight_bytes: np.ndarray
    region_kv_bytes: np.ndarray
    core_capacity_bytes: int
    layers: int
    has_head: bool
    handoff_extra_hops: np.ndarray         # float64 [regions, 2]: see :func:`handoff_extra_hops`
    core_buffer_bytes: int = 0             # per core: code, routing buffers, decode activation tile

    def region_spill(self, streaming: bool = False, pooled: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(weights, KV) each region cannot hold when its regions do not overlap
        (pipelined): weights first, then KV, up to rows x cols x usable SRAM.  ``pooled``:
        the KV of a wafer's layers shares what the weights leave of its whole block."""
        cap = self.region_rows.astype(np.int64) * self.region_cols * self.core_capacity_bytes
        on_w = np.zeros_like(cap) if streaming else np.minimum(self.region_weight_bytes, cap)
        if not pooled:
            on_kv = np.minimum(self.region_kv_bytes, cap - on_w)
            return self.region_weight_bytes - on_w, self.region_kv_bytes - on_kv
        block = self.block[0] * self.block[1] * self.core_capacity_bytes
        on_kv = np.zeros_like(on_w)
        for wi in range(self.wafers):
            here = self.region_wafer == wi
            free = block - int(on_w[here].sum())
            on_kv[here] = pooled_onchip(self.region_kv_bytes[here], free)
        return self.region_weight_bytes - on_w, self.region_kv_bytes - on_kv


def pooled_onchip(region_kv: np.ndarray, free: int) -> np.ndarray:
    """KV bytes of each region that a pool of ``free`` bytes keeps on chip: everything when it
    fits, else the pool split evenly over the regions that have KV (whole bytes, the first ones
    one more), never more than a region's own KV."""
    region_kv = np.asarray(region_kv, dtype=np.int64)
    total = int(region_kv.sum())
    if total <= free:
        return region_kv.copy()
    out = np.zeros_like(region_kv)
    has = np.nonzero(region_kv > 0)[0]
    if len(has) and free > 0:
        out[has] = np.minimum(_spread(free, len(has)), region_kv[has])
    return out


def pool_shares(free: np.ndarray, total: int) -> np.ndarray:
    """``total`` bytes spread over cores with ``free`` bytes each (``total`` <= the sum), each
    core in proportion to its free bytes, in whole bytes: the floor of each share, then one more
    byte to the first cores (row-major) whose share had a fraction, as many as the floors left."""
    free = np.asarray(free, dtype=np.int64)
    room = int(free.sum())
    if total > room:
        raise ValueError(f"{total} bytes do not fit a pool of {room}")
    if room == 0:
        return np.zeros_like(free)
    exact = free * total                       # whole numbers: share = exact / room
    out = exact // room
    left = total - int(out.sum())
    flat = out.reshape(-1)
    frac = np.nonzero((exact % room).reshape(-1) > 0)[0][:left]
    flat[frac] += 1
    return out


def handoff_extra_hops(cells: list[tuple[int, int, int, int, int]], layers: int) -> np.ndarray:
    """Hops (along x, along y) the hand-off into each layer region travels beyond a step to a
    neighbouring cell, from the band cells (``(wafer, y0, x0, h, w)``, before any region cap)
    of consecutive layers on a wafer.  Cells that share rows (side by side in a band): the gap
    between them along x.  Cells that do not (one band to the next): the gap between them
    along y, and, unless their columns meet (overlap, or touch at a corner), the distance
    between their centres along x (every output slice shifts that far).  Zero in snake order,
    where consecutive cells share an edge or are stacked at the same end of two bands (but
    for cells a few cores wide, whose band ends need not line up); in
    raster order the hand-off from the end of a band of k > 2 cells of width w to the start of
    the next pays (k - 1) w.  The
    first region, the head and regions after a wafer boundary get zero (nothing, or the
    whole-width head band or the wafer link, takes their input)."""
    out = np.zeros((len(cells), 2))
    for i in range(1, min(layers, len(cells))):
        (wa, ya, xa, ha, wda), (wb, yb, xb, hb, wdb) = cells[i - 1], cells[i]
        if wa != wb:
            continue
        # doubled centres keep the arithmetic in whole numbers
        dx2, dy2 = abs((2 * xb + wdb) - (2 * xa + wda)), abs((2 * yb + hb) - (2 * ya + ha))
        if ya < yb + hb and yb < ya + ha:                  # side by side
            out[i] = max(dx2 - (wda + wdb), 0) / 2, 0.0
        else:
            meet = xa <= xb + wdb and xb <= xa + wda          # shared columns, or corners that touch
            out[i] = (0.0 if meet else dx2 / 2), max(dy2 - (ha + hb), 0) / 2
    return out


def layout(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions,
           batch: int, wafers: int) -> Layout:
    """Regions for ``scenario.layers`` layers (and the head when all layers run) on ``wafers``
    wafers.  The SRAM per core left for weights and KV is what the buffers leave; the decode
    activation tile depends on the region shapes, so the regions are laid out with the fixed
    buffers first and laid out again with the tile that those shapes need; the head's band
    follows the room left, so the shapes can move: the tile is re-sized on the final shapes
    and, when they need more, laid out again with the larger tile (never too small)."""
    sram = int(system.core.sram_bytes)
    fixed = int(math.ceil(system.core.fixed_buffer_bytes))
    final = bool(system.core.reserve_override)      # a flat reserve: the first layout is the last
    lay = _layout(system, model, scenario, mapping, batch, wafers, sram - fixed, fixed, hops=final)
    if final:
        return lay
    # buffers that fill the SRAM leave nothing for weights and KV: the plan spills them all,
    # so sizing finds a smaller batch (a smaller tile) instead
    buffers = core_buffers(system, model, scenario, mapping, batch, _layer_shapes(lay))
    lay = _layout(system, model, scenario, mapping, batch, wafers, max(sram - buffers, 0), buffers)
    for _ in range(_TILE_PASSES):
        need = core_buffers(system, model, scenario, mapping, batch, _layer_shapes(lay))
        if need <= buffers:
            break
        buffers = need
        lay = _layout(system, model, scenario, mapping, batch, wafers, max(sram - buffers, 0), buffers)
    return lay


#: extra layouts tried while the decode tile and the region shapes settle (the tile only grows)
_TILE_PASSES = 3


def _layer_shapes(lay: "Layout") -> set[tuple[int, int]]:
    """(rows, cols) of the layer regions (the head runs its own stage)."""
    layer_regions = slice(0, len(lay.region_wafer) - (1 if lay.has_head else 0))
    return set(zip(lay.region_rows[layer_regions].tolist(), lay.region_cols[layer_regions].tolist()))


def _layout(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions,
            batch: int, wafers: int, cap: int, buffers: int, hops: bool = True) -> Layout:
    """The regions with ``cap`` bytes per core for weights and KV; ``hops=False`` leaves the
    hand-off hops at zero (a first pass that only sizes the buffers)."""
    L = scenario.layers
    if wafers > L:
        raise ConfigError("scenario", "wafers", f"{wafers} wafers for {L} layers: each wafer needs at least one layer")
    ny, nx = system.mesh.cores_y, system.mesh.cores_x
    by, bx = block_shape(system, mapping)
    f = scenario.weights
    has_head = L == model.num_layers
    layer_w = int(round(model.layer_weight_bytes(f)))
    ctx = scenario.max_context
    layer_kv = int(round(batch * ctx * model.kv_bytes_per_token_layer(scenario.kv_dtype, ctx)))
    head_w = int(round(model.head_weight_bytes(f))) if has_head else 0

    first = split_layers(L, wafers, layer_w + layer_kv, head_w)
    rw, ry, rx, rr, rc = [], [], [], [], []
    cells = []                                  # (wafer, y0, x0, h, w) of each region's band cell
    for wi in range(wafers):
        n_layers = first[wi + 1] - first[wi]
        head_here = has_head and wi == wafers - 1
        if mapping.placement == "pipelined":
            # the head takes a full-width band at the bottom.  While the weights fit: its share
            # of the weights read per token (head_band_rows), or the rows its weights need if
            # more; by its share of the weights otherwise.  Neither depends on the batch (a band
            # sized by the head's share of all bytes, KV included, shrank as the KV cache grew,
            # so the layers got more cores and decode per user sped up with the batch)
            head_rows = 0
            if head_here and by < 2:
                raise ConfigError("mapping", "cores", f"a pipelined placement gives the LM head its own band of "
                                  f"rows below the layers, so the block needs at least 2 rows; got {by} x {bx} "
                                  "(use more rows, --placement sequential, or --layers to leave out the head)")
            if head_here:
                room = by * bx * cap
                weights = head_w + n_layers * layer_w
                need = math.ceil(head_w / (bx * cap)) if cap else by       # rows the head's weights need
                if weights <= room:
                    rows = max(need, head_band_rows(model, scenario.weights, by, n_layers))
                else:
                    rows = round(by * head_w / weights)
                head_rows = min(by - 1, max(1, rows))
            cap_r, cap_c = mapping.region_cap
            for y0, x0, h, w in _bands(n_layers, by - head_rows, bx, mapping.order):
                cells.append((wi, y0, x0, h, w))
                if cap_r:       # a given region size: the top-left corner of the band cell
                    h, w = min(h, cap_r), min(w, cap_c)
                rw.append(wi); ry.append(y0); rx.append(x0); rr.append(h); rc.append(w)
            if head_here:
                rw.append(wi); ry.append(by - head_rows); rx.append(0); rr.append(head_rows); rc.append(bx)
                cells.append((wi, by - head_rows, 0, head_rows, bx))
        else:
            for _ in range(n_layers):
                rw.append(wi); ry.append(0); rx.append(0); rr.append(by); rc.append(bx)
            if head_here:
                rw.append(wi); ry.append(0); rx.append(0); rr.append(by); rc.append(bx)
    if min(rr, default=1) < 1 or min(rc, default=1) < 1:
        raise ConfigError("mapping", "cores", f"a {by} x {bx} block is too small for {len(rr)} regions "
                          f"({mapping.placement} placement of {L} layers on {plural(wafers, 'wafer')})")
    i32 = lambda v: np.asarray(v, dtype=np.int32)  # noqa: E731
    return Layout(wafers, (ny, nx), (by, bx), i32(rw), i32(ry), i32(rx), i32(rr), i32(rc),
                  np.array([layer_w] * L + ([head_w] if has_head else []), dtype=np.int64),
                  np.array([layer_kv] * L + ([0] if has_head else []), dtype=np.int64), cap, L, has_head,
                  handoff_extra_hops(cells, L) if hops and mapping.placement == "pipelined" else np.zeros((len(rw), 2)),
                  buffers)


def place(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions,
          batch: int, wafers: int) -> Placement:
    """Lay out ``scenario.layers`` layers (and the head when all layers run) on ``wafers`` wafers."""
    lay = layout(system, model, scenario, mapping, batch, wafers)
    ny, nx = lay.shape
    cap = lay.core_capacity_bytes
    rw, ry, rx, rr, rc = lay.region_wafer, lay.region_y0, lay.region_x0, lay.region_rows, lay.region_cols
    region_w, region_kv = lay.region_weight_bytes, lay.region_kv_bytes
    n_regions = len(rw)
    core_w = np.zeros((wafers, *lay.block), dtype=np.int64)      # every region lies in the block
    core_kv = np.zeros((wafers, *lay.block), dtype=np.int64)
    sp_w = np.zeros(n_regions, dtype=np.int64)
    sp_kv = np.zeros(n_regions, dtype=np.int64)
    streaming = mapping.placement == "streaming"
    if mapping.kv == "pooled" and mapping.placement == "pipelined":
        return _place_pooled(lay, mapping)

    for i in range(n_regions):
        wi, y0, x0, h, w = int(rw[i]), int(ry[i]), int(rx[i]), int(rr[i]), int(rc[i])
        n = h * w
        view_w = core_w[wi, y0:y0 + h, x0:x0 + w]
        view_kv = core_kv[wi, y0:y0 + h, x0:x0 + w]
        free = cap - view_w - view_kv
        if streaming:
            sp_w[i] = region_w[i]
            want_w = np.zeros((h, w), dtype=np.int64)
        else:
            want_w = _spread(int(region_w[i]), n).reshape(h, w)
        got_w = np.minimum(want_w, np.maximum(free, 0))
        if not streaming:
            sp_w[i] = int(region_w[i] - got_w.sum())
        view_w += got_w
        free = free - got_w
        want_kv = _spread(int(region_kv[i]), n).reshape(h, w)
        got_kv = np.minimum(want_kv, np.maximum(free, 0))
        sp_kv[i] = int(region_kv[i] - got_kv.sum())
        view_kv += got_kv

    return Placement(mapping.placement, wafers, (ny, nx), lay.block, rw, ry, rx, rr, rc,
                     region_w, region_kv, sp_w, sp_kv, cap, core_w, core_kv, lay.layers, lay.has_head,
                     core_buffer_bytes=lay.core_buffer_bytes)


def _place_pooled(lay: Layout, mapping: MappingOptions) -> Placement:
    """Weights on each region first; then every wafer's KV cache over its whole block's free SRAM."""
    ny, nx = lay.shape
    by, bx = lay.block
    cap = lay.core_capacity_bytes
    core_w = np.zeros((lay.wafers, by, bx), dtype=np.int64)      # every region lies in the block
    core_kv = np.zeros((lay.wafers, by, bx), dtype=np.int64)
    n_regions = len(lay.region_wafer)
    sp_w = np.zeros(n_regions, dtype=np.int64)
    for i in range(n_regions):
        wi, y0, x0 = int(lay.region_wafer[i]), int(lay.region_y0[i]), int(lay.region_x0[i])
        h, w = int(lay.region_rows[i]), int(lay.region_cols[i])
        view = core_w[wi, y0:y0 + h, x0:x0 + w]
        got = np.minimum(_spread(int(lay.region_weight_bytes[i]), h * w).reshape(h, w), np.maximum(cap - view, 0))
        sp_w[i] = int(lay.region_weight_bytes[i] - got.sum())
        view += got
    on_kv = np.zeros(n_regions, dtype=np.int64)
    for wi in range(lay.wafers):
        here = lay.region_wafer == wi
        free = cap - core_w[wi]
        on_kv[here] = pooled_onchip(lay.region_kv_bytes[here], int(free.sum()))
        core_kv[wi] = pool_shares(free, int(on_kv[here].sum()))
    return Placement(mapping.placement, lay.wafers, (ny, nx), lay.block, lay.region_wafer, lay.region_y0,
                     lay.region_x0, lay.region_rows, lay.region_cols, lay.region_weight_bytes, lay.region_kv_bytes,
                     sp_w, lay.region_kv_bytes - on_kv, cap, core_w, core_kv, lay.layers, lay.has_head, pooled=True,
                     core_buffer_bytes=lay.core_buffer_bytes)
