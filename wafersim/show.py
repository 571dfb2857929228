"""``wafersim show FILE``: what a file wafersim wrote holds, told by its kind.

* a run or comparison (``run -o``, ``compare -o``): each run's summary, notes and provenance;
* ``validate -o``: the validation table (row, metric, predicted, measured, error,
  calibration) and the error statistics;
* ``compare --frontier -o``: each side's frontier and the crossovers;
* ``explore -o``: the search (space, objective, constraints, cost), the best layouts and
  the Pareto front;
* ``noc-sweep -o``: the latency-throughput curve;
* ``sweep -o``: the axes, how many points ran, and each metric's range.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

from .provenance import describe
from .report import envelope_line, fmt, frontier_rows, lines, side_line, summary_table
from .results.errors import ResultsFormatError
from .results.summary import Summary
from .results.hdf5 import (_DAMAGE, file_kind, read_noc_sweep, read_provenance, read_root_json, read_run,
                           read_summaries, read_table)
from .text import plural

__all__ = ["show"]


@contextlib.contextmanager
def _damaged(path: str | Path, what: str) -> Iterator[None]:
    """What reading a damaged file's tables raises, as a ResultsFormatError naming the file."""
    try:
        yield
    except ResultsFormatError:
        raise
    except _DAMAGE as exc:
        raise ResultsFormatError(f"{path}: damaged ({what}): {type(exc).__name__}: {str(exc)[:200]}") from None


def _runs(path: str | Path) -> str:
    out = []
    for summary, prov in zip(read_summaries(path), read_provenance(path)):
        out += [f"{summary['system']} running {summary['model']}", summary_table(summary),
                lines(summary.get("notes", [])), "provenance:\n" + describe(prov)]
    return "\n".join(out)


def _validation(path: str | Path) -> str:
    from .validation import report_groups
    from .validation.report import rows_text, stats_text

    table = read_table(path, "validation")
    groups = read_root_json(path, "validation-error-stats")
    per_kind = read_root_json(path, "validation-kind-metric-stats")
    with _damaged(path, "validation table"):
        rows = [{"id": rid, "metric": table["metric"][i], "predicted": table["predicted"][i],
                 "measured": table["measured"][i], "error": table["relative_error"][i],
                 "runtime": table["runtime"][i], "calibration": bool(table["calibration"][i])}
                for i, rid in enumerate(table["run"])]
        loso = any(isinstance(v, float) and math.isfinite(v) for v in table.get("loso_predicted", []))
        order = {name: n for n, name in enumerate(report_groups([]))}      # as validate prints them
        groups = dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
        stats = stats_text(groups, per_kind, len(rows), sorted(set(table["group"])), loso)
        return "\n".join([f"validation: {plural(len(rows), 'row')} of published measurements against the "
                          "model's predictions", rows_text(rows), stats,
                          f"plot with: python tools/plot_validation.py {path}"])


