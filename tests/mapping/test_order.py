"""``mapping.order``: where consecutive layer regions sit, and what the hand-off between them costs.

The small block is tests/data/scribe-wafer.toml (64 x 64 cores, dies of 32 x 32, a hop 2
cycles, a scribe crossing 10 more, 1 GHz) running 6 layers of tests/data/tiny-llama.toml made
7 deep (so no head band): two bands of three 32 x 21 regions.  In snake order the second band
runs right to left, so layer 3 sits right below layer 2; in raster order it starts at the left,
so the hand-off from layer 2 (columns 42-62) to layer 3 (columns 0-20) travels 42 more columns.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import wafersim
from wafersim.config import ConfigError, build
from wafersim.dataflow.lower import lower_pass
from wafersim.engines.flow import _Timer, physical_mesh
from wafersim.mapping.options import MappingOptions
from wafersim.mapping.placement import _bands, handoff_extra_hops, place
from wafersim.workload.scenario import Scenario

DATA = Path(__file__).resolve().parent.parent / "data"
CLK, HOP, EXTRA, DIE = 1e9, 2, 10, 32          # tests/data/scribe-wafer.toml
D, ACT, E_LINK = 256, 2, 0.1e-12               # tiny-llama hidden size, bf16 activations, link pJ/bit
WIDTH, PER_BAND = 21, 3                        # 64 // 3 columns per region, regions per band


def _small():
    system = wafersim.load_system(str(DATA / "scribe-wafer.toml"))
    model = wafersim.load_model(str(DATA / "tiny-llama.toml"), {"num_layers": 7})
    return system, model


def _place(order: str):
    system, model = _small()
    sc = replace(Scenario(layers=6).resolved(model), batch=1, wafers=1)
    return system, model, sc, place(system, model, sc, MappingOptions(order=order), 1, 1)


def test_orders_lay_the_same_regions_in_other_places():
    _, _, _, snake = _place("snake")
    _, _, _, raster = _place("raster")
    boxes = lambda pl: list(zip(pl.region_y0.tolist(), pl.region_x0.tolist(),  # noqa: E731
                                pl.region_rows.tolist(), pl.region_cols.tolist()))
    assert boxes(snake) == [(0, 0, 32, 21), (0, 21, 32, 21), (0, 42, 32, 21),
                            (32, 42, 32, 21), (32, 21, 32, 21), (32, 0, 32, 21)]
    assert boxes(raster) == [(0, 0, 32, 21), (0, 21, 32, 21), (0, 42, 32, 21),
                             (32, 0, 32, 21), (32, 21, 32, 21), (32, 42, 32, 21)]
    assert sorted(boxes(snake)) == sorted(boxes(raster))
    # the same bytes on the same cores, region for region
    assert np.array_equal(np.sort(snake.core_weight_bytes, axis=None), np.sort(raster.core_weight_bytes, axis=None))


@pytest.mark.parametrize("n, rows, cols", [(6, 64, 64), (32, 756, 1176), (80, 700, 700), (7, 10, 30), (3, 64, 64), (61, 400, 900)])
def test_extra_hops_are_zero_in_snake_and_a_band_width_per_turn_in_raster(n, rows, cols):
    """Snake: consecutive cells always share an edge.  Raster: every band's end to the next
    band's start costs the distance between their centres less one step across the bands."""
    snake = handoff_extra_hops([(0, *c) for c in _bands(n, rows, cols, "snake")], n)
    assert not snake.any()
    cells = _bands(n, rows, cols, "raster")
    extra = handoff_extra_hops([(0, *c) for c in cells], n)
    want = np.zeros((n, 2))
    for i in range(1, n):
        (ya, xa, ha, wa), (yb, xb, hb, wb) = cells[i - 1], cells[i]
        if yb != ya:              # a new band, right below, starting at the left
            assert (xb, yb) == (0, ya + ha)
            if xa > wb:           # the columns of the two cells do not meet, not even at a corner
                want[i, 0] = (xa + wa / 2) - (xb + wb / 2)
    assert np.array_equal(extra, want)
    assert extra[:, 1].sum() == 0.0


