"""The head-to-head: frontiers that behave, crossovers found where the better side changes,
and bases that match the sides' devices, power or price."""

from __future__ import annotations

import json

import pytest

import wafersim
from wafersim.cli import main
from wafersim.headtohead import TOTAL_KEYS, Frontier, crossovers, frontier, replicas_for, with_replicas
from wafersim.results.hdf5 import read_table
from wafersim.results.phase import PhaseTime
from wafersim.results.run_result import RunResult
from wafersim.results.summary import Summary


@pytest.fixture(scope="module")
def sides():
    m = wafersim.load_model("llama-3.1-70b")
    return (frontier(wafersim.load_system("wse3"), m, spill=True),
            frontier(wafersim.load_system("dgx-h100"), m, spill=True))


@pytest.mark.parametrize("side", [0, 1])
def test_frontier_is_monotone_until_the_cliff(sides, side):
    f = sides[side]
    fit = [r.summary for r in f.runs if r.summary["fits_on_chip"]]
    assert [s["batch"] for s in fit][-1] == f.max_batch and fit[0]["batch"] == 1
    for a, b in zip(fit, fit[1:]):
        assert b["batch"] > a["batch"]
        # a pipelined wafer decodes each micro-batch alone, so its per-user speed stays flat; the
        # placement re-cuts regions as the KV cache grows, which moves it by < 0.1 %
        assert b["tokens_per_s_per_user"] <= a["tokens_per_s_per_user"] * (1 + 1e-3)
        # GEMM tiles run in whole waves over the SMs (engines/gpu_gemm.py), so a batch just past a
        # wave boundary may lose a little per-device throughput; never more than a few per cent
        assert b["tokens_per_s_per_device"] > a["tokens_per_s_per_device"] * 0.97
    assert fit[-1]["tokens_per_s_per_device"] > 10 * fit[0]["tokens_per_s_per_device"]
    spilled = [r.summary for r in f.runs if not r.summary["fits_on_chip"]]
    assert [s["batch"] for s in spilled] == [2 * f.max_batch, 4 * f.max_batch]
    # every point runs on the hardware sized for one sequence
    assert len({r.summary["devices"] for r in f.runs}) == 1


def _side(name: str, points: list[tuple[float, float]]) -> Frontier:
    """A made-up frontier: (tokens/s per user, tokens/s per kW) points."""
    runs = []
    for i, (x, y) in enumerate(points):
        s = Summary(system=name, model="m", kind="gpu", fidelity="analytic", batch=i + 1, prompt_tokens=1,
                    output_tokens=1, layers=1, devices=1, ttft_s=1.0, tpot_s=1 / x, tokens_per_s_per_user=x,
                    tokens_per_s=x * (i + 1), tokens_per_s_per_device=y, tokens_per_s_per_kw=y, fits_on_chip=True,
                    spilled_bytes=0.0, weight_bytes=1.0, kv_bytes=1.0, bottleneck="x", prefill_bottleneck="x",
                    decode_bottleneck="x", energy_per_token_j=1.0, decode_layer_s=1.0, prefill_layer_s=1.0)
        runs.append(RunResult(s, {}, PhaseTime(1.0), PhaseTime(1 / x)))
    return Frontier(name, tuple(runs), {}, len(points))


def test_crossover_of_two_made_up_frontiers():
    """Fast A (300-1000 tokens/s per user, 10-100 per kW) against slow, dense B (20-100 per user,
    50-1000 per kW): at each interactivity the better side is the one with the best point at
    least that fast."""
    a = _side("A", [(1000, 10), (800, 40), (300, 100)])
    b = _side("B", [(100, 50), (50, 400), (20, 1000)])
    winners, text = crossovers(a, b, "kW")
    # B's best at x <= 20 is 1000 (> A's 100); at 50: 400; at 100: 50 < A's 100 -> A from 100 up
    assert winners == [(20, "B"), (100, "A")]
    assert text == "per kW: B below 100 tokens/s per user, A from 100 up"


def test_one_side_better_everywhere():
    a = _side("A", [(1000, 500), (300, 2000)])
    b = _side("B", [(100, 50), (20, 1000)])
    assert crossovers(a, b, "kW")[1] == "per kW: A is better at every interactivity either reaches"


