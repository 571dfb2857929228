"""tools/plot_validation.py draws a validate -o file."""

from __future__ import annotations

from pathlib import Path

from wafersim.cli import main as cli

from .plotting import load_tool, need_matplotlib


def _tool():
    return load_tool("plot_validation")


def test_tool_draws_predicted_against_measured(tmp_path: Path, capsys) -> None:
    need_matplotlib()
    table = tmp_path / "rows.toml"
    table.write_text("".join(
        f'[[row]]\nid = "r{i}"\nsystem = "dgx-h100"\nmodel = "llama-3.1-8b"\nruntime = "typical"\nbatch = {b}\n'
        f'prompt_tokens = 128\noutput_tokens = 16\nmetric = "{m}"\nvalue = {v}\nsource = "s"\n'
        f'calibration = {"true" if i == 0 else "false"}\n\n'
        for i, (b, m, v) in enumerate([(1, "ttft_s", 0.01), (8, "ttft_s", 0.05), (1, "tokens_per_s_per_user", 150)])))
    out = tmp_path / "val.h5"
    assert cli(["validate", "--table", str(table), "-o", str(out)]) == 0
    png = tmp_path / "v.png"
    assert _tool().main([str(out), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert "wrote" in capsys.readouterr().out
    assert _tool().main([str(tmp_path / "missing.h5")]) == 2
