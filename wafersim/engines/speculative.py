"""Speculative decoding, costed the same way on every kind of system.

A step of speculative decoding (Leviathan et al., "Fast Inference from
Transformers via Speculative Decoding", ICML 2023; Chen et al., "Accelerating
Large Language Model Decoding with Speculative Sampling", 2023):

1. a draft proposes ``k`` tokens per sequence: ``k`` decode steps of a smaller
   draft model, or, in self-speculation (extra decoding heads, multi-token
   prediction), nothing beyond the target's own pass;
2. the target verifies the ``k`` proposals and produces one token of its own in
   one pass over ``k + 1`` query tokens per sequence: the weights are read
   once, the KV cache of each sequence once, the matrix arithmetic and the
   activations exchanged grow ``k + 1``-fold;
3. proposals are accepted up to the first rejection; with each accepted
   independently with probability ``a`` the step emits on average
   ``(1 - a^(k+1)) / (1 - a)`` tokens (``k + 1`` at ``a = 1``, one at ``a = 0``).

The verify pass is costed by the system's own engine (:func:`verify_scenario`) as
a decode step with ``k + 1`` query tokens per sequence over its cached keys
(``Scenario.query_tokens``): the wafer engines carry a micro-batch's ``k + 1``
tokens of every sequence through each layer region together; the GPU engine runs
``batch x (k + 1)`` rows through the GEMMs and the LM head, and attention over
each sequence's real context, its keys read once (split into the same tiles as a
plain step's), its arithmetic ``k + 1``-fold.

Static power is drawn by every device the run occupies for the whole step, the
``k`` draft steps included: the draft runs on (a subset of) the target's devices
while the rest wait, so static energy per token is the static power of the
summary's devices times the step over the tokens it emits, not the verify pass's
and the draft's own static energies added up.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..results.run_result import RunResult
from ..results.summary import Summary
from ..text import plural
from ..workload.scenario import Scenario
from .assembly import deployment_metrics, deployment_units

__all__ = ["accepted_tokens_per_step", "verify_scenario", "combine"]


def accepted_tokens_per_step(acceptance: float, proposed: int) -> float:
    """Expected tokens one verify step emits: the accepted prefix of ``proposed`` draft tokens,
    each accepted with probability ``acceptance`` until the first rejection, plus the
    target's own token (the correction or the bonus token)."""
    if acceptance >= 1.0:
        return proposed + 1.0
    return (1.0 - acceptance ** (proposed + 1)) / (1.0 - acceptance)


def verify_scenario(scenario: Scenario, kind: str) -> Scenario:
    """The verify pass of ``scenario`` (resolved, batch a number) as a decode step of
    ``query_tokens = k + 1`` tokens per sequence over the sequence's cached keys, on every
    ``kind`` of system (the argument is kept for callers that pass it)."""
    plain = replace(scenario, speculative=0, acceptance=None, draft=None)
    return replace(plain, query_tokens=scenario.speculative + 1)


def combine(target: RunResult, verify: RunResult, draft: RunResult | None, scenario: Scenario,
            system: Any) -> RunResult:
    """The target's run with its decode replaced by speculative steps.

    ``target`` is the plain run (prefill, memory, layout), ``verify`` the verify pass
    (:func:`verify_scenario`), ``draft`` the draft model's plain run on the same system
    (None for self-speculation).  A step is ``k`` draft steps then the verify pass; time
    per output token is the step over the tokens it emits; energy per token likewise.
    """
    k, a = scenario.speculative, float(scenario.acceptance)
    batch = scenario.batch
    emitted = accepted_tokens_per_step(a, k)
    draft_step = draft.summary.tpot_s if draft is not None else 0.0
    step = verify.summary.tpot_s + k * draft_step
    tpot = step / emitted
    ts = target.summary
    # the run occupies the target's devices, or the draft's where it was sized on more
    devices = max(ts.devices, draft.summary.devices if draft is not None else 0)
    units = deployment_units(system, devices)
    energy: dict[str, float] = {}
    # energy of one step of the whole batch, per token the step emits for each sequence
    for key in (f for f in Summary.__dataclass_fields__
                if f.startswith("energy_") and f not in ("energy_per_token_j", "energy_static_j")):
        v = verify.summary.get(key)
        d = draft.summary.get(key) if draft is not None else None
        if v is None and d is None:
            continue
        joules = (v or 0.0) * verify.summary.batch + k * (d or 0.0) * (draft.summary.batch if draft else 0)
        energy[key] = joules / (batch * emitted)
    # static power: every device the run occupies, for the whole step (while the draft
    # proposes, the target's devices are powered and waiting)
    energy["energy_static_j"] = system.energy.static_power_w * devices * step / (batch * emitted)
    energy["energy_per_token_j"] = sum(energy.values())
    ttft = ts.ttft_s + (draft.summary.ttft_s if draft is not None else 0.0)
    out_tokens = ts.output_tokens
    changes: dict[str, Any] = dict(
        tpot_s=tpot, tokens_per_s_per_user=1.0 / tpot, tokens_per_s=batch / tpot,
        request_tokens_per_s=batch * out_tokens / (ttft + (out_tokens - 1) * tpot),
        tokens_per_s_per_device=batch / tpot / devices, devices=devices,
        ttft_s=ttft,
        decode_layer_s=verify.summary.decode_layer_s,
        bottleneck=verify.summary.decode_bottleneck, decode_bottleneck=verify.summary.decode_bottleneck,
        speculative_tokens=k, acceptance_rate=a, accepted_tokens_per_step=emitted,
        speculative_step_s=step, draft_step_s=draft_step, verify_step_s=verify.summary.tpot_s,
        effective_tokens_per_s_per_user=1.0 / tpot,
        draft_model=draft.summary.model if draft is not None else "self",
        **energy)
    changes.update(deployment_metrics(system.deployment, units, batch / tpot))
    summary = replace(ts, **changes)
    how = (f"{k} draft steps of {draft.summary.model} ({_us(draft_step)} each)" if draft is not None
           else "self-speculation (the target proposes in its own pass)")
    bound = "decode step bound by "
    notes = [f"speculative decoding: {k} tokens proposed per step by {how}, verified in one pass over "
             f"{k + 1} tokens per sequence ({_us(verify.summary.tpot_s)}); acceptance {a:g} emits "
             f"{emitted:.3g} tokens per step on average",
             *(n if not n.startswith(bound) else
               f"{bound}{verify.summary.decode_bottleneck} (the verify pass); prefill bound by {ts.prefill_bottleneck}"
               for n in target.notes)]
    if draft is not None:
        counted = ("not added to devices" if draft.summary.devices <= ts.devices else
                   f"more than the target's {ts.devices}: devices counts them")
        notes.append(f"the draft model is costed on the system as sized for it "
                     f"({plural(draft.summary.devices, 'device')}, {counted}); static power of all "
                     f"{plural(devices, 'device')} is counted over the whole "
                     f"step; its prefill ({_us(draft.summary.ttft_s)}) adds to the time to first token")
    # the per-layer decode arrays are the verify pass's, as decode_layer_s is
    arrays = {**target.arrays, **{k: verify.arrays[k] for k in ("decode_layer_s", "decode_stage_s")
                                  if k in verify.arrays and k in target.arrays}}
    return replace(target, summary=summary, decode=replace(verify.decode, time_s=tpot), notes=notes, arrays=arrays,
                   config={**target.config, "verify_scenario": verify.config.get("scenario", {})})


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.4g} us" if seconds < 1e-3 else f"{seconds * 1e3:.4g} ms"
