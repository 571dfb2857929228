"""tools/plot_heatmaps.py and wafersim.plots on a small flow run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import wafersim

from .plotting import need_matplotlib

TOOL = Path(__file__).resolve().parents[1] / "tools" / "plot_heatmaps.py"


def _tool():
    spec = importlib.util.spec_from_file_location("plot_heatmaps", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory) -> Path:
    result = wafersim.simulate("mini-wafer", "llama-3.1-8b", layers=2, fidelity="flow")
    return wafersim.write_results(tmp_path_factory.mktemp("flow") / "flow.h5", result)


def test_tool_writes_both_pngs(flow_file: Path, tmp_path: Path, capsys) -> None:
    need_matplotlib()
    prefix = tmp_path / "maps"
    assert _tool().main([str(flow_file), "-o", str(prefix)]) == 0
    for suffix in ("sram", "links"):
        png = Path(f"{prefix}-{suffix}.png")
        assert png.is_file() and png.stat().st_size > 1000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


def test_tool_output_is_deterministic(flow_file: Path, tmp_path: Path) -> None:
    need_matplotlib()
    tool = _tool()
    assert tool.main([str(flow_file), "-o", str(tmp_path / "a")]) == 0
    assert tool.main([str(flow_file), "-o", str(tmp_path / "b")]) == 0
    for suffix in ("sram", "links"):
        assert (tmp_path / f"a-{suffix}.png").read_bytes() == (tmp_path / f"b-{suffix}.png").read_bytes()


def test_tool_refuses_analytic_run(tmp_path: Path, capsys) -> None:
    need_matplotlib()
    path = wafersim.write_results(tmp_path / "analytic.h5", wafersim.simulate("mini-wafer", "llama-3.1-8b", layers=2))
    assert _tool().main([str(path), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "run with --fidelity flow" in err and "Traceback" not in err
    assert not list(tmp_path.glob("x-*.png"))


def test_tool_rejects_bad_wafer_and_run(flow_file: Path, tmp_path: Path, capsys) -> None:
    need_matplotlib()
    tool = _tool()
    assert tool.main([str(flow_file), "--wafer", "3", "-o", str(tmp_path / "w")]) == 2
    assert "out of range" in capsys.readouterr().err
    assert tool.main([str(flow_file), "--run", "nope", "-o", str(tmp_path / "r")]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_plot_functions_draw_on_given_axes(flow_file: Path) -> None:
    matplotlib = need_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.plots import plot_link_utilisation, plot_sram_occupancy, sram_occupancy

    run = wafersim.read_run(flow_file)
    fig, (a, b) = plt.subplots(1, 2)
    try:
        assert plot_sram_occupancy(run, ax=a) is a
        assert plot_link_utilisation(run, ax=b) is b
        assert "mini-wafer" in a.get_title() and "busiest link" in b.get_title()
        occ = sram_occupancy(run)
        assert occ.shape == run.arrays["sram_weight_bytes"].data.shape[1:]
        assert ((occ >= 0) & (occ <= 1)).all()
    finally:
        plt.close(fig)


def test_block_max_reduces_large_meshes() -> None:
    """Pure numpy: runs without matplotlib."""
    import numpy as np

    from wafersim.plots import block_max

    a = np.zeros((756, 1176))
    a[755, 1175] = 5.0
    small, f = block_max(a)
    assert f == 2 and small.shape == (378, 588) and small[-1, -1] == 5.0 and small.max() == 5.0
    same, f = block_max(np.ones((16, 16)))
    assert f == 1 and same.shape == (16, 16)