def test_equal_power_within_one_copy(sides):
    a, b = sides[0].runs[0].summary, sides[1].runs[0].summary
    na, nb = replicas_for(a, b, "equal-power")
    pa, pb = a["power_w"] * na, b["power_w"] * nb
    assert na == 1 and nb > 1                    # 4 CS-3 draw more than one DGX
    assert abs(pa - pb) <= 0.5 * b["power_w"]    # the nearest whole number of copies
    rep = with_replicas(b, nb)
    assert rep["tokens_per_s"] == pytest.approx(nb * b["tokens_per_s"])
    assert rep["tokens_per_s_per_kw"] == b["tokens_per_s_per_kw"] and rep["devices"] == nb * b["devices"]


def test_frontier_command_writes_tables_along_batch(tmp_path, capsys):
    out = tmp_path / "fr.h5"
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-70b", "--frontier", "fixed", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    for words in ("per device:", "per kW:", "per dollar:"):
        assert words in text
    a, b = read_table(out, "frontier/a"), read_table(out, "frontier/b")
    assert a["system"][0] == "wse3" and b["system"][0] == "dgx-h100"
    assert a["batch"][0] == 1 and b["batch"] == sorted(b["batch"])
    import h5py
    with h5py.File(out) as f:
        assert json.loads(f.attrs["frontier-crossovers"])["kW"].startswith("per kW")
        assert f["frontier/b/tokens_per_s_per_kw"].dims[0][0].name.endswith("batch")


def test_basis_in_compare_json(capsys):
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-70b", "--basis", "equal-cost", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["basis"] == "equal-cost" and out["replicas"]["a"] == 1 and out["replicas"]["b"] > 1


