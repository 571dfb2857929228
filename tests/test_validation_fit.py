"""The fit procedure reproduces the shipped fitted values; leave-one-source-out reruns it."""

import pytest

from wafersim.presets import load_runtime
from wafersim.units import parse_quantity
from wafersim.validation import MEASUREMENTS, load_measurements, validate
from wafersim.validation.fit import FITS, fit_all, leave_one_source_out


def test_every_fitted_field_names_calibration_rows_of_its_runtime():
    rows = {r.id: r for r in load_measurements(MEASUREMENTS)}
    for f in FITS:
        for rid in f.rows:
            assert rows[rid].calibration and f.applies(rows[rid]), rid


@pytest.mark.slow
def test_refitting_gives_the_shipped_values():
    fitted = fit_all(load_measurements(MEASUREMENTS))
    for f, value in fitted.items():
        shipped = load_runtime(f.runtime).overrides_for("gpu")[f.key]
        shipped = parse_quantity(shipped, f.unit) if f.unit else float(shipped)
        assert value == pytest.approx(shipped, rel=0.01), (f.runtime, f.key)


def test_leaving_a_source_out_falls_back_to_the_prior():
    rows = load_measurements(MEASUREMENTS)
    comps = validate(MEASUREMENTS)
    loso = leave_one_source_out(rows, comps)
    assert set(loso) == {r.id for r in rows}
    shipped = {c.row.id: c.predicted for c in comps}
    # the TensorRT-LLM v0.9 calibration rows, predicted with the priors, move; gpt-fast rows
    # (nothing of theirs in FITS) keep their prediction
    assert loso["trtllm09-h100-llama2-7b-tp1-ttft128"] != pytest.approx(shipped["trtllm09-h100-llama2-7b-tp1-ttft128"])
    assert loso["gptfast-a100-llama2-7b-tp1"] == shipped["gptfast-a100-llama2-7b-tp1"]


def test_a_fields_prior_is_its_base_profiles_value_on_the_rows_system():
    from wafersim.validation.fit import prior

    gemm = next(f for f in FITS if f.runtime == "trtllm" and f.key == "efficiency.gemm")
    assert prior(gemm, "dgx-a100") == 0.87 and prior(gemm, "dgx-h100") == 0.80   # the presets' MAMF shares
    launch = next(f for f in FITS if f.runtime == "trtllm" and f.key == "efficiency.prefill_kernel_launch_s")
    assert prior(launch, "dgx-h100") == 0.0      # 0: prefill launches cost what decode ones do


def test_a_profile_that_carries_a_fit_loses_it_with_the_fits_source():
    """trtllm-1.0 carries trtllm's fitted values: leaving out the source they were fitted on
    predicts its rows with the priors too."""
    rows = load_measurements(MEASUREMENTS)
    row = next(r for r in rows if r.runtime == "trtllm-1.0")
    gemm = next(f for f in FITS if f.runtime == "trtllm" and f.key == "efficiency.gemm")
    assert gemm.applies(row)
    assert not next(f for f in FITS if f.runtime == "trtllm-0.5").applies(row)
    comps = validate(MEASUREMENTS)
    loso = leave_one_source_out(rows, comps)
    shipped = {c.row.id: c.predicted for c in comps}
    assert loso[row.id] != pytest.approx(shipped[row.id])
