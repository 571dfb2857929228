"""Placement figures worked out by hand on the test wafer (tests/data/scribe-wafer.toml, 64 x 64 cores)."""

from __future__ import annotations

import math
from pathlib import Path

import wafersim
from tests.specs import simulate_one

DATA = Path(__file__).resolve().parent.parent / "data"
D, VOCAB = 256, 1024


def test_head_band_has_rows_for_all_its_weights():
    """2 KiB cores: a 64-core row holds 131072 bytes; the head (embedding, LM head, final norm:
    (2 x 1024 x 256 + 256) x 2 = 1049088 bytes) needs 9 rows.  Its share of all bytes would give it
    round(64 x 1049088 / 8262144) = 8, too few: the band takes 9 and keeps its weights on chip."""
    system = wafersim.load_system(str(DATA / "scribe-wafer.toml"),
                                  {"core.sram_bytes": "2 KiB", "core.reserved_sram_fraction": 0})
    r = simulate_one(system, wafersim.load_model(str(DATA / "tiny-llama.toml")), fidelity="flow",
                          batch=1, prompt_tokens=1200, output_tokens=16)
    head = (2 * VOCAB * D + D) * 2
    layers = 4 * (D * (256 + 2 * 128) + 256 * D + 3 * D * 512 + 2 * D) * 2    # qkv, o; gated MLP; norms
    kv = 4 * 1216 * 2 * 128 * 2
    assert round(64 * head / (head + layers + kv)) == 8
    assert math.ceil(head / (64 * 2048)) == 9
    assert int(r.arrays["region_rows"].data[-1]) == 9
    assert int(r.arrays["region_spilled_weight_bytes"].data[-1]) == 0
