"""Which preset fields are fitted on which calibration rows, the fit itself, and the
leave-one-source-out check that reruns it.

Every fitted value in a runtime profile is one :class:`Fitted` entry: the field and
the calibration rows it is fitted on; without them it takes its prior, the value the
profile's base profile (or the hardware preset) gives.  :func:`fit` solves one field: the value
at which the mean log error over its rows is zero (bisection; every fitted field moves
its rows' predictions one way).  Fields of one profile are fitted in the order listed,
twice over, so that each sees the others' fitted values.

Leave-one-source-out (:func:`leave_one_source_out`): for each source (a row's
``group``), every fitted field with calibration rows in that source is refitted on
its rows from the other sources, or falls back to its prior when none are left; the
source's rows are then predicted with those values.  A field fitted only on its own
source's rows therefore shows, in this figure, what the model predicts without it.  A
field also applies to the rows of a profile based on its own that carries its value
(trtllm-1.0 carries trtllm's fit), so leaving out the source it was fitted on moves
those rows too.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass
from typing import Any

from ..presets import load_runtime, load_system
from ..units import parse_quantity
from . import Comparison, Measurement, run_row, wafer_fit

__all__ = ["Fitted", "FITS", "PRIOR", "prior", "fit", "fit_all", "leave_one_source_out"]


@dataclass(frozen=True)
class Fitted:
    """One fitted field: ``key`` of runtime profile ``runtime`` (``--set runtime.KEY``), fitted on
    calibration ``rows`` within [``low``, ``high``].  Its prior, the value without the fit, is
    what the profile's base profile gives on each row's system (:func:`prior`)."""

    key: str
    rows: tuple[str, ...]
    low: float
    high: float
    runtime: str
    unit: str = ""          # quantity kind of the value ("time"), "" for a plain number

    def applies(self, row: Measurement) -> bool:
        """The row runs with this field's value: its runtime is the field's profile, or a
        profile based on it that carries the value unchanged (trtllm-1.0 on trtllm)."""
        if row.runtime == self.runtime:
            return True
        return bool(row.runtime) and _carries(row.runtime, self.runtime, self.key)

    def parse(self, value: Any) -> float:
        return parse_quantity(value, self.unit) if self.unit else float(value)


@functools.lru_cache(maxsize=None)
def _carries(runtime: str, fitted: str, key: str) -> bool:
    """Profile ``runtime`` is based on ``fitted`` and takes ``key``'s value from it unchanged."""
    own = load_runtime(runtime)
    if fitted not in {b.name for b in own.provenance.bases}:
        return False
    return own.overrides_for("gpu").get(key) == load_runtime(fitted).overrides_for("gpu").get(key)


#: a field left at its prior
PRIOR = None


@functools.lru_cache(maxsize=None)
def prior(field: Fitted, system: str) -> float:
    """The value ``field`` takes on ``system`` without the fit: that of the runtime's base
    profile (or of the hardware preset where the base does not set it)."""
    bases = load_runtime(field.runtime).provenance.bases
    spec: Any = load_system(system, runtime=bases[0].name if bases else None)
    for part in field.key.split("."):
        spec = getattr(spec, part)
    return float(spec)