def _frontier(path: str | Path) -> str:
    from .headtohead import BASES, FRONTIER_KEYS

    crossovers = read_root_json(path, "frontier-crossovers")
    tables = {side: read_table(path, f"frontier/{side}") for side in ("a", "b")}
    with _damaged(path, "frontier tables"):
        # each side's first point is the run its table's "run" column names; files written before
        # envelopes have no such column and name it a-b<batch> / b-b<batch>
        firsts = {side: read_run(path, table["run"][0] if table.get("run") else f"{side}-b{table['batch'][0]}").summary
                  for side, table in tables.items()}
        envelope = any(len(set(t.get("deployment") or [])) > 1 for t in tables.values())
        how = "each side's envelope over its deployments" if envelope else "each side sized to hold one sequence"
        out = [f"{firsts['a']['model']}: throughput against interactivity, {how}"]
        if all(s.get("runtime") for s in firsts.values()):
            out.append("runtime: " + ", ".join(f"{side.upper()} {s['runtime']} ({s['runtime_class']})"
                                               for side, s in firsts.items()))
        for side, table in tables.items():
            points = []
            for i, batch in enumerate(table["batch"]):
                point = {"batch": batch}
                for key in FRONTIER_KEYS[1:]:
                    v = table[key][i] if key in table else None
                    if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
                        continue
                    point[key] = bool(v) if key == "fits_on_chip" else v
                points.append(point)
            deployments = [str(d) for d in table["deployment"]] if table.get("deployment") else None
            if not deployments or len(set(deployments)) <= 1:
                deployments = None          # one deployment (compare --frontier fixed, or files before envelopes)
            if deployments:
                out.append(envelope_line(side.upper(), firsts[side]["system"], len(points)))
            else:
                out.append(side_line(side.upper(), firsts[side]) + f"; batch {points[0]['batch']} to {points[-1]['batch']}")
            out.append(frontier_rows([SimpleNamespace(summary=p) for p in points], deployments))
        out += [str(crossovers[basis]) for basis in BASES if basis in crossovers]
        out.append(f"plot with: python tools/plot_frontier.py {path}")
        return "\n".join(out)


def _explore(path: str | Path) -> str:
    from .explore.output import read, report

    with _damaged(path, "exploration"):
        e = read(path)
    return report(e) + f"\nthe best layouts' runs: {', '.join(f'best-{n}' for n in range(1, len(e.best) + 1))} " \
                       f"(wafersim.read_run({str(path)!r}, 'best-1'))"


#: the noc-sweep columns ``show`` prints: (column, heading, format)
_NOC_COLUMNS = (("offered", "offered", ".3f"), ("accepted", "accepted", ".3f"), ("latency_mean", "mean", ".1f"),
                ("latency_p50", "p50", ".1f"), ("latency_p99", "p99", ".1f"), ("delivered_share", "delivered", ".1%"))


