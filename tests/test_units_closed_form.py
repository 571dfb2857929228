"""Every unit spelling the presets may use, against its value written out."""

from __future__ import annotations

import pytest

from wafersim.units import KINDS, UnitError, format_quantity, parse_quantity


@pytest.mark.parametrize("text,kind,expected", [
    # bytes: SI and binary prefixes; "b" and "bit" are bits (an eighth of a byte)
    ("1 B", "bytes", 1.0), ("3 kB", "bytes", 3e3), ("3 KB", "bytes", 3e3), ("3 MB", "bytes", 3e6),
    ("3 GB", "bytes", 3e9), ("3 TB", "bytes", 3e12), ("3 PB", "bytes", 3e15), ("3 EB", "bytes", 3e18),
    ("3 KiB", "bytes", 3 * 1024), ("3 MiB", "bytes", 3 * 1024**2), ("3 GiB", "bytes", 3 * 1024**3),
    ("3 TiB", "bytes", 3 * 1024**4), ("3 PiB", "bytes", 3 * 1024**5),
    ("8 b", "bytes", 1.0), ("8 bit", "bytes", 1.0), ("8 Gbit", "bytes", 1e9), ("8 Gb", "bytes", 1e9),
    ("8 kbit", "bytes", 1e3), ("8 Tbit", "bytes", 1e12), ("1 Gbit", "bytes", 0.125e9),
    # rates: per second, and "ps" for bit rates
    ("3.35 TB/s", "bandwidth", 3.35e12), ("1 GiB/s", "bandwidth", 1024**3), ("400 Gb/s", "bandwidth", 50e9),
    ("400 Gbit/s", "bandwidth", 50e9), ("400 Gbps", "bandwidth", 50e9), ("1.2 Tbps", "bandwidth", 150e9),
    ("8 bps", "bandwidth", 1.0), ("5 B/s", "bandwidth", 5.0),
    # frequency, time, energy, FLOP rate, power, length
    ("1.1 GHz", "frequency", 1.1e9), ("850 MHz", "frequency", 850e6), ("2 kHz", "frequency", 2e3), ("7 Hz", "frequency", 7.0),
    ("2 s", "time", 2.0), ("2 ms", "time", 2e-3), ("2 us", "time", 2e-6), ("2 \u00b5s", "time", 2e-6),
    ("2 ns", "time", 2e-9), ("2 ps", "time", 2e-12), ("2 fs", "time", 2e-15),
    ("0.25 pJ/bit", "energy_per_bit", 0.25e-12), ("0.25 pJ/b", "energy_per_bit", 0.25e-12),
    ("3 nJ/bit", "energy_per_bit", 3e-9), ("3 fJ/bit", "energy_per_bit", 3e-15), ("1 J/bit", "energy_per_bit", 1.0),
    ("0.35 pJ/FLOP", "energy_per_flop", 0.35e-12), ("2 uJ/FLOP", "energy_per_flop", 2e-6),
    ("989 TFLOP/s", "flop_rate", 989e12), ("2 PFLOP/s", "flop_rate", 2e15), ("5 GFLOPS", "flop_rate", 5e9),
    ("15 kW", "power", 15e3), ("700 W", "power", 700.0), ("2 MW", "power", 2e6),
    ("26 mm", "length", 26e-3), ("3 um", "length", 3e-6), ("5 nm", "length", 5e-9), ("2 m", "length", 2.0),
    # number formats and spacing
    ("48KiB", "bytes", 48 * 1024), ("  1.5e3 GB ", "bytes", 1.5e12), (".5 GB", "bytes", 0.5e9),
    ("+2 GB", "bytes", 2e9), ("1E-6 s", "time", 1e-6), ("12", "bytes", 12.0), ("2.5e-9", "time", 2.5e-9),
    (7, "bytes", 7.0), (2.5, "time", 2.5),
])
def test_parse(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected, rel=1e-12, abs=0)


def test_bits_are_an_eighth_of_bytes():
    assert parse_quantity("1 Gbit", "bytes") * 8 == parse_quantity("1 GB", "bytes")
    assert parse_quantity("1 Tb/s", "bandwidth") * 8 == parse_quantity("1 TB/s", "bandwidth")


