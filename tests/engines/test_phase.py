"""PhaseTime: the bottleneck is the largest term; shares divide by the sum."""

from __future__ import annotations

import pytest

import wafersim

# the class of a result's phases, wherever the package keeps it
PhaseTime = type(wafersim.simulate("wse3", "llama-3.1-8b", layers=1).decode)


def test_bottleneck_is_the_largest_term_ties_by_name():
    assert PhaseTime(1.0, {"mesh_latency": 2.0, "compute": 3.0, "edge_io": 1.0}).bottleneck == "compute"
    assert PhaseTime(1.0, {"b": 2.0, "a": 2.0}).bottleneck == "a"
    assert PhaseTime(1.0).bottleneck == "none"


def test_shares_divide_by_the_sum():
    assert PhaseTime(1.0, {"b": 3.0, "a": 1.0}).shares() == {"a": pytest.approx(0.25), "b": pytest.approx(0.75)}
    assert PhaseTime(0.0, {"a": 0.0}).shares() == {"a": 0.0}
