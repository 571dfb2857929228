"""Trace files: one request a row, with when it arrived and how many tokens it asked for.

Two layouts are read, told apart by the file's suffix:

* CSV (``.csv``): a header row, then one row per request (lines starting ``#`` are comments);
* JSON Lines (``.jsonl``): one JSON object per line.

Three columns are read, under the names the public LLM serving traces use (matched
without regard to case, spaces or underscores); other columns are ignored:

=================  ==============================================================
column             names accepted
=================  ==============================================================
arrival time       ``arrival_s``, ``arrival_time``, ``timestamp``, ``time``
prompt tokens      ``prompt_tokens``, ``input_tokens``, ``input_length``,
                   ``context_tokens`` (Azure LLM inference traces),
                   ``request_tokens`` (BurstGPT)
output tokens      ``output_tokens``, ``output_length``, ``generated_tokens``
                   (Azure), ``response_tokens`` (BurstGPT)
priority           ``priority`` (optional; lower is served first)
=================  ==============================================================

Arrival times are numbers in seconds (``trace:FILE:ms`` or ``:us`` reads milliseconds
or microseconds, as in the Mooncake traces) or ISO 8601 date-times (the Azure traces);
the run starts at the earliest, and rows are taken in order of arrival (ties in file
order).  A row with a length below 1 or a missing value is an error naming its line.
``wafersim/serving/data/example-trace.csv`` is a small synthetic example.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..config import ConfigError
from .workload import LENGTH_MAX, Requests

__all__ = ["read_trace", "EXAMPLE_TRACE", "COLUMNS"]

EXAMPLE_TRACE = Path(__file__).resolve().parent / "data" / "example-trace.csv"
#: column -> the names it is read under (normalised: lower case, no spaces, underscores or dashes)
COLUMNS = {
    "arrival": ("arrivals", "arrivaltime", "timestamp", "time"),
    "prompt": ("prompttokens", "inputtokens", "inputlength", "contexttokens", "requesttokens"),
    "output": ("outputtokens", "outputlength", "generatedtokens", "responsetokens"),
    "priority": ("priority",),
}
_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
#: the most rows a trace may have (a week of a busy service at a thousand requests a second is 6e8)
MAX_ROWS = 10**9


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch not in " _-")


def _columns(names: Iterable[str], source: str) -> dict[str, str]:
    by_norm = {_norm(n): n for n in names}
    out = {}
    for column, accepted in COLUMNS.items():
        hit = next((by_norm[a] for a in accepted if a in by_norm), None)
        if hit is None and column != "priority":
            raise ConfigError(source, "", f"no {column} column: expected one named "
                              f"{', '.join(_SHOWN[column])}; the file has {', '.join(map(str, names)) or 'none'}")
        if hit is not None:
            out[column] = hit
    return out


_SHOWN = {"arrival": ("arrival_s", "arrival_time", "timestamp", "time"),
          "prompt": ("prompt_tokens", "input_tokens", "input_length", "ContextTokens", "Request tokens"),
          "output": ("output_tokens", "output_length", "GeneratedTokens", "Response tokens"),
          "priority": ("priority",)}


def _time(value: Any, where: str, scale: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        t = float(value) * scale
    else:
        text = str(value).strip()
        try:
            t = float(text) * scale
        except ValueError:
            try:
                stamp = _dt.datetime.fromisoformat(text)
            except ValueError:
                raise ConfigError(where, "", f"expected an arrival time (seconds or an ISO 8601 date-time); "
                                             f"got {text[:40]!r}") from None
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=_dt.timezone.utc)
            t = stamp.timestamp()
    if not math.isfinite(t):
        raise ConfigError(where, "", f"expected a finite arrival time; got {str(value)[:40]!r}")
    return t


def _tokens(value: Any, where: str, what: str, low: int = 1) -> int:
    try:
        n = float(value)
    except (TypeError, ValueError):
        n = math.nan
    if not (low <= n <= LENGTH_MAX) or n != int(n):
        raise ConfigError(where, "", f"expected {what}, an integer from {low} to {LENGTH_MAX}; got {str(value)[:40]!r}")
    return int(n)


def _rows(path: Path, source: str) -> tuple[list[str], Iterable[tuple[int, dict[str, Any]]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            numbered = [(i + 1, line) for i, line in enumerate(handle) if not line.startswith("#")]
        reader = csv.DictReader(line for _, line in numbered)
        names = list(reader.fieldnames or [])
        return names, [(numbered[reader.line_num - 1][0], row) for row in reader]
    if suffix in (".jsonl", ".ndjson"):
        lines = [(i + 1, line) for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()) if line.strip()]
        rows = []
        for lineno, line in lines:
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{source}:{lineno}", "", f"not a JSON object ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ConfigError(f"{source}:{lineno}", "", "expected a JSON object per line")
            rows.append((lineno, row))
        names = list(dict.fromkeys(k for _, row in rows for k in row))
        return names, rows
    raise ConfigError(source, "", f"expected a .csv or .jsonl trace; got {path.suffix or 'no suffix'!r}")


def read_trace(path: str | Path, time_unit: str = "s", limit: int | None = None) -> Requests:
    """The requests of a trace file (the first ``limit`` by arrival when given)."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError("--arrivals", "", f"trace file {source!r} not found")
    try:
        names, rows = _rows(path, source)
        cols = None
        times, prompts, outputs, prios = [], [], [], []
        for lineno, row in rows:
            if cols is None:
                cols = _columns(names, source)
            where = f"{source}:{lineno}"
            if len(times) >= MAX_ROWS:
                raise ConfigError(source, "", f"more than {MAX_ROWS} rows")
            times.append(_time(row.get(cols["arrival"]), where, _UNIT[time_unit]))
            prompts.append(_tokens(row.get(cols["prompt"]), where, "prompt tokens"))
            outputs.append(_tokens(row.get(cols["output"]), where, "output tokens"))
            prios.append(_tokens(row.get(cols["priority"]), where, "a priority", 0) if "priority" in cols else 0)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(source, "", f"cannot read the trace ({exc})") from None
    if not times:
        raise ConfigError(source, "", "the trace holds no requests")
    order = np.argsort(np.asarray(times), kind="stable")
    if limit is not None:
        order = order[:limit]
    t = np.asarray(times)[order]
    return Requests(t - t[0], np.asarray(prompts)[order], np.asarray(outputs)[order], np.asarray(prios)[order])
