"""Wafer designs: area, yield and power against closed forms; the shipped designs against
the published totals and their system presets; a design variable's consequences."""

import dataclasses
import math

import pytest

from wafersim.config import ConfigError
from wafersim.design import derive, load_design, preset_text, to_system
from wafersim.design.defects import binomial_tail, core_yield
from wafersim.design.report import deviation
from wafersim.presets import load_system

MiB = 2**20


def _variant(name="wse3", **changes):
    design = load_design(name)
    return dataclasses.replace(design, **changes)


def _figures(design):
    return derive(design, load_system(design.system))


# ---- area ---------------------------------------------------------------------------------

def test_chip_is_the_square_inscribed_in_the_usable_round():
    d = load_design("wse3")
    g = _figures(d).geometry
    usable = (d.wafer.diameter_m - 2 * d.wafer.edge_exclusion_m) * 1e3
    assert g.chip_mm2 == pytest.approx(usable ** 2 / 2)            # side d / sqrt 2
    assert g.chip_mm2 == pytest.approx(45_000)                     # a 300 mm wafer, nothing excluded
    wider = _figures(dataclasses.replace(d, wafer=dataclasses.replace(d.wafer, edge_exclusion_m=0.005))).geometry
    assert wider.chip_mm2 == pytest.approx(290 ** 2 / 2)


def test_core_area_is_the_sum_of_its_parts():
    d = load_design("wse3")
    g = _figures(d).geometry
    a = d.area
    sram = d.sram_per_core / MiB * a.sram_bitcell_um2 * 1e-6 * 2**23 / a.sram_array_efficiency
    lanes = d.simd_lanes * a.lane_mm2
    router = a.router_mm2 + a.router_mm2_per_link_byte * d.link_bytes_per_cycle
    assert g.core_mm2 == pytest.approx(sram + lanes + router + a.control_mm2)
    assert g.pitch_x_mm * g.pitch_y_mm == pytest.approx(g.core_mm2)
    assert g.pitch_y_mm / g.pitch_x_mm == pytest.approx(a.core_aspect)


def test_dies_tile_the_chip_and_cores_fill_each_die():
    d = load_design("wse3")
    g = _figures(d).geometry
    scribe, edge = d.wafer.scribe_m * 1e3, d.wafer.die_edge_m * 1e3
    assert g.die_x_mm == pytest.approx(g.chip_side_mm / g.dies_x - scribe)
    assert g.dies_mm2 + g.scribe_mm2 == pytest.approx(g.chip_mm2)
    assert g.die_cols == math.floor((g.die_x_mm - 2 * edge) / g.pitch_x_mm)
    assert g.die_rows == math.floor((g.die_y_mm - 2 * edge) / g.pitch_y_mm)
    assert g.physical_cores == g.dies * g.die_cols * g.die_rows
    assert g.logical_cols == g.die_cols - d.spare_cols_per_die - d.reserved_cols_per_die


def test_the_reticle_sets_the_fewest_dies():
    g = _figures(_variant(dies_x=0, dies_y=0)).geometry
    side = g.chip_side_mm
    assert (g.dies_x, g.dies_y) == (math.ceil(side / 26.1), math.ceil(side / 33.1))     # 9 x 7
    with pytest.raises(ConfigError, match="larger than the 26 mm reticle"):
        _figures(_variant(dies_x=8))


def test_more_dies_cost_cores_to_scribe_lines_and_die_edges():
    base = _figures(load_design("wse3")).geometry
    more = _figures(_variant(dies_x=24)).geometry
    assert more.scribe_mm2 > base.scribe_mm2 and more.physical_cores < base.physical_cores


