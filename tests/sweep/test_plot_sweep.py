"""tools/plot_sweep.py: lines and heatmaps drawn from a sweep collection hold its values and units."""

from __future__ import annotations

import numpy as np
import pytest

from wafersim.sweep import parse_spec, read_collection, run_sweep

from ..plotting import load_tool, need_matplotlib
from .helpers import SMALL


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("plot") / "small.h5"
    run_sweep(parse_spec(SMALL, "small.toml"), path)
    return path


def test_lines_hold_the_collection_values(small):
    need_matplotlib()
    from wafersim.plots import plot_sweep_lines
    c = read_collection(small)
    ax = plot_sweep_lines(c, "wafers", "tokens_per_s_per_user")          # hue: the one axis left
    values = c.variables["tokens_per_s_per_user"].data
    assert len(ax.lines) == 3
    for i, line in enumerate(ax.lines):
        assert np.array_equal(line.get_xdata(), [1, 2, 4, 8])
        assert np.array_equal(line.get_ydata(), values[i], equal_nan=True)     # wafers = 8 failed: a gap
    assert ax.get_ylabel() == "tokens_per_s_per_user [tokens/s]" and ax.get_xlabel() == "wafers"
    ax = plot_sweep_lines(c, "system.core.sram_bytes", "tpot_s", hue="wafers")
    assert len(ax.lines) == 4 and np.array_equal(ax.lines[1].get_ydata(), c.variables["tpot_s"].data[:, 1])
    assert ax.get_xlabel() == "system.core.sram_bytes [B]"


def test_heatmap_cells_and_colour_bar(small):
    need_matplotlib()
    from wafersim.plots import plot_sweep_heatmap
    c = read_collection(small)
    ax = plot_sweep_heatmap(c, "wafers", "system.core.sram_bytes", "tpot_s")
    image = ax.images[0].get_array()
    data = c.variables["tpot_s"].data
    assert image.shape == (3, 4) and np.array_equal(image.filled(np.nan), data, equal_nan=True)
    assert image.mask[:, 3].all() and not image.mask[:, :3].any()
    assert ax.figure.axes[-1].get_ylabel() == "tpot_s [s]"


def test_tool_writes_pngs_and_refuses_bad_axes(small, tmp_path, capsys):
    need_matplotlib()
    tool = load_tool("plot_sweep")
    out = tmp_path / "lines.png"
    assert tool.main([str(small), "wafers", "tokens_per_s_per_user", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tool.main([str(small), "wafers", "system.core.sram_bytes", "-o", str(tmp_path / "h.png")]) == 0
    assert tool.main([str(small), "wafers", "tpot_s", "--select", "system.core.sram_bytes=49152",
                      "-o", str(tmp_path / "s.png")]) == 0
    assert tool.main([str(small), "cores", "tpot_s"]) == 2
    assert "not an axis" in capsys.readouterr().err
    assert tool.main([str(small), "wafers", "tpot_s", "--select", "system.core.sram_bytes=7"]) == 2
    assert "has no value '7'" in capsys.readouterr().err
