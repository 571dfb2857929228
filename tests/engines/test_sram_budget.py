"""The per-core SRAM budget of the WSE-3 preset against the vendor's capacity statements: a 20B
dense model fits one CS-3 (44 GB of SRAM at 16 bits a parameter), 70B fits four ("70B models fit
on as few as four systems", Cerebras Inference launch, 2024-08), and 405B fewer than the 26
wafers the earlier 5 KiB of fixed buffers took."""

from __future__ import annotations

import pytest

import wafersim


def _summary(model, wafers="auto", **overrides):
    m = wafersim.load_model(model, overrides or None)
    return wafersim.simulate("wse3", m, wafers=wafers, prompt_tokens=2048, output_tokens=128).summary


def test_a_20b_dense_model_fits_one_wse3():
    # Llama 3.1 70B's shape cut to 21 layers: 21 x 0.856B + 2.1B of embedding and head = 20.07B
    s = _summary("llama-3.1-70b", num_layers=21)
    assert s.weight_bytes / 2 == pytest.approx(20.07e9, rel=1e-3)
    assert s.devices == 1 and s.fits_on_chip


def test_70b_fits_four_wse3():
    s = _summary("llama-3.1-70b")
    assert s.devices == 4 and s.fits_on_chip
    assert not _summary("llama-3.1-70b", wafers=3).fits_on_chip


def test_405b_needs_fewer_than_26_wse3():
    s = _summary("llama-3.1-405b")
    assert s.devices < 26 and s.fits_on_chip
    # no fewer than its weights need at the whole SRAM of a program's cores
    core = wafersim.load_system("wse3").core
    assert s.devices >= s.weight_bytes / (755 * 1170 * core.sram_bytes)
