"""Human-readable tables of run summaries."""

from __future__ import annotations

from typing import Any, Sequence

from .hardware.deployment import NEEDS
from .results.summary import field_info
from .text import layers_scope, plural, ratio
from .units import format_quantity

_UNIT_KIND = {"s": "time", "B": "bytes", "W": "power", "J": None, "tokens/s": None, "tokens": None}


def fmt(key: str, value: Any) -> str:
    unit = field_info(key)[0]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit in ("USD", "USD/h") and isinstance(value, (int, float)):
        money = f"${value:,.0f}" if abs(value) >= 100 else f"${value:,.3g}"
        return money + ("/h" if unit == "USD/h" else "")
    if isinstance(value, float):
        kind = _UNIT_KIND.get(unit)
        if kind:
            return format_quantity(value, kind, 4)
        return f"{value:.4g} {unit}".strip()
    return plural(value, "token") if unit == "tokens" else str(value)


ROWS = ["system", "model", "fidelity", "runtime", "runtime_class", "devices", "nodes", "power_w", "cost_usd", "batch", "prompt_tokens",
        "output_tokens", "layers", "ttft_s", "tpot_s", "tokens_per_s_per_user", "accepted_tokens_per_step", "tokens_per_s",
        "request_tokens_per_s", "tokens_per_s_per_device", "tokens_per_s_per_kw", "usd_per_million_tokens", "decode_layer_s",
        "prefill_layer_s", "fits_on_chip", "weight_bytes", "kv_bytes", "spilled_bytes", "decode_bottleneck",
        "prefill_bottleneck", "energy_per_token_j", "wall_energy_per_token_j"]
RATIO_ROWS = {"ttft_s", "tpot_s", "tokens_per_s_per_user", "tokens_per_s", "request_tokens_per_s", "energy_per_token_j",
              "wall_energy_per_token_j",
              "decode_layer_s", "prefill_layer_s", "tokens_per_s_per_device", "tokens_per_s_per_kw",
              "usd_per_million_tokens", "power_w", "cost_usd", "devices"}
#: what ``compare`` weighs the sides by: (summary key, words, whether more is better)
HEADLINE = (("tokens_per_s_per_user", "per user", True), ("tokens_per_s_per_device", "per device", True),
            ("tokens_per_s_per_kw", "per kW", True), ("usd_per_million_tokens", "per dollar", False))


#: rows whose value is one of two figures of the same quantity from different boundaries,
#: and which boundary: the two energies per token differ by the whole deployment's power
#: (host, cooling, power supplies) that the chip's per-bit and per-FLOP energies leave out
BOUNDARY = {"energy_per_token_j": "chip", "wall_energy_per_token_j": "wall"}


def cell(key: str, value: Any) -> str:
    """A table cell: :func:`fmt`, with the boundary of an energy (chip J or wall J)."""
    text = fmt(key, value)
    return f"{text} ({BOUNDARY[key]})" if key in BOUNDARY else text


def scope(*summaries: dict[str, Any]) -> list[str]:
    """The line a table opens with where a run simulated only some of the model's layers
    (``--layers``): which layers its figures are for."""
    partial = [s for s in summaries if s.get("model_layers")]
    scopes = {(s["layers"], s["model_layers"]) for s in partial}
    if len(partial) == len(summaries) and len(scopes) == 1:
        return [f"  {layers_scope(*scopes.pop())}"]
    return [f"  {layers_scope(s['layers'], s['model_layers'])} ({s['system']})" for s in partial]


def summary_table(summary: dict[str, Any]) -> str:
    width = max(len(k) for k in ROWS)
    return "\n".join(scope(summary) + [f"  {k:<{width}}  {cell(k, summary[k])}" for k in ROWS if k in summary])


