"""tools/plot_validation.py draws a validate -o file as a grid: one panel per kind of system
and metric, each titled with what it holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from wafersim.cli import main as cli
from wafersim.results.hdf5 import read_table

from .plotting import load_tool, need_matplotlib, overlaps

#: (system, metric, batch, value, calibration, request rate): two kinds, three metrics, one row under load
ROWS = [("dgx-h100", "ttft_s", 1, 0.01, True, 0), ("dgx-h100", "ttft_s", 8, 0.05, False, 0),
        ("dgx-h100", "ttft_s", 4, 0.04, False, 2), ("dgx-h100", "tokens_per_s_per_user", 1, 150, False, 0),
        ("wse3", "tokens_per_s_per_user", 1, 1800, False, 0)]


def _tool():
    return load_tool("plot_validation")


@pytest.fixture(scope="module")
def val_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("validation")
    table = folder / "rows.toml"
    table.write_text("".join(
        f'[[row]]\nid = "r{i}"\nsystem = "{system}"\nmodel = "llama-3.1-8b"\nbatch = {batch}\n'
        f'prompt_tokens = 128\noutput_tokens = 16\nmetric = "{metric}"\nvalue = {value}\nsource = "s{i % 2}"\n'
        f'calibration = {"true" if cal else "false"}\n' + (f"request_rate = {rate}\n" if rate else "") + "\n"
        for i, (system, metric, batch, value, cal, rate) in enumerate(ROWS)))
    out = folder / "val.h5"
    assert cli(["validate", "--table", str(table), "-o", str(out)]) == 0
    return out


def test_one_panel_per_kind_and_metric(val_file: Path) -> None:
    need_matplotlib().use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.plots import validation_figure
    fig = validation_figure(val_file, band=0.2)
    try:
        panels = [ax for ax in fig.axes if ax.get_visible()]
        kinds = {"dgx-h100": "gpu", "wse3": "wafer"}
        want = {(kinds[s], m, bool(r)) for s, m, _, _, _, r in ROWS}
        assert len(panels) == len(want) == 4
        heads = [ax.get_title().split("\n")[0] for ax in panels]
        assert sorted(heads) == sorted(f"{k} systems: {m}" + (" under load" if load else "") for k, m, load in want)
        gpu_ttft = panels[heads.index("gpu systems: ttft_s")].get_title().replace("\n", " ")
        assert "2 rows" in gpu_ttft and "out of sample (1)" in gpu_ttft     # one calibration row of two
        table = read_table(val_file, "validation")
        summary = read_table(val_file, "summary")
        suptitle = fig._suptitle.get_text().replace("\n", " ")
        assert "llama-3.1-8b" in suptitle and "dgx-h100" in suptitle and "wse3" in suptitle
        for runtime, cls in set(zip(summary["runtime"], summary["runtime_class"])):
            assert runtime in suptitle and cls in suptitle
        assert "weights" in suptitle and "KV cache" in suptitle
        points = sum(len([ln for ln in ax.lines if ln.get_linestyle() == "None"]) for ax in panels)
        assert points == len(table["metric"])                         # every row drawn once
        fig.canvas.draw()
        for ax in panels:
            assert not overlaps(fig, ax.get_xticklabels(), draw=False)
            assert not overlaps(fig, ax.get_yticklabels(), draw=False)
            assert [p.get_label() for p in ax.collections] == ["+/- 20%"]
    finally:
        plt.close(fig)


def test_tool_writes_the_png(val_file: Path, tmp_path: Path, capsys) -> None:
    need_matplotlib()
    png = tmp_path / "v.png"
    assert _tool().main([str(val_file), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert "wrote" in capsys.readouterr().out
    assert _tool().main([str(tmp_path / "missing.h5")]) == 2
