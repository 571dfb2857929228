"""Which preset fields are fitted on which calibration rows, the fit itself, and the
leave-one-source-out check that reruns it.

Every fitted value in a runtime profile (or hardware preset) is one :class:`Fitted`
entry: the field, the calibration rows it is fitted on and the value it takes without
them (its prior, with where that comes from).  :func:`fit` solves one field: the value
at which the mean log error over its rows is zero (bisection; every fitted field moves
its rows' predictions one way).  Fields of one profile are fitted in the order listed,
twice over, so that each sees the others' fitted values.

Leave-one-source-out (:func:`leave_one_source_out`): for each source (a row's
``group``), every fitted field with calibration rows in that source is refitted on
its rows from the other sources, or falls back to its prior when none are left; the
source's rows are then predicted with those values.  A field fitted only on its own
source's rows therefore shows, in this figure, what the model predicts without it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from ..units import parse_quantity
from . import Comparison, Measurement, run_row

__all__ = ["Fitted", "FITS", "fit", "fit_all", "leave_one_source_out"]


@dataclass(frozen=True)
class Fitted:
    """One fitted field: ``key`` of runtime profile ``runtime`` (``--set runtime.KEY``) or, when
    ``runtime`` is empty, of hardware preset ``system`` (``--set system.KEY``)."""

    key: str
    rows: tuple[str, ...]
    prior: float
    prior_source: str
    low: float
    high: float
    runtime: str = ""
    system: str = ""
    unit: str = ""          # quantity kind of the value ("time"), "" for a plain number

    def applies(self, row: Measurement) -> bool:
        return (row.runtime == self.runtime) if self.runtime else (row.system == self.system)

    def parse(self, value: Any) -> float:
        return parse_quantity(value, self.unit) if self.unit else float(value)


#: The fit, in the order it runs.  Each entry's value lives in the file it names, with a
#: comment naming the same rows; ``tests/validation/test_fit.py`` checks that rerunning
#: the fit gives the shipped values.
FITS: tuple[Fitted, ...] = (
    Fitted("efficiency.memory_8bit", ("trtllm-h100-gptj-fp8-bs1",), 0.0,
           "typical runtime: 8-bit weights stream at the 16-bit share", 0.05, 1.0, runtime="trtllm-0.5"),
    Fitted("efficiency.prefill_kernel_launch_s", ("trtllm-h100x4-llama70b-fp8-ttft128",), 1.3e-6,
           "typical runtime: kernel_launch_s, 1.3 us per kernel under CUDA graphs (Hazy Research, 2025)", 1e-7, 1e-3,
           runtime="trtllm-0.5", unit="time"),
    Fitted("efficiency.gemm_8bit", ("trtllm05-h100-gptj-tp1-ttft2048",), 0.0,
           "GPU presets: the 16-bit GEMM share", 0.1, 1.0, runtime="trtllm-0.5"),
    Fitted("efficiency.gemm", ("trtllm09-a100-llama2-7b-tp1-ttft2048",), 0.87,
           "dgx-a100: best BF16 GEMM 271 of 312 TFLOP/s (stas00 MAMF table)", 0.1, 1.0, runtime="trtllm"),
    Fitted("efficiency.gemm_8bit", ("trtllm09-h200-gptj-b1024-128-128",), 0.0,
           "GPU presets: the 16-bit GEMM share", 0.1, 1.0, runtime="trtllm"),
    Fitted("efficiency.prefill_kernel_launch_s", ("trtllm09-h100-llama2-7b-tp1-ttft128",), 1.3e-6,
           "typical runtime: kernel_launch_s, 1.3 us per kernel under CUDA graphs (Hazy Research, 2025)", 1e-7, 1e-3,
           runtime="trtllm", unit="time"),
)
# Fitted elsewhere and not rerun here: dgx-a100's collective_latency_s and
# collective_step_latency_s, fitted jointly by least squares on the gpt-fast rows
# gptfast-a100-llama31-8b-tp2/4/8 (comments in meshes/dgx-a100.toml).


def _overrides(field: Fitted, value: float) -> dict[str, dict[str, Any]]:
    target = "runtime_overrides" if field.runtime else "system_overrides"
    return {target: {field.key: value}}


def _run(row: Measurement, values: dict[Fitted, float]) -> Comparison:
    runtime: dict[str, Any] = {}
    system: dict[str, Any] = {}
    for field, value in values.items():
        if field.applies(row):
            (runtime if field.runtime else system)[field.key] = value
    return run_row(row, runtime_overrides=runtime, system_overrides=system)


def _mean_log_error(rows: list[Measurement], values: dict[Fitted, float]) -> float:
    """Mean log of predicted over measured cost: a rate (tokens/s) counts inverted, so that
    every row says "the model is too slow" (> 0) or "too fast" (< 0) in the same sense."""
    return statistics.fmean(math.log(_run(r, values).predicted / r.value) * (-1 if "per_s" in r.metric else 1)
                            for r in rows)


def fit(field: Fitted, rows: list[Measurement], values: dict[Fitted, float] | None = None,
        steps: int = 40) -> float:
    """The value of ``field`` at which its ``rows`` are predicted with zero mean log error (the
    other fitted fields held at ``values``); the nearer bound when no value in range gets there."""
    values = dict(values or {})

    def err(x: float) -> float:
        return _mean_log_error(rows, {**values, field: x})

    lo, hi = field.low, field.high
    e_lo, e_hi = err(lo), err(hi)
    if e_lo * e_hi > 0:
        return lo if abs(e_lo) < abs(e_hi) else hi
    log = lo > 0
    for _ in range(steps):
        mid = math.sqrt(lo * hi) if log else (lo + hi) / 2
        e_mid = err(mid)
        if e_mid * e_lo > 0:
            lo, e_lo = mid, e_mid
        else:
            hi = mid
    return math.sqrt(lo * hi) if log else (lo + hi) / 2


def fit_all(measurements: list[Measurement], exclude_group: str | None = None,
            passes: int = 2) -> dict[Fitted, float]:
    """Every field of :data:`FITS` fitted on its calibration rows (those of ``exclude_group`` left
    out); a field with no rows left takes its prior."""
    by_id = {m.id: m for m in measurements}
    values = {f: f.prior for f in FITS}
    for _ in range(passes):
        for f in FITS:
            rows = [by_id[i] for i in f.rows if i in by_id and by_id[i].group != exclude_group]
            values[f] = fit(f, rows, values) if rows else f.prior
    return values


def leave_one_source_out(measurements: list[Measurement], comparisons: list[Comparison]) -> dict[str, float]:
    """Row id -> its prediction with every fitted field refitted without the row's source."""
    shipped = {c.row.id: c.predicted for c in comparisons}
    out: dict[str, float] = {}
    for group in sorted({m.group for m in measurements}):
        affected = [f for f in FITS if any(r.group == group and r.id in f.rows for r in measurements)]
        rows = [m for m in measurements if m.group == group]
        if not affected:
            out.update({r.id: shipped[r.id] for r in rows})
            continue
        values = _refit(measurements, group, affected)
        for r in rows:
            out[r.id] = _run(r, values).predicted if any(f.applies(r) for f in values) else shipped[r.id]
    return out


def _refit(measurements: list[Measurement], group: str, affected: list[Fitted]) -> dict[Fitted, float]:
    """The affected fields refitted without ``group`` (prior when no rows are left); the
    others keep their shipped values (no override)."""
    by_id = {m.id: m for m in measurements}
    values: dict[Fitted, float] = {}
    for f in affected:
        rows = [by_id[i] for i in f.rows if i in by_id and by_id[i].group != group]
        values[f] = fit(f, rows, values) if rows else f.prior
    return values
