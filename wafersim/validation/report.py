"""The validation table and its error statistics as text: what ``wafersim validate`` prints
and what ``wafersim show`` prints for a ``validate -o`` file."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..text import plural

__all__ = ["rows_text", "stats_text"]


def rows_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per row: id, metric, predicted, measured, relative error, runtime and whether
    a preset field was fitted to it (``calibration``)."""
    w = max([len("row"), *(len(r["id"]) for r in rows)])
    out = [f"{'row':<{w}}  {'metric':<22} {'predicted':>11} {'measured':>11} {'error':>8}  {'runtime':<11} cal"]
    for r in rows:
        out.append(f"{r['id']:<{w}}  {r['metric']:<22} {r['predicted']:>11.4g} {r['measured']:>11.4g} "
                   f"{r['error'] * 100:>+7.1f}%  {r['runtime'] or '':<11} {'yes' if r['calibration'] else ''}")
    return "\n".join(out)


def stats_text(groups: Mapping[str, Mapping[str, Any]], per_kind: Mapping[str, Mapping[str, Any]],
               rows: int, sources: Sequence[str], loso: bool) -> str:
    """The error statistics: per group of rows (``error_stats``), the row and source count,
    and per kind of system and metric (``kind_metric_stats``), out of sample and, with
    ``loso``, with each row's source left out of the fit."""
    out = []
    for name, st in groups.items():
        if st["rows"]:
            out.append(f"{name}: {plural(st['rows'], 'row')}, median |error| {st['median_abs_error'] * 100:.1f} %, "
                       f"worst {st['worst_abs_error'] * 100:.1f} %")
    out.append(f"{plural(rows, 'row')} from {plural(len(sources), 'source')} ({', '.join(sources)})")
    out.append("by kind and metric: out-of-sample |error| (rows not used for calibration)"
               + ("; leave-one-source-out |error| (every row, its source left out of the fit)" if loso else ""))
    for key, st in per_kind.items():
        line = f"  {key:<32} {plural(st['rows'], 'row', spec='>3')}"
        if st["out_of_sample_rows"]:
            line += (f"; out of sample ({st['out_of_sample_rows']}): median {st['out_of_sample_median'] * 100:.1f} %, "
                     f"worst {st['out_of_sample_worst'] * 100:.1f} %")
        if st.get("loso_median") is not None:
            line += f"; leave-one-source-out: median {st['loso_median'] * 100:.1f} %, worst {st['loso_worst'] * 100:.1f} %"
        out.append(line)
    return "\n".join(out)
