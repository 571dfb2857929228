"""An exploration as text, as JSON and as an HDF5 results file.

The HDF5 file is a wafersim results file (``read_run`` reads its runs; :func:`read` gives
the search back and ``wafersim show`` prints it as ``explore`` did):
``/runs/best-1`` ... hold the full runs of the best layouts, and three tables sit beside
``/summary``:

* ``/explore/points``: every point evaluated, along ``point`` (evaluation order): its
  axis values, ``status`` (ok, violates, refused), ``message`` and the metrics;
* ``/explore/best``: the best layouts along ``rank`` (1 = best), with ``point`` (where it
  sits in ``/explore/points``) and ``run`` (its group under ``/runs``);
* ``/explore/pareto``: the Pareto front along ``front``, in increasing first objective.

Each metric column carries its ``units`` and ``description``; a column some points lack
(a refused point has no metrics) is filled with NaN or "" as its ``_FillValue`` says.
The root attribute ``explore`` holds the space, objective, constraints, Pareto objectives,
fixed scenario and cost as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Sequence

from ..config import InputError
from ..report import fmt
from ..text import plural
from ..results.summary import Summary, field_info
from .api import Cost, Exploration
from .evaluate import Point
from .goals import OBJECTIVES, Objective, constraint, key_info
from .hardware import DESIGN_METRICS, PREFIX as DESIGN, SHOWN, metric_cell, variable_doc
from .space import Space, value_label

__all__ = ["report", "to_json", "write", "read", "METRICS"]

#: the metrics every table shows, after the objective's, the Pareto objectives' and the constraints' keys
METRICS = ("tokens_per_s_per_user", "tokens_per_s_per_device", "tokens_per_s", "tokens_per_s_per_kw",
           "usd_per_million_tokens", "tpot_s", "ttft_s", "devices", "power_w", "cost_usd", "fits_on_chip",
           "decode_bottleneck")
_SHORT = {"tokens_per_s_per_user": "tok/s/user", "tokens_per_s_per_device": "tok/s/device", "tokens_per_s": "tok/s",
          "tokens_per_s_per_kw": "tok/s/kW", "usd_per_million_tokens": "$/Mtok", "tpot_s": "tpot", "ttft_s": "ttft",
          "devices": "devices", "power_w": "power", "cost_usd": "price", "fits_on_chip": "fits",
          "decode_bottleneck": "bound by", "area_mm2": "area mm2", "wafer_power_w": "wafer power",
          "wafer_price_usd": "wafer price", "wafer_yield": "yield"}
#: what the text tables show (the HDF5 file and JSON hold every metric of METRICS)
_SHOWN = ("tokens_per_s_per_user", "tokens_per_s_per_device", "tpot_s", "ttft_s", "devices", "power_w",
          "usd_per_million_tokens")


def _metric_keys(e: Exploration, base: Sequence[str], design: Sequence[str] = tuple(DESIGN_METRICS)) -> list[str]:
    """The objective's, the front's and the constraints' keys, then ``base``, then (a hardware
    search) the design's figures ``design``."""
    keys = [e.objective.key, e.pareto[0].key, e.pareto[1].key, *(c.key for c in e.constraints), *base,
            *(design if e.design is not None else ())]
    return list(dict.fromkeys(keys))


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in DESIGN_METRICS:
        return metric_cell(key, value)
    text = fmt(key, value)
    for unit in (" tokens/s/kW", " tokens/s"):
        text = text.replace(unit, "")
    return text


