"""Counts in printed text take the singular for one: "1 token", "1 node", "1 copy"."""

import math

import pytest

from wafersim.report import fmt
from wafersim.text import plural, ratio


@pytest.mark.parametrize("n,word,expected", [
    (1, "token", "1 token"), (2, "token", "2 tokens"), (0, "token", "0 tokens"),
    (1, "node", "1 node"), (3, "node", "3 nodes"), (1, "wafer", "1 wafer"), (1, "GPU", "1 GPU"), (8, "GPU", "8 GPUs"),
    (1, "copy", "1 copy"), (2, "copy", "2 copies"), (1.0, "wafer", "1.0 wafer"), (1.5, "wafer", "1.5 wafers"),
])
def test_plural_takes_the_singular_for_one_only(n, word, expected):
    assert plural(n, word) == expected


def test_plural_formats_the_count_and_takes_an_irregular_plural():
    assert plural(1024, "point", spec=",") == "1,024 points"
    assert plural(1, "row", spec=">3") == "  1 row"
    assert plural(2, "axis", "axes") == "2 axes" and plural(1, "axis", "axes") == "1 axis"


def test_token_counts_in_tables_agree_in_number():
    assert fmt("prompt_tokens", 1) == "1 token" and fmt("output_tokens", 128) == "128 tokens"


def test_no_fixed_plural_after_a_count_in_the_package():
    """No "(s)" after a count in the text wafersim prints: it says "1 node" or "2 nodes"."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "wafersim"
    found = [f"{p.relative_to(root)}:{n}" for p in sorted(root.rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"\}\s+[\w -]*\w\(s\)", line)]
    assert found == []


@pytest.mark.parametrize("x,expected", [
    (7.63, "7.6x"), (2.04, "2.0x"), (1.0, "1.0x"), (0.171, "0.17x"), (0.0042, "0.0042x"), (23.4, "23x"),
    (9.96, "10x"), (368, "370x"), (1234, "1,200x"), (0, "0x"),
])
def test_a_ratio_keeps_two_significant_figures_and_no_exponent(x, expected):
    assert ratio(x) == expected
    # the text read back is x to within half a unit of its second figure
    if x:
        back = float(expected.rstrip("x").replace(",", ""))
        assert abs(back - x) <= 0.5 * 10 ** (math.floor(math.log10(abs(back))) - 1) * (1 + 1e-9)
