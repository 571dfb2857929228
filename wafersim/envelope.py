"""A side's throughput-interactivity frontier as the upper envelope over its deployments.

:func:`wafersim.headtohead.frontier` keeps a side on the hardware sized for one
sequence.  :func:`envelope` instead runs every deployment in a bounded space and
keeps, on each basis (per device, per kW, per dollar), the points no other point
beats at the same or higher interactivity:

* wafers: from the fewest that hold one sequence to :data:`SPAN` times as many
  (at most ``interwafer.max_wafers`` and the layers);
* GPU systems: whole allocation units (``deployment.unit_gpus`` GPUs, else a node)
  from the fewest that hold one sequence to :data:`SPAN` times as many, every
  ``tp x pp x ep`` layout of each count (:func:`wafersim.sizing.gpu_layouts`), and
  layouts smaller than one unit packed into it as data-parallel copies (a unit is
  charged whole, so copies that fill it raise its per-kW and per-dollar figures;
  per-user and per-device figures are one copy's);
* each deployment's batch from 1 to the largest that fits (powers of two and that
  largest; two points past it with ``spill``).

Each point records the deployment that gives it.  Runs are cached by deployment
and batch within a search, and each is an analytic run of a few milliseconds,
so a 70B envelope takes seconds (``benchmarks/bench_envelope.py``).

:func:`best_at` answers the buyer's question: each side's best deployment on each
basis among the points that satisfy a constraint (``tokens_per_s_per_user>=50``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable

from .engines import registry as engines
from .headtohead import BASES, Deployment, Frontier, _batches, deployment_of
from .runner import simulate
from .sizing import gpu_layouts, with_nodes
from .workload.scenario import Scenario

__all__ = ["envelope", "SPAN", "pack", "pareto", "best_at"]

#: the envelope's device counts run from the fewest that hold one sequence to this many
#: times as many (as explore's default space: twice the fewest)
SPAN = 2


#: summary keys that add up over copies packed into one unit (what they run and serve); the
#: unit's power, price and running cost are charged once
_PACKED_TOTALS = ("devices", "tokens_per_s", "request_tokens_per_s", "batch", "max_batch", "weight_bytes", "kv_bytes",
                  "spilled_bytes", "requests_in_flight", "request_rate")
#: summary keys divided by the copies packed into one unit (the same charge over more tokens)
_PACKED_SHARES = ("usd_per_million_tokens", "wall_energy_per_token_j")


def pack(result: Any, copies: int) -> Any:
    """``result`` (one copy on part of a unit) as ``copies`` copies filling the unit: totals
    times ``copies``, per kW times ``copies``, per token charges over ``copies``; per-user
    and per-device figures unchanged; the unit's power and price charged once."""
    if copies == 1:
        return result
    s = result.summary
    changes: dict[str, Any] = {}
    for key in _PACKED_TOTALS:
        if isinstance(s.get(key), (int, float)) and not isinstance(s.get(key), bool):
            changes[key] = s[key] * copies
    for key in _PACKED_SHARES:
        if isinstance(s.get(key), (int, float)):
            changes[key] = s[key] / copies
    if isinstance(s.get("tokens_per_s_per_kw"), (int, float)):
        changes["tokens_per_s_per_kw"] = s["tokens_per_s_per_kw"] * copies
    note = (f"{copies} data-parallel copies of {s['devices']} GPUs fill one allocation unit, which is charged "
            f"whole: totals, per-kW and per-dollar figures are for the unit; per-user and per-device are one copy's")
    return replace(result, summary=replace(s, **changes), notes=[note, *result.notes])


def _wafer_deployments(system: Any, model: Any, fewest: int, layers: int | None) -> list[Deployment]:
    most = min(SPAN * fewest, system.interwafer.max_wafers, layers or model.num_layers)
    return [Deployment("wafer", n) for n in range(fewest, most + 1)]


def _gpu_deployments(system: Any, model: Any, fewest: int, layers: int | None) -> list[Deployment]:
    """Whole units from the fewest to SPAN times as many, and layouts of a half, a quarter ...
    of a unit packed into one, each count in every tp x pp x ep layout."""
    gpn, unit = system.interconnect.gpus_per_node, system.unit_gpus
    top = min(SPAN * max(fewest, unit), system.max_nodes * gpn)
    counts = [(g, 1) for g in range(max(fewest, unit), top + 1, unit)]
    part = unit // 2
    while part >= 1:
        if unit % part == 0:
            counts.append((part, unit // part))
        part //= 2
    sc = Scenario(layers=layers)
    out = []
    for gpus, copies in counts:
        grown = with_nodes(system, math.ceil(gpus / gpn))
        out += [Deployment("gpu", gpus, tp, pp, ep, copies) for tp, pp, ep in gpu_layouts(grown, model, sc, gpus)]
    return out


def pareto(points: list[tuple[float, float]], more_is_better: bool) -> list[int]:
    """Indices of the points (interactivity, value) that no other point at least as
    interactive beats or equals with a strictly better interactivity or value."""
    sign = 1.0 if more_is_better else -1.0
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -sign * points[i][1]))
    keep, best = [], -math.inf
    for i in order:
        v = sign * points[i][1]
        if v > best:
            keep.append(i)
            best = v
    return keep


