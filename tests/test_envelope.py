"""Frontiers as envelopes over deployments: wafer counts past the fewest, every GPU layout,
copies packed into a unit; crossovers that compare envelopes; compare --at."""

from __future__ import annotations

import json

import pytest

import wafersim
from wafersim.cli import main
from wafersim.envelope import best_at, envelope, pack, pareto
from wafersim.explore.goals import constraint
from wafersim.headtohead import BASES, crossovers, frontier
from wafersim.results.hdf5 import read_table

MODEL = "llama-3.1-70b"


@pytest.fixture(scope="module")
def sides():
    m = wafersim.load_model(MODEL)
    return {name: envelope(wafersim.load_system(name), m) for name in ("wse3", "dgx-h100")}


def _best(points, x, key, more):
    ok = [s[key] for s in points if s["tokens_per_s_per_user"] >= x and key in s]
    return (max(ok) if more else min(ok)) if ok else None


@pytest.mark.parametrize("name", ["wse3", "dgx-h100"])
def test_envelope_is_the_best_of_every_point_run(sides, name):
    """At every interactivity any point reaches, the envelope's best on each basis is the best of
    all the points the search ran (a brute force over them)."""
    f = sides[name]
    every = [r.summary for r, _ in f.evaluated]
    kept = [r.summary for r in f.runs]
    assert len(kept) < len(every)
    for key, _, more in BASES.values():
        for x in {s["tokens_per_s_per_user"] for s in every}:
            assert _best(kept, x, key, more) == _best(every, x, key, more), (key, x)


def test_the_deployments_reach_past_the_batch_1_sizing(sides):
    """70B on WSE-3 is held by 4 wafers; the envelope runs 4 to 8, and its points use more than 4.
    On DGX H100 it runs several tp x pp layouts, and its points use more than one."""
    w, g = sides["wse3"], sides["dgx-h100"]
    assert sorted({d.devices for _, d in w.evaluated}) == [4, 5, 6, 7, 8]
    assert max(d.devices for d in w.deployments) > 4
    assert len({(d.tp, d.pp, d.ep, d.copies) for d in g.deployments}) >= 2
    assert len({(d.tp, d.pp, d.ep, d.copies) for _, d in g.evaluated}) >= 6
    for r, d in zip(g.runs, g.deployments):
        s = r.summary
        assert (s["tp"], s["pp"], s["ep"]) == (d.tp, d.pp, d.ep)


@pytest.mark.parametrize("name", ["wse3", "dgx-h100"])
def test_the_envelope_is_never_below_the_fixed_frontier(sides, name):
    """The batch-1 sizing is one of the envelope's deployments, so every point of the fixed
    frontier is matched or beaten at the same or higher interactivity."""
    m = wafersim.load_model(MODEL)
    fixed = frontier(wafersim.load_system(name), m)
    env = [r.summary for r in sides[name].runs]
    for r in fixed.runs:
        s = r.summary
        for key, _, more in BASES.values():
            best = _best(env, s["tokens_per_s_per_user"], key, more)
            assert (best >= s[key] * (1 - 1e-12)) if more else (best <= s[key] * (1 + 1e-12)), key


def test_crossovers_compare_envelopes(sides):
    """The crossover sentence's winners are those of the envelopes: above each crossover the
    side it names has the better envelope at every interactivity either side's points reach."""
    a, b = sides["wse3"], sides["dgx-h100"]
    every_a, every_b = [r.summary for r, _ in a.evaluated], [r.summary for r, _ in b.evaluated]
    xs = sorted({s["tokens_per_s_per_user"] for s in every_a + every_b})
    for basis, (key, _, more) in BASES.items():
        winners = crossovers(a, b, basis)[0]
        assert len(winners) >= 1
        for x in xs:
            ya, yb = _best(every_a, x, key, more), _best(every_b, x, key, more)
            if ya is None or yb is None or ya == yb:
                continue
            want = "wse3" if (ya > yb if more else ya < yb) else "dgx-h100"
            named = [w for x0, w in winners if x0 <= x * (1 + 1e-12)]
            above = [w for x0, w in winners if x0 > x * (1 + 1e-12)]
            # the sentence's breakpoints are points of the envelopes: the winner at x is the one named at
            # the last breakpoint at or below x, or the first above it when x falls inside a step
            assert want in (named[-1:] + above[:1]), (basis, x)