def comparison_table(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Side by side, with the ratio A/B for the timing rows."""
    width = max(len(k) for k in ROWS)
    wa = max(len(cell(k, a.get(k, ""))) for k in ROWS if k in a)
    wb = max(len(cell(k, b.get(k, ""))) for k in ROWS if k in b)
    lines = [*scope(a, b), f"  {'':<{width}}  {'A':<{wa}}  {'B':<{wb}}  A/B"]
    for k in ROWS:
        if k not in a or k not in b:
            continue
        x = ""
        if k in RATIO_ROWS and isinstance(a[k], (int, float)) and b[k]:
            x = ratio(a[k] / b[k])
        lines.append(f"  {k:<{width}}  {cell(k, a[k]):<{wa}}  {cell(k, b[k]):<{wb}}  {x}")
    return "\n".join(lines)


def bands(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The error band each side's tokens/s per user carries ("" where neither has one):
    why a ratio is printed to two significant figures."""
    parts = [f"{side} {s['validation_error']:.0%}" for side, s in (("A", a), ("B", b)) if "validation_error" in s]
    return f"; error bands: {', '.join(parts)}" if parts else ""


def verdict(a: dict[str, Any], b: dict[str, Any], labels: tuple[str, str] | None = None) -> str:
    """One sentence on who decodes faster per user and by how much, with each side's error
    band; ``labels`` name the sides (default: their system names)."""
    la, lb = labels or (a["system"], b["system"])
    ra, rb = a["tokens_per_s_per_user"], b["tokens_per_s_per_user"]
    fast, slow, x, lf, ls = (a, b, ra / rb, la, lb) if ra >= rb else (b, a, rb / ra, lb, la)
    return (f"{lf} decodes {ratio(x)} faster per user than {ls} "
            f"({fast['tokens_per_s_per_user']:.4g} vs {slow['tokens_per_s_per_user']:.4g} tokens/s"
            f"{bands(a, b)}); throughput ratio A/B {ratio(a['tokens_per_s'] / b['tokens_per_s'])}")


def side_line(label: str, s: dict[str, Any]) -> str:
    """What one side of a comparison is: its devices, nodes (and data-parallel copies, from
    :func:`wafersim.headtohead.with_replicas`), wall power and price."""
    unit = "wafer" if s["kind"] == "wafer" else "GPU"
    parts = [f"{s['devices']} {unit}{'s' if s['devices'] != 1 else ''}"]
    if s.get("nodes"):
        parts[0] += f" in {s['nodes']} node{'s' if s['nodes'] != 1 else ''}"
    copies = s.get("replicas", 1)
    if copies > 1:
        one = s["devices"] // copies
        parts[0] += f" ({copies} copies of {one} {unit}{'s' if one != 1 else ''})"
    if "tp" in s:
        parts.append(f"tp {s['tp']} x pp {s['pp']} x ep {s['ep']}")
    parts.append(fmt("power_w", s["power_w"]) if "power_w" in s else "power unknown")
    parts.append(fmt("cost_usd", s["cost_usd"]) if "cost_usd" in s else "price unknown")
    parts.append(f"batch {s['batch']}, {'fits on chip' if s['fits_on_chip'] else 'spills'}")
    if s.get("runtime"):
        parts.append(f"runtime {s['runtime']} ({s['runtime_class']})")
    line = f"{label}: {', '.join(parts)}"
    if "validation_error" in s:
        line += (f"\n   error band: tokens/s per user on {s['kind']} systems off by {s['validation_error']:.0%} "
                 f"(median of {s['validation_rows']} published rows not used for calibration)")
    if s.get("uncalibrated"):
        line += f"\n   uncalibrated: {s['uncalibrated']}"
    return line


def headline(a: dict[str, Any], b: dict[str, Any], labels: tuple[str, str] | None = None) -> str:
    """Who wins per user, per device, per kW and per dollar, and by how much."""
    la, lb = labels or (a["system"], b["system"])
    out = []
    for key, words, more_is_better in HEADLINE:
        if key not in a or key not in b or not a[key] or not b[key]:
            lacking = [side for side, s in (("a", a), ("b", b)) if not s.get(key)]
            need = NEEDS.get(key)
            hint = f" (set {'/'.join(f'{x}.deployment.{need[0]}' for x in lacking)})" if need else ""
            out.append(f"{words}: unknown{hint}")
            continue
        x = a[key] / b[key] if more_is_better else b[key] / a[key]
        out.append(f"{words}: {la} {ratio(x)}" if x >= 1 else f"{words}: {lb} {ratio(1 / x)}")
    return "better " + "; ".join(out)


def frontier_rows(runs: Sequence[Any], deployments: Sequence[str] | None = None) -> str:
    """One line per frontier point: batch, interactivity, throughput per device, kW and dollar
    (and, for an envelope, the deployment that gives it)."""
    keys = ("batch", "tokens_per_s_per_user", "tokens_per_s_per_device", "tokens_per_s_per_kw",
            "usd_per_million_tokens", "ttft_s", "fits_on_chip")
    head = ("batch", "tok/s/user", "tok/s/device", "tok/s/kW", "$/Mtok", "ttft", "fits")
    rows = [head] + [tuple(fmt(k, r.summary[k]) if k in r.summary else "-" for k in keys) for r in runs]
    rows = [tuple(c.replace(" tokens/s/kW", "").replace(" tokens/s", "") for c in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    out = ["  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    if deployments:
        out = [line + "  " + d for line, d in zip(out, ["deployment", *deployments])]
    return "\n".join(out)


def envelope_line(label: str, system: str, points: int) -> str:
    """The heading of one side's envelope (``compare --frontier``, ``show``)."""
    return f"{label}: {system}, {points} points on the envelope over its deployments"


def lines(items: Sequence[str], prefix: str = "  - ") -> str:
    return "\n".join(prefix + s for s in items)
