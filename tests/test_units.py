import math

import pytest

from wafersim.units import UnitError, format_quantity, parse_quantity


@pytest.mark.parametrize("text,kind,expected", [
    ("48 KiB", "bytes", 48 * 1024),
    ("44 GB", "bytes", 44e9),
    ("1.1 GHz", "frequency", 1.1e9),
    ("3.35 TB/s", "bandwidth", 3.35e12),
    ("1.2 Tb/s", "bandwidth", 1.2e12 / 8),
    ("400 Gb/s", "bandwidth", 50e9),
    ("0.6 us", "time", 0.6e-6),
    ("2 ms", "time", 2e-3),
    ("0.25 pJ/bit", "energy_per_bit", 0.25e-12),
    ("989 TFLOP/s", "flop_rate", 989e12),
    ("15 kW", "power", 15e3),
    (7, "bytes", 7.0),
    (1.5e-9, "time", 1.5e-9),
])
def test_parse(text, kind, expected):
    assert math.isclose(parse_quantity(text, kind), expected, rel_tol=1e-12)


@pytest.mark.parametrize("text,kind", [
    ("1.1 GHz", "bytes"), ("48 KiB", "time"), ("fast", "bandwidth"), ("3 TB", "bandwidth"),
    (True, "bytes"), ([1], "bytes"), ("nan GB", "bytes"), ("inf s", "time"),
])
def test_rejects(text, kind):
    with pytest.raises(UnitError):
        parse_quantity(text, kind)


def test_message_gives_an_example():
    with pytest.raises(UnitError, match="48 KiB"):
        parse_quantity("2 GHz", "bytes")


def test_format_round_trip():
    for v, kind in [(44e9, "bytes"), (1.1e9, "frequency"), (3.2e-7, "time")]:
        assert math.isclose(parse_quantity(format_quantity(v, kind, 6), kind), v, rel_tol=1e-5)