def test_fewer_cores_per_die_build_a_smaller_chip():
    base = _figures(load_design("wse3")).geometry
    d = _variant(die_cols=80, die_rows=90)
    f = _figures(d)
    g = f.geometry
    scribe, edge = d.wafer.scribe_m * 1e3, d.wafer.die_edge_m * 1e3
    assert (g.die_cols, g.die_rows) == (80, 90) and g.pitch_x_mm == pytest.approx(base.pitch_x_mm)
    assert g.die_x_mm == pytest.approx(80 * g.pitch_x_mm + 2 * edge)      # the die is built around its cores
    assert g.die_y_mm == pytest.approx(90 * g.pitch_y_mm + 2 * edge)
    assert g.chip_mm2 == pytest.approx(g.dies_x * (g.die_x_mm + scribe) * g.dies_y * (g.die_y_mm + scribe))
    assert g.dies_mm2 + g.scribe_mm2 == pytest.approx(g.chip_mm2)
    assert g.chip_mm2 < base.chip_mm2 and g.physical_cores == g.dies * 80 * 90
    assert f.power.static_w == pytest.approx(d.power.static_w_per_mm2 * g.chip_mm2)
    # as many as the die holds is the same as leaving it to the grid
    same = _figures(_variant(die_cols=base.die_cols, die_rows=base.die_rows)).geometry
    assert same.physical_cores == base.physical_cores and same.chip_mm2 <= base.chip_mm2
    with pytest.raises(ConfigError, match="do not fit"):
        _figures(_variant(die_cols=base.die_cols + 1))


# ---- yield --------------------------------------------------------------------------------

def test_core_yield_poisson_and_negative_binomial():
    d = load_design("wse3").defects
    assert core_yield(d, 0.05) == pytest.approx(math.exp(-d.density_per_mm2 * 0.05))
    clustered = dataclasses.replace(d, clustering=2.0)
    assert core_yield(clustered, 0.05) == pytest.approx((1 + d.density_per_mm2 * 0.05 / 2) ** -2)
    assert core_yield(clustered, 0.05) > core_yield(d, 0.05)         # clustered defects kill fewer cores
    loose = dataclasses.replace(d, clustering=1e6)
    assert core_yield(loose, 0.05) == pytest.approx(core_yield(d, 0.05), rel=1e-9)


@pytest.mark.parametrize("n,p,s", [(10, 0.1, 0), (10, 0.1, 2), (107, 1e-3, 1), (30, 0.5, 14)])
def test_binomial_tail_matches_the_naive_sum(n, p, s):
    naive = 1 - sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(s + 1))
    assert binomial_tail(n, p, s) == pytest.approx(naive, rel=1e-9)


def test_without_spares_every_core_must_work():
    f = _figures(_variant(spare_cols_per_die=0))
    g, y = f.geometry, f.defects
    assert y.wafer_yield == pytest.approx(y.core_yield ** g.physical_cores, rel=1e-9)
    assert y.wafer_yield < 0.01                  # ~43 expected failures: a spare-free wafer almost never forms
    assert _figures(load_design("wse3")).defects.wafer_yield > 0.999


# ---- power --------------------------------------------------------------------------------

def test_power_is_static_plus_dynamic_at_the_activity():
    d = _variant(activity=0.5)
    f = _figures(d)
    p, n = f.power, f.enabled_cores
    read = f.sram_read_bytes_per_cycle
    assert p.static_w == pytest.approx(d.power.static_w_per_mm2 * f.geometry.chip_mm2)
    assert p.sram_w == pytest.approx(0.5 * n * d.clock * read * 8 * d.power.sram_j_per_bit)
    assert p.flop_w == pytest.approx(0.5 * n * d.clock * 2 * d.simd_lanes * d.power.flop_j)
    assert p.system_w == pytest.approx(p.chip_w / d.power.delivery_efficiency + d.power.system_overhead_w
                                       + d.io_ports * d.power.io_port_w)


def test_the_envelope_derates_the_clock():
    d = _variant(simd_lanes=16)                 # twice the SIMD: the same envelope, more FLOP power
    f = _figures(d)
    p = f.power
    asked = _figures(_variant(simd_lanes=16, power=dataclasses.replace(d.power, envelope_w=1e6))).power
    dynamic = asked.sram_w + asked.flop_w
    assert p.clock_hz == pytest.approx(d.clock * (d.power.envelope_w - p.static_w) / dynamic)
    assert p.chip_w == pytest.approx(d.power.envelope_w)
    assert p.derating < 1
    assert to_system(d).system.core.clock_hz == p.clock_hz


def test_static_power_that_fills_the_envelope_is_refused():
    d = load_design("wse3")
    with pytest.raises(ConfigError, match="static power alone"):
        _figures(dataclasses.replace(d, power=dataclasses.replace(d.power, static_w_per_mm2=1.0)))


# ---- calibration against the published wafers --------------------------------------------

