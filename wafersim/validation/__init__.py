"""Published measurements and how far the models are from them (`wafersim validate`)."""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError, load_toml
from ..presets import load_model, load_runtime, load_system
from ..results.run_result import RunResult
from ..runner import simulate

#: the shipped table: every ``*.toml`` file in this folder, read in name order
MEASUREMENTS = Path(__file__).with_name("measurements")
NUMERIC_METRICS = ("ttft_s", "tpot_s", "tokens_per_s_per_user", "tokens_per_s", "energy_per_token_j",
                   "decode_layer_s", "prefill_layer_s", "request_tokens_per_s")
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_SCENARIO_KEYS = ("batch", "prompt_tokens", "output_tokens", "dtype", "kv_dtype", "wafers", "tp", "pp", "ep", "layers",
                  "fidelity", "request_rate")
_ROW_KEYS = {"id", "system", "model", "metric", "value", "source", "calibration", "note", "set", "runtime", "group",
             *_SCENARIO_KEYS}
#: what a row's ``set`` may hold: the layout of the scenario on a wafer, never a model parameter
_ROW_SET_PREFIX = "mapping."


@dataclass(frozen=True)
class Measurement:
    id: str
    system: str
    model: str
    metric: str
    value: float
    source: str
    calibration: bool
    scenario: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    #: the runtime profile (runtimes/) every row of this runtime runs with; "" for the kind's default
    runtime: str = ""
    #: the independent source the row comes from (leave-one-source-out leaves out a group at a
    #: time): the row's ``group``, else its file's top-level ``group``, else the file's name
    group: str = ""


@dataclass(frozen=True)
class Comparison:
    row: Measurement
    predicted: float
    result: RunResult

    @property
    def error(self) -> float:
        """Signed relative error, (predicted - measured) / measured."""
        return (self.predicted - self.row.value) / self.row.value


def load_measurements(path: str | Path = MEASUREMENTS) -> list[Measurement]:
    """The rows of one measurement file, or of every ``*.toml`` file in a folder (in name order);
    ids are unique across all of them."""
    path = Path(path)
    files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
    if not files:
        raise ConfigError(str(path), "row", "expected a measurement file or a folder holding *.toml files")
    out: list[Measurement] = []
    seen: dict[str, str] = {}
    for file in files:
        out.extend(_load_file(file, seen))
    return out


