"""explore(..., hardware=True): design variables as axes, against designs built and run by hand."""

import time

import pytest

import wafersim
from wafersim.config import ConfigError
from wafersim.design import load_design, to_system
from wafersim.explore import explore, parse_axis
from wafersim.explore.defaults import hardware_space
from wafersim.explore.hardware import DESIGN_METRICS, Hardware

#: a small space run whole: SRAM against SIMD width, at the largest batch that fits
SPACE = {"design.sram_per_core": ["48 KiB", "96 KiB"], "design.simd_lanes": [8, 16], "batch": ["max"]}
LIMITS = ["fits_on_chip", "area_mm2<=46000", "wafer_power_w<=25 kW"]


def by_hand(params):
    """The point's design built with --set values and run as any system."""
    overrides = {k.removeprefix("design."): v for k, v in params.items() if k.startswith("design.")}
    ds = to_system(load_design("wse3", overrides))
    return ds, wafersim.simulate(ds.system, "llama-3.1-70b", batch=params["batch"]).summary


def test_whole_small_space_matches_designs_run_by_hand():
    e = explore("wse3", "llama-3.1-70b", hardware=True, space=SPACE, constraints=LIMITS,
                objective="per-dollar", pareto=["per-user", "per-dollar"], budget=100)
    assert e.design == "wse3" and e.cost.evaluated == e.cost.space_size == 4
    feasible = []
    for p in e.points:
        ds, summary = by_hand(p.params)
        g, dep = ds.figures.geometry, ds.system.deployment
        assert p.metrics["usd_per_million_tokens"] == pytest.approx(summary["usd_per_million_tokens"])
        assert p.metrics["area_mm2"] == pytest.approx(g.chip_mm2)
        assert p.metrics["enabled_cores"] == g.enabled_cores == ds.system.cores
        assert p.metrics["wafer_power_w"] == pytest.approx(dep.unit_power_w)
        assert p.metrics["wafer_price_usd"] == pytest.approx(dep.unit_price_usd)
        assert set(DESIGN_METRICS) <= set(p.metrics)
        ok = summary["fits_on_chip"] and g.chip_mm2 <= 46000 and dep.unit_power_w <= 25e3
        assert p.ok == ok
        if ok:
            feasible.append(p)
    # the best is the cheapest feasible design, the front those no other feasible one beats on both
    assert e.best[0].metrics["usd_per_million_tokens"] == min(p.metrics["usd_per_million_tokens"] for p in feasible)
    dominated = lambda p: any(q.metrics["tokens_per_s_per_user"] >= p.metrics["tokens_per_s_per_user"] and
                              q.metrics["usd_per_million_tokens"] <= p.metrics["usd_per_million_tokens"] and
                              q.metrics != p.metrics for q in feasible)     # noqa: E731
    assert {p.order for p in e.front} == {p.order for p in feasible if not dominated(p)}
    # twice the SRAM costs cores: fewer enabled cores than the 48 KiB design of the same SIMD width
    cores = {(p.params["design.sram_per_core"], p.params["design.simd_lanes"]): p.metrics["enabled_cores"]
             for p in e.points}
    assert cores[("96 KiB", 8)] < cores[("48 KiB", 8)]
    best = e.best_design(name="best")
    assert best.system.name == "best" and best.system.cores == e.best[0].metrics["enabled_cores"]


def test_default_space_small_budget_keeps_area_and_power_limits():
    e = explore("wse3", "llama-3.1-70b", hardware=True, constraints=["fits_on_chip", "area_mm2<=40000",
                                                                     "wafer_power_w<=25 kW"], budget=24)
    assert e.space.keys == tuple(hardware_space(Hardware("wse3")).keys)
    assert e.cost.evaluated == 24 and e.front
    for p in e.front:
        assert p.ok and p.metrics["area_mm2"] <= 40000 and p.metrics["wafer_power_w"] <= 25e3
    # a full die (die_cols 0) builds the whole 45,000 mm2 square: over the area limit
    assert all(not p.ok for p in e.points if p.params["design.die_cols"] == 0)


def test_default_axes_scale_the_design():
    space = hardware_space(Hardware("wse3"))
    values = {a.key: a.values for a in space.axes}
    assert values["design.sram_per_core"] == ("24 KiB", "48 KiB", "96 KiB")
    assert values["design.simd_lanes"] == (4, 8, 16)
    assert values["design.clock"] == ("825 MHz", "1100 MHz", "1375 MHz")
    assert values["design.io_ports"] == (6, 12, 24)
    cols = to_system(load_design("wse3")).figures.geometry.die_cols
    assert values["design.die_cols"] == (int(cols * 0.75), 0) and values["batch"] == ("max",)


def test_design_axes_parse_as_set_reads_them():
    assert parse_axis("design.sram_per_core=24 KiB, 96 KiB").values == ("24 KiB", "96 KiB")
    assert parse_axis("design.simd_lanes=4:16:x2").values == (4, 8, 16)
    assert parse_axis("design.activity=0.5,1").values == (0.5, 1)


def test_a_design_the_model_cannot_build_is_a_refused_point():
    e = explore("wse3", "llama-3.1-70b", hardware=True, space={"design.die_cols": [80, 4000]}, budget=10)
    refused = [p for p in e.points if p.status == "refused"]
    assert len(refused) == 1 and "do not fit" in refused[0].message


@pytest.mark.parametrize("kwargs, match", [
    ({"space": {"design.simd_lanes": [8]}}, "--hardware"),
    ({"constraints": ["area_mm2<=46000"]}, "design's figure"),
    ({"hardware": True, "space": {"design.sram_per_core": ["lots"]}}, "design.sram_per_core"),
    ({"hardware": True, "space": {"design.simd_lanes": [0]}}, "design.simd_lanes"),
])
def test_refusals(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        explore("wse3", "llama-3.1-70b", budget=2, **kwargs)


@pytest.mark.slow
def test_the_documented_default_runs_in_under_a_minute():
    t0 = time.perf_counter()
    e = explore("wse3", "llama-3.1-70b", hardware=True, constraints=LIMITS, objective="per-dollar",
                pareto=["per-user", "per-dollar"])
    assert time.perf_counter() - t0 < 60
    assert len(e.front) >= 2 and all(p.ok for p in e.front)
    # the front's two ends trade cost for interactivity
    ends = sorted(e.front, key=lambda p: p.metrics["tokens_per_s_per_user"])
    assert ends[0].metrics["usd_per_million_tokens"] < ends[-1].metrics["usd_per_million_tokens"]
    assert e.best[0].ok


def test_hbm_stacks_are_an_axis_with_their_figures():
    from wafersim.explore.hardware import design_keys
    assert "design.hbm_stacks" in design_keys()
    hw = Hardware("wse3")
    (plain, m0), (hbm, m8) = hw({}), hw({"design.hbm_stacks": 8})
    one = hw.design.hbm
    assert m8["external_memory_bytes"] - m0["external_memory_bytes"] == pytest.approx(8 * one.capacity_bytes)
    assert m8["external_bandwidth_bytes_per_s"] == pytest.approx(hbm.external_memory.io_bandwidth_bytes_per_s)
    assert m8["wafer_price_usd"] > m0["wafer_price_usd"] and m8["wafer_power_w"] > m0["wafer_power_w"]
