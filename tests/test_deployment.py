"""Power and price per system: the per-device, per-kW and per-dollar figures follow from the
preset values by hand, every bundled system has a sourced power and price with a range,
and GPU systems scale out in whole allocation units (--gpus auto): nodes, or a GB200 NVL72
compute tray of 4 GPUs with its share of the rack."""

from __future__ import annotations

import math

import pytest

import wafersim
from wafersim.cli import main
from wafersim.engines.gpu_memory import GpuMemory
from wafersim.hardware.deployment import HOURS_PER_YEAR
from wafersim.sizing import gpu_layouts
from wafersim.workload.scenario import Scenario


def test_per_kw_and_per_dollar_by_hand():
    s = wafersim.load_system("dgx-h100", {"deployment.unit_power_w": "10 kW", "deployment.unit_price_usd": 350400,
                                          "deployment.amortisation_years": 4, "deployment.usd_per_kwh": 0.2})
    r = wafersim.simulate(s, "llama-3.1-70b", tp=8, batch=8).summary
    hourly = 350400 / (4 * HOURS_PER_YEAR) + 10 * 0.2           # one node: price over 4 years + 10 kW at $0.2
    assert r["nodes"] == 1 and r["devices"] == 8
    assert r["power_w"] == 10e3 and r["cost_usd"] == 350400
    assert r["usd_per_hour"] == pytest.approx(hourly, rel=1e-12)
    assert r["tokens_per_s_per_kw"] == pytest.approx(r["tokens_per_s"] / 10, rel=1e-12)
    assert r["tokens_per_s_per_device"] == pytest.approx(r["tokens_per_s"] / 8, rel=1e-12)
    assert r["usd_per_million_tokens"] == pytest.approx(hourly / (r["tokens_per_s"] * 3600) * 1e6, rel=1e-12)


def test_a_rental_rate_wins_over_the_price_and_wafers_count_per_system():
    s = wafersim.load_system("wse3", {"deployment.unit_usd_per_hour": 50.0})
    r = wafersim.simulate(s, "llama-3.1-70b", wafers=4).summary
    assert r["usd_per_hour"] == 4 * 50.0 and r["power_w"] == 4 * s.deployment.unit_power_w
    assert r["cost_usd"] == 4 * s.deployment.unit_price_usd


def test_unknown_prices_leave_the_metrics_out():
    s = wafersim.load_system("wse3", {"deployment.unit_price_usd": 0, "deployment.unit_power_w": 0})
    r = wafersim.simulate(s, "llama-3.1-8b").summary
    for key in ("power_w", "cost_usd", "usd_per_hour", "tokens_per_s_per_kw", "usd_per_million_tokens"):
        assert key not in r
    assert r["tokens_per_s_per_device"] == r["tokens_per_s"]


def _fits_on(system_name: str, model_name: str, gpus: int) -> bool:
    """Whether any tp x pp x ep layout of ``gpus`` GPUs holds the model at batch 1 (brute force)."""
    system = wafersim.load_system(system_name, {"interconnect.nodes": math.ceil(gpus / 8)})
    model = wafersim.load_model(model_name)
    sc = Scenario().resolved(model)
    return any(GpuMemory(system, model, Scenario(tp=tp, pp=pp, ep=ep).resolved(model)).memory_plan(1).fits
               for tp, pp, ep in gpu_layouts(system, model, sc, gpus))


@pytest.mark.parametrize("model,nodes", [("llama-3.1-8b", 1), ("llama-3.1-70b", 1), ("llama-3.1-405b", 2),
                                         ("mixtral-8x7b", 1)])
def test_gpus_auto_is_the_fewest_whole_nodes_that_hold_the_job(model, nodes):
    """By hand: 405B in bf16 is 811 GB of weights; a node holds 8 x 80 GB x 0.9 = 576 GB, two hold 1152 GB."""
    r = wafersim.simulate("dgx-h100", model, gpus="auto")
    assert r.summary["nodes"] == nodes and r.summary["devices"] == 8 * nodes and r.summary["fits_on_chip"]
    assert _fits_on("dgx-h100", model, 8 * nodes) and (nodes == 1 or not _fits_on("dgx-h100", model, 8 * (nodes - 1)))
    s = r.summary
    assert s["tp"] * s["pp"] * s["ep"] == s["devices"]


def test_weights_by_hand_need_two_nodes_for_405b():
    m = wafersim.load_model("llama-3.1-405b")
    usable_per_node = 8 * 80e9 * (1 - 0.10)
    assert 1 * usable_per_node < m.param_count * 2 < 2 * usable_per_node


