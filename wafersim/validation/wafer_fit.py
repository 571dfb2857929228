"""The wafer kernel constants, fitted jointly on published per-layer timings.

A wafer decode layer is mostly mesh latency and a prefill layer mostly arithmetic and
GEMM shift steps, so three constants of a wafer preset's ``[calibration]`` decide both:
``collective_step_cycles`` (a reduction's add-and-forward step), ``compute_efficiency``
(the share of SIMD peak the cores' inner loops reach) and ``gemm_step_cycles`` (a prefill
GEMM's shift step beyond its arithmetic).  :func:`fit_wafer` finds the values that minimise
the squared log error over the calibration rows :data:`ROWS` names (WaferLLM's LLaMA3-8B
decode and prefill layers on three block sizes each), by Levenberg-Marquardt on central
differences; the hop latency stays the preset's (one router and link per cycle, ``[u]``),
because these rows cannot tell it from the step cost (``docs/models.md``).

The rows are cycle counts: WaferLLM's code converts the cycles it counts to time at 1.1 GHz
(:data:`ROWS_CLOCK_HZ`), so the fit runs them at that clock whatever a preset says, and the
constants it finds are cycles; a preset at another clock scales every wafer time by
``ROWS_CLOCK_HZ / clock_hz`` (``benchmarks/wafer_clock_range.py``).

``tests/validation/test_wafer_fit.py`` reruns the fit and checks the shipped presets hold
its values; ``wafersim validate`` shows how the other models' rows are predicted with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import Measurement, load_measurements, run_row

__all__ = ["FIELDS", "ROWS", "ROWS_CLOCK_HZ", "PRIOR", "WaferFit", "fit_wafer"]

#: the fitted fields, with the range each is searched in
FIELDS: dict[str, tuple[float, float]] = {
    "calibration.collective_step_cycles": (0.0, 300.0),
    "calibration.compute_efficiency": (0.02, 1.0),
    "calibration.gemm_step_cycles": (0.0, 5000.0),
}
#: the calibration rows (ids in wafersim/validation/measurements/wafer-waferllm.toml)
ROWS: tuple[str, ...] = (
    "waferllm-wse2-llama3-8b-layer", "waferllm-wse2-llama3-8b-decode-540", "waferllm-wse2-llama3-8b-decode-660",
    "waferllm-wse2-llama3-8b-prefill-480", "waferllm-wse2-llama3-8b-prefill-600",
    "waferllm-wse2-llama3-8b-prefill-720",
)
#: the clock WaferLLM's code converts its cycle counts to time at (its launcher's 1.1 GHz): the
#: rows' microseconds are cycles / this, so the fit holds the clock here
ROWS_CLOCK_HZ = 1.1e9
_CLOCK_FIELD = "core.clock_hz"
#: the values without this fit, which leave-one-source-out falls back to when the rows' source is
#: left out: what the presets held before it (18.16 cycles was itself fitted on one of these
#: rows, so the figure is if anything kind to the model; 50 % of SIMD peak assumed; no shift cost)
PRIOR = {"calibration.collective_step_cycles": 18.16, "calibration.compute_efficiency": 0.5,
         "calibration.gemm_step_cycles": 0.0}
#: where the search starts: well inside the ranges
START = (18.16, 0.5, 50.0)
#: Levenberg-Marquardt: relative step of the central differences, iterations, damping
_DIFF_STEP, _ITERATIONS, _DAMPING = 1e-4, 40, 1e-3


@dataclass(frozen=True)
class WaferFit:
    values: dict[str, float]          # field -> fitted value
    residuals: dict[str, float]       # row id -> log(predicted / measured) at the fit
    iterations: int


def _log_errors(rows: list[Measurement], x: np.ndarray, base: dict[str, float]) -> np.ndarray:
    over = {**base, _CLOCK_FIELD: ROWS_CLOCK_HZ, **dict(zip(FIELDS, (float(v) for v in x)))}
    return np.array([math.log(run_row(r, system_overrides=over).predicted / r.value) for r in rows])


def fit_wafer(measurements: list[Measurement] | None = None, start: tuple[float, ...] = START,
              base: dict[str, float] | None = None) -> WaferFit:
    """The least-squares values of :data:`FIELDS` on the rows :data:`ROWS` names; ``base``: other
    preset fields held at given values meanwhile (``{"mesh.hop_latency_cycles": 2}``).  The rows
    run at :data:`ROWS_CLOCK_HZ`, the clock their cycles were converted with, so the clock is
    not one of them: the fitted constants are cycles, the same at any clock."""
    base = dict(base or {})
    if _CLOCK_FIELD in base:
        raise ValueError(f"{_CLOCK_FIELD} is the rows' own ({ROWS_CLOCK_HZ / 1e9:g} GHz, the clock their cycles were "
                         "converted with): the fit is in cycles, the same at any clock")
    by_id = {m.id: m for m in (measurements if measurements is not None else load_measurements())}
    missing = [i for i in ROWS if i not in by_id]
    if missing:
        raise KeyError(f"calibration rows missing from the measurements: {', '.join(missing)}")
    rows = [by_id[i] for i in ROWS]
    lo, hi = (np.array([b[k] for b in FIELDS.values()]) for k in (0, 1))
    x = np.clip(np.array(start, dtype=float), lo, hi)
    r = _log_errors(rows, x, base)
    lam = _DAMPING
    it = 0
    for it in range(1, _ITERATIONS + 1):
        jac = np.empty((len(rows), len(x)))
        for j in range(len(x)):
            h = _DIFF_STEP * max(abs(x[j]), 1.0)
            up, down = x.copy(), x.copy()
            up[j], down[j] = min(x[j] + h, hi[j]), max(x[j] - h, lo[j])
            jac[:, j] = (_log_errors(rows, up, base) - _log_errors(rows, down, base)) / (up[j] - down[j])
        a, g = jac.T @ jac, jac.T @ r
        while True:
            step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-12), -g)
            trial = np.clip(x + step, lo, hi)
            r_trial = _log_errors(rows, trial, base)
            if r_trial @ r_trial < r @ r:
                x, r, lam = trial, r_trial, lam / 10
                break
            lam *= 10
            if lam > 1e12:
                break
        if lam > 1e12 or np.all(np.abs(step) <= 1e-9 * np.maximum(np.abs(x), 1.0)):
            break
    return WaferFit(dict(zip(FIELDS, (float(v) for v in x))), dict(zip(ROWS, (float(v) for v in r))), it)


if __name__ == "__main__":                                    # python -m wafersim.validation.wafer_fit
    fit = fit_wafer()
    for key, value in fit.values.items():
        print(f"{key} = {value:.4g}")
    for rid, e in fit.residuals.items():
        print(f"  {rid}: {100 * math.expm1(e):+.2f} %")
