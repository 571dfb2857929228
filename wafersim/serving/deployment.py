"""A deployment as the request simulator sees it: KV capacity, step times, scheduler
limits the runtime sets, and what it costs to keep running.

:func:`deploy` sizes a system for the longest request as every command sizes one
(:func:`wafersim.runner.prepare`: the fewest wafers or whole GPU nodes that hold the
job), then asks the engine of the system's kind, through the registry, for

* its capacity (:class:`~wafersim.engines.capacity.Capacity`): the most sequences of
  the longest context that fit on the devices chosen, times that context, is the KV
  cache in tokens the scheduler's blocks share;
* step times for a table (:mod:`wafersim.serving.steptable`);
* the sized run at one sequence: devices, wall power and price per hour;
* the link its devices reach other systems with (``scale_out_link`` of the system
  spec: a GPU system's scale-out NICs, a wafer's edge I/O) and the KV bytes a request
  of ``n`` tokens holds, for moving KV between a prefill and a decode pool
  (:mod:`wafersim.serving.disagg`).

The simulator never asks what kind of system it runs on: a pipelined wafer, whose
decode step already counts the micro-batches in flight through its layer regions and
whose capacity is the KV its placement leaves, looks to it like any other deployment.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..config import ConfigError
from ..engines.arrivals import prefill_busy_s
from ..results.run_result import RunResult
from ..runner import prepare
from .steptable import StepTable, build

__all__ = ["Deployment", "deploy", "RUNTIME_KNOBS"]

#: the runtime profile's scheduler settings the simulator reads (``efficiency.<name>`` of a
#: system loaded with the profile; 0 or absent: the simulator's default)
RUNTIME_KNOBS = ("max_batch", "max_batched_tokens", "kv_block_tokens", "scheduler_steps")


@dataclass(frozen=True)
class Deployment:
    """What the simulator asks of a deployment (see the module docs).  ``knobs``: the
    runtime's scheduler settings by :data:`RUNTIME_KNOBS` name (0 where it sets none)."""
    name: str
    table: StepTable
    kv_tokens: int
    request_overhead_s: float = 0.0
    devices: int = 1
    power_w: float | None = None
    usd_per_hour: float | None = None
    knobs: dict[str, int] = dataclasses.field(default_factory=dict)
    run: RunResult | None = None
    notes: tuple[str, ...] = ()
    build_s: float = 0.0
    link_bytes_per_s: float = math.inf
    link_latency_s: float = 0.0
    kv_bytes_per_token: Callable[[float], float] | None = None

    def kv_bytes(self, tokens: np.ndarray) -> np.ndarray:
        """KV bytes requests of ``tokens`` tokens hold (zero where the deployment does not say)."""
        tokens = np.asarray(tokens, np.float64)
        if self.kv_bytes_per_token is None:
            return np.zeros_like(tokens)
        lengths, which = np.unique(tokens, return_inverse=True)
        return tokens * np.array([self.kv_bytes_per_token(n) for n in lengths])[which]


def deploy(system: Any, model: Any, *, max_context: int, max_running: int, runtime: str | None = None,
           mapping: Any = None, fidelity: str = "analytic", **sizing: Any) -> Deployment:
    """Size ``system`` for ``model`` at requests up to ``max_context`` tokens and build its
    step table for up to ``max_running`` sequences a step (fewer where the KV cache holds
    fewer).  ``sizing``: wafers, gpus, tp, pp, ep, dtype, kv_dtype as ``simulate`` takes them."""
    started = time.perf_counter()
    prep = prepare(system, model, mapping=mapping, runtime=runtime, batch=1, prompt_tokens=max(max_context - 1, 1),
                   output_tokens=1, fidelity=fidelity, **sizing)
    engine, system, model, mapping = prep.engine, prep.system, prep.model, prep.mapping
    sized = prep.sized.scenario
    if sized.speculative or sized.request_rate:
        raise ConfigError("serve", "", "the request simulator runs plain decoding: leave out --speculative and "
                                       "--request-rate")
    run = prep.sized.result or engine.simulate(system, model, sized, mapping)
    s = run.summary
    devices = int(s.devices)
    capacity = engine.capacity(system, model, sized, mapping)
    notes = list(prep.sized.notes)
    if capacity.fits(1, devices):
        sequences = capacity.largest_batch(devices)
        kv_tokens = sequences * max_context
    else:
        kv_tokens = max_context
        notes.append(f"not even one request of {max_context} tokens fits on chip beside the weights: the KV cache "
                     "spills, and the simulator runs one such request at a time")
    eff = getattr(system, "efficiency", None)
    knobs = {k: int(getattr(eff, k, 0) or 0) for k in RUNTIME_KNOBS}

    def decode(b: int, c: int) -> float:
        sc = dataclasses.replace(sized, batch=b, prompt_tokens=max(c - 1, 1), output_tokens=1)
        return float(engine.simulate(system, model, sc, mapping).summary.tpot_s)

    def prefill(n: int) -> float:
        sc = dataclasses.replace(sized, batch=1, prompt_tokens=n, output_tokens=1)
        return prefill_busy_s(engine.simulate(system, model, sc, mapping), system)

    table = build(decode, prefill, max(1, min(max_running, kv_tokens)), max_context, kv_tokens)
    overhead = float(getattr(eff, "request_overhead_s", 0.0) or 0.0)
    layout = ", ".join(f"{k} {s[k]}" for k in ("tp", "pp", "ep") if s.get(k) and s[k] > 1)
    placement = s.get("placement")
    name = (f"{s.system}: {devices} device{'s' if devices != 1 else ''}"
            + (f", {layout}" if layout else "") + (f", {placement} placement" if placement else ""))
    link = getattr(system, "scale_out_link", None)
    bandwidth, latency = link(devices) if link is not None else (math.inf, 0.0)
    per_token = functools.partial(model.kv_bytes_per_token, sized.kv_dtype or sized.dtype)
    return Deployment(name, table, int(kv_tokens), overhead, devices, s.get("power_w"), s.get("usd_per_hour"),
                      knobs, run, tuple(notes), time.perf_counter() - started, float(bandwidth), float(latency),
                      lambda n: float(per_token(float(n))))
