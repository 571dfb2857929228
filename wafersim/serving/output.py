"""A serving run as text, as JSON, and as an HDF5 results file with a per-request table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..text import plural
from .api import ServeResult
from .metrics import PERCENTILES, per_request

__all__ = ["report", "to_json", "write", "REQUEST_COLUMNS", "flat_summary", "flatten", "latency_rows", "rate_lines"]

#: the per-request table's columns: name -> (units, description)
REQUEST_COLUMNS = {
    "arrival_s": ("s", "when the request arrived (from the first arrival)"),
    "first_token_s": ("s", "when its first token came out"),
    "finish_s": ("s", "when its last token came out"),
    "ttft_s": ("s", "time to first token: first_token_s - arrival_s"),
    "tpot_s": ("s", "time per output token after the first: (finish_s - first_token_s) / (output_tokens - 1); "
                    "NaN for one output token"),
    "e2e_s": ("s", "end-to-end latency: finish_s - arrival_s"),
    "prompt_tokens": ("tokens", "prompt length"),
    "output_tokens": ("tokens", "tokens generated"),
    "priority": ("", "priority (lower first under --policy priority)"),
    "preemptions": ("", "times its KV blocks were taken back and its tokens recomputed"),
}


def flat_summary(result: ServeResult) -> dict[str, Any]:
    """The summary with each percentile block flattened (``ttft_s_p90``) and the deployment's
    figures per device, kW and dollar."""
    d = result.deployment
    return flatten(result.summary, d.devices, d.power_w, d.usd_per_hour) | {"kv_tokens": d.kv_tokens}


def flatten(s: dict[str, Any], devices: int, power_w: float | None, usd_per_hour: float | None) -> dict[str, Any]:
    """A summary with each block flattened (``ttft_s_p90``), and goodput per device, kW and
    dollar of a deployment of ``devices``, ``power_w`` and ``usd_per_hour``."""
    out: dict[str, Any] = {}
    for key, value in s.items():
        if isinstance(value, dict):
            out.update({f"{key}_{k}" if key != "slo" else f"slo_{k}": v for k, v in value.items()})
        else:
            out[key] = value
    good = s["goodput_requests_per_s"]
    out.update({"devices": devices, "power_w": power_w, "usd_per_hour": usd_per_hour})
    out["goodput_requests_per_s_per_device"] = good / devices if good is not None else None
    out["goodput_requests_per_s_per_kw"] = good / (power_w / 1e3) if good is not None and power_w else None
    out["goodput_requests_per_usd"] = good * 3600 / usd_per_hour if good is not None and usd_per_hour else None
    return out


def to_json(result: ServeResult, found: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {"arrivals": result.arrivals, "seed": result.seed, "deployment": result.deployment.name,
           "scheduler": result.scheduler.as_dict(), "slo": result.summary["slo"],
           "summary": result.summary, "figures": flat_summary(result), "notes": list(result.deployment.notes)}
    if found is not None:
        out["find_rate"] = found
    return out


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 1e3:.4g} ms" if v < 10 else f"{v:.4g} s"


def _num(v: float | None, spec: str = ".4g") -> str:
    return "-" if v is None else format(v, spec)


def latency_rows(s: dict[str, Any], rows: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """The table of P50, P90, P99 and mean of TTFT, TPOT, end to end and ``rows`` ((key, label))."""
    lines = [f"{'':<16}{'P50':>12}{'P90':>12}{'P99':>12}{'mean':>12}"]
    for key, label in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("e2e_s", "end to end"), *rows):
        p = s[key]
        lines.append(f"{label:<16}" + "".join(f"{_ms(p[k]):>12}" for k in [f"p{q}" for q in PERCENTILES] + ["mean"]))
    return lines


def rate_lines(s: dict[str, Any], slo: Any) -> list[str]:
    """Throughput, tokens/s per user and goodput."""
    return [f"throughput       {_num(s['throughput_requests_per_s'])} requests/s, "
            f"{_num(s['throughput_tokens_per_s'])} output tokens/s over {s['span_s']:.4g} s",
            f"per user (P90)   {_num(s['tokens_per_s_per_user_p90'])} tokens/s (1000 / P90 TPOT in ms)",
            f"goodput          {_num(s['goodput_requests_per_s'])} requests/s "
            f"({100 * s['slo_attainment']:.3g} % meet {slo.text()})"]


def report(result: ServeResult, found: dict[str, Any] | None = None) -> str:
    s, d, c = result.summary, result.deployment, result.scheduler
    src = dict(c.sources)
    lines = [f"{d.name}: {plural(s['requests'], 'request')}, arrivals {result.arrivals}, seed {result.seed}",
             f"  KV cache {d.kv_tokens} tokens in blocks of {c.block_tokens} ({src.get('block_tokens')}); at most "
             f"{c.max_running} running ({src.get('max_running')}), {c.max_batched_tokens} tokens a step "
             f"({src.get('max_batched_tokens')}), a scheduling round every {plural(c.round_steps, 'step')} "
             f"({src.get('round_steps')}); {c.policy}; mixed steps: {c.mixed_step}",
             f"  step table: {d.table.calls} engine calls, built in {d.build_s:.2f} s", "",
             *latency_rows(s), "", *rate_lines(s, result.slo),
             f"in the system    {s['mean_requests_in_system']:.4g} requests on average; "
             f"{s['peak_running']} running at most; KV at most {100 * (s['peak_kv_share'] or 0):.3g} % full; "
             f"{plural(s['preemptions'], 'preemption')}"]
    if found is not None:
        lines += ["", f"highest Poisson rate meeting {result.slo.text()} for {100 * found['attainment']:g} % of "
                      f"requests: {found['rate']:.4g} requests/s"]
        for key, label in (("per_device", "per device"), ("per_kw", "per kW"), ("per_usd", "per dollar (requests)")):
            if found.get(key) is not None:
                lines.append(f"  {label:<24}{found[key]:.4g}")
    if d.notes:
        lines += [""] + [f"note: {n}" for n in d.notes]
    return "\n".join(lines)


def found_figures(rate: float, result: ServeResult, attainment: float, tried: list) -> dict[str, Any]:
    """The rate --find-rate found, per device, per kW and per dollar (requests a dollar buys)."""
    d = result.deployment
    return {"rate": rate, "attainment": attainment, "per_device": rate / d.devices,
            "per_kw": rate / (d.power_w / 1e3) if d.power_w else None,
            "per_usd": rate * 3600 / d.usd_per_hour if d.usd_per_hour else None,
            "tried": [{"rate": r, "attainment": a} for r, a in tried]}


def columns(table: dict[str, np.ndarray], described: dict[str, tuple[str, str]]) -> list:
    """The per-request table's columns for :func:`wafersim.results.hdf5.write_results`."""
    return [(name, [_item(v) for v in np.asarray(table[name])], units, meaning)
            for name, (units, meaning) in described.items()]


