"""Every preset of a model served in 2026 runs on a wafer and on GPUs sized automatically."""

from __future__ import annotations

import pytest

import wafersim

SERVED = ["deepseek-v3", "deepseek-r1", "qwen3-235b-a22b", "qwen3-30b-a3b", "qwen3-32b", "gpt-oss-120b",
          "gpt-oss-20b", "llama-4-scout", "llama-4-maverick", "gemma-3-27b"]


@pytest.mark.parametrize("name", SERVED)
def test_runs_on_wse3_and_on_gpus_auto(name):
    w = wafersim.simulate("wse3", name, prompt_tokens=1024, output_tokens=128)
    g = wafersim.simulate("dgx-h100", name, prompt_tokens=1024, output_tokens=128, gpus="auto")
    for r in (w, g):
        assert r.summary["tokens_per_s"] > 0 and r.summary["ttft_s"] > 0
