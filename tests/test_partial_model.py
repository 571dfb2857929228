"""A run of the first N decoder layers (``--layers N``) says its figures are for N layers."""

import json

import pytest

import wafersim
from wafersim.cli import main


@pytest.mark.parametrize("system", ["wse3", "dgx-h100"])
def test_a_run_of_some_layers_says_which_and_holds_their_weights_only(system):
    model = wafersim.load_model("llama-3.1-8b")
    part = wafersim.simulate(system, model, layers=2)
    whole = wafersim.simulate(system, model)
    assert part.summary.model_layers == model.num_layers == 32 and whole.summary.model_layers is None
    assert "model_layers" not in whole.summary and "model_layers" in part.summary
    (note,) = [n for n in part.notes if n.startswith("figures for")]
    assert note.startswith("figures for the first 2 of 32 layers, without embedding and LM head (--layers 2)")
    assert not any("first" in n and "layers" in n for n in whole.notes)
    # what the note claims, against the model's own parameter counts: two layers' weights, no embedding or head
    per_param = whole.summary.weight_bytes / model.param_count
    assert part.summary.weight_bytes == pytest.approx(2 * model.layer_params * per_param, rel=1e-9)


def test_the_table_of_a_run_of_one_layer_opens_with_its_scope(capsys):
    assert main(["run", "wse3", "llama-3.1-8b", "--layers", "1"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[1] == "  figures for the first 1 of 32 layers, without embedding and LM head"
    assert main(["run", "wse3", "llama-3.1-8b", "--layers", "32"]) == 0       # all of them: no such line
    assert "figures for the first" not in capsys.readouterr().out


def test_json_and_compare_carry_the_scope(capsys):
    assert main(["run", "dgx-h100", "llama-3.1-8b", "--layers", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model_layers"] == 32 and data["layers"] == 4
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "4"]) == 0
    text = capsys.readouterr().out
    assert text.count("figures for the first 4 of 32 layers, without embedding and LM head") == 3  # table, both notes
