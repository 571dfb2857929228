"""Sizing against brute force: the fewest devices and the largest batch any capacity allows."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings, strategies as st

import wafersim
from wafersim.config import ConfigError
from wafersim.engines.capacity import Capacity, largest_fitting
from wafersim.sizing import check_kind, fewest_devices, tensor_parallel_options
from wafersim.workload.scenario import Scenario


class Table(Capacity):
    """A capacity that holds ``per_device`` sequences on each device once ``weights_on`` devices hold the weights."""

    def __init__(self, per_device: int, weights_on: int, lo: int, hi: int):
        self.per_device, self.weights_on, self.lo, self.hi = per_device, weights_on, lo, hi

    def holds_weights(self, batch, devices):
        return devices >= self.weights_on

    def fits(self, batch, devices):
        return self.holds_weights(batch, devices) and batch <= self.per_device * (devices - self.weights_on + 1)

    def device_range(self, batch):
        return self.lo, self.hi


@settings(max_examples=200, deadline=None)
@given(per=st.integers(0, 50), weights_on=st.integers(1, 12), hi=st.integers(1, 12), batch=st.integers(1, 400))
def test_fewest_devices_is_the_brute_force_answer(per, weights_on, hi, batch):
    cap = Table(per, weights_on, 1, hi)
    fit = [n for n in range(1, hi + 1) if cap.fits(batch, n)]
    weights = [n for n in range(1, hi + 1) if cap.holds_weights(batch, n)]
    expected = fit[0] if fit else weights[0] if weights else hi
    assert fewest_devices(cap, batch)[0] == expected


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(0, 5000), guess=st.integers(1, 6000))
def test_largest_fitting_is_the_brute_force_answer(limit, guess):
    calls = []

    def fits(b):
        calls.append(b)
        return b <= limit

    assert largest_fitting(fits, guess) == max(1, limit)
    assert len(calls) <= 2 * (limit.bit_length() + guess.bit_length()) + 4
    assert len(calls) == len(set(calls)), "a candidate was asked twice"


def test_wafers_auto_and_batch_max_are_what_the_memory_plan_allows():
    """wse3 + 70B: the fewest wafers whose plan holds one sequence, then the largest batch there."""
    from wafersim.engines.wafer_memory import WaferMemory
    model = wafersim.load_model("llama-3.1-70b")
    system = wafersim.load_system("wse3")
    r = wafersim.simulate(system, model, wafers="auto", batch="max")
    mem = WaferMemory(system, model, Scenario().resolved(model), wafersim.MappingOptions())
    wafers = r.summary["devices"]
    assert mem.memory_plan(1, wafers).fits and not mem.memory_plan(1, wafers - 1).fits
    batch = r.summary["batch"]
    assert mem.memory_plan(batch, wafers).fits and not mem.memory_plan(batch + 1, wafers).fits
    assert any("--wafers auto" in n for n in r.notes) and any("--batch max" in n for n in r.notes)


def test_tp_auto_is_the_fastest_fitting_option():
    model = wafersim.load_model("llama-3.1-70b")
    system = wafersim.load_system("dgx-h100")
    options = tensor_parallel_options(system, model, Scenario().resolved(model))
    assert options == [1, 2, 4, 8]
    runs = {tp: wafersim.simulate(system, model, tp=tp).summary for tp in options}
    fitting = [tp for tp in options if runs[tp]["fits_on_chip"]]
    best = min(fitting, key=lambda tp: (runs[tp]["tpot_s"], tp))
    chosen = wafersim.simulate(system, model, tp="auto")
    assert chosen.summary["tp"] == best and chosen.summary == runs[best]


@pytest.mark.parametrize("kind,key,value", [("wafer", "tp", 2), ("wafer", "pp", 2), ("wafer", "ep", 2),
                                            ("gpu", "wafers", 2)])
def test_keys_of_the_other_kind_are_refused(kind, key, value):
    with pytest.raises(ConfigError, match=key):
        check_kind(kind, Scenario(**{key: value}))


def test_wafer_scenarios_get_the_gpu_keys_at_their_defaults():
    assert check_kind("wafer", Scenario(tp="auto")).tp == 1


def test_more_wafers_than_layers_or_allowed_are_refused():
    with pytest.raises(ConfigError, match="3 wafers for 2 layers"):
        wafersim.simulate("wse3", "llama-3.1-8b", layers=2, wafers=3)
    two = wafersim.load_system("wse3", {"interwafer.max_wafers": 2})
    with pytest.raises(ConfigError, match="at most 2 wafers; got 3"):
        wafersim.simulate(two, "llama-3.1-8b", wafers=3)
    assert wafersim.simulate(two, "llama-3.1-8b", wafers=2).summary["devices"] == 2


def test_no_search_runs_the_same_point_twice():
    """tp auto hands back the chosen run: one simulate per option, not one more."""
    from wafersim.engines import registry
    calls = []
    entry = registry.get("gpu", "analytic")
    engine = entry.engine()

    class Counting:
        def capacity(self, *a):
            return engine.capacity(*a)

        def simulate(self, *a):
            calls.append(a[2].tp)
            return engine.simulate(*a)

    mine = registry.Registry((registry.EngineEntry("gpu", "analytic", "counting", Counting),))
    wafersim.simulate("dgx-h100", "llama-3.1-8b", tp="auto", registry=mine)
    assert sorted(calls) == [1, 2, 4, 8] and len(set(itertools.chain(calls))) == len(calls)


def test_the_search_stops_at_its_bound():
    """A capacity that holds everything: the search ends below 2**30 instead of running forever."""
    assert largest_fitting(lambda n: True) == 2**30 - 1


def test_a_right_guess_saves_the_doubling():
    """Starting at the answer costs two calls: the answer and one past it."""
    calls = []

    def fits(b):
        calls.append(b)
        return b <= 1000

    assert largest_fitting(fits, 1000) == 1000
    assert calls == [1000, 1001]


def test_tp_options_reach_a_whole_nvl72_domain():
    g = wafersim.load_system("gb200-nvl72")
    m = wafersim.load_model("llama-3.1-70b")               # 64 heads, 8 KV heads
    assert tensor_parallel_options(g, m, Scenario().resolved(m)) == [1, 2, 4, 8, 16, 32, 64]


def test_only_the_last_count_holds_the_weights():
    cap = Table(per_device=0, weights_on=5, lo=1, hi=5)
    assert fewest_devices(cap, 3) == (5, "the fewest that hold the weights (the KV cache spills)")
    assert fewest_devices(Table(0, 6, 1, 5), 3) == (5, "the most allowed (the weights spill)")


def test_tp_across_exactly_the_most_nodes_allowed():
    two = wafersim.load_system("dgx-h100", {"interconnect.max_nodes": 2})
    r = wafersim.simulate(two, "llama-3.1-70b", tp=16)
    assert r.summary["devices"] == 16 and r.summary["nodes"] == 2


def test_wafers_auto_for_batch_max_sizes_for_one_sequence():
    """8B at a 100K context: one sequence (16 GB weights + 13 GB KV) fits one WSE-3, two need a second."""
    r = wafersim.simulate("wse3", "llama-3.1-8b", wafers="auto", batch="max", prompt_tokens=100_000)
    assert r.summary["devices"] == 1 and r.summary["batch"] == 1 and r.summary["fits_on_chip"]
    two = wafersim.simulate("wse3", "llama-3.1-8b", wafers="auto", batch=2, prompt_tokens=100_000)
    assert two.summary["devices"] == 2
