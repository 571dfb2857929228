"""compare --uncertainty: seeded samples of each unit's power and price over its sourced range
and each side's speed within its error band; ratios as median and 90 % interval, win chances."""

from __future__ import annotations

import dataclasses
import json

import pytest

import wafersim
from wafersim.cli import main
from wafersim.uncertainty import RATIO_BASES, SideRanges, sample, side_ranges

ARGV = ["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2", "--json"]


def _odds(argv):
    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0
    return json.loads(buf.getvalue())


def test_the_same_seed_gives_the_same_answer_bit_for_bit():
    one = _odds([*ARGV, "--uncertainty", "200", "--seed", "7"])["uncertainty"]
    two = _odds([*ARGV, "--uncertainty", "200", "--seed", "7"])["uncertainty"]
    other = _odds([*ARGV, "--uncertainty", "200", "--seed", "8"])["uncertainty"]
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert one["ratio"] != other["ratio"]
    for basis, win in one["win"].items():
        assert 0 <= win["a"] + win["b"] <= 1, basis


def _summary(kw: float, usd: float, user: float = 100.0) -> dict:
    return {"tokens_per_s_per_user": user, "tokens_per_s_per_device": 2 * user, "tokens_per_s_per_kw": kw,
            "usd_per_million_tokens": usd}


def _ranges(power=(10e3, 10e3, 10e3), price=(1e5, 1e5, 1e5), spread=0.0) -> SideRanges:
    return SideRanges(power, price, spread, 4.0, 0.1, 0.0)


def test_symmetric_ranges_give_intervals_that_hold_the_point_estimate():
    a, b = _summary(50.0, 2.0, 300.0), _summary(40.0, 1.5)
    ra = _ranges((8e3, 10e3, 12e3), (0.8e5, 1e5, 1.2e5), 0.5)
    rb = _ranges((9e3, 10e3, 11e3), (0.9e5, 1e5, 1.1e5), 0.1)
    out = sample(a, ra, b, rb, 2000, seed=1)
    for key, r in out["ratio"].items():
        assert r["low"] < r["point"] < r["high"], key
        assert r["low"] <= r["median"] <= r["high"], key
    assert out["win"]["user"]["a"] == 1.0          # 3x faster, spreads of 1.5x and 1.1x cannot close the gap


def test_a_zero_width_range_gives_a_zero_width_interval():
    a, b = _summary(50.0, 2.0), _summary(40.0, 1.5)
    out = sample(a, _ranges(), b, _ranges(), 500, seed=3)
    for key, r in out["ratio"].items():
        assert r["low"] == r["median"] == r["high"] == pytest.approx(r["point"], rel=1e-15), key
    assert out["win"]["kW"] == {"a": 1.0, "b": 0.0} and out["win"]["dollar"] == {"a": 0.0, "b": 1.0}


def test_a_price_range_moves_the_dollar_figure_as_the_deployment_formula_does():
    """A range collapsed onto another price: every sample's dollars per million tokens is the
    run's figure scaled by DeploymentSpec.usd_per_hour at that price over at the preset's."""
    system = wafersim.load_system("dgx-h100")
    d = system.deployment
    s = wafersim.simulate(system, "llama-3.1-8b", layers=2).summary.to_dict()
    other = 2 * d.unit_price_usd
    held = (d.unit_power_w,) * 3
    base = dataclasses.replace(side_ranges(system, spread=0.0), power_w=held, price_usd=(d.unit_price_usd,) * 3)
    out = sample(s, dataclasses.replace(base, price_usd=(other, d.unit_price_usd, other)), s, base, 50, seed=0)
    want = dataclasses.replace(d, unit_price_usd=other).usd_per_hour() / d.usd_per_hour()
    got = out["ratio"]["usd_per_million_tokens"]
    assert got["low"] == got["high"] == pytest.approx(want, rel=1e-12)


def test_the_sides_ranges_come_from_the_presets_and_the_error_band():
    from wafersim.engines.assembly import _error_band
    w = side_ranges(wafersim.load_system("wse3"))
    d = wafersim.load_system("wse3").deployment
    assert w.power_w == (d.unit_power_w_low, d.unit_power_w, d.unit_power_w_high)
    assert w.speed_spread == _error_band()["wafer/tokens_per_s_per_user"]["median_abs_error"]


def test_text_names_every_basis(capsys):
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2", "--uncertainty", "100"]) == 0
    out = capsys.readouterr().out
    assert "uncertainty (100 samples, seed 0" in out
    for _, words, _ in RATIO_BASES.values():
        assert f"  {words}" in out


@pytest.mark.parametrize("extra", [["--frontier"], ["--seed", "3"], ["--uncertainty", "0"]])
def test_bad_combinations_are_refused(extra, capsys):
    argv = ["compare", "wse3", "dgx-h100", "llama-3.1-8b", *extra, *(["--uncertainty", "10"] if extra == ["--frontier"] else [])]
    try:
        code = main(argv)
    except SystemExit as exc:          # argparse refuses a bad number itself
        code = exc.code
    assert code == 2
    assert capsys.readouterr().err.strip()