def _load_file(path: Path, seen: dict[str, str]) -> list[Measurement]:
    data = load_toml(path)
    unknown = sorted(set(data) - {"row", "group"})
    if unknown:
        raise ConfigError(str(path), unknown[0], "unknown key; a measurement file holds [[row]] tables and "
                                                 "optionally the source's group")
    rows = data.get("row")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(str(path), "row", "expected one or more [[row]] tables")
    file_group = data.get("group", path.stem)
    if not isinstance(file_group, str) or not _ID.fullmatch(file_group):
        raise ConfigError(str(path), "group", f"expected letters, digits, '-' and '_'; got {file_group!r}")
    out = []
    for i, row in enumerate(rows):
        key = f"row[{i}]"
        if not isinstance(row, dict):
            raise ConfigError(str(path), key, f"expected a [[row]] table, got {type(row).__name__}")
        unknown = sorted(set(row) - _ROW_KEYS)
        if unknown:
            raise ConfigError(str(path), f"{key}.{unknown[0]}", f"unknown key; expected one of {', '.join(sorted(_ROW_KEYS))}")
        for need in ("id", "system", "model", "metric", "value", "source"):
            if need not in row:
                raise ConfigError(str(path), f"{key}.{need}", "missing")
        if not isinstance(row["metric"], str) or row["metric"] not in NUMERIC_METRICS:
            raise ConfigError(str(path), f"{key}.metric",
                              f"expected a numeric summary key ({', '.join(NUMERIC_METRICS)}); got {row['metric']!r}")
        for name in ("system", "model", "source", "note", "runtime", "group"):
            if name in row and not isinstance(row[name], str):
                raise ConfigError(str(path), f"{key}.{name}", f"expected a string; got {type(row[name]).__name__}")
        if not isinstance(row.get("calibration", False), bool):
            raise ConfigError(str(path), f"{key}.calibration", f"expected true or false; got {row['calibration']!r:.60}")
        if not isinstance(row.get("set", {}), dict):
            raise ConfigError(str(path), f"{key}.set", "expected a table of mapping.* keys and values")
        for name in row.get("set", {}):
            if not str(name).startswith(_ROW_SET_PREFIX):
                raise ConfigError(str(path), f"{key}.set", f"a row sets only the wafer layout (mapping.*), never a "
                                                           f"model parameter ({name!r}); name the runtime profile "
                                                           "that holds it (runtime = ...)")
        value = row["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(str(path), f"{key}.value", f"expected a positive number; got {value!r}")
        if not isinstance(row["id"], str) or not _ID.fullmatch(row["id"]):
            raise ConfigError(str(path), f"{key}.id", f"expected letters, digits, '-' and '_'; got {row['id']!r}")
        if row["id"] in seen:
            raise ConfigError(str(path), f"{key}.id", f"duplicate id {row['id']!r} (also {seen[row['id']]})")
        seen[row["id"]] = f"{path.name} row[{i}]"
        out.append(Measurement(
            id=row["id"], system=row["system"], model=row["model"], metric=row["metric"],
            value=float(row["value"]), source=row["source"], calibration=bool(row.get("calibration", False)),
            scenario={k: row[k] for k in _SCENARIO_KEYS if k in row}, overrides=dict(row.get("set", {})),
            note=row.get("note", ""), runtime=row.get("runtime", ""), group=row.get("group", file_group)))
    return out


def run_row(row: Measurement, runtime: str | None = None, runtime_overrides: dict[str, Any] | None = None,
            system_overrides: dict[str, Any] | None = None) -> Comparison:
    """Run one row with its runtime profile (``runtime`` replaces it when the profile applies to
    the row's kind of system); ``runtime_overrides`` and ``system_overrides`` are what a fit
    tries (``--set runtime.*`` / ``system.*``)."""
    mapping = {k.removeprefix(_ROW_SET_PREFIX): v for k, v in row.overrides.items()}
    name = row.runtime or None
    if runtime is not None:
        kind = load_system(row.system).kind
        if load_runtime(runtime).applies_to(kind):
            name = runtime
    system = load_system(row.system, system_overrides or None, runtime=name, runtime_overrides=runtime_overrides or None)
    model = load_model(row.model)
    result = simulate(system, model, mapping=mapping if system.kind == "wafer" else None, **row.scenario)
    return Comparison(row, float(result.summary[row.metric]), result)


def validate(path: str | Path = MEASUREMENTS, runtime: str | None = None) -> list[Comparison]:
    return [run_row(r, runtime) for r in load_measurements(path)]


#: the columns of the ``/validation`` table in ``wafersim validate -o`` files: key -> (units, meaning)
TABLE_FIELDS: dict[str, tuple[str, str]] = {
    "metric": ("", "summary key compared"),
    "measured": ("", "published value of the metric, in the metric's units"),
    "predicted": ("", "predicted value of the metric, in the metric's units"),
    "relative_error": ("", "(predicted - measured) / measured"),
    "calibration": ("", "a preset field was fitted to this row"),
    "source": ("", "where the measurement was published"),
    "group": ("", "the independent source the row belongs to (left out together in leave-one-source-out)"),
    "runtime": ("", "the runtime profile the row ran with"),
    "loso_predicted": ("", "prediction with the fitted fields refitted without the row's source"),
}


def table_columns(comparisons: list[Comparison], loso: dict[str, float] | None = None
                  ) -> list[tuple[str, list[Any], str, str]]:
    """The validation table for :func:`wafersim.results.hdf5.write_results` (one row per run);
    ``loso`` maps row ids to their leave-one-source-out prediction (NaN where absent)."""
    loso = loso or {}
    values = {"metric": lambda c: c.row.metric, "measured": lambda c: c.row.value,
              "predicted": lambda c: c.predicted, "relative_error": lambda c: c.error,
              "calibration": lambda c: c.row.calibration, "source": lambda c: c.row.source,
              "group": lambda c: c.row.group, "runtime": lambda c: c.result.summary.get("runtime") or "",
              "loso_predicted": lambda c: loso.get(c.row.id, float("nan"))}
    return [(key, [values[key](c) for c in comparisons], *TABLE_FIELDS[key]) for key in TABLE_FIELDS]


def error_stats(comparisons: list[Comparison]) -> dict[str, float | None]:
    """Row count, median and worst |relative error|; the errors are None (JSON null) for no rows."""
    if not comparisons:
        return {"rows": 0, "median_abs_error": None, "worst_abs_error": None}
    errs = [abs(c.error) for c in comparisons]
    return {"rows": len(errs), "median_abs_error": statistics.median(errs), "worst_abs_error": max(errs)}


ERROR_BAND = MEASUREMENTS.with_name("error_band.json")


def group_key(c: Comparison) -> str:
    """The kind of system and metric a row reports ("gpu/ttft_s"), with "@load" for a row of
    online serving under load (a request rate: its first token waits in a queue, its steps
    share the time with arriving prefills), which is not the same quantity as a static batch's."""
    return f"{c.result.summary['kind']}/{c.row.metric}" + ("@load" if c.row.scenario.get("request_rate") else "")


def error_band(comps: list[Comparison]) -> dict[str, dict[str, float]]:
    """Out-of-sample error per kind of system and metric ("gpu/ttft_s"): the figures every
    result carries (``wafersim validate --write-band`` stores them in :data:`ERROR_BAND`)."""
    groups: dict[str, list[Comparison]] = {}
    for c in comps:
        if not c.row.calibration:
            groups.setdefault(group_key(c), []).append(c)
    return {key: {k: (round(v, 6) if isinstance(v, float) else v) for k, v in error_stats(group).items()}
            for key, group in sorted(groups.items())}


def kind_metric_stats(comps: list[Comparison], loso: dict[str, float] | None = None
                      ) -> dict[str, dict[str, float | None]]:
    """Per kind of system and metric ("gpu/ttft_s"): rows, out-of-sample median and worst
    |error| (rows not used for calibration), and, given ``loso`` (row id -> prediction with
    the row's source left out of the fit), the leave-one-source-out median and worst over
    every row."""
    groups: dict[str, list[Comparison]] = {}
    for c in comps:
        groups.setdefault(group_key(c), []).append(c)
    out = {}
    for key, group in sorted(groups.items()):
        held = error_stats([c for c in group if not c.row.calibration])
        entry = {"rows": len(group), "out_of_sample_rows": held["rows"],
                 "out_of_sample_median": held["median_abs_error"], "out_of_sample_worst": held["worst_abs_error"]}
        if loso is not None:
            errs = [abs(loso[c.row.id] / c.row.value - 1) for c in group if c.row.id in loso]
            entry["loso_median"] = statistics.median(errs) if errs else None
            entry["loso_worst"] = max(errs) if errs else None
        out[key] = entry
    return out


def report_groups(comps: list[Comparison]) -> dict[str, list[Comparison]]:
    """The rows `validate` reports error statistics over, by name."""
    return {
        "calibration rows (GPU)": [c for c in comps if c.row.calibration and c.result.summary["kind"] == "gpu"],
        "calibration rows (wafer)": [c for c in comps if c.row.calibration and c.result.summary["kind"] == "wafer"],
        "rows not used for calibration": [c for c in comps if not c.row.calibration],
        "wafer rows not used for calibration": [c for c in comps if not c.row.calibration
                                                and c.result.summary["kind"] == "wafer"],
        "all GPU rows": [c for c in comps if c.result.summary["kind"] == "gpu"],
    }