def envelope(system: Any, model: Any, *, spill: bool = False, fidelity: str = "analytic",
             progress: Callable[[str], None] | None = None, **scenario: Any) -> Frontier:
    """The upper envelope of ``system``'s deployments running ``model`` (module docstring):
    a :class:`~wafersim.headtohead.Frontier` whose ``runs`` are the points on the envelope of
    any basis, most interactive first, ``deployments`` their deployments, and ``evaluated``
    every point run, with its deployment."""
    kind = system.kind
    fidelity = engines.fidelity_or_default(kind, fidelity)
    auto = {"wafers": "auto"} if kind == "wafer" else {"gpus": "auto"}
    first = simulate(system, model, fidelity=fidelity, **{**auto, **scenario, "batch": 1})
    fixed = {**scenario, "fidelity": fidelity}
    fewest = int(first.summary["devices"])
    layers = scenario.get("layers")
    space = (_wafer_deployments if kind == "wafer" else _gpu_deployments)(system, model, fewest, layers)
    cache: dict[tuple[Deployment, int], Any] = {}

    def run(d: Deployment, batch: int | str) -> Any:
        key = (d, batch)
        if key not in cache:
            cache[key] = simulate(system, model, **{**fixed, **d.scenario(), "batch": batch})
        return cache[key]

    evaluated: list[tuple[Any, Deployment]] = []
    largest_any = 1
    for d in space:
        if progress:
            progress(d.text())
        top = run(d, "max")
        largest = int(top.summary["batch"])
        if not top.summary["fits_on_chip"]:
            continue                    # not even one sequence fits beside the weights
        largest_any = max(largest_any, largest)
        cache[(d, largest)] = top
        for b in _batches(largest, spill):
            evaluated.append((pack(run(d, b), d.copies), d))
    if not evaluated:
        # nothing in the space holds one sequence: the sized run stands alone
        evaluated = [(first, deployment_of(kind, first.summary))]
    keep: set[int] = set()
    for key, _, more in BASES.values():
        idx = [i for i, (r, _) in enumerate(evaluated) if isinstance(r.summary.get(key), (int, float))]
        pts = [(evaluated[i][0].summary["tokens_per_s_per_user"], evaluated[i][0].summary[key]) for i in idx]
        keep |= {idx[j] for j in pareto(pts, more)}
    chosen = sorted(keep, key=lambda i: (-evaluated[i][0].summary["tokens_per_s_per_user"],
                                         evaluated[i][0].summary["batch"], evaluated[i][1].tag()))
    return Frontier(first.summary["system"], tuple(evaluated[i][0] for i in chosen), {**fixed, "envelope": True},
                    largest_any, deployments=tuple(evaluated[i][1] for i in chosen),
                    evaluated=tuple(evaluated))


def best_at(f: Frontier, condition: Any) -> dict[str, dict[str, Any] | None]:
    """Per basis (``device``, ``kW``, ``dollar``), the best point of ``f.evaluated`` (else its
    runs) that satisfies ``condition`` (a :class:`wafersim.explore.goals.Constraint`), as
    ``{"run", "deployment", "value"}``; None where no point satisfies it or the basis is unknown."""
    pairs = list(f.evaluated) or list(zip(f.runs, f.deployments or [None] * len(f.runs)))
    ok = [(r, d) for r, d in pairs if condition.violation(r.summary) is None]
    out: dict[str, dict[str, Any] | None] = {}
    for basis, (key, _, more) in BASES.items():
        known = [(r, d) for r, d in ok if isinstance(r.summary.get(key), (int, float))]
        if not known:
            out[basis] = None
            continue
        sign = 1 if more else -1
        r, d = max(known, key=lambda rd: (sign * rd[0].summary[key], rd[0].summary["tokens_per_s_per_user"]))
        out[basis] = {"run": r, "deployment": d, "value": r.summary[key]}
    return out
