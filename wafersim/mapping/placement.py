"""Where every weight and KV byte lives: regions of cores, per-core accounting, spill.

Strategies (``mapping.placement``):

* ``pipelined``: each wafer holds a contiguous range of layers; its block of
  cores is cut into a grid of equal near-square regions visited in snake order
  (left to right, then right to left on the next band), so consecutive layers
  are neighbours.  The embedding and LM head take as many consecutive regions
  as their bytes need, after the last layer on the last wafer.
* ``sequential``: every layer of a wafer is spread over the wafer's whole block;
  layers run one after another (the mapping published wafer kernels use).
* ``streaming``: as sequential, but weights stay in external memory and stream in.

Accounting is exact and in whole bytes: a region of n cores holding B bytes
gives every core B // n and the first B % n cores (row-major) one more.  Per
region, weights take SRAM first, then the layer's KV cache spreads evenly over
the same cores up to their free space; whatever does not fit spills to external
memory and is recorded per layer.  Every byte is on a core or in the spill table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import ConfigError
from ..hardware.wafer import WaferSpec
from ..workload.dtypes import dtype_bytes
from ..workload.model import ModelSpec
from ..workload.scenario import MappingOptions, Scenario


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
    core_capacity_bytes: int               # usable SRAM per core
    core_weight_bytes: np.ndarray          # int64 [wafers, ny, nx]
    core_kv_bytes: np.ndarray              # int64 [wafers, ny, nx]
    layers: int
    has_head: bool

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
        """Free SRAM per core [wafers, ny, nx] (zero outside the block)."""
        used = self.core_weight_bytes + self.core_kv_bytes
        free = np.zeros_like(used)
        by, bx = self.block
        free[:, :by, :bx] = self.core_capacity_bytes - used[:, :by, :bx]
        return free


def _grid(n: int, rows: int, cols: int) -> tuple[int, int]:
    """A grid of at least n near-square cells on a rows x cols block."""
    best = None
    for g_rows in range(1, min(n, rows) + 1):
        g_cols = math.ceil(n / g_rows)
        if g_cols > cols:
            continue
        h, w = rows // g_rows, cols // g_cols
        key = (h + w) / math.sqrt(h * w) if h and w else math.inf   # prefer square, then large
        cand = (key, -(h * w), g_rows, g_cols)
        best = cand if best is None or cand < best else best
    if best is None:
        raise ConfigError("mapping", "cores", f"{n} regions do not fit a {rows} x {cols} block")
    return best[2], best[3]


def _snake(g_rows: int, g_cols: int) -> list[tuple[int, int]]:
    cells = []
    for r in range(g_rows):
        cols = range(g_cols) if r % 2 == 0 else range(g_cols - 1, -1, -1)
        cells.extend((r, c) for c in cols)
    return cells


def _spread(total: int, n: int) -> np.ndarray:
    out = np.full(n, total // n, dtype=np.int64)
    out[: total % n] += 1
    return out


def block_shape(system: WaferSpec, mapping: MappingOptions) -> tuple[int, int]:
    rows, cols = mapping.block
    ny, nx = system.mesh.cores_y, system.mesh.cores_x
    if (rows, cols) == (0, 0):
        return ny, nx
    if rows > ny or cols > nx:
        raise ConfigError("mapping", "cores", f"{rows}x{cols} does not fit the {ny}x{nx} mesh of {system.name}")
    return rows, cols


def place(system: WaferSpec, model: ModelSpec, scenario: Scenario, mapping: MappingOptions,
          batch: int, wafers: int) -> Placement:
    """Lay out ``scenario.layers`` layers (and the head when all layers run) on ``wafers`` wafers."""
    L = scenario.layers
    if wafers > L:
        raise ConfigError("scenario", "wafers", f"{wafers} wafers for {L} layers: each wafer needs at least one layer")
    ny, nx = system.mesh.cores_y, system.mesh.cores_x
    by, bx = block_shape(system, mapping)
    wb = dtype_bytes(scenario.dtype)
    has_head = L == model.num_layers
    layer_w = int(round(model.layer_params * wb))
    layer_kv = int(round(batch * scenario.max_context * model.kv_bytes_per_token_layer(scenario.kv_dtype)))
    head_w = int(round((model.embedding_params + model.lm_head_params + model.final_norm_params) * wb)) if has_head else 0
    cap = int(system.core.usable_sram_bytes)

    first = [(i * L) // wafers for i in range(wafers + 1)]
    rw, ry, rx, rr, rc = [], [], [], [], []
    for wi in range(wafers):
        n_layers = first[wi + 1] - first[wi]
        if mapping.placement == "pipelined":
            head_slots = 0
            if has_head and wi == wafers - 1:
                head_slots = max(1, math.ceil(head_w / layer_w)) if layer_w else 1
            g_rows, g_cols = _grid(n_layers + head_slots, by, bx)
            h, w = by // g_rows, bx // g_cols
            cells = _snake(g_rows, g_cols)
            for k in range(n_layers):
                r, c = cells[k]
                rw.append(wi); ry.append(r * h); rx.append(c * w); rr.append(h); rc.append(w)
            if head_slots:
                # the head's slots as one band: their bounding rectangle along the snake
                slots = cells[n_layers:n_layers + head_slots]
                ys = [r * h for r, _ in slots]; xs = [c * w for _, c in slots]
                y0, x0 = min(ys), min(xs)
                rw.append(wi); ry.append(y0); rx.append(x0)
                rr.append(max(ys) + h - y0); rc.append(max(xs) + w - x0)
        else:
            for _ in range(n_layers):
                rw.append(wi); ry.append(0); rx.append(0); rr.append(by); rc.append(bx)
            if has_head and wi == wafers - 1:
                rw.append(wi); ry.append(0); rx.append(0); rr.append(by); rc.append(bx)

    n_regions = len(rw)
    region_w = np.array([layer_w] * L + ([head_w] if has_head else []), dtype=np.int64)
    region_kv = np.array([layer_kv] * L + ([0] if has_head else []), dtype=np.int64)
    core_w = np.zeros((wafers, ny, nx), dtype=np.int64)
    core_kv = np.zeros((wafers, ny, nx), dtype=np.int64)
    sp_w = np.zeros(n_regions, dtype=np.int64)
    sp_kv = np.zeros(n_regions, dtype=np.int64)
    streaming = mapping.placement == "streaming"

    for i in range(n_regions):
        wi, y0, x0, h, w = rw[i], ry[i], rx[i], rr[i], rc[i]
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

    i32 = lambda v: np.asarray(v, dtype=np.int32)  # noqa: E731
    return Placement(mapping.placement, wafers, (ny, nx), (by, bx), i32(rw), i32(ry), i32(rx), i32(rr), i32(rc),
                     region_w, region_kv, sp_w, sp_kv, cap, core_w, core_kv, L, has_head)
