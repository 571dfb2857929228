"""Speculative decoding: the closed form of accepted tokens, and what a step costs on both kinds of system."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import wafersim
from wafersim.cli import main
from wafersim.config import ConfigError
from wafersim.engines.speculative import accepted_tokens_per_step, verify_scenario
from wafersim.workload.scenario import Scenario

DATA = Path(__file__).resolve().parent.parent / "data"
MODEL = str(DATA / "tiny-llama.toml")


def _simulated_tokens_per_step(a: float, k: int, steps: int, seed: int) -> float:
    """Monte Carlo: accept proposals one by one until the first rejection, then add the target's token."""
    rng = random.Random(seed)
    total = 0
    for _ in range(steps):
        accepted = 0
        while accepted < k and rng.random() < a:
            accepted += 1
        total += accepted + 1
    return total / steps


@pytest.mark.parametrize("a,k,expected", [(0.8, 4, 3.3616), (0.5, 1, 1.5), (0.5, 3, 1.875), (0.0, 5, 1.0),
                                          (1.0, 4, 5.0), (1.0, 0, 1.0), (0.9, 0, 1.0)])
def test_accepted_tokens_hand_values(a, k, expected):
    # (1 - a^(k+1)) / (1 - a), worked out by hand: 0.8, 4 -> (1 - 0.32768) / 0.2
    assert accepted_tokens_per_step(a, k) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("a,k", [(0.3, 2), (0.7, 5), (0.95, 8)])
def test_accepted_tokens_against_sampling(a, k):
    assert accepted_tokens_per_step(a, k) == pytest.approx(_simulated_tokens_per_step(a, k, 200_000, 7), rel=0.01)


def test_accepted_tokens_is_the_geometric_sum():
    for k in range(0, 9):
        for a in (0.0, 0.1, 0.5, 0.99, 1.0):
            assert accepted_tokens_per_step(a, k) == pytest.approx(sum(a ** i for i in range(k + 1)), rel=1e-12)


def test_verify_pass_is_k_plus_one_query_tokens_on_every_kind():
    s = Scenario(batch=3, prompt_tokens=2048, output_tokens=128, speculative=4, acceptance=0.7)
    for kind in ("gpu", "wafer"):
        v = verify_scenario(s, kind)
        assert (v.batch, v.prompt_tokens, v.output_tokens, v.query_tokens) == (3, 2048, 128, 5)
        assert (v.speculative, v.acceptance, v.draft) == (0, None, None)


def _verify_step_s(system: str, model: str, tokens: int, **kw) -> float:
    """The decode step of the verify pass over ``tokens`` tokens per sequence (1: a plain step)."""
    if tokens == 1:
        return wafersim.simulate(system, model, **kw).summary.tpot_s
    return wafersim.simulate(system, model, speculative=tokens - 1, acceptance=0.5, **kw).summary.verify_step_s


@pytest.mark.parametrize("system,model,kw", [
    ("dgx-h100", "llama-3.1-70b", dict(tp=8)),
    ("dgx-h100", "llama-3.1-8b", dict(tp=1, batch=4)),
    ("dgx-h100", "llama-3.1-8b", dict(tp=2, pp=2, batch=6)),
    ("wse3", "llama-3.1-8b", dict()),
])
def test_verify_step_never_shrinks_with_tokens_verified(system, model, kw):
    """Verifying more tokens per sequence reads the same weights and KV and does more work: the
    step is never shorter than with fewer tokens (1: a plain decode step)."""
    kw = dict(kw, prompt_tokens=1024, output_tokens=64)
    steps = [_verify_step_s(system, model, t, **kw) for t in range(1, 9)]
    assert all(b >= a * (1 - 1e-12) for a, b in zip(steps, steps[1:])), steps


def test_gpu_verify_attention_reads_each_key_once():
    """On GPUs the verify pass's attention runs over each sequence's real context: the KV bytes
    and their tiles are a plain step's, the attention arithmetic k + 1 times a plain step's."""
    from wafersim.engines.analytic_gpu import AnalyticGpu
    from wafersim.presets import load_model, load_system

    system, model = load_system("dgx-h100"), load_model("llama-3.1-70b")
    s = Scenario(batch=2, prompt_tokens=1024, output_tokens=64, tp=8, speculative=3, acceptance=0.5).resolved(model)
    plain = AnalyticGpu(system, model, verify_scenario(s, "gpu"))
    ctx, kvl = s.mean_decode_context, model.kv_bytes_per_token_layer(s.kv_dtype)
    one = plain.layer_time(2, model.attention_flops(2, ctx), 2 * ctx * kvl, 1.0, 1.0, seqs=2, query_len=1,
                           context=ctx)[1]
    four = plain.layer_time(8, model.attention_flops(8, ctx), 2 * ctx * kvl, 1.0, 1.0, seqs=2, query_len=4,
                            context=ctx)[1]
    weights = model.layer_weight_bytes_read(1, s.dtype) / 8
    assert four["hbm_bytes"] == pytest.approx(one["hbm_bytes"], rel=1e-12)
    assert one["hbm_bytes"] == pytest.approx(weights + 2 * ctx * kvl * plain.memory.kv_share, rel=1e-12)
    attention = model.attention_flops(1, ctx) / 8
    assert four["flops"] - one["flops"] == pytest.approx(
        6 * model.layer_matmul_flops_per_token / 8 + 6 * attention, rel=1e-9)


