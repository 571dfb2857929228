"""tools/plot_frontier.py: a compare --frontier file drawn with its crossovers, batches and
what was compared (model, systems, runtime and class, precision) in the title."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import pytest

import wafersim
from wafersim.cli import main as cli
from wafersim.results.hdf5 import read_table

from .plotting import load_tool, need_matplotlib, overlaps, shown_texts

SYSTEMS = ("wse3", "dgx-h100")
MODEL = "llama-3.2-1b"


@pytest.fixture(scope="module")
def frontier_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frontier") / "f.h5"
    assert cli(["compare", *SYSTEMS, MODEL, "--frontier", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def figure(frontier_file: Path):
    """Drawn once for the module; no test changes it."""
    need_matplotlib().use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.plots import frontier_figure
    fig = frontier_figure(frontier_file)
    yield fig
    plt.close(fig)


def _stored(path: Path) -> dict[str, list[float]]:
    """Per basis, the interactivities of the crossover sentence compare stored ('... wse3 from 1904 up')."""
    with h5py.File(path) as f:
        texts = json.loads(f.attrs["frontier-crossovers"])
    return {basis: [float(v) for v in re.findall(r" from ([0-9.eE+-]+)", text)] for basis, text in texts.items()}


def test_title_names_model_systems_runtime_and_precision(frontier_file: Path, figure) -> None:
    title = figure._suptitle.get_text().replace("\n", " ")
    assert MODEL in title
    for side in ("a", "b"):
        run = wafersim.read_run(frontier_file, read_table(frontier_file, f"frontier/{side}")["run"][0])
        s, scenario = run.summary, run.config["scenario"]
        assert s["system"] in title and f"runtime {s['runtime']}" in title and s["runtime_class"] in title
        assert scenario["dtype"] in title and scenario["kv_dtype"] in title


def test_crossovers_are_marked_where_compare_said(frontier_file: Path, figure) -> None:
    stored = _stored(frontier_file)
    assert any(stored.values()), "wse3 and dgx-h100 should trade places somewhere (per dollar)"
    for ax, basis in zip(figure.axes, ("device", "kW", "dollar")):
        marks = sorted(line.get_xdata()[0] for line in ax.lines if line.get_gid() == "crossover")
        assert len(marks) == len(stored[basis]), basis
        for x, want in zip(marks, stored[basis]):
            assert x == pytest.approx(want, rel=5e-4)         # stored to 4 significant digits
            assert any(t.get_text().startswith(f"crossover at {want:.4g}") for t in ax.texts)


def test_points_are_labelled_with_their_batch(frontier_file: Path, figure) -> None:
    sides = [read_table(frontier_file, name) for name in ("frontier/a", "frontier/b")]
    ax = figure.axes[0]                                    # tokens/s per device against tokens/s per user
    points = {(x, y): b for side in sides
              for x, y, b in zip(side["tokens_per_s_per_user"], side["tokens_per_s_per_device"], side["batch"])}
    labels = [t for t in ax.texts if t.get_text().isdigit()]
    # one per point on this panel's envelope (per device), before decluttering
    from wafersim.envelope import pareto
    on = [sorted(pareto(list(zip(s["tokens_per_s_per_user"], s["tokens_per_s_per_device"])), True)) for s in sides]
    assert len(labels) == sum(len(i) for i in on)
    sides = [{k: [side[k][i] for i in keep] for k in ("tokens_per_s_per_user", "tokens_per_s_per_device")}
             for side, keep in zip(sides, on)]
    for t in labels:
        assert points[tuple(t.xy)] == int(t.get_text())
    assert not overlaps(figure, labels)
    shown = shown_texts(labels)
    for side in sides:                                      # each side keeps its first and last batch
        ends = {(side["tokens_per_s_per_user"][i], side["tokens_per_s_per_device"][i]) for i in (0, -1)}
        assert ends <= {tuple(t.xy) for t in shown}


def test_tool_writes_the_png(frontier_file: Path, tmp_path: Path, capsys) -> None:
    need_matplotlib()
    png = tmp_path / "f.png"
    assert load_tool("plot_frontier").main([str(frontier_file), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "wrote" in capsys.readouterr().out
    assert load_tool("plot_frontier").main([str(tmp_path / "missing.h5")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
