"""What a serving run reports: latency percentiles, throughput, goodput under SLOs.

Per request: time to first token (TTFT: first token less arrival), time per output
token (TPOT: the gap from the first token to the last, over the tokens after the first;
none for a one-token output) and end-to-end latency (finish less arrival).

Over the run, whose span is from the first arrival to the last finish:

* P50, P90 and P99 of each (linear interpolation between order statistics, numpy's
  default);
* throughput: requests and output tokens finished per second of the span;
* goodput: requests per second of the span that met every SLO (TTFT and TPOT at most
  the limits), and the share of requests that did (attainment);
* tokens per second per user, MLPerf's interactivity figure: 1000 / P90 TPOT in ms;
* requests in the system on average (the time average the loop keeps), and the
  arrival rate, from which Little's law can be checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import ConfigError
from ..units import UnitError, parse_quantity
from .scheduler import Outcome

__all__ = ["SLO", "parse_slo", "per_request", "summarise", "PERCENTILES"]

PERCENTILES = (50, 90, 99)
#: the SLO names --slo takes, and what each limits
SLO_KEYS = {"ttft": "time to first token", "tpot": "time per output token", "e2e": "end-to-end latency"}


@dataclass(frozen=True)
class SLO:
    """Limits in seconds; None: no limit."""
    ttft: float | None = None
    tpot: float | None = None
    e2e: float | None = None

    def text(self) -> str:
        parts = [f"{k}={_ms(getattr(self, k))}" for k in SLO_KEYS if getattr(self, k) is not None]
        return ",".join(parts) or "none"

    def as_dict(self) -> dict[str, float | None]:
        return {f"{k}_s": getattr(self, k) for k in SLO_KEYS}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.4g}ms" if seconds < 1 else f"{seconds:.4g}s"


def parse_slo(text: str | None, flag: str = "--slo") -> SLO:
    """``ttft=2s,tpot=50ms`` (any of ttft, tpot, e2e; a time with its unit)."""
    if not text:
        return SLO()
    values: dict[str, float] = {}
    for item in str(text).split(",", len(SLO_KEYS)):
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in SLO_KEYS:
            raise ConfigError(flag, "", f"expected KEY=TIME pairs with KEY one of {', '.join(SLO_KEYS)} "
                                        f"(e.g. ttft=2s,tpot=50ms); got {item.strip()[:40]!r}")
        if key in values:
            raise ConfigError(flag, "", f"{key} is given twice")
        try:
            seconds = parse_quantity(value.strip(), "time")
        except UnitError as exc:
            raise ConfigError(flag, key, str(exc)) from None
        if not (isinstance(seconds, float) and math.isfinite(seconds) and seconds > 0):
            raise ConfigError(flag, key, f"expected a positive time such as 2s or 50ms; got {value.strip()[:40]!r}")
        values[key] = seconds
    return SLO(**values)


def per_request(out: Outcome) -> dict[str, np.ndarray]:
    """Each request's times and counts (arrays in arrival order)."""
    r = out.requests
    ttft = out.first_token_s - r.arrival_s
    after = r.output_tokens - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(after > 0, (out.finish_s - out.first_token_s) / np.maximum(after, 1), np.nan)
    return {"arrival_s": r.arrival_s, "first_token_s": out.first_token_s, "finish_s": out.finish_s,
            "ttft_s": ttft, "tpot_s": tpot, "e2e_s": out.finish_s - r.arrival_s,
            "prompt_tokens": r.prompt_tokens, "output_tokens": r.output_tokens, "priority": r.priority,
            "preemptions": out.preemptions}


def meets(table: dict[str, np.ndarray], slo: SLO) -> np.ndarray:
    """Whether each request met every limit (a TPOT it does not have meets any limit)."""
    ok = np.ones(len(table["ttft_s"]), bool)
    for key in SLO_KEYS:
        limit = getattr(slo, key)
        if limit is not None:
            values = table[f"{key}_s"]
            ok &= np.isnan(values) | (values <= limit * (1 + 1e-12))
    return ok


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    v = values[~np.isnan(values)]
    return {f"p{p}": (float(np.percentile(v, p)) if len(v) else None) for p in PERCENTILES} | \
        {"mean": float(v.mean()) if len(v) else None}


def summarise(out: Outcome, slo: SLO, offered_rate: float | None = None) -> dict[str, Any]:
    """The run's figures (see the module docs); ``offered_rate``: the arrival process's rate."""
    t = per_request(out)
    r = out.requests
    span = float(out.stats["end_s"])
    ok = meets(t, slo)
    n = len(r)
    tokens = int(r.output_tokens.sum())
    tpot = _percentiles(t["tpot_s"])
    p90_tpot = tpot["p90"]
    mean_in_system = out.stats["area_request_s"] / span if span > 0 else 0.0
    return {
        "requests": n,
        "span_s": span,
        "offered_rate": offered_rate,
        "arrival_rate": (n - 1) / float(r.arrival_s[-1]) if n > 1 and r.arrival_s[-1] > 0 else None,
        "ttft_s": _percentiles(t["ttft_s"]),
        "tpot_s": tpot,
        "e2e_s": _percentiles(t["e2e_s"]),
        "throughput_requests_per_s": n / span if span > 0 else None,
        "throughput_tokens_per_s": tokens / span if span > 0 else None,
        "slo": slo.as_dict(),
        "slo_attainment": float(ok.mean()),
        "goodput_requests_per_s": float(ok.sum()) / span if span > 0 else None,
        "goodput_tokens_per_s": float(r.output_tokens[ok].sum()) / span if span > 0 else None,
        "tokens_per_s_per_user_p90": 1.0 / p90_tpot if p90_tpot else None,
        "mean_requests_in_system": mean_in_system,
        "mean_time_in_system_s": float(np.mean(t["e2e_s"])),
        "preemptions": int(out.preemptions.sum()),
        "steps": int(out.stats["steps"]),
        "busy_share": out.stats["busy_s"] / span if span > 0 else None,
        "peak_running": int(out.stats["peak_running"]),
        "peak_kv_share": out.stats["peak_blocks"] / out.stats["total_blocks"] if out.stats["total_blocks"] else None,
        "output_tokens": tokens,
        "recomputed_tokens": int(out.stats["prefill_tokens"] - r.prompt_tokens.sum()),
    }
