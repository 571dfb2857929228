"""Disaggregated serving: a prefill pool and a decode pool, the KV moved between them.

Requests arrive at the prefill pool (``copies`` of one sized deployment, round-robin in
order of arrival), whose scheduler computes each prompt in chunks and its first token:
the first token comes out there, so TTFT ends with the prefill, as DistServe and
Splitwise count it.  The request's KV (``n`` prompt tokens times the model's KV bytes
per token at that context, in the deployment's KV format) then moves to a copy of the
decode pool (round-robin in the order prefills finish) over the link between them
(:func:`.pools.link_between`: the slower end's bandwidth, the longer end's latency; a
GPU system's scale-out NICs, one per GPU, a wafer's edge I/O, each from its preset),
and decodes there to its last token.  A request of one output token ends at the prefill
pool and moves nothing.

How the decode pool receives the KV is a runtime's choice (``kv_transfer``,
:data:`~wafersim.serving.settings.KV_TRANSFERS`):

* ``async``: the decode copy goes on decoding while the KV arrives, and admits the
  request once it has landed; transfers queue for the sender's and the receiver's link
  (:func:`.pools.transfer_times`), each ``bytes / bandwidth + latency`` alone;
* ``blocking``: the decode step that admits the request stalls ``bytes / bandwidth``
  for it (the request is admitted a latency after its prefill).

Each request's ``kv_transfer_s`` is the time from its prefill's end to its KV landing
(async, queueing included) or the stall it causes (blocking, plus the latency).  The
prefill pool frees a request's KV when its prefill ends (the KV held until it has been
sent is left out).  The scheduler's settings apply to both pools.

:func:`aggregated` runs the same requests on copies of each pool's deployment serving
both phases, as many as match the disaggregated deployment's power, its price, and
(when both pools run one system) its devices.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import ConfigError
from .deployment import Deployment
from .metrics import SLO, _percentiles, parse_slo, summarise
from .pools import Pool, link_between, round_robin, run_replicas, transfer_times
from .scheduler import Outcome, SchedulerConfig, resolve
from .settings import KV_TRANSFERS
from .workload import ArrivalSpec, LengthSpec, Requests, parse_arrivals

__all__ = ["DisaggResult", "parse_pool", "disaggregate", "serve_disaggregated", "aggregated", "BASES"]

#: what an aggregated deployment is matched to the disaggregated one on
BASES = ("devices", "power", "cost")


@dataclass(frozen=True)
class DisaggResult:
    """One disaggregated simulation: the pools, what became of each request (``outcome``,
    merged over the pools), its figures, the KV each request moved (``transfer``: arrays
    ``kv_bytes``, ``kv_transfer_s``, ``prefill_copy``, ``decode_copy`` (-1: none)) and the
    aggregated deployments it is compared with."""
    arrivals: str
    prefill: Pool
    decode: Pool
    prefill_config: SchedulerConfig
    decode_config: SchedulerConfig
    kv_transfer: str
    outcome: Outcome
    summary: dict[str, Any]
    slo: SLO
    seed: int
    transfer: dict[str, np.ndarray]
    aggregated: list[dict[str, Any]] = field(default_factory=list)

    @property
    def devices(self) -> int:
        return self.prefill.devices + self.decode.devices

    @property
    def power_w(self) -> float | None:
        p, d = self.prefill.power_w, self.decode.power_w
        return None if p is None or d is None else p + d

    @property
    def usd_per_hour(self) -> float | None:
        p, d = self.prefill.usd_per_hour, self.decode.usd_per_hour
        return None if p is None or d is None else p + d

    @property
    def name(self) -> str:
        return f"prefill {self.prefill.text()}, decode {self.decode.text()}"


def parse_pool(text: str, flag: str, default_system: str | None) -> tuple[str, int]:
    """``SYSTEM:N``, ``SYSTEM`` (one copy) or ``N`` (of ``default_system``) -> (system, copies)."""
    text = str(text).strip()
    head, sep, tail = text.rpartition(":")
    if sep and tail.strip().isdigit():
        system, copies = head.strip(), int(tail)
    elif text.isdigit():
        system, copies = "", int(text)
    else:
        system, copies = text, 1
    if not system:
        if not default_system:
            raise ConfigError(flag, "", f"expected SYSTEM:N (e.g. dgx-h100:2), or N with SYSTEM given; got {text!r}")
        system = default_system
    if copies < 1:
        raise ConfigError(flag, "", f"expected at least one copy; got {text!r}")
    return system, copies


def disaggregate(requests: Requests, prefill: Pool, decode: Pool, prefill_config: SchedulerConfig,
                 decode_config: SchedulerConfig, kv_transfer: str = "async"
                 ) -> tuple[Outcome, dict[str, np.ndarray], Outcome, Outcome | None]:
    """Run ``requests`` through the pools (see the module docs): the merged outcome, the
    transfer arrays, and each pool's own merged outcome (the decode pool's None when no
    request reaches it)."""
    if kv_transfer not in KV_TRANSFERS:
        raise ConfigError("--kv-transfer", "", f"expected one of {', '.join(KV_TRANSFERS)}; got {kv_transfer!r}")
    n = len(requests)
    ones = np.ones(n, np.int64)
    asked = Requests(requests.arrival_s, requests.prompt_tokens, ones, requests.priority)
    out_p, _ = run_replicas(asked, prefill.deployment, prefill_config, prefill.copies)
    first = out_p.finish_s
    finish, generated, preempt = first.copy(), out_p.generated.copy(), out_p.preemptions.copy()
    nbytes, moved = np.zeros(n), np.zeros(n)
    src, dst = round_robin(n, prefill.copies), np.full(n, -1, np.int64)
    goes = np.flatnonzero(requests.output_tokens > 1)
    out_d = None
    if len(goes):
        goes = goes[np.argsort(first[goes], kind="stable")]          # in the order prefills finish
        dst[goes] = round_robin(len(goes), decode.copies)
        nbytes[goes] = prefill.deployment.kv_bytes(requests.prompt_tokens[goes])
        bandwidth, latency = link_between(prefill.deployment, decode.deployment)
        if kv_transfer == "async":
            _, landed = transfer_times(nbytes[goes], first[goes], src[goes], dst[goes], bandwidth, latency)
            ready, join = landed, np.zeros(len(goes))
            moved[goes] = landed - first[goes]
        else:
            join = nbytes[goes] / bandwidth
            ready = first[goes] + latency
            moved[goes] = join + latency
        order = np.argsort(ready, kind="stable")
        goes, ready, join = goes[order], ready[order], join[order]
        reqs_d = Requests(ready, requests.prompt_tokens[goes], requests.output_tokens[goes], requests.priority[goes])
        out_d, _ = run_replicas(reqs_d, decode.deployment, decode_config, decode.copies, dst[goes], ready=ready,
                                held=requests.prompt_tokens[goes], generated=np.ones(len(goes), np.int64),
                                join_s=join)
        finish[goes], generated[goes] = out_d.finish_s, out_d.generated
        preempt[goes] += out_d.preemptions
    pools = [out_p.stats] + ([out_d.stats] if out_d is not None else [])
    stats = {"area_request_s": float(np.sum(finish - requests.arrival_s)), "end_s": float(np.max(finish)),
             "steps": sum(s["steps"] for s in pools),
             "busy_s": sum(s["busy_s"] * c for s, c in zip(pools, (prefill.copies, decode.copies)))
             / (prefill.copies + (decode.copies if out_d is not None else 0)),
             "peak_running": pools[-1]["peak_running"], "peak_blocks": pools[-1]["peak_blocks"],
             "total_blocks": pools[-1]["total_blocks"],
             "prefill_tokens": sum(s["prefill_tokens"] for s in pools),
             "decode_tokens": sum(s["decode_tokens"] for s in pools)}
    outcome = Outcome(requests, out_p.ready_s, first, finish, preempt, generated, stats)
    transfer = {"kv_bytes": nbytes, "kv_transfer_s": np.where(dst >= 0, moved, np.nan), "prefill_copy": src,
                "decode_copy": dst}
    return outcome, transfer, out_p, out_d


def transfer_figures(outcome: Outcome, transfer: dict[str, np.ndarray], prefill: Pool, decode: Pool,
                     out_p: Outcome, out_d: Outcome | None, kv_transfer: str) -> dict[str, Any]:
    """The KV transfer's and the pools' figures for the summary."""
    moved = transfer["decode_copy"] >= 0
    e2e = outcome.finish_s - outcome.requests.arrival_s
    bandwidth, latency = link_between(prefill.deployment, decode.deployment)
    span = outcome.stats["end_s"]
    return {
        "kv_transfer": kv_transfer,
        "kv_transfer_s": _percentiles(transfer["kv_transfer_s"]),
        "kv_bytes_per_request": float(transfer["kv_bytes"][moved].mean()) if moved.any() else 0.0,
        "kv_transfer_share_of_e2e": float(np.nansum(transfer["kv_transfer_s"]) / e2e.sum()) if e2e.sum() else 0.0,
        "kv_link_bytes_per_s": bandwidth if math.isfinite(bandwidth) else None,
        "kv_link_latency_s": latency,
        "requests_decoded_apart": int(moved.sum()),
        "prefill_busy_share": out_p.stats["busy_s"] / span if span > 0 else None,
        "decode_busy_share": (out_d.stats["busy_s"] / span if out_d is not None and span > 0 else None),
        "prefill_peak_kv_share": out_p.stats["peak_blocks"] / out_p.stats["total_blocks"],
    }


def serve_disaggregated(prefill: str | tuple[Any, int], decode: str | tuple[Any, int], model: Any, *,
                        system: str | None = None, arrivals: ArrivalSpec | str = "poisson:1",
                        requests: int | None = None, prompt: LengthSpec | str = "2048",
                        output: LengthSpec | str = "128", slo: SLO | str | None = None, seed: int = 0,
                        runtime: str | None = None, scheduler: dict[str, Any] | None = None,
                        kv_transfer: str = "async", compare: bool = True, mapping: Any = None,
                        fidelity: str = "analytic", **sizing: Any) -> DisaggResult:
    """Simulate requests on a prefill pool and a decode pool (``SYSTEM:N`` each, or
    (system, copies); ``system`` the one a bare ``N`` names), and, with ``compare``, the
    same requests on the aggregated deployments of :func:`aggregated`."""
    from .api import build_deployment, requests_for
    from ..presets import load_model
    if isinstance(model, str):
        model = load_model(model)
    spec = parse_arrivals(arrivals) if isinstance(arrivals, str) else arrivals
    reqs = requests_for(spec, prompt, output, requests, seed)
    slo = parse_slo(slo) if not isinstance(slo, SLO) else slo
    pools, built = [], {}
    for flag, pool in (("--prefill", prefill), ("--decode", decode)):
        name, copies = parse_pool(pool, flag, system) if isinstance(pool, str) else pool
        key = name if isinstance(name, str) else id(name)
        if key not in built:
            built[key] = build_deployment(name, model, reqs, runtime=runtime, scheduler=scheduler, mapping=mapping,
                                          fidelity=fidelity, **sizing)
        label = name if isinstance(name, str) else getattr(name, "name", "system")
        pools.append(Pool(label, built[key], copies))
    pool_p, pool_d = pools
    cfg_p, cfg_d = resolve(pool_p.deployment.knobs, scheduler), resolve(pool_d.deployment.knobs, scheduler)
    outcome, transfer, out_p, out_d = disaggregate(reqs, pool_p, pool_d, cfg_p, cfg_d, kv_transfer)
    rate = spec.rate if spec.kind != "trace" else None
    summary = summarise(outcome, slo, rate) | transfer_figures(outcome, transfer, pool_p, pool_d, out_p, out_d,
                                                               kv_transfer)
    result = DisaggResult(spec.text(), pool_p, pool_d, cfg_p, cfg_d, kv_transfer, outcome, summary, slo, seed,
                          transfer)
    if compare:
        result = dataclasses.replace(result, aggregated=aggregated(result, scheduler))
    return result


def matched_copies(result: DisaggResult, dep: Deployment, same_system: bool) -> dict[str, int]:
    """Copies of ``dep`` that match ``result`` on each basis of :data:`BASES` it can be matched on
    (the nearest whole number, at least one)."""
    out = {}
    totals = {"devices": (result.devices if same_system else None, dep.devices),
              "power": (result.power_w, dep.power_w), "cost": (result.usd_per_hour, dep.usd_per_hour)}
    for basis in BASES:
        total, one = totals[basis]
        if total and one:
            out[basis] = max(1, int(round(total / one)))
    return out


def aggregated(result: DisaggResult, scheduler: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The same requests on copies of each pool's deployment serving both phases, as many as
    match the disaggregated deployment on each basis (:func:`matched_copies`): one entry per
    distinct (system, copies), with the bases it matches and its figures."""
    reqs = result.outcome.requests
    same = result.prefill.deployment is result.decode.deployment
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    for pool in (result.prefill, result.decode):
        dep = pool.deployment
        for basis, copies in matched_copies(result, dep, same).items():
            key = (pool.system, copies)
            if key in runs:
                if basis not in runs[key]["bases"]:
                    runs[key]["bases"].append(basis)
                continue
            out, _ = run_replicas(reqs, dep, resolve(dep.knobs, scheduler), copies)
            s = summarise(out, result.slo, result.summary["offered_rate"])
            agg = Pool(pool.system, dep, copies)
            runs[key] = {"system": pool.system, "copies": copies, "bases": [basis], "devices": agg.devices,
                         "power_w": agg.power_w, "usd_per_hour": agg.usd_per_hour,
                         "goodput_requests_per_s": s["goodput_requests_per_s"], "slo_attainment": s["slo_attainment"],
                         "ttft_s_p90": s["ttft_s"]["p90"], "tpot_s_p90": s["tpot_s"]["p90"],
                         "e2e_s_p90": s["e2e_s"]["p90"],
                         "throughput_tokens_per_s": s["throughput_tokens_per_s"]}
    return list(runs.values())
