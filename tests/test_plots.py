"""tools/plot_heatmaps.py and wafersim.plots on a small flow run; the cliff's ticks; sweep lines and heatmaps."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import wafersim

from wafersim.plotting.text import tokens_label

from .plotting import load_tool, need_matplotlib, overlaps, shown_texts

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


# --- the cliff: refined ticks keep only labels with room --------------------------------------

TINY = Path(__file__).resolve().parent / "data" / "tiny-llama.toml"


@pytest.fixture(scope="module")
def refined_cliff():
    """A cliff narrowed to 64 tokens: contexts 2304, 2432, 2496, 2560 crowd between 2K and 3K."""
    from wafersim.sweep_cliff import cliff_sweep
    return cliff_sweep(["mini-wafer"], str(TINY), [1024, 2048, 4096, 8192], batch=1, refine=64)


def test_cliff_ticks_do_not_overlap(refined_cliff) -> None:
    matplotlib = need_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.plots import plot_cliff
    from wafersim.sweep_cliff import context_of, find_cliffs

    ax = plot_cliff(refined_cliff)
    fig = ax.figure
    try:
        contexts = sorted({context_of(r) for r in refined_cliff})
        assert list(ax.get_xticks()) == contexts                     # every context keeps its tick mark
        labels = ax.get_xticklabels()
        assert not overlaps(fig, labels)
        shown = {t.get_text() for t in shown_texts(labels)}
        assert {"1K", "8K", tokens_label(find_cliffs(refined_cliff)["mini-wafer"])} <= shown
        assert len(shown) < len(contexts)                            # some were crowded out
        for t, c in zip(labels, contexts):                           # a label shown is its tick's
            assert t.get_text() in ("", tokens_label(c))
        ax.set_xticks(contexts, [tokens_label(c) for c in contexts])  # all of them: they would overlap
        assert overlaps(fig, ax.get_xticklabels())
    finally:
        plt.close(fig)


def test_cliff_title_names_systems_runtime_and_precision(refined_cliff) -> None:
    matplotlib = need_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.plots import plot_cliff

    ax = plot_cliff(refined_cliff)
    try:
        title = ax.get_title().replace("\n", " ")
        s, scenario = refined_cliff[0].summary, refined_cliff[0].config["scenario"]
        assert s["model"] in title and s["system"] in title
        assert f"runtime {s['runtime']} ({s['runtime_class']})" in title
        assert f"{scenario['dtype']} weights" in title
    finally:
        plt.close(ax.figure)


def test_heatmap_title_names_runtime_and_precision(flow_file: Path) -> None:
    matplotlib = need_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.plots import plot_sram_occupancy

    run = wafersim.read_run(flow_file)
    ax = plot_sram_occupancy(run)
    try:
        title = ax.get_title().replace("\n", " ")
        assert f"runtime {run.summary['runtime']}" in title and run.summary["runtime_class"] in title
        assert run.config["scenario"]["dtype"] in title
    finally:
        plt.close(ax.figure)


# --- sweeps: readable units, spills ringed, coinciding lines visible ----------------------------

SWEEP = f"""
system = "mini-wafer"
model = "{TINY}"
[scenario]
output = 16
[axes]
"system.core.sram_bytes" = ["8 KiB", "48 KiB", "64 KiB"]
prompt = [1024, 2048, 4096]
"""


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory) -> Path:
    """3 x 3 points: 8 KiB per core spills at every prompt; 48 and 64 KiB give the same speed
    where both fit (two lines on top of each other)."""
    from wafersim.sweep import parse_spec, run_sweep
    path = tmp_path_factory.mktemp("sweep") / "s.h5"
    run_sweep(parse_spec(SWEEP, "s.toml"), path)
    return path


def test_sweep_lines_read_in_units_and_ring_spills(sweep_file: Path) -> None:
    import numpy as np

    matplotlib = need_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.plots import plot_sweep_lines
    from wafersim.plotting.text import sweep_precisions
    from wafersim.sweep import read_collection

    c = read_collection(sweep_file)
    ax = plot_sweep_lines(c, "prompt", "tokens_per_s_per_user", precisions=sweep_precisions(sweep_file))
    try:
        assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == \
            ["system.core.sram_bytes = 8 KiB", "system.core.sram_bytes = 48 KiB", "system.core.sram_bytes = 64 KiB"]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1K", "2K", "4K"]
        fits = c.variables["fits_on_chip"].data                      # (sram, prompt): 1 fits, 0 spills
        assert (fits == 0).any() and (fits == 1).any()
        rings = np.concatenate([col.get_offsets() for col in ax.collections])
        values = c.variables["tokens_per_s_per_user"].data
        prompts = c.variables["prompt"].data
        want = sorted((float(prompts[j]), float(values[i, j])) for i, j in zip(*np.nonzero(fits == 0)))
        assert sorted(map(tuple, rings.tolist())) == want              # one ring per spilling point
        assert "ringed: spills off chip" in [t.get_text() for t in ax.get_legend().get_texts()]
        lines = ax.lines[:3]
        assert len({(ln.get_marker(), ln.get_linestyle()) for ln in lines}) == 3   # each its own marker and dash
        widths = [ln.get_linewidth() for ln in lines]
        assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]   # earlier lines wider: both show
        assert all(ln.get_alpha() < 1 for ln in lines)
        title = ax.get_title().replace("\n", " ")
        assert "tiny-llama on mini-wafer" in title and "bf16 weights and KV cache" in title
        assert f"runtime {c.variables['runtime'].data[0, 0]} ({c.variables['runtime_class'].data[0, 0]})" in title
    finally:
        plt.close(ax.figure)


def test_sweep_heatmap_reads_in_units_and_rings_spills(sweep_file: Path) -> None:
    import numpy as np

    matplotlib = need_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.plots import plot_sweep_heatmap
    from wafersim.sweep import read_collection

    c = read_collection(sweep_file)
    ax = plot_sweep_heatmap(c, "prompt", "system.core.sram_bytes", "tokens_per_s_per_user")
    try:
        assert [t.get_text() for t in ax.get_yticklabels()] == ["8 KiB", "48 KiB", "64 KiB"]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1K", "2K", "4K"]
        rings = ax.collections[-1].get_offsets()
        spills = np.argwhere(c.variables["fits_on_chip"].data == 0)       # (sram row, prompt column)
        assert sorted(map(tuple, rings.tolist())) == sorted((float(j), float(i)) for i, j in spills)
        assert "ringed: spills off chip" in ax.get_title()
    finally:
        plt.close(ax.figure)


def test_sweep_tool_writes_png(sweep_file: Path, tmp_path: Path, capsys) -> None:
    need_matplotlib()
    tool = load_tool("plot_sweep")
    png = tmp_path / "lines.png"
    assert tool.main([str(sweep_file), "prompt", "tokens_per_s_per_user", "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "wrote" in capsys.readouterr().out
    assert tool.main([str(sweep_file), "nope", "tokens_per_s_per_user"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.parametrize("tool, argv", [("plot_frontier", ["f.h5"]), ("plot_validation", ["v.h5"]),
                                        ("plot_sweep", ["s.h5", "batch", "tpot_s"]), ("plot_heatmaps", ["r.h5"]),
                                        ("plot_noc_sweep", ["n.h5"]),
                                        ("plot_cliff", ["llama-3.1-8b", "--systems", "wse3"])])
def test_without_matplotlib_the_hint_is_a_command_that_works(tool, argv, monkeypatch, tmp_path, capsys) -> None:
    """Runs without matplotlib: the tool says how to install it, with commands that exist
    (the plot extra of a checkout, or matplotlib itself; wafersim is not on the package index)."""
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib", None)            # `import matplotlib` now fails
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.chdir(tmp_path)
    assert load_tool(tool).main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: plotting needs matplotlib") and err.count("\n") == 1
    assert "pip install -e '.[plot]'" in err and "pip install matplotlib" in err and "wafersim[plot]" not in err
    assert not list(tmp_path.iterdir())                              # nothing run, nothing written


@pytest.mark.parametrize("sets", [[], ["die_cols=70", 'sram_per_core="96 KiB"']])
def test_design_plot_draws_the_design_models_dies_and_core_shares(sets, tmp_path, capsys) -> None:
    need_matplotlib()
    import matplotlib.pyplot as plt

    from wafersim.config import parse_override
    from wafersim.design import load_design, to_system
    from wafersim.plotting.design import DIE_GID, SHARE_GID, design_figure

    ds = to_system(load_design("wse3", dict(parse_override(s) for s in sets) or None))
    g = ds.figures.geometry
    fig = design_figure(ds)
    plan, parts = fig.axes[:2]
    dies = [p for p in plan.patches if p.get_gid() == DIE_GID]
    assert len(dies) == g.dies == g.dies_x * g.dies_y
    assert all(p.get_width() == pytest.approx(g.die_x_mm) and p.get_height() == pytest.approx(g.die_y_mm)
               for p in dies)
    # the dies sit inside the usable square, a scribe line apart, and cover the dies' area
    xs = sorted({round(p.get_x(), 6) for p in dies})
    scribe = ds.figures.design.wafer.scribe_m * 1e3
    assert xs[1] - xs[0] == pytest.approx(g.die_x_mm + scribe)
    assert max(p.get_x() + p.get_width() for p in dies) - min(p.get_x() for p in dies) <= g.chip_side_mm
    assert sum(p.get_width() * p.get_height() for p in dies) == pytest.approx(g.dies_mm2)
    bars = {p.get_label(): p.get_width() for p in parts.patches if p.get_gid() == SHARE_GID}
    parts_mm2 = {"SRAM": g.sram_mm2, "SIMD lanes": g.lanes_mm2, "router": g.router_mm2, "control": g.control_mm2}
    assert bars == pytest.approx({k: v / g.core_mm2 for k, v in parts_mm2.items()})
    assert sum(bars.values()) == pytest.approx(1.0)
    title = fig._suptitle.get_text()
    assert title.startswith("wse3") and f"{g.enabled_cores:,} enabled" in title
    plt.close(fig)
    tool = load_tool("plot_design")
    out = tmp_path / "d.png"
    assert tool.main(["wse3", *(a for s in sets for a in ("--set", s)), "-o", str(out)]) == 0
    assert out.stat().st_size > 0 and f"wrote {out}" in capsys.readouterr().out
    assert tool.main(["wse3", "--set", "simd_lanes=lots"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.splitlines()) == 1
