"""The GPU-side command lines named in the README give answers with the bottleneck named."""

import json

from wafersim.cli import main


def test_run_batch_max_names_bottleneck_and_algorithm(capsys):
    assert main(["run", "dgx-h100", "llama-3.1-70b", "--tp", "8", "--batch", "max", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fits_on_chip"] and out["batch"] == out["max_batch"] > 1
    assert out["bottleneck"] in out["decode_components_s"]
    assert out["allreduce_algorithm"] in ("ring", "tree", "nvls")


def test_compare_names_both_bottlenecks(capsys):
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-70b"]) == 0
    text = capsys.readouterr().out
    assert "decode_bottleneck" in text and "decode step bound by" in text