@pytest.fixture(scope="module")
def wafer_runs():
    run = lambda **kw: wafersim.simulate("wse2", "llama-3.1-8b", prompt_tokens=1024, output_tokens=64, **kw)  # noqa: E731
    return {"plain": run(), "a0": run(speculative=4, acceptance=0.0), "a1": run(speculative=4, acceptance=1.0),
            "a08": run(speculative=4, acceptance=0.8)}


def test_wafer_self_speculation_costs(wafer_runs):
    plain, a0, a1, a08 = (wafer_runs[k].summary for k in ("plain", "a0", "a1", "a08"))
    # nothing accepted: every step pays the verify pass over 5 tokens for one token
    assert a0.tpot_s > plain.tpot_s
    assert a0.tpot_s == pytest.approx(a0.verify_step_s) and a0.accepted_tokens_per_step == 1.0
    # all accepted: the same pass emits 5 tokens
    assert a1.tpot_s == pytest.approx(a1.verify_step_s / 5, rel=1e-12)
    assert a08.tpot_s == pytest.approx(a08.verify_step_s / 3.3616, rel=1e-12)
    assert a08.tokens_per_s_per_user == pytest.approx(a08.effective_tokens_per_s_per_user)
    assert a08.tokens_per_s_per_user == pytest.approx(3.3616 / a08.speculative_step_s, rel=1e-12)
    assert a08.draft_model == "self" and a08.draft_step_s == 0.0
    layer = wafer_runs["a08"].arrays["decode_layer_s"].data
    assert layer.mean() == pytest.approx(a08.decode_layer_s, rel=1e-9)     # the verify pass's layers
    assert a08.decode_layer_s > plain.decode_layer_s
    # prefill is the plain run's
    assert a08.ttft_s == plain.ttft_s
    # energy per token: the verify step's energy over the tokens it emits
    assert a1.energy_per_token_j == pytest.approx(a0.energy_per_token_j / 5, rel=1e-9)


def test_gpu_draft_speculation_costs():
    kw = dict(tp=8, prompt_tokens=1024, output_tokens=64)
    plain = wafersim.simulate("dgx-h100", "llama-3.1-70b", **kw).summary
    draft = wafersim.simulate("dgx-h100", "llama-3.1-8b", **kw).summary
    a0 = wafersim.simulate("dgx-h100", "llama-3.1-70b", speculative=3, acceptance=0.0, draft="llama-3.1-8b",
                           **kw).summary
    a09 = wafersim.simulate("dgx-h100", "llama-3.1-70b", speculative=3, acceptance=0.9, draft="llama-3.1-8b",
                            **kw).summary
    assert a0.tpot_s > plain.tpot_s
    assert a0.draft_step_s == pytest.approx(draft.tpot_s, rel=1e-12)
    step = a09.verify_step_s + 3 * draft.tpot_s
    assert a09.speculative_step_s == pytest.approx(step, rel=1e-12)
    assert a09.tpot_s == pytest.approx(step / (1 - 0.9 ** 4) * (1 - 0.9), rel=1e-12)
    assert a09.ttft_s == pytest.approx(plain.ttft_s + draft.ttft_s, rel=1e-12)
    # the verify pass over 4 tokens at batch 1 reads the same weights and KV as a plain step and does more
    assert plain.tpot_s <= a09.verify_step_s < 1.5 * plain.tpot_s
    assert a09.draft_model == "llama-3.1-8b"
    # a whole request: the first token after prefill (target's and draft's), the rest at the speculative pace
    assert a09.request_tokens_per_s == pytest.approx(64 / (a09.ttft_s + 63 * a09.tpot_s), rel=1e-12)
    assert a09.request_tokens_per_s > plain.request_tokens_per_s