@pytest.mark.parametrize("name", ["wse2", "wse3"])
def test_designs_reproduce_the_published_totals(name):
    d = load_design(name)
    f = _figures(d)
    pub = d.published
    assert abs(deviation(f.geometry.chip_mm2, pub.area_mm2)) < 0.10
    assert abs(deviation(f.enabled_cores, pub.enabled_cores)) < 0.10
    assert abs(deviation(f.sram_bytes, pub.sram_bytes)) < 0.10
    assert abs(deviation(f.power.chip_w, pub.chip_power_w)) < 0.10
    assert abs(deviation(f.power.system_w, pub.system_power_w)) < 0.10
    if pub.physical_cores:
        assert abs(deviation(f.geometry.physical_cores, pub.physical_cores)) < 0.10
    assert f.power.derating == 1.0               # the presets' clocks fit their envelopes


def test_wse3_design_reproduces_other_reports():
    f = _figures(load_design("wse3"))
    assert abs(deviation(f.power.system_w, 20e3)) < 0.10        # ~20 kW is also reported per CS-3
    assert f.io_bandwidth_bytes_per_s == pytest.approx(1.2e12 / 8)


def test_wse3_design_gives_the_wse3_preset():
    designed = to_system(load_design("wse3"))
    preset = load_system("wse3")
    assert designed.system == preset
    g = designed.figures.geometry
    assert (g.cores_y, g.cores_x, g.dies_y, g.dies_x) == (756, 1176, 7, 12)


@pytest.mark.parametrize("name", ["wse2", "wse3"])
def test_design_energies_agree_with_the_presets(name):
    """The design's own per-operation energies and envelope, before any are moved onto the
    preset, are the preset's within 5 %."""
    f = _figures(load_design(name))
    preset = load_system(name)
    e = preset.energy
    assert f.power.link_j_per_bit == pytest.approx(e.link_j_per_bit, rel=0.05)
    assert f.power.static_w == pytest.approx(e.static_power_w, rel=0.05)
    assert f.design.power.envelope_w == e.tdp_w
    assert f.design.sram_per_core == preset.core.sram_bytes
    assert 2 * f.design.simd_lanes == preset.core.flops_per_cycle_16bit
    assert f.design.clock == preset.core.clock_hz
    assert f.design.link_bytes_per_cycle == preset.mesh.link_bytes_per_cycle


def test_wse2_design_follows_cerebras_totals_not_the_sdk_grid():
    designed = to_system(load_design("wse2"))
    assert designed.system.cores > load_system("wse2").cores     # the preset's mesh is the SDK grid
    assert designed.system.core == load_system("wse2").core


# ---- design variables have consequences ---------------------------------------------------

def test_twice_the_sram_costs_cores_and_money():
    base = to_system(load_design("wse3"))
    big = to_system(load_design("wse3", {"sram_per_core": "96 KiB"}))
    b, v = base.system, big.system
    assert v.cores < b.cores
    assert v.sram_bytes > b.sram_bytes                   # fewer cores, more memory in all
    assert v.peak_flops() < b.peak_flops()
    assert v.deployment.unit_price_usd > b.deployment.unit_price_usd
    assert big.figures.defects.wafer_yield < base.figures.defects.wafer_yield
    assert v.energy.sram_j_per_bit == pytest.approx(b.energy.sram_j_per_bit * math.sqrt(2))
    assert v.deployment.unit_power_w - b.deployment.unit_power_w == pytest.approx(
        big.figures.power.system_w - base.figures.power.system_w)


def test_a_faster_clock_costs_power():
    base = to_system(load_design("wse3", {"power.envelope_w": "30 kW"}))
    fast = to_system(load_design("wse3", {"power.envelope_w": "30 kW", "clock": "1.3 GHz"}))
    assert fast.figures.power.clock_hz == pytest.approx(1.3e9)
    assert fast.system.deployment.unit_power_w > base.system.deployment.unit_power_w
    dyn = lambda p: p.sram_w + p.flop_w         # noqa: E731
    assert dyn(fast.figures.power) == pytest.approx(dyn(base.figures.power) * 1.3 / 1.1)


def test_edge_io_and_links_reach_the_system():
    s = to_system(load_design("wse3", {"io_ports": 24, "link_bytes_per_cycle": 8})).system
    assert s.external_memory.io_bandwidth_bytes_per_s == pytest.approx(2 * 1.2e12 / 8)
    assert s.interwafer.bandwidth_bytes_per_s == pytest.approx(2 * 1.2e12 / 8)
    assert s.mesh.link_bytes_per_cycle == 8 and s.scribe.link_bytes_per_cycle == 8
    assert s.cores < load_system("wse3").cores            # wider routers take core area


