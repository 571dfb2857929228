"""Precisions as users name them: weights, compute (the activations the matmuls multiply) and KV.

``--precision NAME`` or ``--precision W/C/KV``:

* ``bf16``, ``fp16``: everything in that format;
* ``fp8``: FP8 (E4M3) weights, matmuls and KV cache (Hopper and later);
* ``nvfp4`` (also ``fp4``) and ``mxfp4``: 4-bit weights and matmuls in that block format,
  the KV cache in FP8, as NVIDIA's FP4 checkpoints and MLPerf's Blackwell submissions run;
* ``W/C/KV``: each format named (``mxfp4/bf16/bf16``: MXFP4 weights unpacked to bf16 matmuls).

:mod:`wafersim.hardware.precision` says which a system computes, unpacks or refuses.
"""

from __future__ import annotations

from .dtypes import DTYPES, compute_class

__all__ = ["NAMED", "parse_precision", "PARITY_RULE"]

#: named precisions: (weights, compute, KV cache)
NAMED = {"bf16": ("bf16", "bf16", "bf16"), "fp16": ("fp16", "fp16", "fp16"), "fp8": ("fp8", "fp8", "fp8"),
         "nvfp4": ("nvfp4", "nvfp4", "fp8"), "fp4": ("nvfp4", "nvfp4", "fp8"), "mxfp4": ("mxfp4", "mxfp4", "fp8")}
#: what compare holds equal on both sides unless told otherwise
PARITY_RULE = "the same weight, compute (activation) and KV-cache formats on both sides"


def parse_precision(text: str) -> dict[str, str]:
    """``text`` as scenario keys (``dtype``, ``compute_dtype``, ``kv_dtype``); ValueError naming
    what is accepted."""
    t = text.strip().lower()
    parts = NAMED.get(t) or tuple(p.strip() for p in t.split("/"))
    if len(parts) != 3 or not all(p in DTYPES for p in parts):
        raise ValueError(f"expected a precision ({', '.join(NAMED)}) or weights/compute/KV formats from "
                         f"{', '.join(DTYPES)} (e.g. mxfp4/bf16/bf16); got {text[:40]!r}")
    if not compute_class(parts[1]) or parts[1] == "int4":
        raise ValueError(f"{parts[1]} is a weight-only format: no hardware multiplies in it; name a compute "
                         f"format such as bf16 (e.g. int4/bf16/bf16)")
    return {"dtype": parts[0], "compute_dtype": parts[1], "kv_dtype": parts[2]}


def sixteen_bit(dtype: str | None) -> str:
    """The 16-bit format matmuls run in under the parity rule when no precision is named: the
    model's own where it is 16-bit, else bf16."""
    return dtype if dtype in ("bf16", "fp16") else "bf16"
