"""``wafersim design``: the report, JSON, the written preset and bad input."""

import json

import pytest

from wafersim.cli import main
from wafersim.presets import load_system


def test_report_compares_with_the_published_wafer(capsys):
    assert main(["design", "wse3"]) == 0
    text = capsys.readouterr().out
    for section in ("area", "yield", "memory and bandwidth", "power", "cost", "system preset"):
        assert f"\n{section}\n" in text
    assert "published 46,225 mm2" in text and "published 900,000" in text and "published 44 GB" in text
    assert "TSMC, IEDM 2019" in text                     # an input's source, read from the design file
    assert "as the wse3 preset" in text


def test_a_variant_is_written_as_a_preset_compare_accepts(capsys, tmp_path):
    out = tmp_path / "wse3-96k.toml"
    assert main(["design", "wse3", "--set", 'sram_per_core="96 KiB"', "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "wse3 889,056" in text                        # a variant is held against its reference design
    assert "mesh.cores_x" in text and f"system preset written to {out}" in text
    variant, wse3 = load_system(str(out)), load_system("wse3")
    assert variant.name == "wse3-96k" and variant.cores < wse3.cores
    assert variant.deployment.unit_price_usd > wse3.deployment.unit_price_usd
    assert main(["compare", "wse3", str(out), "llama-3.1-8b", "--json"]) == 0
    sides = json.loads(capsys.readouterr().out)
    a, b = sides["a"], sides["b"]
    assert b["system"] == "wse3-96k" and b["cores_per_wafer"] < a["cores_per_wafer"]
    # the same job on a wafer of fewer, larger cores: the price per wafer is (about) the same and
    # the power differs, so the per-dollar and per-kW figures follow the design, not the wse3's
    assert b["cost_usd"] / b["devices"] == pytest.approx(variant.deployment.unit_price_usd)
    assert b["power_w"] / b["devices"] == pytest.approx(variant.deployment.unit_power_w)


def test_json_and_refusals(capsys, tmp_path):
    assert main(["design", "wse2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["yield"]["mesh"][0] * doc["yield"]["mesh"][1] == doc["yield"]["enabled_cores"]
    assert doc["power"]["derating"] == 1.0
    out = tmp_path / "x.toml"
    out.write_text("")
    for argv in (["design", "wse9"], ["design", "wse3", "--set", "simd_lanes=0"],
                 ["design", "wse3", "--set", "sram_per_core=lots"], ["design", "wse3", "-o", str(out)],
                 ["design", "wse3", "--set", "nonsense=1"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("wafersim: error:") and len(err.splitlines()) == 1, err


def test_hbm_stacks_spill_a_long_context_faster(capsys, tmp_path):
    """8B at a 64k prompt, batch 4 on one WSE-3 spills its KV cache; HBM stacks at the edge
    serve the spill at 9.6 TB/s more than the 1.2 Tb/s of the I/O ports."""
    out = tmp_path / "wse3-hbm.toml"
    assert main(["design", "wse3", "--set", "hbm_stacks=8", "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["memory"]["hbm_bytes"] == pytest.approx(8 * 36e9)
    assert report["cost"]["hbm_usd"] > 0 and report["power"]["hbm_w"] > 0
    tpot = {}
    for system in ("wse3", str(out)):
        assert main(["run", system, "llama-3.1-8b", "--wafers", "1", "--prompt", "65536", "--batch", "4",
                     "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["spilled_bytes"] > 0
        tpot[system] = summary["tpot_s"]
    assert tpot[str(out)] < tpot["wse3"] / 10
