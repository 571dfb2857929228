"""The work of one core in one mesh stage: SIMD lanes against SRAM ports.

A core multiplies with ``lanes`` FMAC lanes per cycle (``core.flops_per_cycle(dtype) / 2``)
and moves its operands through SRAM ports of ``core.sram_read_bytes_per_cycle`` and
``core.sram_write_bytes_per_cycle`` (2 x 64-bit reads and 1 x 64-bit write on the Cerebras
cores: Hot Chips 34, Sean Lie).  A stage's core time is::

    max(port-bound cycles, lane-bound cycles) / calibration.compute_efficiency

the efficiency being the fitted share of that bound the kernels' loops reach (instruction
issue, descriptor set-up, loop control).  What crosses the ports per FMAC depends on how
many FMACs each read of the stationary operand (a weight, or a cached key or value) feeds,
its *reuse*: the tokens sharing a weight, or the query heads and tokens sharing a key.

* **GEMV** (reuse 1: one token per weight read).  The published kernel (WaferLLM's
  MeshGEMV, ``@fmach(res, res, W, x_j)``) keeps a token's partial sums in SRAM: every
  lane-FMAC reads an operand element and a partial sum and writes the partial sum back.
* **Token block** (reuse above 1: a prefill block, a micro-batch of several tokens, a
  speculative verify pass over ``k + 1`` tokens, grouped-query attention).  One read of an
  operand element feeds up to ``register_tokens`` tokens whose partial sums stay in the
  core's registers and cache (``core.accumulator_bytes``); each lane-FMAC reads the operand
  over the tokens it serves and an activation scalar over the lanes it feeds.  More tokens
  than the registers hold take further passes over the operand.  The outputs, written once
  per stage, are left out (one per ``K / rows`` FMACs).

So on WSE-3 (8 FP16 lanes, 64-bit ports) a GEMV is port-bound at 4 FMACs per cycle and a
token block lane-bound at 8; on WSE-2 (4 lanes) both run at 4.
"""

from __future__ import annotations

import numpy as np

from ..hardware.wafer import CoreSpec

__all__ = ["lanes", "register_tokens", "core_cycles", "ONE_TOKEN_ROUNDING"]

#: a reuse this close to one token per weight read is one token: reuses are ratios of summed
#: parameter counts (a mixture of experts' touched experts), whose rounding must not switch a
#: GEMV to the block pattern
ONE_TOKEN_ROUNDING = 1e-9


def lanes(core: CoreSpec, dtype: "str | float") -> float:
    """FMAC lanes of one core for ``dtype`` (a fused multiply-add is 2 FLOP); a number is the
    matmul FLOP per cycle itself (a mixed checkpoint's rate, weights unpacked as they are used:
    :func:`wafersim.hardware.precision.layer_flops_per_cycle`)."""
    rate = dtype if isinstance(dtype, (int, float)) else core.flops_per_cycle(dtype)
    return rate / 2.0


def register_tokens(core: CoreSpec, dtype: "str | float", partial_bytes: float) -> float:
    """Most tokens one operand read feeds: the lane-wide partial sums of that many tokens fit
    in ``core.accumulator_bytes`` (0: not even one token's, so every stage runs as a GEMV)."""
    return float(np.floor(core.accumulator_bytes / (lanes(core, dtype) * partial_bytes)))


def core_cycles(core: CoreSpec, dtype: "str | float", fmacs, operand_bytes, reuse, act_bytes: float):
    """(port-bound, lane-bound) cycles of one core doing ``fmacs`` FMACs on ``operand_bytes`` of
    its stationary operand (weights or KV read from SRAM), each element read feeding ``reuse``
    FMACs (see the module doc); ``act_bytes``: bytes of an activation and of a partial sum.
    Works on numbers and on numpy arrays alike."""
    fmacs, operand, reuse = (np.asarray(v, dtype=float) for v in (fmacs, operand_bytes, reuse))
    n = lanes(core, dtype)
    limit = register_tokens(core, dtype, act_bytes)
    gemv = (reuse <= 1.0 + ONE_TOKEN_ROUNDING) | (limit < 1.0)
    passes = np.ceil(np.maximum(reuse, 1.0) / max(limit, 1.0))
    reads = np.where(gemv, operand + fmacs * act_bytes, operand * passes + fmacs * act_bytes / n)
    writes = np.where(gemv, fmacs * act_bytes, 0.0)
    port = np.maximum(reads / core.sram_read_bytes_per_cycle, writes / core.sram_write_bytes_per_cycle)
    lane = fmacs / n
    if port.ndim == 0:
        return float(port), float(lane)
    return port, lane