def test_gpus_auto_picks_expert_parallelism_for_moe_where_it_is_faster():
    r = wafersim.simulate("dgx-h100", "mixtral-8x7b", gpus="auto", batch=64)
    runs = {(tp, pp, ep): wafersim.simulate("dgx-h100", "mixtral-8x7b", batch=64, tp=tp, pp=pp, ep=ep).summary
            for tp, pp, ep in gpu_layouts(wafersim.load_system("dgx-h100"), wafersim.load_model("mixtral-8x7b"),
                                          Scenario(), 8)}
    best = min((k for k in runs if runs[k]["fits_on_chip"]), key=lambda k: (runs[k]["tpot_s"], k[1], k[0]))
    assert (r.summary["tp"], r.summary["pp"], r.summary["ep"]) == best


def test_gpus_beyond_the_network_are_refused():
    from wafersim.config import ConfigError
    with pytest.raises(ConfigError, match="at most 1"):
        wafersim.simulate(wafersim.load_system("dgx-h100", {"interconnect.max_nodes": 1}), "llama-3.1-405b", gpus=16)


def test_compare_405b_states_both_sides_and_four_ratios(capsys):
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-405b"]) == 0
    out = capsys.readouterr().out
    assert "B: 16 GPUs in 2 nodes, tp 8 x pp 2 x ep 1, 20.4 kW, $590,000" in out     # 2 x (10.2 kW, $295,000)
    assert "A: 22 wafers, 572 kW, $55,000,000" in out                                 # 22 x (26 kW, $2.5M); 1 KiB of program a core
    line = next(l for l in out.splitlines() if l.startswith("better per user"))
    for words in ("per user", "per device", "per kW", "per dollar"):
        assert words in line


def test_two_nodes_are_named_uncalibrated():
    r = wafersim.simulate("dgx-h100", "llama-3.1-405b", gpus="auto").summary
    assert r["nodes"] == 2 and "several nodes over InfiniBand" in r["uncalibrated"]
    one = wafersim.simulate("dgx-h100", "llama-3.1-70b", gpus="auto").summary
    assert one["nodes"] == 1 and "several nodes" not in one["uncalibrated"]


def test_a_kind_without_a_band_carries_none(monkeypatch):
    import wafersim.engines.assembly as assembly
    monkeypatch.setattr(assembly, "_error_band", lambda: {"gpu/tokens_per_s_per_user":
                                                          {"rows": 0, "median_abs_error": 0.5}})
    w = wafersim.simulate("wse3", "llama-3.1-8b", layers=1).summary
    g = wafersim.simulate("dgx-h100", "llama-3.1-8b").summary
    assert "validation_error" not in w and "validation_error" not in g and "validation_rows" not in g


def test_expert_parallel_ranks_span_nodes():
    """tp 4 x ep 4 = 16 GPUs: two DGX nodes, the graph built over both (the ep group crosses them)."""
    r = wafersim.simulate("dgx-h100", "mixtral-8x7b", tp=4, ep=4, batch=8)
    assert r.summary["devices"] == 16 and r.summary["nodes"] == 2
    assert r.summary["alltoall_algorithm"] != "none"


def test_gpu_capacity_says_when_the_weights_spill():
    from wafersim.engines.gpu_memory import GpuCapacity
    m = wafersim.load_model("llama-3.1-70b")
    one = GpuCapacity(GpuMemory(wafersim.load_system("dgx-h100"), m, Scenario(tp=1).resolved(m)))
    eight = GpuCapacity(GpuMemory(wafersim.load_system("dgx-h100"), m, Scenario(tp=8).resolved(m)))
    assert not one.holds_weights(1, 1) and not one.fits(1, 1)          # 141 GB of weights on one 80 GB GPU
    assert eight.holds_weights(1, 8) and eight.fits(1, 8) and eight.device_range(1) == (8, 8)


# ---- chip joules and wall joules: one boundary each, and the wall one adds up ------------------

WALL_CASES = [
    ("wse3", "llama-3.1-70b", {"wafers": "auto", "batch": 4}),
    ("dgx-h100", "llama-3.1-70b", {"tp": 8, "batch": 8}),
    ("dgx-h100", "llama-3.1-8b", {"tp": 1, "batch": 4, "prompt_tokens": 227, "output_tokens": 194,
                                  "request_rate": 2.0}),
    ("dgx-h100", "llama-3.1-8b", {"tp": 8, "batch": 4, "speculative": 3, "acceptance": 0.7,
                                  "draft": "llama-3.2-1b"}),
]


