"""Axes, their text form and the neighbours of a point."""

import pytest

from wafersim.config import ConfigError
from wafersim.explore.space import Axis, Space, axis_keys, parse_axis, value_label


def test_parse_lists_ranges_and_geometric_ranges():
    assert parse_axis("batch=1,2,max").values == (1, 2, "max")
    assert parse_axis("wafers=2:5").values == (2, 3, 4, 5)
    assert parse_axis("batch=1:100:x2").values == (1, 2, 4, 8, 16, 32, 64)
    assert parse_axis("tp=1, 8:32:x2").values == (1, 8, 16, 32)
    assert parse_axis("mapping.region=,64x64").values == ("", "64x64")
    assert parse_axis("mapping.placement=pipelined,sequential").values == ("pipelined", "sequential")
    assert parse_axis("speculative=0:3").values == (0, 1, 2, 3)
    assert parse_axis("acceptance=0.5, 0.9").values == (0.5, 0.9)


@pytest.mark.parametrize("text,words", [
    ("batch", "KEY=V1"), ("colour=1", "expected one of"), ("batch=0", "from 1"), ("batch=x", "integer"),
    ("wafers=5:2", "LO <= HI"), ("batch=1:8:x1", "factor"), ("batch=1:8:+2", "factor"), ("tp=max", "integers"),
    ("batch=1,1", "twice"), ("mapping.region=", None), ("replicas=0", "from 1"), ("fidelity=flow", "expected one of"),
    ("speculative=0:8:x2", "geometric"), ("speculative=-1", "from 0"), ("acceptance=high", "numbers"),
    ("query_tokens=2", "expected one of"),
])
def test_bad_axes_name_the_key_and_what_was_expected(text, words):
    if words is None:                                  # a lone empty value is the default: allowed
        assert parse_axis(text).values == ("",)
        return
    with pytest.raises(ConfigError) as info:
        parse_axis(text)
    assert words in str(info.value) and "--axis" in str(info.value)


def test_keys_cover_scenario_replicas_and_every_mapping_field():
    keys = axis_keys()
    assert {"batch", "wafers", "tp", "pp", "ep", "replicas", "mapping.placement", "mapping.region",
            "mapping.cores"} <= set(keys)
    assert "fidelity" not in keys and "layers" not in keys


def test_neighbours_step_once_on_ordered_axes_and_anywhere_on_unordered():
    space = Space.of({"batch": [1, 2, 4, 8], "mapping.placement": ["pipelined", "sequential", "streaming"]})
    assert space.neighbours((0, 0)) == [(1, 0), (0, 1), (0, 2)]
    assert space.neighbours((2, 1)) == [(1, 1), (3, 1), (2, 0), (2, 2)]
    assert space.size == 12 and len(list(space.indices())) == 12
    for idx in space.indices():                       # symmetric, and each differs on one axis only
        for n in space.neighbours(idx):
            assert idx in space.neighbours(n)
            assert sum(a != b for a, b in zip(idx, n)) == 1


def test_with_axes_replaces_by_key_and_appends_new_ones():
    space = Space.of({"batch": [1, 2], "tp": [1, 8]})
    out = space.with_axes([Axis("tp", (4,)), Axis("replicas", (1, 2))])
    assert out.keys == ("batch", "tp", "replicas") and out.params((1, 0, 1)) == {"batch": 2, "tp": 4, "replicas": 2}
    assert out.without(["tp"]).keys == ("batch", "replicas")
    with pytest.raises(ConfigError):
        Space((Axis("tp", (1,)), Axis("tp", (2,))))


def test_bounds_of_replicas_and_of_the_values_of_an_axis():
    from wafersim.explore.space import AXIS_MAX_VALUES, REPLICAS_MAX
    assert parse_axis(f"replicas={REPLICAS_MAX}").values == (REPLICAS_MAX,)
    with pytest.raises(ConfigError, match="replicas"):
        parse_axis(f"replicas={REPLICAS_MAX + 1}")
    assert len(parse_axis(f"batch=1:{AXIS_MAX_VALUES}").values) == AXIS_MAX_VALUES
    with pytest.raises(ConfigError, match="more than"):
        parse_axis(f"batch=1:{AXIS_MAX_VALUES + 1}")
    with pytest.raises(ConfigError, match="at most"):
        Axis("mapping.region", tuple(f"{i}x{i}" for i in range(1, AXIS_MAX_VALUES + 2)))


def test_the_default_of_a_text_axis_reads_as_a_word_and_the_word_parses_back():
    assert value_label("mapping.region", "") == "uncapped" and value_label("mapping.cores", "") == "all"
    assert value_label("mapping.region", "64x64") == "64x64" and value_label("mapping.kv", "") == "default"
    assert parse_axis("mapping.region=uncapped,64x64").values == ("", "64x64")
    assert parse_axis("mapping.cores=all,100x100").values == ("", "100x100")
    space = Space((Axis("mapping.region", ("", "64x64")), Axis("mapping.cores", ("", "100x100"))))
    text = space.describe()
    assert "mapping.region (2: uncapped, 64x64)" in text and "mapping.cores (2: all, 100x100)" in text
    assert "''" not in text
