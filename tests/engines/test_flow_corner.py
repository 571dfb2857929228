"""A flow run on a block of a large wafer holds its per-core and per-link arrays for the block
(and the mesh it routed) only; read whole, they are the wafer's arrays, zero where nothing ran."""

import re

import numpy as np
import pytest

import wafersim
from wafersim import MappingOptions, Scenario
from wafersim.hardware.directions import DIRECTIONS
from wafersim.mapping.placement import place
from tests.specs import simulate_one

BLOCK = (100, 100)
CORES = ("sram_weight_bytes", "sram_kv_bytes", "sram_free_bytes")
LINKS = ("link_load_bytes", "link_utilisation")


@pytest.fixture(scope="module")
def block_run():
    system, model = wafersim.load_system("wse3"), wafersim.load_model("llama-3.1-8b")
    mapping = {"cores": f"{BLOCK[0]}x{BLOCK[1]}"}
    run = simulate_one(system, model, fidelity="flow", mapping=mapping)
    sc = Scenario(**{k: run.config["scenario"][k] for k in ("batch", "prompt_tokens", "output_tokens")}).resolved(model)
    pl = place(system, model, sc, MappingOptions(cores=mapping["cores"]), sc.batch, 1)
    return system, run, pl


def test_only_the_block_is_held_and_the_whole_wafer_reads_back(block_run):
    system, run, pl = block_run
    wafer = (1, system.mesh.cores_y, system.mesh.cores_x)
    for name in CORES:
        a = run.arrays[name]
        assert a.stored.shape == (1, *BLOCK) and a.shape == wafer, name
        whole = a.data
        assert whole.shape == wafer and whole.dtype == np.int64
        assert np.array_equal(whole[:, :BLOCK[0], :BLOCK[1]], a.stored)
        assert whole.sum() == a.stored.sum() and not whole[:, BLOCK[0]:].any() and not whole[:, :, BLOCK[1]:].any()
    for name in LINKS:
        a = run.arrays[name]
        assert a.shape == (*wafer, len(DIRECTIONS)) and a.stored.size < a.data.size // 2, name
        # the routed corner as held; nothing outside it
        assert np.array_equal(a.data[a.corner], a.stored) and np.count_nonzero(a.data) == np.count_nonzero(a.stored)
        assert np.count_nonzero(a.stored) > 0


def test_the_whole_arrays_hold_every_byte_where_the_placement_puts_it(block_run):
    """Read whole, the per-core arrays add up region by region (a naive walk over the wafer's
    cores) to what each region holds on chip, and to the run's bytes less the spill."""
    _, run, pl = block_run
    w, kv, free = (run.arrays[n].data for n in CORES)
    s = run.summary
    assert int(w.sum() + kv.sum()) + s["spilled_bytes"] == pytest.approx(s["weight_bytes"] + s["kv_bytes"], abs=1)
    for i in range(pl.regions):
        y0, x0, r, c = (int(run.arrays[k].data[i]) for k in ("region_y0", "region_x0", "region_rows", "region_cols"))
        wi = int(run.arrays["region_wafer"].data[i])
        on_chip = int(w[wi, y0:y0 + r, x0:x0 + c].sum())
        assert on_chip + int(run.arrays["region_spilled_weight_bytes"].data[i]) == int(pl.region_weight_bytes[i])
    # every core of the block: weights + KV + free = what the buffers leave; outside, nothing
    used = np.zeros(w.shape, bool)
    used[:, :BLOCK[0], :BLOCK[1]] = True
    assert ((w + kv + free)[used] == pl.core_capacity_bytes).all() and not (w + kv + free)[~used].any()


def test_the_busiest_link_is_where_the_whole_link_array_peaks(block_run):
    _, run, _ = block_run
    share = run.arrays["link_utilisation"].data
    note = next(n for n in run.notes if n.startswith("busiest link"))
    wi, y, x, d = re.search(r"wafer (\d+) core \((\d+), (\d+)\) (\w+)", note).groups()
    assert share[int(wi), int(y), int(x), DIRECTIONS.index(d)] == share.max()
    assert float(share.max()) == pytest.approx(run.summary["max_link_utilisation"], rel=1e-6)


def test_a_whole_wafer_run_holds_whole_arrays():
    run = simulate_one("mini-wafer", "llama-3.1-8b", fidelity="flow", layers=2)
    for name in CORES + LINKS:
        a = run.arrays[name]
        assert a.stored.shape == a.shape and a.data is a.stored, name