def test_wafer_decode_tile_holds_the_verify_pass_tokens():
    """A verify pass carries k + 1 tokens of every sequence through the regions, so the
    activation tile each core keeps for it is k + 1 times the plain tile (code and routing fixed)."""
    from wafersim.engines.wafer_memory import WaferMemory
    from wafersim.mapping.options import MappingOptions
    from wafersim.presets import load_model, load_system

    system, model = load_system("wse2"), load_model("llama-3.1-8b")
    plain = Scenario(batch=8, prompt_tokens=1024, output_tokens=64, wafers=1).resolved(model)
    verify = verify_scenario(Scenario(batch=8, prompt_tokens=1024, output_tokens=64, wafers=1, speculative=4,
                                      acceptance=0.5).resolved(model), "wafer")
    fixed = int(system.core.fixed_buffer_bytes)
    tile = lambda s: WaferMemory(system, model, s, MappingOptions()).layout(8, 1).core_buffer_bytes - fixed  # noqa: E731
    assert tile(plain) > 0
    assert tile(verify) == pytest.approx(5 * tile(plain), rel=0.02)


@pytest.mark.parametrize("kw,key", [
    (dict(speculative=4), "acceptance"),
    (dict(speculative=4, acceptance=1.5), "acceptance"),
    (dict(speculative=4, acceptance=float("nan")), "acceptance"),
    (dict(acceptance=0.5), "acceptance"),
    (dict(draft="llama-3.1-8b"), "draft"),
    (dict(speculative=-1, acceptance=0.5), "speculative"),
    (dict(speculative=65, acceptance=0.5), "speculative"),
    (dict(speculative=True, acceptance=0.5), "speculative"),
])
def test_bad_speculation_is_refused(kw, key):
    with pytest.raises(ConfigError) as err:
        Scenario(**kw)
    assert err.value.key == key


def test_gpu_refuses_a_wafer_verify_pass():
    with pytest.raises(ConfigError, match="query_tokens"):
        wafersim.simulate("dgx-h100", MODEL, query_tokens=3)


def test_cli_flags(capsys):
    assert main(["run", "wse2", MODEL, "--speculative", "2", "--acceptance", "0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accepted_tokens_per_step"] == pytest.approx(1.75)
    assert out["speculative_tokens"] == 2 and out["acceptance_rate"] == 0.5
    with pytest.raises(SystemExit) as exit_:
        main(["run", "wse2", MODEL, "--speculative", "2", "--acceptance", "2"])
    assert exit_.value.code == 2
    assert "probability" in capsys.readouterr().err


@pytest.mark.parametrize("system,target,draft,kw,devices", [
    ("wse3", "llama-3.1-70b", "llama-3.2-1b", dict(wafers="auto"), 4),     # the draft on 1 of the 4 wafers
    ("dgx-h100", "llama-3.1-70b", "llama-3.2-1b", dict(tp=8), 8),
    ("dgx-h100", "llama-3.1-8b", "llama-3.2-1b", dict(tp=2, batch=3), 2),
    ("wse3", "llama-3.1-8b", "llama-3.1-70b", dict(wafers="auto"), 4),     # a draft sized on more wafers
])
def test_static_energy_is_every_device_over_the_whole_step(system, target, draft, kw, devices):
    """While the draft proposes, every device of the run is powered: static energy per token is
    static power x the devices the summary reports x the speculative step / tokens emitted."""
    r = wafersim.simulate(system, target, prompt_tokens=1024, output_tokens=64, speculative=4, acceptance=0.7,
                          draft=draft, **kw)
    s = r.summary
    assert s.devices == devices
    power = wafersim.load_system(system).energy.static_power_w
    assert s.energy_static_j == pytest.approx(power * devices * s.speculative_step_s
                                              / (s.batch * accepted_tokens_per_step(0.7, 4)), rel=1e-12)
    parts = [s.get(f) for f in type(s).__dataclass_fields__ if f.startswith("energy_") and f != "energy_per_token_j"]
    assert s.energy_per_token_j == pytest.approx(sum(p for p in parts if p is not None), rel=1e-12)
    assert s.tokens_per_s_per_device == pytest.approx(s.tokens_per_s / devices, rel=1e-12)
    alone = {m: wafersim.simulate(system, m, prompt_tokens=1024, output_tokens=64, **kw).summary.devices
             for m in (target, draft)}
    assert devices == max(alone.values())
    note = next(n for n in r.notes if n.startswith("the draft model"))
    one = {1: "device"}
    assert f"({alone[draft]} {one.get(alone[draft], 'devices')}, " in note
    assert f"static power of all {devices} {one.get(devices, 'devices')} " in note
    assert ("not added to devices" in note) == (alone[draft] <= alone[target])
