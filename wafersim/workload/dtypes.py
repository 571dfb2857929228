"""Number formats and their storage size.

bf16/fp16 compute at the 16-bit rate, fp8/int8 at the 8-bit rate where the
hardware has one; int4 is weight-only (widened to 16 bits before the multiply).
"""

from __future__ import annotations

BYTES_PER_ELEMENT = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
DTYPES = tuple(BYTES_PER_ELEMENT)


def dtype_bytes(dtype: str) -> float:
    """Bytes per element of ``dtype``; raises ValueError naming the known formats."""
    try:
        return BYTES_PER_ELEMENT[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}") from None
