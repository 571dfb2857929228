"""A serving simulation as one point of a sweep (a spec's ``[serve]`` table).

:data:`KEYS` are the settings a point takes (``serve.<key>`` in a spec, fixed or as
an axis), :func:`check` refuses a bad one before anything runs, and :func:`run_point`
simulates the point and returns it as a :class:`~wafersim.results.run_result.RunResult`:
the sized deployment's run with the serving figures in its summary (percentiles,
goodput, attainment; :data:`SUMMARY_KEYS`), so that a sweep's collection holds them as
variables along its axes.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..config import ConfigError
from ..results.run_result import RunResult

__all__ = ["KEYS", "SUMMARY_KEYS", "SIZING", "check", "run_point", "as_run"]

#: the settings of a serving point: the ``serve`` command's flags
KEYS = ("arrivals", "rate", "requests", "prompt", "output", "slo", "seed", "max_running", "max_batched_tokens",
        "block_tokens", "scheduler_steps", "policy", "mixed_step", "prefill", "decode", "kv_transfer")
#: the scheduler's settings among them, by the name the scheduler gives them
SCHEDULER = {"max_running": "max_running", "max_batched_tokens": "max_batched_tokens",
             "block_tokens": "block_tokens", "scheduler_steps": "round_steps", "policy": "policy",
             "mixed_step": "mixed_step"}
#: the scenario keys a serving point sizes its deployment with (the rest of a run's
#: scenario, batch and lengths, the requests set)
SIZING = ("wafers", "gpus", "tp", "pp", "ep", "dtype", "kv_dtype", "fidelity")
#: stands for the point's own system (loaded with the sweep's overrides) in a pool given as a count
THIS_SYSTEM = "\0"
#: the run summary's serving fields, by their key in the serving figures
SUMMARY_KEYS = {"requests": "serve_requests", **{f"{m}_s_p{q}": f"{m}_s_p{q}" for m in ("ttft", "tpot", "e2e")
                                                 for q in (50, 90, 99)},
                **{k: k for k in ("throughput_requests_per_s", "throughput_tokens_per_s", "goodput_requests_per_s",
                                  "goodput_tokens_per_s", "slo_attainment", "tokens_per_s_per_user_p90",
                                  "goodput_requests_per_s_per_kw", "goodput_requests_per_usd", "kv_transfer_s_p90")}}


def _arrivals(settings: dict[str, Any]):
    from .workload import parse_arrivals
    spec = parse_arrivals(str(settings.get("arrivals", "poisson:1")))
    rate = settings.get("rate")
    if rate is None:
        return spec
    if spec.kind == "trace":
        raise ConfigError("serve", "rate", "a trace's arrivals keep their own times: drop rate or arrivals")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise ConfigError("serve", "rate", f"expected requests per second above 0; got {rate!r}")
    return spec.at_rate(float(rate))


def _scheduler(settings: dict[str, Any]) -> dict[str, Any]:
    return {SCHEDULER[k]: settings[k] for k in SCHEDULER if k in settings}


def check(settings: dict[str, Any]) -> None:
    """Refuse a bad setting (a ConfigError whose ``key`` is the setting's)."""
    from .disagg import parse_pool
    from .metrics import parse_slo
    from .scheduler import resolve
    from .settings import KV_TRANSFERS
    from .workload import parse_lengths
    for key in settings:
        if key not in KEYS:
            raise ConfigError("serve", key, f"not a serving setting; expected one of {', '.join(KEYS)}")
    _arrivals(settings)
    for key in ("prompt", "output"):
        if key in settings:
            parse_lengths(str(settings[key]), key)
    parse_slo(settings.get("slo"), "slo")
    for key in ("requests", "seed"):
        v = settings.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < (1 if key == "requests" else 0)):
            raise ConfigError("serve", key, f"expected a whole number{' above 0' if key == 'requests' else ''}; "
                                            f"got {v!r}")
    resolve({}, _scheduler(settings))
    if settings.get("kv_transfer", "async") not in KV_TRANSFERS:
        raise ConfigError("serve", "kv_transfer", f"expected one of {', '.join(KV_TRANSFERS)}")
    pools = [k for k in ("prefill", "decode") if k in settings]
    if len(pools) == 1:
        raise ConfigError("serve", pools[0], "disaggregated serving needs both prefill and decode")
    for key in pools:
        parse_pool(str(settings[key]), key, "system")


def run_point(system: Any, model: Any, mapping: Any, scenario: dict[str, Any], settings: dict[str, Any],
              runtime: str | None = None, cache: dict | None = None) -> RunResult:
    """Simulate one point: ``system`` and ``model`` loaded, ``scenario`` its sizing keys;
    ``cache`` (kept for a chunk of points) lets points that differ only in their arrivals,
    SLOs or queue order share one deployment and its step table."""
    from .api import build_deployment, requests_for, serve
    from .disagg import parse_pool, serve_disaggregated
    sizing = {k: v for k, v in scenario.items() if k in SIZING and k != "fidelity"}
    common = {"arrivals": _arrivals(settings), "requests": settings.get("requests"),
              "prompt": str(settings.get("prompt", "2048")), "output": str(settings.get("output", "128")),
              "slo": settings.get("slo"), "seed": int(settings.get("seed", 0)), "scheduler": _scheduler(settings),
              "mapping": mapping, "fidelity": scenario.get("fidelity", "analytic")}
    if "prefill" in settings:
        pools = []
        for key in ("prefill", "decode"):
            name, copies = parse_pool(str(settings[key]), key, THIS_SYSTEM)
            pools.append((system if name == THIS_SYSTEM else name, copies))
        result = serve_disaggregated(pools[0], pools[1], model, kv_transfer=settings.get("kv_transfer", "async"),
                                     compare=False, runtime=runtime, **common, **sizing)
        from .disagg_output import flat_summary
        return as_run(result.decode.deployment.run, flat_summary(result))
    reqs = requests_for(common["arrivals"], common["prompt"], common["output"], common["requests"], common["seed"])
    key = ("serve-deployment", id(system), id(model), json.dumps([sizing, mapping, common["fidelity"]], sort_keys=True,
                                                                 default=str),
           reqs.max_context, settings.get("max_running"))
    cache = {} if cache is None else cache
    if key not in cache:
        cache[key] = build_deployment(system, model, reqs, scheduler=common["scheduler"], mapping=mapping,
                                      fidelity=common["fidelity"], **sizing)
    result = serve(system, model, **common, deployment=cache[key], **sizing)
    from .output import flat_summary as flat
    return as_run(result.deployment.run, flat(result))


def as_run(run: RunResult | None, figures: dict[str, Any]) -> RunResult:
    """``run`` (a deployment's sized run) with the serving ``figures`` in its summary, and the
    devices, power and price of the whole deployment the figures are of."""
    if run is None:
        raise ValueError("a deployment without its sized run")
    extra = {field: figures.get(key) for key, field in SUMMARY_KEYS.items()}
    extra.update({k: figures[k] for k in ("devices", "power_w", "usd_per_hour") if figures.get(k) is not None})
    return dataclasses.replace(run, summary=dataclasses.replace(run.summary, **extra))
