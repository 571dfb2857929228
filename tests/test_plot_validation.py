"""tools/plot_validation.py draws a validate -o file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from wafersim.cli import main as cli

from .plotting import need_matplotlib

TOOL = Path(__file__).resolve().parents[1] / "tools" / "plot_validation.py"


def _tool():
    spec = importlib.util.spec_from_file_location("plot_validation", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
