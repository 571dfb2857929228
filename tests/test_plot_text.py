"""wafersim.plotting.text: readable numbers and the line that names what a figure shows
(pure Python: runs without matplotlib)."""

from __future__ import annotations

import pytest

from wafersim.plotting.text import (about_runs, bytes_label, listing, log_ticks, precision_text, tokens_label,
                                   value_label)


@pytest.mark.parametrize("n, text", [(65536, "64 KiB"), (49152, "48 KiB"), (32768, "32 KiB"), (512, "512 B"),
                                     (1024, "1 KiB"), (1536, "1.5 KiB"), (3 * 2 ** 20, "3 MiB"),
                                     (80 * 2 ** 30, "80 GiB"), (0, "0 B")])
def test_bytes_in_binary_units(n, text):
    assert bytes_label(n) == text


@pytest.mark.parametrize("n, text", [(1024, "1K"), (32768, "32K"), (131072, "128K"), (2 ** 20, "1M"),
                                     (3072, "3K"), (3000, "3000"), (512, "512"), (1, "1")])
def test_token_counts_in_thousands_of_1024(n, text):
    assert tokens_label(n) == text


def test_value_label_follows_the_units():
    assert value_label(65536.0, "B") == "64 KiB"
    assert value_label(16384, "tokens") == "16K"
    assert value_label(8.0, "") == "8" and value_label(0.125, "s") == "0.125"
    assert value_label("wse3", "") == "wse3"


def test_listing_counts_and_cuts():
    assert listing(["b", "a", "b", "", None]) == "b, a"
    assert listing(list("abcdef"), limit=2) == "a, b +4 more"


def test_precision_in_words():
    assert precision_text([("bf16", "bf16")] * 3) == "bf16 weights and KV cache"
    assert precision_text([("fp8", "bf16")]) == "fp8 weights, bf16 KV cache"
    assert precision_text([("fp8", "fp8"), ("fp8", "fp8"), ("bf16", "bf16")]) == "weights/KV cache: fp8/fp8, bf16/bf16"
    assert precision_text([("", "")]) == ""


def test_about_names_model_systems_runtime_class_and_precision():
    rows = [{"model": "m", "system": "wse3", "kind": "wafer", "devices": 1, "runtime": "waferllm",
             "runtime_class": "best-known", "dtype": "bf16", "kv_dtype": "bf16"},
            {"model": "m", "system": "dgx-h100", "kind": "gpu", "devices": 8, "runtime": "trtllm",
             "runtime_class": "typical", "dtype": "fp8", "kv_dtype": "fp8"}]
    assert about_runs(rows) == ("m on wse3 (1 wafer, runtime waferllm (best-known)), "
                                "dgx-h100 (8 GPUs, runtime trtllm (typical)); weights/KV cache: bf16/bf16, fp8/fp8")
    many = [{**rows[1], "system": f"s{i}"} for i in range(6)]
    text = about_runs(many, devices=False, limit=3)
    assert text.startswith("m on s0, s1, s2 +3 more; runtimes trtllm (typical)")


def test_log_ticks_one_two_five():
    assert log_ticks(0.03, 0.6) == [0.05, 0.1, 0.2, 0.5]
    assert log_ticks(1.0, 1000.0) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
