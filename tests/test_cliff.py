"""wafersim.sweep_cliff, wafersim.plots.plot_cliff and tools/plot_cliff.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import wafersim
from wafersim.results.hdf5 import read_table
from wafersim.sweep_cliff import cliff_sweep, context_of, default_contexts, find_cliff, find_cliffs

from .plotting import need_matplotlib

TOOL = Path(__file__).resolve().parents[1] / "tools" / "plot_cliff.py"
CONTEXTS = [2048, 16384, 65536]


def _tool():
    spec = importlib.util.spec_from_file_location("plot_cliff", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sweep():
    return cliff_sweep(["wse3", "dgx-h100"], "llama-3.1-8b", CONTEXTS, batch=4)


def _by(results, system):
    return {context_of(r): r.summary for r in results if r.summary["system"] == system}


def test_sweep_covers_every_pair_with_context_as_prompt_plus_output(sweep) -> None:
    assert len(sweep) == 6
    assert [(r.summary["system"], context_of(r)) for r in sweep] == \
        [(s, c) for s in ("wse3", "dgx-h100") for c in CONTEXTS]
    for r in sweep:
        s = r.summary
        assert s["batch"] == 4 and s["output_tokens"] == 128
        assert s["prompt_tokens"] == context_of(r) - 128
    wafer = _by(sweep, "wse3")
    assert all(s["devices"] == 1 for s in wafer.values())     # one wafer: no wafers added to hide the cliff


def test_wafer_falls_off_its_cliff(sweep) -> None:
    wafer = _by(sweep, "wse3")
    assert wafer[2048]["fits_on_chip"] and wafer[2048]["spilled_bytes"] == 0
    assert not wafer[65536]["fits_on_chip"] and wafer[65536]["spilled_bytes"] > 0
    cliff = find_cliff(sweep, "wse3")
    first_spill = min(c for c, s in wafer.items() if not s["fits_on_chip"])
    assert cliff == first_spill
    before = max(c for c, s in wafer.items() if s["fits_on_chip"] and c < cliff)
    assert wafer[before]["tokens_per_s_per_user"] >= 10 * wafer[cliff]["tokens_per_s_per_user"]
    assert find_cliffs(sweep)["wse3"] == cliff


def test_find_cliff_needs_a_system_when_several() -> None:
    one = cliff_sweep(["wse3"], "llama-3.1-8b", [2048], batch=1)
    assert find_cliff(one) is None
    with pytest.raises(ValueError, match="name one"):
        find_cliff(one + cliff_sweep(["dgx-h100"], "llama-3.1-8b", [2048]))


def test_contexts_beyond_the_model_are_refused() -> None:
    with pytest.raises(ValueError, match="131072"):
        cliff_sweep(["wse3"], "llama-3.1-8b", [4096, 262144])
    with pytest.raises(ValueError, match="output_tokens"):
        cliff_sweep(["wse3"], "llama-3.1-8b", [100])
    assert default_contexts(131072)[0] == 1024 and default_contexts(131072)[-1] == 131072
    with pytest.raises(wafersim.ConfigError):
        cliff_sweep(["no-such-system"], "llama-3.1-8b", [4096])


def test_progress_goes_to_stderr(capsys) -> None:
    cliff_sweep(["wse3"], "llama-3.1-8b", [2048], progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "[1/1] wse3 context 2048" in err


def _run_tool(prefix: Path, *extra: str) -> int:
    return _tool().main(["llama-3.1-8b", "--systems", "wse3", "dgx-h100", "--batch", "4",
                         "--contexts", ",".join(map(str, CONTEXTS)), "-o", str(prefix), "-q", *extra])


def test_tool_writes_h5_and_table(tmp_path: Path, capsys) -> None:
    prefix = tmp_path / "c"
    assert _run_tool(prefix, "--no-plot", "--no-refine") == 0
    out = capsys.readouterr().out
    assert "wse3 cliff: 65536 tokens" in out and "dgx-h100 cliff: none up to 65536 tokens" in out
    h5 = Path(f"{prefix}-cliff.h5")
    assert len(wafersim.read_summaries(h5)) == 6
    assert wafersim.read_run(h5, "wse3-ctx65536").summary["fits_on_chip"] is False
    assert wafersim.read_run(h5, "dgx-h100-ctx2048").summary["system"] == "dgx-h100"
    assert not Path(f"{prefix}-cliff.png").exists()


def test_tool_writes_png_and_h5(tmp_path: Path) -> None:
    need_matplotlib()
    prefix = tmp_path / "sub" / "c"
    assert _run_tool(prefix) == 0
    assert Path(f"{prefix}-cliff.h5").is_file()
    png = Path(f"{prefix}-cliff.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


def test_plot_cliff_draws_on_given_axes(sweep) -> None:
    matplotlib = need_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.plots import plot_cliff

    fig, ax = plt.subplots()
    try:
        assert plot_cliff(sweep, ax=ax) is ax
        assert "llama-3.1-8b" in ax.get_title() and "batch 4" in ax.get_title()
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert any(t.get_text() == "wse3 cliff: 65536 tokens" for t in ax.texts)
    finally:
        plt.close(fig)


def test_tool_errors_are_one_line(tmp_path: Path, capsys) -> None:
    tool = _tool()
    for args in (["llama-3.1-8b", "--systems", "nope"], ["no-model", "--systems", "wse3"],
                 ["llama-3.1-8b", "--systems", "wse3", "--contexts", "4096,x"],
                 ["llama-3.1-8b", "--systems", "wse3", "--max-context", "999999"]):
        assert tool.main(args + ["-o", str(tmp_path / "e"), "--no-plot", "-q"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_bisection_finds_the_first_spilling_context_of_a_fine_grid(sweep) -> None:
    """Against brute force: every multiple of 1024 between the last fitting and the first
    spilling context of the coarse grid, run one by one."""
    refined = cliff_sweep(["wse3"], "llama-3.1-8b", CONTEXTS, batch=4, refine=1024)
    cliff = find_cliff(refined, "wse3")
    fine = cliff_sweep(["wse3"], "llama-3.1-8b", list(range(16384, 65536 + 1, 1024)), batch=4)
    assert cliff == find_cliff(fine, "wse3")
    assert 16384 < cliff < 65536 and cliff % 1024 == 0
    extra = len(refined) - len(CONTEXTS)
    assert extra <= 6 < len(fine)                         # log2(48) bisection steps, not 48 runs
    assert [context_of(r) for r in refined] == sorted(context_of(r) for r in refined)


def test_bisection_needs_a_fitting_context_below(sweep) -> None:
    spills = cliff_sweep(["wse3"], "llama-3.1-8b", [65536, 131072], batch=4, refine=1024, wafers=1)
    assert len(spills) == 2 and find_cliff(spills) == 65536


def test_tool_takes_run_flags_and_refines(tmp_path: Path, capsys) -> None:
    prefix = tmp_path / "f"
    common = ["--batch", "4", "--contexts", "2048,16384,65536", "--dtype", "fp8", "--kv-dtype", "bf16",
              "--wafers", "1", "--tp", "2", "--set", "model.num_layers=40", "-q", "--no-plot"]
    assert _tool().main(["llama-3.1-8b", "--systems", "wse3", "dgx-h100", *common, "-o", str(prefix)]) == 0
    out = capsys.readouterr().out
    stored = find_cliff([wafersim.read_run(f"{prefix}-cliff.h5", rid) for rid in read_table(
        f"{prefix}-cliff.h5")["run"] if rid.startswith("wse3")])
    assert 16384 < stored < 65536 and f"wse3 cliff: {stored} tokens (to 1024 tokens)" in out
    runs = [wafersim.read_run(f"{prefix}-cliff.h5", rid) for rid in ("wse3-ctx2048", "dgx-h100-ctx2048")]
    wafer, gpu = (r.summary for r in runs)
    assert wafer["layers"] == 40 and gpu["tp"] == 2 and wafer["devices"] == 1
    assert runs[0].config["scenario"]["dtype"] == "fp8" == runs[1].config["scenario"]["dtype"]
    assert runs[0].config["scenario"]["kv_dtype"] == "bf16"
    sram = tmp_path / "s"
    assert _tool().main(["llama-3.1-8b", "--systems", "wse3", *common, "--set", "system.core.sram_bytes=64 KiB",
                         "-o", str(sram)]) == 0
    capsys.readouterr()
    assert wafersim.read_run(f"{sram}-cliff.h5", "wse3-ctx2048").config["system"]["core"]["sram_bytes"] == 65536
    assert _tool().main(["llama-3.1-8b", "--systems", "dgx-h100", "--batch", "max", "--contexts", "4096,8192",
                         "-o", str(tmp_path / "m"), "-q", "--no-plot"]) == 0
    assert "batch max" in capsys.readouterr().out
    assert _tool().main(["llama-3.1-8b", "--systems", "wse3", "--batch", "0", "-o", str(tmp_path / "z"),
                         "-q", "--no-plot"]) == 2
    assert _tool().main(["llama-3.1-8b", "--systems", "wse3", "--set", "colour=red", "-o", str(tmp_path / "z"),
                         "-q", "--no-plot"]) == 2
