"""The wafer kernel constants: rerunning the joint fit gives what the presets ship."""

import pytest

import wafersim
from wafersim.validation.wafer_fit import FIELDS, fit_wafer


@pytest.fixture(scope="module")
def fit():
    return fit_wafer()


@pytest.mark.parametrize("system", ["wse2", "wse3"])
def test_presets_hold_the_fitted_values(fit, system):
    spec = wafersim.load_system(system)
    for key, value in fit.values.items():
        section, name = key.split(".")
        assert getattr(getattr(spec, section), name) == pytest.approx(value, rel=2e-3), key


def test_the_fit_is_inside_its_ranges_and_its_residuals_small(fit):
    for key, (lo, hi) in FIELDS.items():
        assert lo < fit.values[key] < hi, f"{key} at a bound of its range: the rows do not determine it"
    assert max(abs(e) for e in fit.residuals.values()) < 0.10


def test_the_fit_recovers_values_it_generated():
    """Fed rows the model itself predicts with known constants, the fit returns those constants."""
    from dataclasses import replace
    from wafersim.validation import load_measurements, run_row
    from wafersim.validation.wafer_fit import ROWS
    truth = {"calibration.collective_step_cycles": 25.0, "calibration.compute_efficiency": 0.45,
             "calibration.gemm_step_cycles": 80.0}
    rows = {r.id: r for r in load_measurements()}
    synthetic = [replace(rows[i], value=run_row(rows[i], system_overrides=truth).predicted) for i in ROWS]
    got = fit_wafer(synthetic).values
    for key, value in truth.items():
        assert got[key] == pytest.approx(value, rel=1e-3), key