#: The fit, in the order it runs.  Each entry's value lives in the file it names, with a
#: comment naming the same rows; ``tests/validation/test_fit.py`` checks that rerunning
#: the fit gives the shipped values.
FITS: tuple[Fitted, ...] = (
    Fitted("efficiency.memory_8bit", ("trtllm-h100-gptj-fp8-bs1",), 0.05, 1.0, "trtllm-0.5"),
    Fitted("efficiency.prefill_kernel_launch_s", ("trtllm-h100x4-llama70b-fp8-ttft128",), 1e-7, 1e-3, "trtllm-0.5",
           unit="time"),
    Fitted("efficiency.gemm_8bit", ("trtllm05-h100-gptj-tp1-ttft2048",), 0.1, 1.0, "trtllm-0.5"),
    Fitted("efficiency.gemm", ("trtllm09-a100-llama2-7b-tp1-ttft2048",), 0.1, 1.0, "trtllm"),
    Fitted("efficiency.gemm_8bit", ("trtllm09-h200-gptj-b1024-128-128",), 0.1, 1.0, "trtllm"),
    Fitted("efficiency.prefill_kernel_launch_s", ("trtllm09-h100-llama2-7b-tp1-ttft128",), 1e-7, 1e-3, "trtllm",
           unit="time"),
    Fitted("efficiency.prefill_kernel_launch_s", ("lmdeploy-a100-llama2-7b-tp1-b1-128-128-ttft",), 1e-7, 1e-3,
           "lmdeploy", unit="time"),
    Fitted("efficiency.step_overhead_per_seq_s", ("sglang-a100-llama31-8b-offline",
                                                  "sglang-a100-llama31-8b-rps8-tpot"), 1e-7, 1e-2, "sglang", unit="time"),
    Fitted("efficiency.step_overhead_per_seq_s", ("sglang-vllm060-a100-llama31-8b-offline",
                                                  "sglang-vllm060-a100-llama31-8b-rps8-tpot"), 1e-7, 1e-2, "vllm",
           unit="time"),
    Fitted("efficiency.request_overhead_s", ("sglang-a100-llama31-8b-rps4-ttft",), 1e-6, 1.0, "sglang", unit="time"),
    Fitted("efficiency.request_overhead_s", ("sglang-vllm060-a100-llama31-8b-rps4-ttft",), 1e-6, 1.0, "vllm",
           unit="time"),
)
# Fitted elsewhere and not rerun here: dgx-a100's collective_latency_s and
# collective_step_latency_s, fitted jointly by least squares on the gpt-fast rows
# gptfast-a100-llama31-8b-tp2/4/8 (comments in meshes/dgx-a100.toml); leave-one-source-out
# keeps them.  The wafer presets' collective_step_cycles, compute_efficiency and
# gemm_step_cycles, fitted jointly by least squares on WaferLLM's LLaMA3-8B layers
# (wafer_fit.py; tests/validation/test_wafer_fit.py reruns that fit): leaving their source
# out, every wafer row of that source runs with wafer_fit.PRIOR instead.


def _run(row: Measurement, values: dict[Fitted, float | None]) -> Comparison:
    runtime = {f.key: prior(f, row.system) if v is PRIOR else v for f, v in values.items() if f.applies(row)}
    return run_row(row, runtime_overrides=runtime)


def _mean_log_error(rows: list[Measurement], values: dict[Fitted, float | None]) -> float:
    """Mean log of predicted over measured cost: a rate (tokens/s) counts inverted, so that
    every row says "the model is too slow" (> 0) or "too fast" (< 0) in the same sense."""
    return statistics.fmean(math.log(_run(r, values).predicted / r.value) * (-1 if "per_s" in r.metric else 1)
                            for r in rows)


def fit(field: Fitted, rows: list[Measurement], values: dict[Fitted, float | None] | None = None,
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
            passes: int = 2) -> dict[Fitted, float | None]:
    """Every field of :data:`FITS` fitted on its calibration rows (those of ``exclude_group`` left
    out); a field with no rows left takes its prior (:data:`PRIOR`)."""
    by_id = {m.id: m for m in measurements}
    values: dict[Fitted, float | None] = {f: PRIOR for f in FITS}
    for _ in range(passes):
        for f in FITS:
            rows = [by_id[i] for i in f.rows if i in by_id and by_id[i].group != exclude_group]
            values[f] = fit(f, rows, values) if rows else PRIOR
    return values


def leave_one_source_out(measurements: list[Measurement], comparisons: list[Comparison]) -> dict[str, float]:
    """Row id -> its prediction with every fitted field refitted without the row's source."""
    shipped = {c.row.id: c.predicted for c in comparisons}
    out: dict[str, float] = {}
    for group in sorted({m.group for m in measurements}):
        affected = [f for f in FITS if any(r.group == group and r.id in f.rows for r in measurements)]
        rows = [m for m in measurements if m.group == group]
        if any(r.id in wafer_fit.ROWS for r in rows):      # the wafer fit's source: its fields fall back
            wafer_rows = [r for r in rows if load_system(r.system).kind == "wafer"]
            out.update({r.id: run_row(r, system_overrides=wafer_fit.PRIOR).predicted for r in wafer_rows})
            rows = [r for r in rows if r not in wafer_rows]
        if not affected:
            out.update({r.id: shipped[r.id] for r in rows})
            continue
        values = _refit(measurements, group, affected)
        for r in rows:
            out[r.id] = _run(r, values).predicted if any(f.applies(r) for f in values) else shipped[r.id]
    return out


def _refit(measurements: list[Measurement], group: str, affected: list[Fitted]) -> dict[Fitted, float | None]:
    """The affected fields refitted without ``group`` (prior when no rows are left); the
    others keep their shipped values (no override)."""
    by_id = {m.id: m for m in measurements}
    values: dict[Fitted, float | None] = {}
    for f in affected:
        rows = [by_id[i] for i in f.rows if i in by_id and by_id[i].group != group]
        values[f] = fit(f, rows, values) if rows else PRIOR
    return values
