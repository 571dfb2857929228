"""Objectives and constraints read from a summary."""

import pytest

from wafersim.config import ConfigError
from wafersim.explore.goals import constraint, objective


def test_named_objectives_and_directions():
    assert objective("tpot").key == "tpot_s" and not objective("tpot").maximize
    assert objective("per-device").maximize
    assert objective("per-dollar").key == "usd_per_million_tokens" and not objective("per-dollar").maximize
    assert objective("max:tokens_per_s").loss({"tokens_per_s": 5.0}) == -5.0
    assert objective("min:ttft_s").loss({}) == float("inf")
    for bad in ("fastest", "max:bottleneck", "up:tpot_s", 3):
        with pytest.raises(ConfigError):
            objective(bad)


def test_constraints_parse_units_and_measure_violation():
    ttft = constraint("ttft_s<=2 s")
    assert ttft.bound == 2.0 and ttft.violation({"ttft_s": 1.0}) is None
    assert ttft.violation({"ttft_s": 3.0}) == pytest.approx(0.5)
    power = constraint("power_w <= 40 kW")
    assert power.bound == 40e3 and power.violation({"power_w": 50e3}) == pytest.approx(0.25)
    users = constraint("tokens_per_s_per_user>=50 tokens/s")
    assert users.violation({"tokens_per_s_per_user": 100}) is None
    assert users.violation({"tokens_per_s_per_user": 25}) == pytest.approx(0.5)
    assert constraint("devices<=8").violation({}) == 1.0          # a key the run lacks breaks it


def test_fits_on_chip_measures_the_share_that_spills():
    fits = constraint("fits_on_chip")
    assert fits.violation({"fits_on_chip": True}) is None
    assert fits.violation({"fits_on_chip": False, "spilled_bytes": 25.0, "weight_bytes": 80.0,
                           "kv_bytes": 20.0}) == pytest.approx(0.25)
    assert fits.violation({"fits_on_chip": False}) == 1.0
    assert fits.violation({"fits_on_chip": False, "weight_bytes": 80.0, "kv_bytes": 20.0}) == 1.0
    assert fits.violation({"fits_on_chip": False, "spilled_bytes": 5.0, "weight_bytes": 0.0}) == 1.0
    assert fits.violation({"fits_on_chip": False, "spilled_bytes": 0.0, "weight_bytes": 1.0}) > 0
    assert fits.text() == "fits_on_chip"


@pytest.mark.parametrize("text", ["ttft_s<2", "ttft_s<=fast", "ttft_s<=2 W", "bottleneck<=1", "devices<=inf",
                                  "power_w<=", "nonsense"])
def test_bad_constraints_are_refused(text):
    with pytest.raises(ConfigError):
        constraint(text)