def test_plot_tool_draws_both_frontiers(tmp_path, capsys):
    from tests.plotting import need_matplotlib
    need_matplotlib()
    import importlib.util
    from pathlib import Path
    out = tmp_path / "fr.h5"
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--frontier", "--spill", "-o", str(out)]) == 0
    spec = importlib.util.spec_from_file_location("plot_frontier", Path(__file__).parents[1] / "tools" / "plot_frontier.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    png = tmp_path / "f.png"
    assert tool.main([str(out), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tool.main([str(tmp_path / "missing.h5")]) == 2


def _identities(s: dict) -> dict[str, tuple[float, float]]:
    """Relations every deployment's summary satisfies between its totals and its per-user,
    per-unit and per-token figures: (left, right) pairs that must be equal."""
    out, tail = s["output_tokens"], s["ttft_s"] + (s["output_tokens"] - 1) * s["tpot_s"]
    return {"tokens/s = batch x per user": (s["tokens_per_s"], s["batch"] * s["tokens_per_s_per_user"]),
            "tokens/s = devices x per device": (s["tokens_per_s"], s["devices"] * s["tokens_per_s_per_device"]),
            "tokens/s = kW x per kW": (s["tokens_per_s"], s["power_w"] / 1e3 * s["tokens_per_s_per_kw"]),
            "power = tokens/s x wall J": (s["power_w"], s["tokens_per_s"] * s["wall_energy_per_token_j"]),
            "$/h = tokens/h x $/token": (s["usd_per_hour"], s["usd_per_million_tokens"] * s["tokens_per_s"] * 3.6e-3),
            "request tokens/s": (s["request_tokens_per_s"], s["batch"] * out / tail),
            "Little's law": (s["requests_in_flight"], s["request_rate"] * tail),
            "GPUs per node": (s["devices"] / s["nodes"], 8)}


@pytest.mark.parametrize("copies", [2, 3, 50])
def test_every_total_scales_with_the_copies_and_nothing_else_moves(copies):
    """The totals of copies of a run under load (one copy per share of the rate, as compare
    runs them) keep every relation a single deployment's figures satisfy; each total is
    exactly copies x, every other key is unchanged."""
    one = wafersim.simulate("dgx-h100", "llama-3.1-8b", tp=8, batch=8, prompt_tokens=227, output_tokens=194,
                            request_rate=1.5).summary.to_dict()
    rep = with_replicas(one, copies)
    for name, (left, right) in _identities(one).items():
        assert left == pytest.approx(right, rel=1e-12), name
    for name, (left, right) in _identities(rep).items():
        assert left == pytest.approx(right, rel=1e-12), f"{name} with {copies} copies"
    assert rep["replicas"] == copies
    for key, value in one.items():
        if key in TOTAL_KEYS:
            assert rep[key] == copies * value, key
        else:
            assert rep[key] == value, key
    # what the issue met: 2 copies gave 2x the tokens/s and 1x the request tokens/s
    assert rep["request_tokens_per_s"] == copies * one["request_tokens_per_s"]


def test_every_total_key_is_a_summary_key():
    from wafersim.results.summary import FIELDS
    assert set(TOTAL_KEYS) <= set(FIELDS)


def test_basis_totals_and_notes_describe_the_copies(capsys, tmp_path):
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-70b", "--basis", "equal-power", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    n = out["replicas"]["b"]
    one, total = out["b"], out["totals"]["b"]
    assert n > 1 and out["replicas"]["a"] == 1
    for key in ("tokens_per_s", "request_tokens_per_s", "devices", "power_w", "cost_usd", "batch", "nodes"):
        assert total[key] == n * one[key], key
    for key in ("tokens_per_s_per_user", "tokens_per_s_per_device", "tokens_per_s_per_kw", "energy_per_token_j",
                "wall_energy_per_token_j", "ttft_s"):
        assert total[key] == one[key], key
    for side in ("a", "b"):
        t = out["totals"][side]
        assert t["tokens_per_s"] * t["wall_energy_per_token_j"] == pytest.approx(t["power_w"], rel=1e-12)
    assert out["b"]["notes"][0].startswith(f"{n} data-parallel copies ({total['devices']} GPUs in all), each 8 GPUs")
    assert not any("data-parallel" in note for note in out["a"]["notes"])
    # the ratios are of the deployments compared: equal power within half a copy
    assert abs(out["ratio"]["power_w"] - 1) <= 0.5 / n
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-70b", "--basis", "equal-power"]) == 0
    text = capsys.readouterr().out
    assert f"B: {total['devices']} GPUs in {total['nodes']} nodes ({n} copies of 8 GPUs)" in text
    assert f"  - {n} data-parallel copies" in text
    from wafersim.results.hdf5 import read_summaries
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-70b", "--basis", "equal-power", "-o", str(tmp_path / "c.h5")]) == 0
    assert read_summaries(tmp_path / "c.h5")[1]["notes"][0].startswith(f"{n} data-parallel copies")


def test_plain_compare_prints_ratios_to_two_figures_with_the_bands_and_json_keeps_them_whole(capsys):
    """The verdict, the headline and the table's A/B column round each ratio to two significant
    figures and name each side's error band; --json's ratio is the exact quotient."""
    import json
    import re
    from wafersim.cli import main
    argv = ["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    a, b = data["a"], data["b"]
    exact = a["tokens_per_s_per_user"] / b["tokens_per_s_per_user"]
    assert data["ratio"]["tokens_per_s_per_user"] == pytest.approx(exact, rel=1e-12)
    verdict = next(line for line in out.splitlines() if " decodes " in line)
    shown = float(re.search(r"decodes ([0-9.,]+)x faster", verdict).group(1).replace(",", ""))
    assert shown == float(f"{max(exact, 1 / exact):.2g}")
    assert f"error bands: A {a['validation_error']:.0%}, B {b['validation_error']:.0%}" in verdict
    figures = re.findall(r"([0-9][0-9.,]*)x", "\n".join(line for line in out.splitlines()
                                                         if line.startswith(("better per user", "  tpot_s", "  devices"))))
    assert figures and all(len(f.replace(",", "").replace(".", "").lstrip("0").rstrip("0") or "0") <= 2 for f in figures)


def test_an_unknown_basis_in_the_headline_names_the_key_to_set():
    from wafersim.report import headline
    a = {"system": "x", "tokens_per_s_per_user": 2.0, "tokens_per_s_per_device": 2.0, "tokens_per_s_per_kw": 1.0,
         "usd_per_million_tokens": 3.0}
    b = {"system": "y", "tokens_per_s_per_user": 1.0, "tokens_per_s_per_device": 1.0}
    text = headline(a, b)
    assert "per user: x 2.0x" in text
    assert "per kW: unknown (set b.deployment.unit_power_w)" in text
    assert "per dollar: unknown (set b.deployment.unit_price_usd)" in text
