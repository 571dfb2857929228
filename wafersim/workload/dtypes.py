"""Number formats and their storage size."""

from __future__ import annotations

BYTES_PER_ELEMENT = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
DTYPES = tuple(BYTES_PER_ELEMENT)


def dtype_bytes(dtype: str) -> float:
    """Bytes per element of ``dtype``; raises ValueError naming the known formats."""
    try:
        return BYTES_PER_ELEMENT[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}") from None
