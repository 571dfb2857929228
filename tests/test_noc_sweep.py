"""`wafersim noc-sweep` writes a self-describing latency-throughput file; the plot tool reads it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import h5py
import numpy as np

from wafersim import cli
from wafersim.engines.noc_traffic import PATTERNS
from wafersim.results.hdf5 import read_noc_sweep

from .plotting import need_matplotlib

TOOL = Path(__file__).resolve().parents[1] / "tools" / "plot_noc_sweep.py"


def test_cli_patterns_match_the_engine():
    assert cli.NOC_PATTERNS == PATTERNS


def test_sweep_file_and_plot(tmp_path: Path, capsys):
    out = tmp_path / "sweep.h5"
    assert cli.main(["noc-sweep", "--mesh", "6x6", "--rates", "0.1,0.9", "--cycles", "600", "--warmup", "200",
                     "-o", str(out)]) == 0
    assert "router-cycles/s" in capsys.readouterr().out
    d = read_noc_sweep(out)
    assert d["offered"].tolist() == [0.1, 0.9]
    assert d["accepted"][0] == np.float64(d["accepted"][0]) and abs(d["accepted"][0] - 0.1) < 0.03
    assert d["accepted"][1] <= 4.0 / 6 and d["latency_p99"][1] > d["latency_p99"][0]
    assert d["link_utilisation"].shape == (2, 6, 6, 4)
    assert d["config"]["router"]["vcs"] == 2
    with h5py.File(out) as f:
        assert f.attrs["format"] == "wafersim-noc-sweep"
        assert f["sweep/latency_mean"].attrs["units"] == "cycle"
    need_matplotlib()
    spec = importlib.util.spec_from_file_location("plot_noc_sweep", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([str(out), "--bound", "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000
