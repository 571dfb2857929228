"""Online serving under load: requests keep arriving while a batch decodes.

A serving runtime with continuous batching runs an arriving request's prefill as a pass
of its own between decode steps; the sequences in flight wait meanwhile.  One request's
prefill keeps the devices busy ``t_p`` seconds: the system's own time to first token for
one request of the scenario's prompt (batch 1, on the system as sized for the batch, the
draft model's prefill included under speculative decoding), less the runtime's
per-request overhead, which the host spends (tokenising, scheduling) while the devices
keep decoding.  The prefill passes through the run's pipeline stages, and what stalls
the decode is the busiest stage's busy time per prompt, ``b``:

* a GPU system's ``pp`` stages (the wafers of a sequential or streaming wafer placement)
  each run the whole prompt through their own layers, one stage after the other, so each
  is busy its layers' share, ``b = t_p / stages`` (balanced stages);
* a pipelined wafer placement cuts the prompt into blocks that stream through the layer
  regions, every region taking every block: a region is busy its layer's whole prefill,
  the ``prefill_layer_s`` the run reports (blocks x one block's time), while the prompt
  takes ``t_p`` = that plus the pipeline's fill and drain.  So ``b`` is the busiest
  region's ``prefill_layer_s`` (nearly ``t_p`` for a long prompt), not ``t_p`` over the
  regions; where weights or KV spill, each wafer's edge I/O is busy the prefill's edge-I/O
  time, and ``b`` is the longer of the two; a draft model's prefill, during which the
  target's cores wait, adds to it.

With requests arriving at ``request_rate`` (lambda, per second) the busiest stage spends a
share ``rho = lambda b`` of the time on prefills, and every sequence's decode step
stretches from ``t`` to ``t / (1 - rho)``: its tokens come out only in the other
``1 - rho``.  At ``rho >= 1`` prefills alone outrun that stage and no steady state exists.

An arriving request's first token takes the batch-1 time to first token, plus the wait
for the decode work in progress on the first stage (half of it, ``k t / (2 stages)`` with
``t`` the unstretched step and ``k`` the runtime's decode steps per scheduling round,
``efficiency.scheduler_steps``: vLLM's multi-step scheduling admits requests every ``k``
steps) and for the prefills queued before it: prefills of Poisson
arrivals served one at a time in ``b`` at the busiest stage wait
``rho b / (2 (1 - rho))`` on average (the Pollaczek-Khinchine mean wait of
an M/D/1 queue).  The batch stays what the scenario says; the summary reports how many
requests this rate keeps in flight by Little's law (rate x request latency), so that a
batch that does not match the rate shows.  Static power runs over the stretched step, so
static energy per token grows by ``1 / (1 - rho)``; the devices' other energy per token
does not change.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..config import ConfigError
from ..results.run_result import RunResult
from ..text import plural

__all__ = ["prefill_busy_s", "pipeline_stages", "stage_busy_s", "under_load"]

#: a batch this far from the requests the rate keeps in flight (Little's law) gets a note
MISMATCH_NOTE_SHARE = 0.25


def prefill_busy_s(one: RunResult, system: Any) -> float:
    """Seconds one request's prefill keeps the devices busy: ``one``'s (a batch-1 run's) time
    to first token less the runtime's per-request host overhead."""
    overhead = getattr(getattr(system, "efficiency", None), "request_overhead_s", 0.0) or 0.0
    return max(one.summary.ttft_s - overhead, 0.0)


def pipeline_stages(summary: Any) -> int:
    """The stages a prefill passes through one after another, each busy its share of it:
    ``pp`` on a GPU system, the layer regions of a pipelined wafer placement, the wafers
    of a sequential or streaming one."""
    if summary.kind == "gpu":
        return int(summary.get("pp") or 1)
    if summary.get("placement") == "pipelined":
        return int(summary.layers)
    return int(summary.devices)


def stage_busy_s(one: RunResult, system: Any) -> float:
    """Seconds one request's prefill keeps the busiest pipeline stage busy (``b`` above), from
    ``one``, a batch-1 run (speculative where the batch is)."""
    s = one.summary
    t_p = prefill_busy_s(one, system)
    if s.kind == "gpu" or s.get("placement") != "pipelined":
        return t_p / pipeline_stages(s)
    per_layer = one.arrays.get("prefill_layer_s")
    region = float(per_layer.data.max()) if per_layer is not None else float(s.prefill_layer_s)
    edge_io = one.prefill.components.get("edge_io", 0.0)
    draft = max(s.ttft_s - one.prefill.time_s, 0.0)      # a draft's prefill adds to the first token
    return max(region, edge_io) + draft


def under_load(result: RunResult, one: RunResult, system: Any, rate: float) -> RunResult:
    """``result`` (a static batch) with its decode stretched by the prefills of requests
    arriving at ``rate`` per second; ``one`` is the same run at batch 1 with no arrivals."""
    s = result.summary
    t_p = prefill_busy_s(one, system)
    stages = pipeline_stages(s)
    busy = stage_busy_s(one, system)
    rho = rate * busy
    if rho >= 1.0:
        raise ConfigError("scenario", "request_rate", f"{rate:g} requests/s need {rho:.3g} s of prefill per second "
                          f"on the busiest of {plural(stages, 'pipeline stage')} (each prefill {_ms(t_p)}, busy "
                          f"{_ms(busy)}): the system cannot keep up; the most it takes is {1.0 / busy:.4g} requests/s")
    step = s.get("speculative_step_s") or s.tpot_s          # the unstretched decode step
    round_steps = getattr(getattr(system, "efficiency", None), "scheduler_steps", 1) or 1
    tpot = s.tpot_s / (1.0 - rho)
    batch, out = s.batch, s.output_tokens
    ttft = one.summary.ttft_s + round_steps * step / (2.0 * stages) + rho * busy / (2.0 * (1.0 - rho))
    in_flight = rate * (ttft + (out - 1) * tpot)
    tokens_per_s = batch / tpot
    changes: dict[str, Any] = dict(
        ttft_s=ttft, tpot_s=tpot, tokens_per_s_per_user=1.0 / tpot, tokens_per_s=tokens_per_s,
        tokens_per_s_per_device=tokens_per_s / s.devices,
        request_tokens_per_s=batch * out / (ttft + (out - 1) * tpot),
        request_rate=float(rate), prefill_busy_share=rho, unloaded_tpot_s=s.tpot_s, requests_in_flight=in_flight)
    if s.get("effective_tokens_per_s_per_user") is not None:
        changes["effective_tokens_per_s_per_user"] = 1.0 / tpot
    if s.get("energy_static_j") is not None:
        static = s.energy_static_j / (1.0 - rho)
        changes["energy_static_j"] = static
        changes["energy_per_token_j"] = s.energy_per_token_j - s.energy_static_j + static
    # the deployment is the run's (power and price as it reported them); only the throughput moved
    if s.get("power_w"):
        changes["tokens_per_s_per_kw"] = tokens_per_s / (s.power_w / 1e3)
        changes["wall_energy_per_token_j"] = s.power_w / tokens_per_s
    if s.get("usd_per_hour"):
        changes["usd_per_million_tokens"] = s.usd_per_hour / (tokens_per_s * 3600.0) * 1e6
    notes = [f"under load: {rate:g} requests/s, each prefill ({_ms(t_p)}, over {plural(stages, 'pipeline stage')}, the "
             f"busiest busy {_ms(busy)}) stalls the batch's decode, {100 * rho:.3g} % of the time; time per output token {_ms(s.tpot_s)} -> "
             f"{_ms(tpot)}; an arriving request's first token {_ms(ttft)} (its prefill, the decode work in progress, "
             "the prefills queued before it)"]
    if abs(in_flight - batch) > MISMATCH_NOTE_SHARE * batch:
        notes.append(f"at {rate:g} requests/s about {in_flight:.3g} requests are in flight (Little's law: rate x "
                     f"request latency), not the batch of {batch}: set the batch near that for a steady state")
    return replace(result, summary=replace(s, **changes), decode=replace(result.decode, time_s=tpot),
                   prefill=replace(one.prefill, time_s=ttft), notes=[*notes, *result.notes])


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.4g} ms"
