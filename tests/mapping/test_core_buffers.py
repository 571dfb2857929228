"""Per-core SRAM budget: code, routing buffers and the decode activation tile, the same in
the memory plan (analytic) and the per-core placement (flow); the flat reserve as an override."""

from __future__ import annotations

from pathlib import Path

import pytest

import wafersim
from wafersim import MappingOptions, Scenario
from wafersim.config import ConfigError
from wafersim.engines import flow
from wafersim.engines.wafer_memory import WaferCapacity, WaferMemory
from wafersim.mapping.placement import place

DATA = Path(__file__).resolve().parent.parent / "data"
SRAM, CODE, ROUTING = 48 * 1024, 1024, 1024           # mini-wafer's preset


def _job(batch, placement="pipelined", kv="local", overrides=None, prompt=200):
    system = wafersim.load_system("mini-wafer", overrides or {})
    model = wafersim.load_model(str(DATA / "tiny-llama.toml"))
    sc = Scenario(batch=batch, prompt_tokens=prompt, output_tokens=16).resolved(model)
    return system, model, sc, MappingOptions(placement=placement, kv=kv)


def test_sequential_tile_by_hand():
    """Sequential: every layer on the whole 16 x 16 block, the whole batch at once.  The widest
    stage of tiny-llama is the gated MLP's up projection, 256 -> 2 x 512: a token puts
    (256 + 1024) / 16 = 80 values of 2 bytes on a core, so a batch of b keeps 160 b bytes."""
    for batch in (1, 3, 16):
        system, model, sc, mapping = _job(batch, "sequential")
        pl = place(system, model, sc, mapping, batch, 1)
        assert pl.core_buffer_bytes == CODE + ROUTING + 160 * batch
        assert pl.core_capacity_bytes == SRAM - CODE - ROUTING - 160 * batch


@pytest.mark.parametrize("placement,kv", [("pipelined", "local"), ("pipelined", "pooled"),
                                          ("sequential", "local"), ("streaming", "local")])
@pytest.mark.parametrize("batch,prompt", [(1, 200), (8, 2000), (64, 4000)])
def test_every_core_adds_up_to_its_sram(placement, kv, batch, prompt):
    """Weights + KV + buffers + free = SRAM on every core of the block, nothing negative."""
    system, model, sc, mapping = _job(batch, placement, kv, prompt=prompt)
    pl = place(system, model, sc, mapping, batch, 1)
    w, k, free = pl.core_weight_bytes, pl.core_kv_bytes, pl.free_bytes()
    assert w.shape == k.shape == free.shape == (1, *pl.block)
    assert (free >= 0).all() and pl.core_buffer_bytes > CODE + ROUTING
    assert ((w + k + pl.core_buffer_bytes + free) == SRAM).all()


@pytest.mark.parametrize("placement", ["pipelined", "sequential"])
def test_analytic_and_flow_capacity_agree(placement):
    """The memory plan's SRAM is the placement's per-core capacity on every core of the block,
    and both engines size the same largest batch."""
    system, model, sc, mapping = _job(1, placement, prompt=400)
    mem = WaferMemory(system, model, sc, mapping)
    for batch in (1, 4, 32):
        plan = mem.memory_plan(batch, 1)
        pl = place(system, model, sc, mapping, batch, 1)
        assert plan.capacity_bytes == pl.block[0] * pl.block[1] * pl.core_capacity_bytes
        assert plan.fits == pl.fits
    analytic = WaferCapacity(WaferMemory(system, model, sc, mapping)).largest_batch(1)
    assert analytic == flow.capacity(system, model, sc, mapping).largest_batch(1) > 1


def test_larger_batch_keeps_less_for_weights_and_kv():
    system, model, sc, mapping = _job(1, "pipelined")
    caps = [place(system, model, sc, mapping, b, 1).core_capacity_bytes for b in (1, 8, 64)]
    assert caps[0] > caps[1] > caps[2]


def test_flat_reserve_still_overrides_the_budget():
    """core.reserved_sram_fraction = 0.125 keeps 6 KiB of 48 KiB whatever the batch."""
    over = {"core.reserved_sram_fraction": 0.125}
    for batch in (1, 64):
        system, model, sc, mapping = _job(batch, overrides=over)
        pl = place(system, model, sc, mapping, batch, 1)
        assert pl.core_buffer_bytes == 6144 and pl.core_capacity_bytes == SRAM - 6144
    assert wafersim.load_system("mini-wafer", over).core.usable_sram_bytes == SRAM - 6144


@pytest.mark.parametrize("key,value,match", [("core.reserved_sram_fraction", -0.5, "-1"),
                                             ("core.code_bytes", "48 KiB", "take all"),
                                             ("core.routing_buffer_bytes", -1, ">= 0")])
def test_bad_buffers_are_refused(key, value, match):
    with pytest.raises(ConfigError, match=match):
        wafersim.load_system("mini-wafer", {key: value})


@pytest.mark.parametrize("system,model,batch,wafers", [
    ("wse2", "llama-3.1-8b", 1024, 1), ("wse2", "llama-3.1-8b", 256, 2), ("wse3", "llama-3.1-8b", 64, 1),
    ("wse3", "llama-3.1-70b", 16, 4), ("mini-wafer", "llama-3.1-8b", 4, 1)])
def test_the_tile_is_never_smaller_than_the_final_regions_need(system, model, batch, wafers):
    """The head's band follows the room the buffers leave, so the layer regions can change
    shape between layout passes: the stored buffers must cover the tile of the final shapes."""
    from wafersim.mapping.buffers import core_buffers
    from wafersim.mapping.placement import _layer_shapes, layout
    from wafersim.presets import load_model, load_system

    s, m = load_system(system), load_model(model)
    sc = Scenario(batch=batch, prompt_tokens=2048, output_tokens=128, wafers=wafers).resolved(m)
    mapping = MappingOptions()
    lay = layout(s, m, sc, mapping, batch, wafers)
    assert lay.core_buffer_bytes >= core_buffers(s, m, sc, mapping, batch, _layer_shapes(lay))