@pytest.mark.parametrize("system,model,scen", WALL_CASES, ids=["wafer", "gpu", "gpu-under-load", "gpu-speculative"])
def test_tokens_per_s_times_wall_joules_per_token_is_the_wall_power(system, model, scen):
    spec = wafersim.load_system(system)
    s = wafersim.simulate(spec, model, **scen).summary
    units = s.get("nodes") or s["devices"]
    # the wall power is the preset's, per unit, whatever the engine did
    assert s["power_w"] == units * spec.deployment.unit_power_w
    assert s["tokens_per_s"] * s["wall_energy_per_token_j"] == pytest.approx(s["power_w"], rel=1e-12)
    assert s["wall_energy_per_token_j"] == pytest.approx(1e3 / s["tokens_per_s_per_kw"], rel=1e-12)
    # the chip's per-bit, per-FLOP and static energies lie inside the wall the deployment draws
    assert 0 < s["energy_per_token_j"] < s["wall_energy_per_token_j"]


@pytest.mark.parametrize("copies", [2, 7])
def test_wall_joules_add_up_across_data_parallel_copies(copies):
    from wafersim.headtohead import with_replicas
    s = wafersim.simulate("dgx-h100", "llama-3.1-70b", tp=8, batch=8).summary.to_dict()
    rep = with_replicas(s, copies)
    assert rep["power_w"] == copies * s["power_w"]
    assert rep["tokens_per_s"] * rep["wall_energy_per_token_j"] == pytest.approx(rep["power_w"], rel=1e-12)


def test_unknown_power_leaves_the_wall_energy_out():
    s = wafersim.load_system("wse3", {"deployment.unit_power_w": 0})
    r = wafersim.simulate(s, "llama-3.1-8b").summary
    assert "wall_energy_per_token_j" not in r and "energy_per_token_j" in r


def test_tables_label_chip_and_wall_joules(capsys):
    assert main(["run", "wse3", "llama-3.1-8b"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if "energy_per_token" in line}
    assert rows["energy_per_token_j"].endswith("J (chip)") and rows["wall_energy_per_token_j"].endswith("J (wall)")


# ---- every bundled system: a sourced power and price, each inside its range -------------------

#: presets that are test fixtures, not products: no power or price to source
FIXTURES = {"mini-wafer"}


def _products() -> list[str]:
    return [n for n in wafersim.list_presets("meshes") if n not in FIXTURES]


def test_the_fixtures_say_they_are_not_products():
    for name in FIXTURES:
        assert "not a product" in wafersim.load_system(name).description


@pytest.mark.parametrize("name", _products())
def test_every_bundled_system_has_a_power_and_price_inside_a_sourced_range(name):
    from wafersim.presets import find_preset
    d = wafersim.load_system(name).deployment
    for key in ("unit_power_w", "unit_price_usd"):
        value, span = getattr(d, key), d.figure_range(key)
        assert value > 0 and span is not None, f"{name}: {key} has no value or no range"
        assert span[0] <= value <= span[1], f"{name}: {key} = {value:g} outside {span}"
    # each figure's line in the preset names where it comes from (a source, "reported", or [u])
    text = find_preset(name, "meshes").read_text()
    for key in ("unit_power_w", "unit_price_usd", "unit_power_w_low", "unit_power_w_high",
                "unit_price_usd_low", "unit_price_usd_high"):
        line = next(line for line in text.splitlines() if line.startswith(f"{key} "))
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 3, f"{name}: {key} has no source"


def test_the_dgx_h100_is_not_charged_the_dgx_a100_launch_price():
    """$199,000 is the DGX A100's 2020 launch price; reported DGX H100 prices are ~$270-320k."""
    h100, a100 = wafersim.load_system("dgx-h100").deployment, wafersim.load_system("dgx-a100").deployment
    assert a100.unit_price_usd == 199000
    assert h100.unit_price_usd != 199000 and h100.figure_range("unit_price_usd")[0] > 199000


def test_per_dollar_and_per_kw_are_known_for_every_bundled_system():
    for name in _products():
        s = wafersim.simulate(name, "llama-3.2-1b", layers=1, batch=1).summary
        assert s["usd_per_million_tokens"] > 0 and s["tokens_per_s_per_kw"] > 0, name


@pytest.mark.parametrize("overrides,message", [
    ({"deployment.unit_price_usd_low": 5, "deployment.unit_price_usd_high": 4}, "unit_price_usd_low <= unit_price_usd_high"),
    ({"deployment.unit_power_w_low": 0}, "a range needs both ends"),
])
def test_a_range_is_two_ordered_ends(overrides, message):
    from wafersim.config import ConfigError
    with pytest.raises(ConfigError, match=message):
        wafersim.load_system("dgx-h100", overrides)


def test_a_value_outside_its_range_is_the_users_own_figure():
    s = wafersim.load_system("dgx-h100", {"deployment.unit_price_usd": 199000})
    assert s.deployment.unit_price_usd == 199000 and s.deployment.figure_range("unit_price_usd") == (270000, 320000)


def test_an_objective_that_needs_a_missing_price_is_refused_with_the_key(capsys):
    from wafersim.config import ConfigError
    from wafersim.explore import explore
    no_price = wafersim.load_system("dgx-h100", {"deployment.unit_price_usd": 0})
    with pytest.raises(ConfigError, match=r"system\.deployment\.unit_price_usd"):
        explore(no_price, "llama-3.1-8b", objective="per-dollar", budget=2)
    with pytest.raises(ConfigError, match=r"system\.deployment\.unit_power_w"):
        explore(wafersim.load_system("dgx-h100", {"deployment.unit_power_w": 0}), "llama-3.1-8b",
                objective="per-kw", budget=2)
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "1", "--basis", "equal-cost",
                 "--set", "b.deployment.unit_price_usd=0"]) == 2
    err = capsys.readouterr().err
    assert "b.deployment.unit_price_usd" in err and "internal error" not in err


