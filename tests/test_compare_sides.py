"""--set on one side of compare: the same keys as on both sides (a./b. before any of them),
each side its own model variant, and a side changed on its own labelled as changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wafersim.cli import main
from wafersim.cli_args import split_sets
from wafersim.config import ConfigError, parse_override

TINY = str(Path(__file__).parent / "data" / "tiny-llama.toml")
SIDES = ["system", "a", "b"]


def _targets(*items: str) -> dict:
    sets = split_sets(list(items), SIDES)
    return {k: v for k, v in sets.items() if k != "typed" and v}


@pytest.mark.parametrize("forms,target,key", [
    (["b.system.deployment.unit_price_usd=1000", "b.deployment.unit_price_usd=1000"], "b", "deployment.unit_price_usd"),
    (["a.system.core.sram_bytes=1", "a.core.sram_bytes=1"], "a", "core.sram_bytes"),
    (["deployment.unit_price_usd=1000", "system.deployment.unit_price_usd=1000"], "system", "deployment.unit_price_usd"),
    (["b.model.num_layers=1"], "b.model", "num_layers"),
    (["a.mapping.kv=pooled"], "a.mapping", "kv"),
    (["b.runtime.efficiency.memory=0.5"], "b.runtime", "efficiency.memory"),
])
def test_each_form_reaches_one_target(forms, target, key):
    for form in forms:
        assert _targets(form) == {target: {key: parse_override(form)[1]}}


def test_run_takes_the_deployment_shorthand_but_no_side():
    assert split_sets(["deployment.unit_power_w=5000"], ["system"])["system"] == {"deployment.unit_power_w": 5000}
    with pytest.raises(ConfigError, match="expected one of system.<key>"):
        split_sets(["b.deployment.unit_power_w=5000"], ["system"])


def _compare(capsys, *args: str) -> dict:
    assert main(["compare", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_one_sides_price_by_every_form_changes_that_side_alone(capsys):
    base = _compare(capsys, "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2")
    results = [_compare(capsys, "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2", "--set", form)
               for form in ("b.system.deployment.unit_price_usd=1000", "b.deployment.unit_price_usd=1000")]
    for out in results:
        assert out["b"]["cost_usd"] == 1000 * out["b"]["nodes"]
        assert out["a"] == base["a"]
        assert out["changed"] == {"a": [], "b": ["system.deployment.unit_price_usd=1000"]}
        assert out["labels"] == {"a": "wse3", "b": "dgx-h100 (changed: system.deployment.unit_price_usd=1000)"}
    assert results[0]["b"] == results[1]["b"]
    both = _compare(capsys, "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2",
                    "--set", "deployment.unit_price_usd=1000")
    assert both["a"]["cost_usd"] == 1000 and both["b"]["cost_usd"] == 1000 * both["b"]["nodes"]
    assert both["changed"] == {"a": [], "b": []} and both["labels"] == {"a": "wse3", "b": "dgx-h100"}


def test_each_side_runs_its_own_model_variant(capsys):
    out = _compare(capsys, "mini-wafer", "mini-wafer", TINY, "--set", "b.model.num_layers=2")
    assert out["a"]["layers"] == 4 and out["b"]["layers"] == 2
    # two layers fewer of tiny-llama (d 256, 2 KV heads of 64, gated MLP 512, two norms; bf16)
    layer_bytes = 2 * (256 * (256 + 2 * 128 + 256) + 3 * 256 * 512 + 2 * 256)
    assert out["a"]["weight_bytes"] - out["b"]["weight_bytes"] == 2 * layer_bytes
    assert out["labels"] == {"a": "A (mini-wafer)", "b": "B (mini-wafer) (changed: model.num_layers=2)"}
    # --set model.* for both, b.model.* on top for one
    out = _compare(capsys, "mini-wafer", "mini-wafer", TINY, "--set", "model.num_layers=3", "--set", "b.model.num_layers=2")
    assert out["a"]["layers"] == 3 and out["b"]["layers"] == 2


def test_the_frontier_runs_each_sides_model(capsys):
    out = _compare(capsys, "mini-wafer", "mini-wafer", TINY, "--frontier", "--set", "a.model.num_layers=2")
    assert {p["batch"] for p in out["a"]["points"]} and out["a"]["label"].endswith("(changed: model.num_layers=2)")
    assert out["a"]["changed"] == ["model.num_layers=2"] and out["b"]["changed"] == []
    assert all(p["tokens_per_s_per_user"] > q["tokens_per_s_per_user"]
               for p, q in zip(out["a"]["points"][:1], out["b"]["points"][:1]))      # half the layers: faster
    assert "A (mini-wafer) (changed: model.num_layers=2)" in json.dumps(out["crossovers"])


def test_one_sides_runtime_setting_reaches_that_side_alone(capsys):
    base = _compare(capsys, "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2")
    out = _compare(capsys, "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2", "--set", "b.runtime.efficiency.memory=0.3")
    assert out["a"] == base["a"] and out["b"]["tpot_s"] > base["b"]["tpot_s"]


@pytest.mark.parametrize("typed,needle", [
    ("b.mapping.kv=pooled", "side B (dgx-h100) is a GPU system"),
    ("a.runtime.efficiency.memory=0.5", "key 'efficiency.memory': unknown key"),
    ("b.system.gpu.hbm_byte=1", "did you mean gpu.hbm_bytes?"),
    ("b.system.core.sram_bytes=1", "key 'core': unknown key; expected one of"),      # nothing near: no hint
    ("b.sytem.deployment.unit_price_usd=1", "unknown key"),
])
def test_one_side_keys_that_do_not_fit_that_side_are_refused(capsys, typed, needle):
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2", "--set", typed]) == 2
    err = capsys.readouterr().err
    assert needle in err and f"--set {typed}" in err


def test_a_changed_side_is_labelled_in_the_title_verdict_and_headline(capsys):
    assert main(["compare", "wse3", "wse3", "llama-3.1-8b", "--layers", "2", "--set", "b.core.clock_hz=0.5 GHz"]) == 0
    lines = capsys.readouterr().out.splitlines()
    mark = "(changed: system.core.clock_hz=0.5 GHz)"
    assert lines[0] == f"llama-3.1-8b: A = wse3, B = wse3 {mark}; basis fit"
    verdict = next(line for line in lines if " decodes " in line)
    assert verdict.startswith("A (wse3) decodes ") and f"than B (wse3) {mark}" in verdict
    headline = next(line for line in lines if line.startswith("better "))
    assert "A (wse3)" in headline
