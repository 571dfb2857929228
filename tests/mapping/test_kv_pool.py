"""``mapping.kv = "pooled"``: every layer's KV cache over the free SRAM of the whole block.

Checked against exact conservation (every byte on a core or spilled), a naive proportional
split, the analytic memory plan, and closed forms of the fetch on the small test wafer
(tests/data/scribe-wafer.toml: 64 x 64 cores, dies of 32, links of 4 B/cycle on a die and
1 B/cycle across the scribe line, hops of 2 cycles and 10 more per crossing, 1 GHz).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import wafersim
from wafersim.config import ConfigError, build
from wafersim.dataflow.lower import KV_POOL_STAGE, lower_pass, pool_flows
from wafersim.mapping.options import MappingOptions
from wafersim.mapping.placement import layout, place, pool_shares
from wafersim.workload.scenario import Scenario

DATA = Path(__file__).resolve().parent.parent / "data"
SCRIBE_BPS, CLK = 1e9, 1e9


def _job(name="llama-3.1-8b"):
    system, model = wafersim.load_system("wse3"), wafersim.load_model(name)
    return system, model, Scenario().resolved(model)


@pytest.mark.parametrize("region, batch, wafers", [("", 1, 1), ("", 64, 1), ("128x128", 64, 1), ("64x64", 8, 1),
                                                   ("128x128", 200, 2), ("", 4000, 1)])
def test_every_byte_is_on_a_core_or_spilled(region, batch, wafers):
    system, model, sc = _job()
    pl = place(system, model, sc, MappingOptions(kv="pooled", region=region), batch, wafers)
    total = int(pl.region_weight_bytes.sum() + pl.region_kv_bytes.sum())
    assert int(pl.core_weight_bytes.sum() + pl.core_kv_bytes.sum()) + pl.total_spilled_bytes == total
    assert int(pl.core_kv_bytes.sum()) + int(pl.spilled_kv_bytes.sum()) == int(pl.region_kv_bytes.sum())
    assert (pl.free_bytes() >= 0).all() and (pl.spilled_kv_bytes >= 0).all()
    assert (pl.spilled_kv_bytes <= pl.region_kv_bytes).all()
    # the same weights as a local placement, core for core
    local = place(system, model, sc, MappingOptions(region=region), batch, wafers)
    assert np.array_equal(local.core_weight_bytes, pl.core_weight_bytes)
    # KV spills only once every core of its wafer's block is full (each wafer pools its own)
    for wi in range(wafers):
        if pl.spilled_kv_bytes[pl.region_wafer == wi].sum():
            assert pl.free_bytes()[wi].sum() == 0
    # the analytic memory plan holds the same bytes
    sw, skv = layout(system, model, sc, MappingOptions(kv="pooled", region=region), batch, wafers).region_spill(
        pooled=True)
    assert np.array_equal(sw, pl.spilled_weight_bytes) and np.array_equal(skv, pl.spilled_kv_bytes)


def test_pool_fills_in_proportion_to_free_bytes():
    free = np.array([[0, 3, 7], [10, 1, 0]], dtype=np.int64)
    got = pool_shares(free, 15)
    assert got.sum() == 15 and (got <= free).all()
    assert np.all(np.abs(got - free * 15 / free.sum()) < 1)       # within a byte of the exact share
    assert np.array_equal(pool_shares(free, int(free.sum())), free)
    with pytest.raises(ValueError):
        pool_shares(free, int(free.sum()) + 1)


def test_pooled_keeps_on_chip_what_capped_regions_spill():
    """8B at batch 64 with 128 x 128 regions: a region holds its weights and little KV, so local
    KV spills through edge I/O; the pool (the rest of the region cells, the spare rows) holds it."""
    for fidelity in ("analytic", "flow"):
        local = wafersim.simulate("wse3", "llama-3.1-8b", batch=64, mapping={"region": "128x128"}, fidelity=fidelity)
        pooled = wafersim.simulate("wse3", "llama-3.1-8b", batch=64, mapping={"region": "128x128", "kv": "pooled"},
                                   fidelity=fidelity)
        assert not local.summary["fits_on_chip"] and pooled.summary["fits_on_chip"]
        assert pooled.summary["tpot_s"] < local.summary["tpot_s"] / 5
    # where local fits, the pool only adds the fetch
    local = wafersim.simulate("wse3", "llama-3.1-8b", batch=8)
    pooled = wafersim.simulate("wse3", "llama-3.1-8b", batch=8, mapping={"kv": "pooled"})
    assert pooled.summary["tpot_s"] > local.summary["tpot_s"]
    assert pooled.summary["ttft_s"] == local.summary["ttft_s"]       # prefill reads no cached KV


def test_pool_flows_carry_each_rows_share_into_the_region():
    pool = np.zeros((8, 10), dtype=np.int64)
    pool[:, 0] = 4
    pool[:, 9] = 4
    pool[3, 5] = 8
    sy, sx, dy, dx, nb, _ = pool_flows(pool, 2, 4, 3, 2, 1000.0)
    assert nb.sum() == pytest.approx(1000.0)
    assert np.all((2 <= dy) & (dy < 5) & (4 <= dx) & (dx < 6))
    for y in range(8):                                  # each row's bytes in proportion to its pool
        assert nb[sy == y].sum() == pytest.approx(1000.0 * pool[y].sum() / pool.sum())
    # sources are a row's first and last cores holding KV
    assert set(sx.tolist()) == {0, 9}


def test_flow_fetch_is_routed_per_region_over_the_block():
    system, model, sc = _job()
    sc = replace(sc, batch=4, wafers=1)
    pl = place(system, model, sc, MappingOptions(kv="pooled"), 4, 1)
    prog = lower_pass(pl, model, sc, 4, 100.0, 400.0)
    fetch = [sb for sb in prog.stages if sb.name == KV_POOL_STAGE]
    assert len(fetch) == 1
    kvl = model.kv_bytes_per_token_layer(sc.kv_dtype)
    for i in range(pl.layers):
        sel = fetch[0].transfer_region == i
        assert fetch[0].transfers.nbytes[sel].sum() == pytest.approx(400.0 * kvl)
    r = wafersim.simulate("wse3", "llama-3.1-8b", batch=4, mapping={"kv": "pooled"}, fidelity="flow")
    stages = r.arrays["decode_stage_s"]
    assert stages.labels["stage"][-1] == KV_POOL_STAGE and stages.data.shape[1] == len(stages.labels["stage"])
    assert (stages.data[:, -1] > 0).all()


def test_analytic_pool_terms_in_closed_form():
    """Small wafer, 2 layers of tiny-llama, batch 1: the step's pool bound is the KV of every
    token-layer over 2 x 64 rows of 1 B/cycle scribe-bound links; the fetch latency the farthest
    pool core's path, averaged over both regions."""
    system = wafersim.load_system(str(DATA / "scribe-wafer.toml"))
    model = wafersim.load_model(str(DATA / "tiny-llama.toml"), {"num_layers": 3})
    sc = replace(Scenario(layers=2, prompt_tokens=64, output_tokens=16).resolved(model), batch=1, wafers=1)
    from wafersim.engines.analytic_wafer import AnalyticWafer
    eng = AnalyticWafer(system, model, sc, MappingOptions(kv="pooled"))
    kvl = 2 * 128 * 2
    assert eng.pool_links_time(1000.0, 1) == pytest.approx(1000.0 * kvl / (2 * 64 * SCRIBE_BPS), rel=1e-12)
    lay = eng.memory.layout(1, 1)
    boxes = list(zip(lay.region_y0[:2].tolist(), lay.region_x0[:2].tolist(), lay.region_rows[:2].tolist(),
                     lay.region_cols[:2].tolist()))
    assert boxes == [(0, 0, 64, 32), (0, 32, 64, 32)]
    # farthest x: 63 and 63 hops; y: the regions span every row, 0
    lat, link, bits = eng.pool_fetch(4096.0, 1)
    assert lat == pytest.approx((63 * 2 + 63 / 32 * 10) / CLK, rel=1e-12)
    assert link == pytest.approx(4096.0 / (32 * SCRIBE_BPS), rel=1e-12)
    assert bits == pytest.approx(8 * 4096.0 * 128 / 3, rel=1e-12)


def test_flow_and_analytic_agree_on_the_pool_step():
    a = wafersim.simulate("wse3", "llama-3.1-8b", batch=64, mapping={"kv": "pooled"})
    f = wafersim.simulate("wse3", "llama-3.1-8b", batch=64, mapping={"kv": "pooled"}, fidelity="flow")
    assert 0.6 < f.summary["tpot_s"] / a.summary["tpot_s"] < 1.6


@pytest.mark.parametrize("placement", ["sequential", "streaming"])
def test_pooled_changes_nothing_where_layers_share_the_block(placement):
    runs = [wafersim.simulate("wse3", "llama-3.1-8b", batch=8, mapping={"placement": placement, "kv": kv}).summary
            for kv in ("local", "pooled")]
    assert runs[0]["tpot_s"] == runs[1]["tpot_s"] and runs[0]["fits_on_chip"] == runs[1]["fits_on_chip"]


def test_bad_kv_names_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"kv.*local.*pooled"):
        build(MappingOptions, {"kv": "shared"}, "mapping")
