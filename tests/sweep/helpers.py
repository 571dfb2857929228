"""Small sweep specs for tests (a 4-layer model on the 16 x 16 test wafer: each point in about a millisecond)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]

#: 3 x 4 points; wafers = 8 cannot hold 4 layers one per wafer, so that column fails at run time.
SMALL = f"""
description = "test sweep"
system = "mini-wafer"
model = "{DATA / 'tiny-llama.toml'}"
[scenario]
prompt = 512
output = 16
[axes]
"system.core.sram_bytes" = ["32 KiB", "48 KiB", "64 KiB"]
wafers = [1, 2, 4, 8]
"""


def big(points: int) -> str:
    """A one-axis sweep of ``points`` batches (fast analytic points, for kill tests and benchmarks)."""
    return f"""
system = "mini-wafer"
model = "{DATA / 'tiny-llama.toml'}"
[scenario]
prompt = 256
output = 8
[axes]
batch = {{ start = 1, stop = {points}, step = 1 }}
"""


def need(module: str):
    """An optional package the sweep tests use; skipped locally when absent, required in CI
    (``.ci/run`` installs the extras and sets WAFERSIM_REQUIRE_EXTRAS=1)."""
    if os.environ.get("WAFERSIM_REQUIRE_EXTRAS"):
        import importlib
        return importlib.import_module(module)
    return pytest.importorskip(module)


def assert_same_run(a, b):
    """Two RunResults hold the same summary, configuration, notes, phases and arrays (values,
    types, dimensions, units, labels)."""
    assert a.summary == b.summary and a.config == b.config and a.notes == b.notes
    assert a.prefill == b.prefill and a.decode == b.decode and a.attachments == b.attachments
    assert sorted(a.arrays) == sorted(b.arrays)
    for name, x in a.arrays.items():
        y = b.arrays[name]
        assert x.data.dtype == y.data.dtype and np.array_equal(x.data, y.data), name
        assert (x.dims, x.units, x.description, x.labels) == (y.dims, y.units, y.description, y.labels), name
