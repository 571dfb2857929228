"""Online serving under load: requests keep arriving while a batch decodes.

A serving runtime with continuous batching (vLLM, SGLang, TensorRT-LLM's in-flight
batching) runs an arriving request's prefill as a pass of its own between decode steps;
the sequences in flight wait meanwhile.  With requests arriving at ``request_rate``
(lambda, per second) and one request's prefill keeping the devices busy for ``t_p``
seconds, prefills take a share ``rho = lambda * t_p`` of the time, and every sequence's
decode step stretches from ``t`` to ``t / (1 - rho)``: its tokens come out only in the
other ``1 - rho`` of the time.  At ``rho >= 1`` prefills alone outrun the devices and no
steady state exists.

``t_p`` is the system's own time to first token for one request of the scenario's prompt
(batch 1, on the system as sized for the batch) less the runtime's per-request overhead,
which the host spends (tokenising, scheduling) while the devices keep decoding.

An arriving request's first token takes that batch-1 time to first token, plus the wait
for the decode step in progress (half a step on average) and for the prefills queued
before it: prefills of Poisson arrivals served one at a time in ``t_p`` each wait
``rho t_p / (2 (1 - rho))`` on average (the Pollaczek-Khinchine mean wait of an M/D/1
queue).  The
batch stays what the scenario says; the summary reports how many requests this rate
keeps in flight by Little's law (rate x request latency), so that a batch that does not
match the rate shows.  Static power runs over the stretched step, so static energy per
token grows by ``1 / (1 - rho)``; the devices' other energy per token does not change.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..config import ConfigError
from ..mapping.options import MappingOptions
from ..results.run_result import RunResult
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .assembly import deployment_metrics, deployment_units

__all__ = ["prefill_busy_s", "under_load"]

#: a batch this far from the requests the rate keeps in flight (Little's law) gets a note
MISMATCH_NOTE_SHARE = 0.25


def prefill_busy_s(one: RunResult, system: Any) -> float:
    """Seconds one request's prefill keeps the devices busy: ``one``'s (a batch-1 run's) time
    to first token less the runtime's per-request host overhead."""
    overhead = getattr(getattr(system, "efficiency", None), "request_overhead_s", 0.0) or 0.0
    return max(one.summary.ttft_s - overhead, 0.0)


def under_load(engine: Any, system: Any, model: ModelSpec, scenario: Scenario, mapping: MappingOptions,
               result: RunResult) -> RunResult:
    """``result`` (a static batch, ``scenario`` resolved) with its decode stretched by the
    prefills of requests arriving at ``scenario.request_rate``."""
    rate = scenario.request_rate
    single = replace(scenario, batch=1, request_rate=0.0, speculative=0, acceptance=None, draft=None,
                     query_tokens=1)
    one = engine.simulate(system, model, single, mapping)
    t_p = prefill_busy_s(one, system)
    rho = rate * t_p
    if rho >= 1.0:
        raise ConfigError("scenario", "request_rate", f"{rate:g} requests/s need {rho:.3g} s of prefill per second "
                          f"(each {_ms(t_p)}): the system cannot keep up; the most it takes is "
                          f"{1.0 / t_p:.4g} requests/s")
    s = result.summary
    tpot = s.tpot_s / (1.0 - rho)
    batch, out = s.batch, s.output_tokens
    static = (s.get("energy_static_j") or 0.0) / (1.0 - rho)
    ttft = one.summary.ttft_s + tpot / 2.0 + rho * t_p / (2.0 * (1.0 - rho))
    in_flight = rate * (ttft + (out - 1) * tpot)
    changes: dict[str, Any] = dict(
        ttft_s=ttft, tpot_s=tpot, tokens_per_s_per_user=1.0 / tpot, tokens_per_s=batch / tpot,
        tokens_per_s_per_device=batch / tpot / s.devices,
        request_tokens_per_s=batch * out / (ttft + (out - 1) * tpot),
        request_rate=float(rate), prefill_busy_share=rho, unloaded_tpot_s=s.tpot_s, requests_in_flight=in_flight)
    if s.get("effective_tokens_per_s_per_user") is not None:
        changes["effective_tokens_per_s_per_user"] = 1.0 / tpot
    if s.get("energy_static_j") is not None:
        changes["energy_static_j"] = static
        changes["energy_per_token_j"] = s.energy_per_token_j - s.energy_static_j + static
    changes.update(deployment_metrics(system.deployment, deployment_units(s), batch / tpot))
    notes = [f"under load: {rate:g} requests/s, each prefill ({_ms(t_p)}) stalls the batch's decode, "
             f"{100 * rho:.3g} % of the time; time per output token {_ms(s.tpot_s)} -> {_ms(tpot)}; an arriving "
             f"request's first token {_ms(ttft)} (its prefill, the step in progress, the prefills queued before it)"]
    if abs(in_flight - batch) > MISMATCH_NOTE_SHARE * batch:
        notes.append(f"at {rate:g} requests/s about {in_flight:.3g} requests are in flight (Little's law: rate x "
                     f"request latency), not the batch of {batch}: set the batch near that for a steady state")
    return replace(result, summary=replace(s, **changes), decode=replace(result.decode, time_s=tpot),
                   prefill=replace(one.prefill, time_s=ttft), notes=[*notes, *result.notes])


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.4g} ms"