def serving_columns(flat: dict[str, Any]) -> list:
    """The run's figures for ``/serving`` (the numbers of a flattened summary)."""
    return [(k, [v], _units(k), k.replace("_", " ")) for k, v in flat.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)]


def write(path: str | Path, result: ServeResult, found: dict[str, Any] | None = None) -> Path:
    """An HDF5 results file (docs/results-schema.md): the sized deployment's run under
    ``/runs/deployment``, the run's figures in ``/serving`` (along ``run``), and one row per
    request in ``/requests`` (along ``request``); the configuration as JSON in the root
    attribute ``serving``."""
    from ..results.hdf5 import write_results
    table = per_request(result.outcome)
    n = len(table["arrival_s"])
    config = {k: v for k, v in to_json(result, found).items() if k not in ("summary", "figures")}
    run = result.deployment.run
    if run is None:
        raise ValueError("a deployment without its sized run cannot be written")
    return write_results(path, run, ["deployment"], extra_attrs={"serving": json.dumps(config, sort_keys=True)},
                         tables={"serving": serving_columns(flat_summary(result)),
                                 "requests": ("request", list(range(n)), columns(table, REQUEST_COLUMNS))})


def _units(key: str) -> str:
    for part, unit in (("bytes_per_s", "B/s"), ("bytes", "B"), ("per_s", "1/s"), ("per_usd", "1/USD"), ("power_w", "W"), ("usd_per_hour", "USD/h")):
        if part in key:
            return unit
    if key.endswith("_s") or any(key.endswith(f"_s_{q}") for q in ("p50", "p90", "p99", "mean")):
        return "s"
    return "tokens" if key.endswith("tokens") else ""


def _item(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and v != v else v
