"""--precision on run and compare: the parity line, per-side precisions, refusals."""

import json

from wafersim.cli import main

SMALL = ["--prompt", "128", "--output", "8"]


def test_compare_prints_the_parity_rule_and_each_sides_formats(capsys):
    assert main(["compare", "dgx-h100", "dgx-b200", "llama-3.1-8b", *SMALL]) == 0
    text = capsys.readouterr().out
    assert "precision: weights bf16, compute bf16, KV bf16 on both sides (parity: the same weight" in text
    assert main(["compare", "dgx-h100", "dgx-b200", "llama-3.1-8b", *SMALL, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["precision"]["parity"] and out["precision"]["a"] == out["precision"]["b"]
    assert out["a"]["precision"] == out["precision"]["a"]


def test_fp8_runs_on_both_and_fp4_is_refused_on_hopper(capsys):
    assert main(["compare", "dgx-h100", "dgx-b200", "llama-3.1-8b", *SMALL, "--precision", "fp8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["precision"]["a"] == "weights fp8, compute fp8, KV fp8" and out["precision"]["parity"]
    assert main(["compare", "dgx-h100", "dgx-b200", "llama-3.1-8b", *SMALL, "--precision", "fp4"]) == 2
    assert "H100 has no FP4 tensor cores" in capsys.readouterr().err


def test_per_side_precision_breaks_parity_and_says_so(capsys):
    assert main(["compare", "dgx-h100", "dgx-b200", "llama-3.1-8b", *SMALL, "--precision-a", "fp8",
                 "--precision-b", "nvfp4"]) == 0
    text = capsys.readouterr().out
    assert "not at parity, as asked (--precision-a/--precision-b)" in text


def test_precision_with_dtype_is_refused(capsys):
    assert main(["run", "dgx-h100", "llama-3.1-8b", "--precision", "fp8", "--dtype", "fp8"]) == 2
    assert "give --precision or --dtype/--kv-dtype, not both" in capsys.readouterr().err
    assert main(["run", "wse3", "llama-3.1-8b", "--precision", "fp8"]) == 2
    assert "FP16/BF16 SIMD only" in capsys.readouterr().err
    assert main(["run", "dgx-h100", "llama-3.1-8b", "--precision", "fp5"]) == 2


def test_the_frontier_and_at_run_each_side_in_its_precision_and_print_parity(capsys):
    """--precision reaches every point of the envelope, the fixed frontier and --at, over --dtype."""
    for extra in (["--frontier"], ["--frontier", "fixed"], ["--at", "tokens_per_s_per_user>=100"]):
        assert main(["compare", "dgx-h100", "dgx-b200", "llama-3.1-8b", *SMALL, "--precision-a", "fp8",
                     "--precision-b", "nvfp4", *extra, "--json"]) == 0, extra
        out = json.loads(capsys.readouterr().out)
        assert not out["precision"]["parity"], extra
        assert out["precision"]["a"] == "weights fp8, compute fp8, KV fp8", extra
        assert out["precision"]["b"].startswith("weights nvfp4, compute nvfp4"), extra
    assert main(["compare", "dgx-h100", "dgx-b200", "llama-3.1-8b", *SMALL, "--precision", "fp8", "--frontier"]) == 0
    assert "precision: weights fp8, compute fp8, KV fp8 on both sides" in capsys.readouterr().out