def _noc(path: str | Path) -> str:
    data = read_noc_sweep(path)
    with _damaged(path, "noc sweep"):
        cfg = data["config"]
        mesh = cfg.get("mesh", {})
        where = mesh.get("system") or ("uniform mesh" if mesh.get("uniform") else "mesh")
        router = cfg.get("router", {})
        head = (f"network latency against throughput: {where}, {mesh.get('cores_y')} x {mesh.get('cores_x')} "
                f"routers, {cfg.get('pattern', '?')} traffic, packets of {cfg.get('packet_flits', '?')} flits, "
                f"{cfg.get('cycles', '?')} cycles measured after {cfg.get('warmup', '?')} of warm-up (seed "
                f"{cfg.get('seed', '?')}); routers of {router.get('vcs', '?')} virtual channels x "
                f"{router.get('buffer_flits', '?')} flits")
        cols = [(key, title, spec) for key, title, spec in _NOC_COLUMNS if key in data]
        rows = [[title for _, title, _ in cols]]
        rows += [[format(float(data[key][i]), spec) for key, _, spec in cols] for i in range(len(data["offered"]))]
        widths = [max(len(r[j]) for r in rows) for j in range(len(cols))]
        table = "\n".join("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)
        return "\n".join([head, "  offered and accepted in flits per node per cycle; latency (mean, p50, p99) in "
                                "cycles, packet creation to delivery", table,
                          f"plot with: python tools/plot_noc_sweep.py {path}"])


#: the longest text value a sweep summary prints; a longer one is counted, not printed
_TEXT_SHOWN = 40
#: the width ``show`` wraps a long line of a sweep's summary at
_WIDTH = 110
#: summary keys that count (an int field), printed as whole numbers
_WHOLE = frozenset(f.name for f in dataclasses.fields(Summary) if str(f.type).startswith("int"))


def _spread(key: str, values: Any) -> tuple[str, bool]:
    """A metric over the points that ran, and whether it varies: its least and most, the
    yes/no counts (a flag), or its values (text)."""
    import numpy as np

    v = np.asarray(values)
    if v.dtype.kind == "f":
        ok = v[np.isfinite(v)]
        if not ok.size:
            return "-", False
        kind = int if key in _WHOLE else float                # counts are stored as float64 beside NaN
        lo, hi = fmt(key, kind(ok.min())), fmt(key, kind(ok.max()))
        return (lo, False) if lo == hi else (f"{lo} .. {hi}", True)
    if v.dtype.kind in "iu":                            # a flag: 1 yes, 0 no, -1 where the point did not run
        yes, no = int((v == 1).sum()), int((v == 0).sum())
        return (fmt(key, bool(yes)), False) if not (yes and no) else (f"{yes} yes, {no} no", True)
    words = sorted({str(x) for x in v.ravel() if str(x)})
    if len(words) == 1:
        return (words[0] if len(words[0]) <= _TEXT_SHOWN else f"({len(words[0])} characters)"), False
    short = all(len(w) <= _TEXT_SHOWN for w in words)
    return (", ".join(words) if short else f"{len(words)} different texts"), True


def _packed(head: str, items: list[str], indent: str = "  ") -> list[str]:
    """``items`` joined by "; " into lines of at most about ``_WIDTH`` characters, none split."""
    lines_, line = [], head
    for n, item in enumerate(items):
        piece = item + (";" if n < len(items) - 1 else "")
        if line.strip() and len(line) + len(piece) > _WIDTH:
            lines_.append(line.rstrip())
            line = indent
        line += piece + " "
    return [*lines_, line.rstrip()]


def _sweep(path: str | Path) -> str:
    from .results.summary import FIELDS
    from .sweep.collection import read_collection

    c = read_collection(path)
    with _damaged(path, "sweep collection"):
        a = c.attrs
        status = c.variables["status"].data
        ran, failed = int((status == 1).sum()), int((status == 0).sum())
        shape = " x ".join(f"{d} {len(c.variables[d].data)}" for d in c.dims)
        out = [f"sweep: {a.get('description') or a.get('spec-source', '')}".rstrip(),
               f"{plural(int(a.get('points', status.size)), 'point')} ({shape}): {ran} ran, {failed} failed"
               + (f", {status.size - ran - failed} not run" if status.size - ran - failed else ""),
               "axes:"]
        out += [f"  {c.label(d)}: {('; ' if len(c.axis_keys(d)) > 1 else ', ').join(c.ticks(d))}" for d in c.dims]
        spread = {k: _spread(k, c.variables[k].data) for k in FIELDS if k in c.variables and k not in c.dims}
        varies = [k for k, (_, moves) in spread.items() if moves]
        width = max([len(k) for k in varies], default=0)
        out.append("metrics that vary over the points that ran (least .. most):" if varies else
                   "no metric varies over the points that ran")
        out += [f"  {k:<{width}}  {spread[k][0]}" for k in varies]
        same = [f"{k} {text}" for k, (text, moves) in spread.items() if not moves]
        if same:
            out += _packed("the same at every point: ", same)
        errors = [str(e) for e in c.variables["error"].data.ravel() if str(e)] if "error" in c.variables else []
        if errors:
            out.append(f"failed, e.g.: {errors[0]}")
        out.append(f"open with: xarray.open_dataset({str(path)!r}, engine='h5netcdf', group='summary') or "
                   "wafersim.sweep.read_collection; a point's run with wafersim.sweep.read_point")
        return "\n".join(out)


#: file kind -> what prints it
_SHOW: dict[str, Callable[[str | Path], str]] = {
    "runs": _runs, "validation": _validation, "frontier": _frontier, "explore": _explore, "noc-sweep": _noc,
    "sweep": _sweep,
}


def show(path: str | Path) -> str:
    """The text ``wafersim show`` prints for ``path``, whatever kind of file wafersim wrote."""
    return _SHOW[file_kind(path)](path)
