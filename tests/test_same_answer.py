"""One set of defaults: the same system, model and scenario give the same answer from `run`,
`compare`, `sweep`, `explore` and `wafersim.simulate`, sized to hold the job and run in one
class of software unless told otherwise."""

from __future__ import annotations

import json

import pytest

import wafersim
from wafersim.cli import main
from wafersim.explore import explore
from wafersim.presets import DEFAULT_RUNTIME, DEFAULT_RUNTIME_CLASS, load_runtime
from wafersim.sizing import default_sizing
from wafersim.sweep import parse_spec, run_sweep
from wafersim.sweep.collection import read_collection

#: (system, model, other side for compare): a wafer system and a GPU system whose models need
#: more than one device
CASES = [("wse3", "llama-3.1-70b", "dgx-h100"), ("dgx-h100", "llama-3.1-70b", "wse3")]


def _cli_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("system, model, other", CASES)
def test_every_command_gives_the_same_tokens_per_user(system, model, other, capsys, tmp_path):
    run = _cli_json(capsys, ["run", system, model, "--json"])
    compared = _cli_json(capsys, ["compare", system, other, model, "--json"])["a"]
    api = wafersim.simulate(system, model).summary
    spec = parse_spec(f'system = "{system}"\nmodel = "{model}"\n[axes]\nbatch = [1]\n')
    run_sweep(spec, tmp_path / "s.h5", jobs=1)
    swept = read_collection(tmp_path / "s.h5")
    found = explore(system, model, space={"batch": [1]}, objective="per-user")
    values = {"run": run["tokens_per_s_per_user"], "compare": compared["tokens_per_s_per_user"],
              "simulate": api["tokens_per_s_per_user"],
              "sweep": float(swept.variables["tokens_per_s_per_user"].data.ravel()[0]),
              "explore": found.best[0].metrics["tokens_per_s_per_user"]}
    assert len(set(values.values())) == 1, values
    assert run["runtime_class"] == compared["runtime_class"] == DEFAULT_RUNTIME_CLASS
    assert run["devices"] == compared["devices"] == api["devices"]


def test_a_named_system_holds_the_model(capsys):
    """The issue's two cases: 70B on a DGX H100 runs on the box's 8 GPUs without spilling, and on
    WSE-3s on as many wafers as hold it; each says how it was sized and how to see the cliff."""
    gpu = _cli_json(capsys, ["run", "dgx-h100", "llama-3.1-70b", "--json"])
    wafer = _cli_json(capsys, ["run", "wse3", "llama-3.1-70b", "--json"])
    assert gpu["devices"] == 8 and gpu["fits_on_chip"] and gpu["spilled_bytes"] == 0
    assert wafer["fits_on_chip"] and wafer["devices"] > 1
    assert any("--gpus auto" in n and "--gpus 1" in n for n in gpu["notes"])
    assert any("--wafers auto" in n and "--wafers 1" in n for n in wafer["notes"])
    # fewer devices, asked for, show the cliff
    one = _cli_json(capsys, ["run", "dgx-h100", "llama-3.1-70b", "--gpus", "1", "--json"])
    assert one["devices"] == 1 and not one["fits_on_chip"]
    assert one["tokens_per_s_per_user"] < gpu["tokens_per_s_per_user"] / 10


def test_default_runtime_is_one_class_for_both_kinds():
    classes = {kind: load_runtime(name).runtime_class for kind, name in DEFAULT_RUNTIME.items()}
    assert classes == {"gpu": DEFAULT_RUNTIME_CLASS, "wafer": DEFAULT_RUNTIME_CLASS}


@pytest.mark.parametrize("kind, given, expected", [
    ("wafer", {}, {"wafers": "auto"}),
    ("wafer", {"wafers": None, "tp": None}, {"wafers": "auto"}),
    ("wafer", {"wafers": 1}, {"wafers": 1}),
    ("gpu", {}, {"gpus": "auto"}),
    ("gpu", {"tp": None, "pp": None, "gpus": None}, {"gpus": "auto"}),
    ("gpu", {"tp": 1}, {"tp": 1}),
    ("gpu", {"gpus": 4}, {"gpus": 4}),
    ("gpu", {"pp": 2}, {"pp": 2, "tp": "auto"}),
    ("gpu", {"ep": 2, "gpus": 8}, {"ep": 2, "gpus": 8}),
    ("gpu", {"batch": 3}, {"batch": 3, "gpus": "auto"}),
])
def test_default_sizing_fills_only_what_is_left_out(kind, given, expected):
    assert default_sizing(kind, given) == expected