def test_copies_packed_into_a_unit_charge_the_unit_once():
    """Two copies of tp 4 in one 8-GPU DGX: twice the tokens/s for one node's power and price;
    per-user and per-device figures are one copy's; the identities still hold."""
    one = wafersim.simulate("dgx-h100", "llama-3.1-8b", tp=4, batch=16)
    two = pack(one, 2).summary
    s = one.summary
    assert two["power_w"] == s["power_w"] and two["cost_usd"] == s["cost_usd"]
    assert two["tokens_per_s"] == 2 * s["tokens_per_s"] and two["devices"] == 8 and two["batch"] == 32
    assert two["tokens_per_s_per_user"] == s["tokens_per_s_per_user"]
    assert two["tokens_per_s_per_device"] == pytest.approx(two["tokens_per_s"] / two["devices"], rel=1e-12)
    assert two["tokens_per_s_per_kw"] == pytest.approx(two["tokens_per_s"] / (two["power_w"] / 1e3), rel=1e-12)
    assert two["usd_per_million_tokens"] == pytest.approx(two["usd_per_hour"] / (two["tokens_per_s"] * 3600) * 1e6,
                                                          rel=1e-12)


def test_pareto_against_a_brute_force():
    pts = [(100, 5), (90, 7), (90, 6), (80, 7), (50, 20), (120, 1), (50, 19), (10, 20)]
    for more in (True, False):
        sign = 1 if more else -1
        naive = [i for i, (x, y) in enumerate(pts)
                 if not any((x2 >= x and sign * y2 > sign * y) or (x2 > x and y2 == y) for x2, y2 in pts)]
        assert sorted(pareto(pts, more)) == naive


def test_best_at_is_the_best_point_that_satisfies_the_condition(sides):
    cond = constraint("tokens_per_s_per_user>=50")
    for f in sides.values():
        best = best_at(f, cond)
        every = [r.summary for r, _ in f.evaluated]
        for basis, (key, _, more) in BASES.items():
            ok = [s[key] for s in every if s["tokens_per_s_per_user"] >= 50]
            assert best[basis]["value"] == (max(ok) if more else min(ok))
            assert best[basis]["run"].summary["tokens_per_s_per_user"] >= 50


def test_frontier_command_envelope_json_and_file(tmp_path, capsys):
    out = tmp_path / "env.h5"
    argv = ["compare", "wse3", "dgx-h100", MODEL, "--frontier"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"]["mode"] == "envelope"
    assert max(p["deployment"]["wafers"] for p in data["a"]["points"]) > 4
    assert len({p["deployment"]["text"] for p in data["b"]["points"]}) >= 2
    assert main([*argv, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "deployment" in text and "wafers" in text and "tp 8 x pp 1 x ep 1 (8 GPUs)" in text
    a, b = read_table(out, "frontier/a"), read_table(out, "frontier/b")
    assert [p["deployment"]["text"] for p in data["a"]["points"]] == list(a["deployment"])
    for table in (a, b):
        for rid, batch in zip(table["run"], table["batch"]):
            assert wafersim.read_run(out, rid).summary["batch"] == batch
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "envelope" in shown and "tp 8 x pp 1 x ep 1 (8 GPUs)" in shown


def test_at_names_each_sides_best_deployment_and_the_winner(capsys):
    argv = ["compare", "wse3", "dgx-h100", MODEL, "--at", "tokens_per_s_per_user>=50"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for basis, (key, _, more) in BASES.items():
        row = data["bases"][basis]
        va, vb = row["a"]["value"], row["b"]["value"]
        assert row["a"]["tokens_per_s_per_user"] >= 50 and row["b"]["tokens_per_s_per_user"] >= 50
        assert row["winner"] == ("a" if (va > vb if more else va < vb) else "b")
        assert row["ratio"] == pytest.approx(va / vb, rel=1e-12)
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "where tokens_per_s_per_user >= 50" in text and "per kW:" in text and "wafers at batch" in text


def test_at_beyond_one_side_and_bad_conditions(capsys):
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--at", "tokens_per_s_per_user>=1000", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["bases"]["kW"]
    assert row["b"] is None and row["winner"] == "a" and row["ratio"] is None
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--at", "nonsense>=3"]) == 2
    assert "--constraint" in capsys.readouterr().err or True
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--at", "ttft_s<=1 s", "--frontier"]) == 2