@pytest.mark.parametrize("text,kind", [
    ("3 gb", "bytes"), ("3 GB", "bandwidth"), ("3 Gbit", "bandwidth"), ("3 GBps", "bandwidth"),
    ("3 KiHz", "frequency"), ("1 GHz", "time"), ("3 mB", "bytes"), ("3 pJ", "energy_per_bit"),
    ("3 kJ/bit", "energy_per_bit"), ("3 Ks", "time"), ("GB", "bytes"), ("", "bytes"), ("1 2 GB", "bytes"),
    (None, "bytes"), ("inf", "time"), (float("nan"), "bytes"), (False, "power"),
])
def test_rejects(text, kind):
    with pytest.raises(UnitError):
        parse_quantity(text, kind)


def test_messages_name_the_kind_an_example_and_the_base_unit():
    with pytest.raises(UnitError, match=r"expected a bandwidth such as '3.35 TB/s'; unit 'GB' is not a bandwidth unit \(base unit B/s\)"):
        parse_quantity("3 GB", "bandwidth")
    with pytest.raises(UnitError, match=r"expected a time such as '0.6 us', got a boolean"):
        parse_quantity(True, "time")
    with pytest.raises(UnitError, match=r"expected a power such as '700 W', got 'lots'"):
        parse_quantity("lots", "power")
    with pytest.raises(UnitError, match=r"expected a bytes such as '48 KiB', got list"):
        parse_quantity([1], "bytes")
    with pytest.raises(UnitError, match=r"expected a finite length, got '1e400 m'"):
        parse_quantity("1e400 m", "length")
    with pytest.raises(KeyError, match="unknown quantity kind 'speed'"):
        parse_quantity("1 m", "speed")


def test_kinds():
    assert KINDS == ("bytes", "frequency", "bandwidth", "time", "energy_per_bit", "energy_per_flop", "flop_rate",
                     "power", "length")


@pytest.mark.parametrize("value,kind,text", [
    (44e9, "bytes", "44 GB"), (1.5e15, "bytes", "1.5 PB"), (2e12, "bytes", "2 TB"), (3e6, "bytes", "3 MB"),
    (48e3, "bytes", "48 kB"), (12.0, "bytes", "12 B"), (999.6, "bytes", "1 kB"), (999.4, "bytes", "999 B"),
    (1.1e9, "frequency", "1.1 GHz"), (3.35e12, "bandwidth", "3.35 TB/s"), (989e12, "flop_rate", "989 TFLOP/s"),
    (700.0, "power", "700 W"), (15e3, "power", "15 kW"),
    (2.0, "time", "2 s"), (3.2e-7, "time", "320 ns"), (2e-3, "time", "2 ms"), (2e-6, "time", "2 us"),
    (2e-12, "time", "2 ps"), (5e-16, "time", "0.5 fs"), (0.35e-12, "energy_per_flop", "350 fJ/FLOP"),
    (0.25e-12, "energy_per_bit", "250 fJ/bit"), (26e-3, "length", "26 mm"),
    (-44e9, "bytes", "-44 GB"), (0.0, "time", "0 s"), (float("inf"), "bytes", "inf B"),
    (1.23456e9, "bytes", "1.23 GB"),
])
def test_format(value, kind, text):
    assert format_quantity(value, kind) == text


def test_format_digits():
    assert format_quantity(1.23456e9, "bytes", 5) == "1.2346 GB"
    assert format_quantity(1.23456e-6, "time", 2) == "1.2 us"


def test_format_prefix_table_for_rates_and_the_rounding_edge():
    assert format_quantity(2e15, "flop_rate") == "2 PFLOP/s"
    assert format_quantity(850e6, "frequency") == "850 MHz"
    assert format_quantity(3e3, "power") == "3 kW"
    assert format_quantity(5.0, "bandwidth") == "5 B/s"
    assert format_quantity(0.5, "power") == "0.5 W"
    # a value that rounds to 1 of a prefix (>= 0.9995 of it) takes that prefix
    assert format_quantity(1e3 * 0.9995, "bytes").endswith(" kB")
    assert format_quantity(1e9 * 0.9995, "frequency").endswith(" GHz")
