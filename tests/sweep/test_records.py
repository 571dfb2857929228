"""A point's outcome survives encoding exactly (summary, phases, arrays, notes), and a
point that fails is recorded with its error instead of stopping the sweep."""

from __future__ import annotations

import pytest

import wafersim
from wafersim.sweep.records import PointOutcome, decode, encode, run_point

from .helpers import DATA, assert_same_run


@pytest.mark.parametrize("system,kw", [("mini-wafer", {"fidelity": "flow", "layers": 2}),
                                       ("dgx-h100", {"tp": 2})])
def test_encode_decode_round_trip(system, kw):
    import json
    result = wafersim.simulate(system, str(DATA / "tiny-llama.toml"), prompt_tokens=256, **kw)
    result = type(result)(**{**result.__dict__, "config": json.loads(json.dumps(result.config, default=list))})
    back = decode(encode(PointOutcome(7, result, "", 0.5)))
    assert back.index == 7 and back.ok
    assert_same_run(result, back.result)
    if system == "mini-wafer":
        assert any(a.data.ndim >= 2 for a in back.result.arrays.values())     # per-core arrays came through


def test_a_failing_point_is_an_outcome_not_an_exception():
    job = {"index": 3, "system": "mini-wafer", "model": str(DATA / "tiny-llama.toml"), "system_sets": {},
           "model_sets": {}, "mapping": {}, "scenario": {"wafers": 8}}
    out = decode(run_point(job))
    assert out.index == 3 and not out.ok and out.result is None
    assert out.error.startswith("ConfigError:") and "8 wafers for 4 layers" in out.error


def test_truncated_records_are_refused():
    rec = encode(PointOutcome(1, wafersim.simulate("mini-wafer", str(DATA / "tiny-llama.toml")), ""))
    with pytest.raises(ValueError):
        decode(rec[:-3])