# ---- allocation units below a node: a GB200 NVL72 compute tray --------------------------------

#: GB200 NVL72 by hand: 18 compute trays of 4 GPUs share the rack's ~120 kW and ~$2.5M
NVL72_TRAYS, NVL72_RACK_W, NVL72_RACK_USD = 18, 120e3, 2.5e6


def test_an_nvl72_job_is_charged_its_trays_share_of_the_rack():
    for gpus, trays in ((1, 1), (4, 1), (8, 2), (9, 3), (72, 18)):
        s = wafersim.simulate("gb200-nvl72", "llama-3.1-8b", gpus=gpus, batch=1).summary
        assert s["devices"] == gpus and s["nodes"] == 1
        assert s["power_w"] == pytest.approx(trays / NVL72_TRAYS * NVL72_RACK_W, rel=1e-3)
        assert s["cost_usd"] == pytest.approx(trays / NVL72_TRAYS * NVL72_RACK_USD, rel=1e-3)


def test_a_dgx_box_is_its_own_unit():
    s = wafersim.simulate("dgx-h100", "llama-3.1-8b", gpus=2, batch=1).summary
    assert s["power_w"] == wafersim.load_system("dgx-h100").deployment.unit_power_w


def test_compare_runs_nvl72_on_at_most_8_gpus_and_charges_their_share(capsys):
    assert main(["compare", "wse3", "gb200-nvl72", "llama-3.1-8b", "--json"]) == 0
    import json
    b = json.loads(capsys.readouterr().out)["b"]
    assert b["devices"] <= 8 and b["devices"] % 4 == 0
    assert b["power_w"] == pytest.approx(b["devices"] / 72 * NVL72_RACK_W, rel=1e-3)


def _nvl72_fits(model_name: str, gpus: int) -> bool:
    system = wafersim.load_system("gb200-nvl72")
    model = wafersim.load_model(model_name)
    sc = Scenario().resolved(model)
    return any(GpuMemory(system, model, Scenario(tp=tp, pp=pp, ep=ep).resolved(model)).memory_plan(1).fits
               for tp, pp, ep in gpu_layouts(system, model, sc, gpus))


@pytest.mark.parametrize("model", ["llama-3.1-70b", "llama-3.1-405b"])
def test_gpus_auto_on_nvl72_is_the_fewest_whole_trays_that_hold_the_job(model):
    s = wafersim.simulate("gb200-nvl72", model, gpus="auto").summary
    gpus = s["devices"]
    assert gpus % 4 == 0 and s["fits_on_chip"] and _nvl72_fits(model, gpus)
    assert gpus == 4 or not _nvl72_fits(model, gpus - 4)


def test_an_allocation_unit_divides_a_node_and_a_wafer_has_none():
    from wafersim.config import ConfigError
    with pytest.raises(ConfigError, match="divisor of interconnect.gpus_per_node"):
        wafersim.load_system("gb200-nvl72", {"deployment.unit_gpus": 5})
    with pytest.raises(ConfigError, match="applies to GPU systems"):
        wafersim.load_system("wse3", {"deployment.unit_gpus": 4})