def test_analytic_handoff_pays_the_raster_turn_in_closed_form():
    """One turn of 2 x 21 = 42 columns more: 42 hops of 2 cycles and 42 / 32 die crossings of
    10 cycles on average, once per decode step (batch 1: one micro-batch); the link energy
    grows by the hidden vector's bits over those 42 hops."""
    system, model = _small()
    runs = {o: wafersim.simulate(system, model, layers=6, batch=1, prompt_tokens=64, output_tokens=16,
                                 mapping={"order": o}) for o in ("snake", "raster")}
    turn = (PER_BAND - 1) * WIDTH
    assert turn == 42
    extra_s = (turn * HOP + turn / DIE * EXTRA) / CLK
    s, r = runs["snake"].summary, runs["raster"].summary
    assert r["tpot_s"] - s["tpot_s"] == pytest.approx(extra_s, rel=1e-9)
    assert (runs["raster"].decode.components["mesh_latency"] - runs["snake"].decode.components["mesh_latency"]
            == pytest.approx(extra_s, rel=1e-9))
    assert r["energy_links_j"] - s["energy_links_j"] == pytest.approx(8 * D * ACT * turn * E_LINK, rel=1e-9)
    assert r["fits_on_chip"] and s["fits_on_chip"] and r["kv_bytes"] == s["kv_bytes"]


def test_flow_routes_the_handoff_between_the_actual_regions():
    """Every hand-off transfer leaves region i and lands in region i + 1, wherever they are; the
    one from layer 2 to layer 3 travels 42 more columns in raster order, every slice crossing
    the die boundary at column 32 once, so its longest path is 42 x 2 + 10 cycles longer."""
    lat = {}
    for order in ("snake", "raster"):
        system, model, sc, pl = _place(order)
        prog = lower_pass(pl, model, sc, 1, 72.0, 72.0)
        t, reg = prog.handoff.transfers, prog.handoff.transfer_region
        for y, x, i in ((t.src_y, t.src_x, reg), (t.dst_y, t.dst_x, reg + 1)):
            assert np.all((pl.region_y0[i] <= y) & (y < pl.region_y0[i] + pl.region_rows[i]))
            assert np.all((pl.region_x0[i] <= x) & (x < pl.region_x0[i] + pl.region_cols[i]))
        lat[order] = _Timer(system, physical_mesh(system), pl, sc.dtype).run(prog)["parts"]["handoff_latency"]
    assert lat["raster"][2] - lat["snake"][2] == pytest.approx((42 * HOP + EXTRA) / CLK, rel=1e-9)


def test_flow_and_analytic_agree_raster_is_slower_on_wse3():
    a = {o: wafersim.simulate("wse3", "llama-3.1-8b", mapping={"order": o}) for o in ("snake", "raster")}
    f = {o: wafersim.simulate("wse3", "llama-3.1-8b", mapping={"order": o}, fidelity="flow")
         for o in ("snake", "raster")}
    assert a["raster"].summary["tpot_s"] > a["snake"].summary["tpot_s"]
    assert f["raster"].summary["tpot_s"] > f["snake"].summary["tpot_s"]


@pytest.mark.parametrize("placement", ["sequential", "streaming"])
def test_order_changes_nothing_without_layer_regions(placement):
    runs = [wafersim.simulate("wse3", "llama-3.1-8b", mapping={"placement": placement, "order": o}).summary
            for o in ("snake", "raster")]
    assert runs[0]["tpot_s"] == runs[1]["tpot_s"] and runs[0]["ttft_s"] == runs[1]["ttft_s"]


def test_bad_order_names_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"order.*snake.*raster"):
        build(MappingOptions, {"order": "zigzag"}, "mapping")
