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


def test_a_corner_array_is_recorded_as_its_corner():
    """A flow run on a block of the wafer records its per-core arrays as the block (and the
    whole shape), and decodes to the same run; a record of whole arrays has no ``whole``."""
    import json

    from wafersim.results.run_result import LayerArray
    result = wafersim.simulate("mini-wafer", str(DATA / "tiny-llama.toml"), prompt_tokens=256, fidelity="flow", wafers=1,
                               mapping={"cores": "6x10"})
    result = type(result)(**{**result.__dict__, "config": json.loads(json.dumps(result.config, default=list))})
    held = result.arrays["sram_weight_bytes"]
    assert held.stored.shape == (1, 6, 10) and held.shape == (1, 16, 16)
    record = encode(PointOutcome(2, result, "", 0.1))
    back = decode(record).result
    assert_same_run(result, back)
    for name, a in result.arrays.items():
        assert back.arrays[name].stored.shape == a.stored.shape and back.arrays[name].shape == a.shape, name
    # the same run with every array whole: a longer record, without the field, read back alike
    whole = type(result)(**{**result.__dict__, "arrays": {
        n: LayerArray(a.data, a.dims, a.units, a.description, a.labels) for n, a in result.arrays.items()}})
    old = encode(PointOutcome(2, whole, "", 0.1))
    assert b'"whole"' in record and b'"whole"' not in old and len(old) > len(record)
    assert_same_run(decode(old).result, back)
    assert decode(old).result.arrays["sram_weight_bytes"].stored.shape == (1, 16, 16)
