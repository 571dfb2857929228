"""Time of one GEMM on one GPU from its shape: tiles, waves over the SMs, and the roofline.

A GEMM ``C[M, N] = A[M, K] @ B[K, N]`` is cut into output tiles of
``tile_h x tile_n``.  The tile height is one of ``mma_m, 2 mma_m, 4 mma_m, ...`` up to
the GPU's ``tile_m`` (a GEMM of one row still computes ``mma_m`` rows, the tensor
core's smallest); like a library's kernel heuristic, the model takes the height
whose tiles and waves cost least (the tallest among equals).  When the tiles do not fill the SMs the K
loop is split (split-K) into parts at least ``tile_k`` deep, so that the idle SMs
share the work.  The tiles run in waves of ``sms``; every wave takes as long as
one tile, so one tile more than fills a wave costs a whole wave:

    compute = waves x 2 x tile_h x tile_n x ceil(K / split) / (achieved peak / sms)
    memory  = (M K x a + K N x w + M N x o) bytes / achieved HBM bandwidth
    time    = max(compute, memory)

At small M (decode) the weights' bytes dominate and the GEMM is memory-bound; at
large M (prefill, large batches) it is compute-bound at the achieved peak, less
what the last, partly filled wave wastes.  The same wave rule spreads fused
attention over the SMs (:func:`wave_time`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["GemmUnit", "Gemm", "gemm_time", "tile_heights", "wave_time"]


@dataclass(frozen=True)
class GemmUnit:
    """What the model needs of one GPU: its SMs, tile shape and achieved rates."""

    sms: int
    tile_m: int
    tile_n: int
    tile_k: int
    mma_m: int
    flops_per_s: float      # achieved tensor rate (peak x achieved share) for the GEMM's dtype
    bytes_per_s: float      # achieved HBM bandwidth


@dataclass(frozen=True)
class Gemm:
    """One GEMM's time, split into what bounds it."""

    compute_s: float
    memory_s: float
    waves: int
    split_k: int

    @property
    def time_s(self) -> float:
        return max(self.compute_s, self.memory_s)

    @property
    def compute_bound(self) -> bool:
        return self.compute_s >= self.memory_s


def tile_heights(m: int, unit: GemmUnit) -> list[int]:
    """The tile heights a kernel may use for ``m`` rows: ``mma_m`` doubled up to ``tile_m``, and
    no taller than the ``mma_m`` multiple that covers ``m``."""
    cover = unit.mma_m * math.ceil(m / unit.mma_m)
    out, h = [], unit.mma_m
    while h <= unit.tile_m:
        out.append(min(h, cover))
        if h >= cover:
            break
        h *= 2
    if out[-1] < min(unit.tile_m, cover) and unit.tile_m not in out:
        out.append(min(unit.tile_m, cover))
    return sorted(set(out))


def _shape(m: int, n: int, k: int, unit: GemmUnit) -> tuple[int, int, int, float]:
    """(tile height, split-K parts, waves, compute seconds) of the cheapest tile height."""
    best = None
    for th in tile_heights(m, unit):
        tiles = math.ceil(m / th) * math.ceil(n / unit.tile_n)
        split = max(1, min(unit.sms // tiles, k // unit.tile_k))     # parts at least tile_k deep
        waves = math.ceil(tiles * split / unit.sms)
        compute = waves * 2.0 * th * unit.tile_n * math.ceil(k / split) / (unit.flops_per_s / unit.sms)
        if best is None or compute <= best[3]:
            best = (th, split, waves, compute)
    return best


def gemm_time(m: int, n: int, k: int, unit: GemmUnit, a_bytes: float, w_bytes: float, o_bytes: float,
              weight_share: float = 1.0) -> Gemm:
    """One ``m x k`` by ``k x n`` GEMM on one GPU; ``a_bytes``, ``w_bytes`` and ``o_bytes`` are the
    bytes per element of the activations, weights and output; ``weight_share`` is the share of
    the weights read from HBM (the rest comes over PCIe and is costed elsewhere)."""
    if m <= 0 or n <= 0 or k <= 0:
        return Gemm(0.0, 0.0, 0, 1)
    _, split, waves, compute = _shape(m, n, k, unit)
    memory = (m * k * a_bytes + k * n * w_bytes * weight_share + m * n * o_bytes) / unit.bytes_per_s
    return Gemm(compute, memory, waves, split)


def wave_time(work: float, tiles: int, rate: float, sms: int) -> float:
    """Seconds for ``work`` (FLOPs or bytes) spread evenly over ``tiles`` independent tiles
    that run in waves of ``sms``, each SM at ``rate / sms``: ``ceil(tiles / sms)`` waves of
    one tile's share.  With at least as many tiles as SMs it tends to ``work / rate``."""
    if work <= 0 or tiles <= 0:
        return 0.0
    return math.ceil(tiles / sms) * (work / tiles) / (rate / sms)