def test_written_preset_loads_as_the_designed_system(tmp_path):
    designed = to_system(load_design("wse3", {"sram_per_core": "96 KiB"}), name="wse3-96k")
    path = tmp_path / "wse3-96k.toml"
    path.write_text(preset_text(designed, "wafersim design wse3"))
    loaded = load_system(str(path))
    assert loaded == designed.system


def test_bad_design_input_is_named():
    with pytest.raises(ConfigError, match="sram_per_core"):
        load_design("wse3", {"sram_per_core": "lots"})
    with pytest.raises(ConfigError, match="expected smaller cores"):
        to_system(load_design("wse3", {"sram_per_core": "64 MiB"}))
    with pytest.raises(ConfigError, match="cost.wafer_usd"):
        load_design("wse3", {"cost.wafer_usd": 1e6})


# ---- external memory: HBM stacks at the edge ---------------------------------------------

def test_hbm_stacks_add_capacity_bandwidth_power_and_cost_in_closed_form():
    plain, hbm = to_system(load_design("wse3")), to_system(_variant(hbm_stacks=8))
    one = hbm.figures.design.hbm
    f, ext, base = hbm.figures, hbm.system.external_memory, plain.system.external_memory
    assert f.hbm_bytes == pytest.approx(8 * one.capacity_bytes) and one.capacity_bytes == pytest.approx(36e9)
    assert f.hbm_bandwidth_bytes_per_s == pytest.approx(8 * one.bandwidth_bytes_per_s)
    assert f.hbm_mm2 == pytest.approx(8 * one.footprint_mm2)
    assert ext.capacity_bytes == pytest.approx(base.capacity_bytes + 8 * one.capacity_bytes)
    assert ext.io_bandwidth_bytes_per_s == pytest.approx(base.io_bandwidth_bytes_per_s + 8 * one.bandwidth_bytes_per_s)
    # a spill streams over both in proportion to their bandwidth: the energy per bit is their weighted mean
    hbm_j = one.power_w / (8 * one.bandwidth_bytes_per_s)
    assert ext.energy_j_per_bit == pytest.approx(
        (base.energy_j_per_bit * base.io_bandwidth_bytes_per_s + hbm_j * 8 * one.bandwidth_bytes_per_s)
        / ext.io_bandwidth_bytes_per_s)
    # the chip is untouched; the stacks' power and cost are added to the system's
    assert f.power.chip_w == pytest.approx(plain.figures.power.chip_w)
    assert f.power.system_w - plain.figures.power.system_w == pytest.approx(8 * one.power_w)
    assert f.cost.total_usd - plain.figures.cost.total_usd == pytest.approx(8 * one.usd)
    assert f.cost.low_usd - plain.figures.cost.low_usd == pytest.approx(8 * one.usd_low)
    assert f.cost.high_usd - plain.figures.cost.high_usd == pytest.approx(8 * one.usd_high)
    dep, dep0 = hbm.system.deployment, plain.system.deployment
    assert dep.unit_power_w - dep0.unit_power_w == pytest.approx(8 * one.power_w)
    assert dep.unit_price_usd / dep0.unit_price_usd == pytest.approx(f.cost.total_usd / plain.figures.cost.total_usd)
    # the interwafer links are the I/O ports', not the stacks'
    assert hbm.system.interwafer == plain.system.interwafer
    assert hbm.system.cores == plain.system.cores


def test_no_hbm_stacks_keeps_the_presets_external_memory():
    for name in ("wse2", "wse3"):
        d = load_design(name)
        assert d.hbm_stacks == 0
        assert to_system(d).system.external_memory.capacity_bytes == load_system(name).external_memory.capacity_bytes


def test_hbm_stacks_must_fit_beside_the_chip_and_need_a_stack():
    d = load_design("wse3")
    room = math.pi * 300 ** 2 / 4 - 45_000                        # the usable round outside the chip's square
    fits = int(room // d.hbm.footprint_mm2)
    _figures(dataclasses.replace(d, hbm_stacks=fits))
    with pytest.raises(ConfigError, match="hbm_stacks"):
        _figures(dataclasses.replace(d, hbm_stacks=fits + 1))
    with pytest.raises(ConfigError, match=r"\[hbm\]"):
        load_design("wse3", {"hbm_stacks": 4, "hbm.capacity_bytes": 0})