def _table(e: Exploration, points: Sequence[Point], first: tuple[str, Sequence[Any]] | None = None) -> str:
    keys = _metric_keys(e, _SHOWN, SHOWN)
    head = ([first[0]] if first else []) + [k.removeprefix("mapping.").removeprefix(DESIGN) for k in e.space.keys] + \
        [_SHORT.get(k, k) for k in keys] + ["status"]
    rows = [head]
    for n, p in enumerate(points):
        row = [str(first[1][n])] if first else []
        row += [value_label(k, p.params[k]) for k in e.space.keys]
        row += [_cell(k, p.metrics.get(k)) for k in keys]
        status = p.status if p.ok else f"{p.status}: {p.message}"
        if n and p.metrics and p.metrics == points[n - 1].metrics:
            status += " (same figures as the row above)"
        row.append(status)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    return "\n".join("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows)


def report(e: Exploration) -> str:
    """The text ``wafersim explore`` prints: what was searched, the cost, the best layouts and the front."""
    c = e.cost
    rules = ", ".join(r.text() for r in e.constraints) or "nothing"
    share = c.evaluated / c.space_size
    runtime = _runtime(e)
    on = f"{e.system} ({runtime} runtime)" if runtime else e.system
    if e.design is not None:
        on = f"designs varied from {e.design} ({on})"
    lines = [f"{on} running {e.model}: best {e.objective.text()}, subject to {rules}",
             f"space: {e.space.describe()}"]
    if e.fixed:
        lines.append("fixed: " + ", ".join(f"{k} = {value_label(k, v)}" for k, v in e.fixed.items()))
    lines.append(f"cost: {c.evaluated:,} of {plural(c.space_size, 'point', spec=',')} evaluated ({share:.1%}) by the {c.method} search "
                 f"(seed {c.seed}, budget {c.budget:,}) in {c.wall_s:.3g} s: {c.ok} feasible, {c.violates} "
                 f"break a constraint, {c.refused} refused"
                 + (f"; the best was first reached at evaluation {c.best_at}" if c.best_at else ""))
    if not any(p.ok for p in e.best):
        lines.append("no point evaluated satisfies every constraint; the closest:" if e.best
                     else "no point evaluated could be run")
    else:
        lines.append("best layouts:")
    if e.best:
        lines.append(_table(e, e.best, ("rank", range(1, len(e.best) + 1))))
    x, y = e.pareto
    lines.append(f"Pareto front, {x.label} against {y.label} ({len(e.front)} of {plural(c.ok, 'feasible point')}):")
    lines.append(_table(e, e.front) if e.front else "  (no feasible point)")
    refused = [p for p in e.points if p.status == "refused"]
    if refused:
        where = ", ".join(f"{k}={value_label(k, v)}" for k, v in refused[0].params.items())
        lines.append(f"refused, e.g. {where}: {refused[0].message}")
    return "\n".join(lines)


def _point_json(p: Point, keys: Sequence[str]) -> dict[str, Any]:
    return {"point": p.order, "params": p.params, "status": p.status, "message": p.message,
            "metrics": {k: p.metrics[k] for k in keys if k in p.metrics}}


def to_json(e: Exploration) -> dict[str, Any]:
    """The exploration as JSON values: setup, cost, best layouts, front and every point."""
    keys = _metric_keys(e, METRICS)
    return {**_setup(e), "cost": e.cost.as_dict(),
            "best": [_point_json(p, keys) for p in e.best],
            "pareto_front": [_point_json(p, keys) for p in e.front],
            "points": [_point_json(p, keys) for p in e.points]}


def _runtime(e: Exploration) -> str | None:
    """The serving-runtime profile the runs used (the same for every point)."""
    return next((p.metrics["runtime"] for p in e.points if p.metrics.get("runtime")), None)


def _setup(e: Exploration) -> dict[str, Any]:
    return {"system": e.system, "model": e.model, "kind": e.kind, "runtime": _runtime(e), "design": e.design,
            "space": {a.key: list(a.values) for a in e.space.axes},
            "objective": {"key": e.objective.key, "maximize": e.objective.maximize},
            "constraints": [r.text() for r in e.constraints],
            "pareto": [{"key": o.key, "maximize": o.maximize} for o in e.pareto],
            "fixed": e.fixed}


def _plain(value: Any) -> Any:
    """Booleans as 0/1 so a column with gaps stays numeric (NaN where a point has no run)."""
    return int(value) if isinstance(value, bool) else value


def _columns(e: Exploration, points: Sequence[Point]) -> list[tuple[str, list[Any], str, str]]:
    cols: list[tuple[str, list[Any], str, str]] = []
    for axis in e.space.axes:
        cols.append((axis.key, [p.params[axis.key] for p in points], *_axis_info(axis.key)))
    cols.append(("status", [p.status for p in points], "", "ok, violates (breaks a constraint) or refused"))
    cols.append(("message", [p.message for p in points], "", "why the point breaks a constraint or was refused"))
    for key in _metric_keys(e, METRICS):
        values = [_plain(p.metrics.get(key)) for p in points]
        units, meaning = key_info(key)
        if key == "fits_on_chip":
            meaning += " (1 yes, 0 no)"
        if any(v is not None for v in values):
            cols.append((key, values, units, meaning))
    return cols


def _axis_info(key: str) -> tuple[str, str]:
    if key == "replicas":
        return "", "data-parallel copies of the whole system"
    if key.startswith(DESIGN):
        return "", variable_doc(key)
    if key.startswith("mapping."):
        return "", f"mapping option {key.removeprefix('mapping.')} (wafersim.mapping.options.MappingOptions)"
    return field_info(key) if field_info(key) != ("", "") else ("", f"scenario key {key}")


def write(path: str | Path, e: Exploration) -> Path:
    """Write the exploration to ``path`` (atomically; the caller decides about an existing file)."""
    from ..results.hdf5 import write_results

    stored = [p for p in e.best if p.index in e.runs]
    if not stored:
        raise InputError(f"no point of the space could be run, so there is nothing to write to {path}")
    ids = [f"best-{n}" for n in range(1, len(stored) + 1)]
    best = _columns(e, stored) + [("point", [p.order for p in stored], "", "row of explore/points"),
                                  ("run", ids, "", "group under /runs holding the full run")]
    tables = {"explore/points": ("point", list(range(len(e.points))), _columns(e, e.points)),
              "explore/best": ("rank", list(range(1, len(stored) + 1)), best),
              "explore/pareto": ("front", list(range(len(e.front))),
                                 _columns(e, e.front) + [("point", [p.order for p in e.front], "",
                                                          "row of explore/points")])}
    # in the space's own order (not sorted), which ``read`` gives back
    attrs = {"explore": json.dumps({**_setup(e), "cost": e.cost.as_dict()})}
    return write_results(path, [e.runs[p.index] for p in stored], run_ids=ids, tables=tables, extra_attrs=attrs)


#: summary keys that hold yes/no (stored as 1/0 so that a column with gaps stays numeric)
_FLAGS = frozenset(f.name for f in dataclasses.fields(Summary) if "bool" in str(f.type))


def _objective(stored: dict[str, Any]) -> Objective:
    """An objective as ``write`` stored it (key, maximize), with its words where it is a named one."""
    key, more = stored["key"], bool(stored["maximize"])
    words = next((w for k, m, w in OBJECTIVES.values() if (k, m) == (key, more)), key)
    return Objective(key, more, words)


def _points(table: dict[str, list[Any]], dim: str, space: Space, runtime: str | None) -> tuple[Point, ...]:
    """The rows of a table ``write`` stored as Points: axis values of the types the space has,
    metrics without the gaps (NaN, "") and with yes/no keys as booleans."""
    given = {a.key: {str(v): v for v in a.values} for a in space.axes}
    skip = {dim, "status", "message", "point", "run", *space.keys}
    out = []
    for n in range(len(table[dim])):
        params = {k: given[k].get(str(table[k][n]), table[k][n]) for k in space.keys}
        metrics: dict[str, Any] = {}
        for key, values in table.items():
            v = values[n]
            if key in skip or v == "" or (isinstance(v, float) and math.isnan(v)):
                continue
            metrics[key] = bool(v) if key in _FLAGS else v
        if metrics and runtime:
            metrics["runtime"] = runtime
        index = tuple(list(a.values).index(params[a.key]) if params[a.key] in a.values else -1 for a in space.axes)
        order = table["point"][n] if "point" in table else table[dim][n]
        out.append(Point(int(order), index, params, str(table["status"][n]), metrics, str(table["message"][n])))
    return tuple(out)


def read(path: str | Path) -> Exploration:
    """An ``explore -o`` file read back as an :class:`Exploration` (every point, the best
    layouts and the front, without the runs: ``read_run(path, "best-1")`` reads those), so
    that :func:`report` prints what the search printed."""
    from ..results.hdf5 import read_root_json, read_table

    setup = read_root_json(path, "explore")
    space = Space.of(setup["space"])
    runtime = setup.get("runtime")
    points = _points(read_table(path, "explore/points"), "point", space, runtime)
    best = _points(read_table(path, "explore/best"), "rank", space, runtime)
    front = _points(read_table(path, "explore/pareto"), "front", space, runtime)
    pareto = tuple(_objective(o) for o in setup["pareto"])
    return Exploration(setup["system"], setup["model"], setup["kind"], space, _objective(setup["objective"]),
                       tuple(constraint(c) for c in setup["constraints"]), (pareto[0], pareto[1]), setup["fixed"],
                       points, best, front, Cost(**setup["cost"]), design=setup.get("design"))
