"""A disaggregated serving run as text, as JSON, and as an HDF5 results file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..text import plural
from ..units import format_quantity
from .disagg import DisaggResult
from .metrics import per_request
from .output import REQUEST_COLUMNS, _ms, _num, columns, flatten, latency_rows, rate_lines, serving_columns

__all__ = ["report", "to_json", "write", "flat_summary", "TRANSFER_COLUMNS"]

#: the per-request table's columns beside :data:`~wafersim.serving.output.REQUEST_COLUMNS`
TRANSFER_COLUMNS = {
    "kv_bytes": ("B", "KV bytes moved from the prefill pool to the decode pool (0: decoded nowhere else)"),
    "kv_transfer_s": ("s", "from the end of its prefill to its KV landing at the decode pool, waiting for the "
                           "link included (async), or the stall it caused plus the latency (blocking); NaN: none"),
    "prefill_copy": ("", "the copy of the prefill pool that computed its prompt"),
    "decode_copy": ("", "the copy of the decode pool that decoded it (-1: none, one output token)"),
}


def flat_summary(result: DisaggResult) -> dict[str, Any]:
    """The summary flattened, goodput per device, kW and dollar of both pools together, and
    each pool's figures."""
    out = flatten(result.summary, result.devices, result.power_w, result.usd_per_hour)
    for role, pool in (("prefill", result.prefill), ("decode", result.decode)):
        out.update({f"{role}_copies": pool.copies, f"{role}_devices": pool.devices,
                    f"{role}_kv_tokens": pool.deployment.kv_tokens})
    return out


def _pool(pool: Any) -> dict[str, Any]:
    d = pool.deployment
    return {"system": pool.system, "copies": pool.copies, "deployment": d.name, "devices": pool.devices,
            "power_w": pool.power_w, "usd_per_hour": pool.usd_per_hour, "kv_tokens": d.kv_tokens,
            "link_bytes_per_s": d.link_bytes_per_s, "link_latency_s": d.link_latency_s, "notes": list(d.notes)}


def to_json(result: DisaggResult) -> dict[str, Any]:
    return {"arrivals": result.arrivals, "seed": result.seed, "deployment": result.name,
            "prefill": _pool(result.prefill) | {"scheduler": result.prefill_config.as_dict()},
            "decode": _pool(result.decode) | {"scheduler": result.decode_config.as_dict()},
            "kv_transfer": result.kv_transfer, "slo": result.summary["slo"], "summary": result.summary,
            "figures": flat_summary(result), "aggregated": result.aggregated}


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:,.0f}/h"


def _kw(v: float | None) -> str:
    return "-" if v is None else f"{v / 1e3:.4g} kW"


def report(result: DisaggResult) -> str:
    s = result.summary
    p, d = result.prefill, result.decode
    bw = s["kv_link_bytes_per_s"]
    link = (f"{format_quantity(bw, 'bandwidth')} + {format_quantity(s['kv_link_latency_s'], 'time')}" if bw is not None
            else "an infinitely fast link")
    lines = [f"disaggregated: {result.name}: {plural(s['requests'], 'request')}, arrivals {result.arrivals}, "
             f"seed {result.seed}"]
    for role, pool, cfg in (("prefill", p, result.prefill_config), ("decode", d, result.decode_config)):
        dep = pool.deployment
        lines.append(f"  {role:<8}{pool.copies} x {dep.name}; KV cache {dep.kv_tokens} tokens each; at most "
                     f"{cfg.max_running} running, {cfg.max_batched_tokens} tokens a step; step table "
                     f"{dep.table.calls} engine calls, {dep.build_s:.2f} s")
    lines += [f"  together {result.devices} devices, {_kw(result.power_w)}, {_money(result.usd_per_hour)}", "",
              *latency_rows(s, (("kv_transfer_s", "KV transfer"),)), "", *rate_lines(s, result.slo),
              f"KV transfer      {format_quantity(s['kv_bytes_per_request'], 'bytes')} a request on average over "
              f"{link} (the slower end's link; {result.kv_transfer}); "
              f"{100 * s['kv_transfer_share_of_e2e']:.3g} % of the end-to-end time",
              f"pools            prefill busy {100 * (s['prefill_busy_share'] or 0):.3g} %, decode busy "
              f"{100 * (s['decode_busy_share'] or 0):.3g} %; decode KV at most {100 * (s['peak_kv_share'] or 0):.3g} "
              f"% full; {plural(s['preemptions'], 'preemption')}"]
    if result.aggregated:
        lines += ["", "aggregated on the same requests (both phases on each copy), matched on devices, power or cost:"]
        lines.append(f"  {'deployment':<24}{'matched on':<20}{'devices':>8}{'power':>11}{'cost':>11}"
                     f"{'goodput':>10}{'meet':>7}{'P90 TTFT':>11}{'P90 TPOT':>11}")
        rows = [("disaggregated", "-", result.devices, result.power_w, result.usd_per_hour,
                 s["goodput_requests_per_s"], s["slo_attainment"], s["ttft_s"]["p90"], s["tpot_s"]["p90"])]
        rows += [(f"{a['system']} x{a['copies']}", ", ".join(a["bases"]), a["devices"], a["power_w"],
                  a["usd_per_hour"], a["goodput_requests_per_s"], a["slo_attainment"], a["ttft_s_p90"],
                  a["tpot_s_p90"]) for a in result.aggregated]
        for name, bases, dev, power, cost, good, meet, ttft, tpot in rows:
            lines.append(f"  {name:<24}{bases:<20}{dev:>8}{_kw(power):>11}{_money(cost):>11}{_num(good):>10}"
                         f"{100 * meet:>6.3g}%{_ms(ttft):>11}{_ms(tpot):>11}")
        lines.append("  (goodput in requests/s; power and cost of the sized deployments' wall power and price)")
    notes = [*p.deployment.notes, *(n for n in d.deployment.notes if n not in p.deployment.notes)]
    if notes:
        lines += [""] + [f"note: {n}" for n in notes]
    return "\n".join(lines)


def write(path: str | Path, result: DisaggResult) -> Path:
    """An HDF5 results file as :func:`wafersim.serving.output.write` writes one, with each
    pool's sized run under ``/runs/prefill`` and ``/runs/decode`` and the KV moved per
    request in ``/requests`` beside the other columns."""
    from ..results.hdf5 import write_results
    table = per_request(result.outcome) | result.transfer
    n = len(table["arrival_s"])
    runs = [result.prefill.deployment.run, result.decode.deployment.run]
    if any(r is None for r in runs):
        raise ValueError("a deployment without its sized run cannot be written")
    config = {k: v for k, v in to_json(result).items() if k not in ("summary", "figures")}
    return write_results(path, runs, ["prefill", "decode"],
                         extra_attrs={"serving": json.dumps(config, sort_keys=True, default=str)},
                         tables={"serving": serving_columns(flat_summary(result)),
                                 "requests": ("request", list(range(n)),
                                              columns(table, REQUEST_COLUMNS | TRANSFER_COLUMNS))})
