"""Self-describing HDF5 results (schema in docs/results-schema.md).

Layout, version 1::

    /                       attrs: format, format-version, generated-by, creation-date
    /summary/<key>          one column per summary key along dimension ``run``
    /summary/run            the run ids (dimension scale)
    /runs/<id>              attrs: system, model, config (JSON), summary (JSON), notes (JSON)
    /runs/<id>/layer        dimension scale 0..L-1
    /runs/<id>/<array>      per-layer (or per-core, per-link) arrays, attrs units, description
    /runs/<id>/component    names of time components (dimension scale)
    /runs/<id>/prefill_components_s, decode_components_s

Files are written to a temporary name beside the target and renamed, so a run
that fails leaves no half-written file.  ``creation-date`` is the only
wall-clock value; set ``SOURCE_DATE_EPOCH`` to pin it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import h5py
import numpy as np

from .._version import __version__
from ..atomic import atomic_path
from .run_result import SUMMARY_FIELDS, LayerArray, RunResult, field_info

FORMAT = "wafersim-results"
FORMAT_VERSION = 1
_STR = h5py.string_dtype("utf-8")
_COMPRESS = {"compression": "gzip", "shuffle": True}


class ResultsFormatError(ValueError):
    """A file is not a wafersim results file this version can read."""


def _creation_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch else _dt.datetime.now(_dt.timezone.utc)
    return now.replace(microsecond=0).isoformat()


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} as JSON")


def _dataset(group: h5py.Group, name: str, data: np.ndarray, **kw: Any) -> h5py.Dataset:
    data = np.asarray(data)
    opts: dict[str, Any] = {"track_times": False}
    if data.dtype.kind in "fiub" and data.size >= 16:
        opts.update(_COMPRESS, chunks=True)
    return group.create_dataset(name, data=data, **opts, **kw)


def _scale(group: h5py.Group, name: str, values: np.ndarray) -> h5py.Dataset:
    ds = _dataset(group, name, values) if np.asarray(values).dtype.kind != "U" else \
        group.create_dataset(name, data=np.asarray(values, dtype=object), dtype=_STR, track_times=False)
    ds.make_scale(name)
    return ds


def _write_array(group: h5py.Group, name: str, arr: LayerArray) -> None:
    ds = _dataset(group, name, arr.data)
    ds.attrs["units"] = arr.units
    ds.attrs["description"] = arr.description
    for axis, dim in enumerate(arr.dims):
        if dim not in group:
            labels = (arr.labels or {}).get(dim)
            _scale(group, dim, np.array(labels, dtype=str) if labels else np.arange(arr.data.shape[axis]))
        ds.dims[axis].attach_scale(group[dim])


def _write_run(group: h5py.Group, result: RunResult) -> None:
    group.attrs["system"] = str(result.summary["system"])
    group.attrs["model"] = str(result.summary["model"])
    group.attrs["config"] = _json(result.config)
    group.attrs["summary"] = _json(result.to_json())
    group.attrs["notes"] = _json(result.notes)
    for name, arr in sorted(result.arrays.items()):
        _write_array(group, name, arr)
    names = sorted(set(result.prefill.components) | set(result.decode.components))
    _scale(group, "component", np.array(names, dtype=str))
    for label, phase in (("prefill_components_s", result.prefill), ("decode_components_s", result.decode)):
        ds = _dataset(group, label, np.array([phase.components.get(n, 0.0) for n in names]))
        ds.attrs["units"] = "s"
        ds.attrs["description"] = f"{label.split('_')[0]}: seconds each resource alone would need"
        ds.dims[0].attach_scale(group["component"])
    for name, text in sorted(result.attachments.items()):
        group.create_dataset(name, data=text, dtype=_STR, track_times=False)


def _write_summary(root: h5py.File, results: Sequence[RunResult], run_ids: Sequence[str]) -> None:
    """One column per summary key; a key some runs lack (a GPU-only scalar in a
    wafer-vs-GPU comparison) is filled with NaN (numbers) or "" (text), as its
    ``_FillValue`` attribute says."""
    g = root.create_group("summary")
    _scale(g, "run", np.array(run_ids, dtype=str))
    scalar = (int, float, str, bool, np.generic)
    keys = list(SUMMARY_FIELDS)
    for k in sorted({k for r in results for k in r.summary} - set(keys)):
        if all(isinstance(r.summary[k], scalar) for r in results if k in r.summary):
            keys.append(k)
    for key in keys:
        present = [r.summary[key] for r in results if key in r.summary]
        missing = len(present) < len(results)
        fill: Any = None
        if all(isinstance(v, (bool, np.bool_)) for v in present) and not missing:
            data = np.array(present, dtype=np.int8)
        elif all(isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)) for v in present):
            as_int = all(isinstance(v, (int, np.integer)) for v in present) and not missing
            fill = None if as_int else np.nan
            data = np.array([r.summary.get(key, fill) for r in results], dtype=np.int64 if as_int else np.float64)
        else:
            fill = ""
            data = np.array([str(r.summary[key]) if key in r.summary else "" for r in results], dtype=object)
        if data.dtype == object:
            ds = g.create_dataset(key, data=data, dtype=_STR, track_times=False)
        else:
            ds = _dataset(g, key, data)
        unit, meaning = field_info(key)
        ds.attrs["units"] = unit
        ds.attrs["description"] = meaning
        if missing:
            ds.attrs["_FillValue"] = fill
        ds.dims[0].attach_scale(g["run"])


def write_results(path: str | Path, results: RunResult | Iterable[RunResult],
                  run_ids: Sequence[str] | None = None, extra_attrs: dict[str, str] | None = None) -> Path:
    """Write one or more runs to ``path`` atomically (temporary file, then rename)."""
    results = [results] if isinstance(results, RunResult) else list(results)
    if not results:
        raise ValueError("no results to write")
    run_ids = list(run_ids) if run_ids is not None else [f"run-{i:04d}" for i in range(len(results))]
    if len(run_ids) != len(results):
        raise ValueError(f"{len(run_ids)} run ids for {len(results)} results")
    for rid in run_ids:
        if not rid or "/" in rid or rid.startswith(".") or run_ids.count(rid) > 1:
            raise ValueError(f"run id {rid!r} must be unique, non-empty and free of '/' and a leading '.'")
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        f.attrs["format"] = FORMAT
        f.attrs["format-version"] = FORMAT_VERSION
        f.attrs["generated-by"] = f"wafersim {__version__}"
        f.attrs["creation-date"] = _creation_date()
        for k, v in sorted((extra_attrs or {}).items()):
            f.attrs[k] = v
        runs = f.create_group("runs")
        for rid, res in zip(run_ids, results):
            _write_run(runs.create_group(rid), res)
        _write_summary(f, results, run_ids)
    return path


def check_format(f: h5py.File, path: str | Path) -> None:
    if f.attrs.get("format") != FORMAT:
        raise ResultsFormatError(f"{path}: not a wafersim results file (attribute 'format' is {f.attrs.get('format')!r})")
    version = int(f.attrs.get("format-version", -1))
    if version > FORMAT_VERSION:
        raise ResultsFormatError(f"{path}: format-version {version} is newer than this wafersim reads ({FORMAT_VERSION})")


def _open(path: str | Path) -> h5py.File:
    """Open a results file for reading, checking it is one this version can read."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ResultsFormatError(f"{path}: cannot open as HDF5 ({exc})") from None
    try:
        check_format(f, path)
    except ResultsFormatError:
        f.close()
        raise
    return f


def read_summaries(path: str | Path) -> list[dict[str, Any]]:
    """The summary of every run in a results file, as dicts (JSON values)."""
    with _open(path) as f:
        return [json.loads(f["runs"][rid].attrs["summary"]) for rid in f["runs"]]


def read_provenance(path: str | Path) -> list[dict[str, Any]]:
    """Each run's ``config["provenance"]`` (preset, base chain, overrides of the system and
    the model), in run order; ``{}`` for a run written before provenance was recorded."""
    with _open(path) as f:
        return [json.loads(f["runs"][rid].attrs["config"]).get("provenance", {}) for rid in f["runs"]]


def read_run(path: str | Path, run_id: str | None = None) -> dict[str, Any]:
    """One run: its summary, config, notes and arrays (numpy) by name."""
    with _open(path) as f:
        runs = f["runs"]
        rid = run_id or next(iter(runs))
        if rid not in runs:
            raise KeyError(f"{path}: no run {rid!r}; runs: {', '.join(runs)}")
        g = runs[rid]
        arrays = {}
        for k in g:
            if isinstance(g[k], h5py.Dataset):
                data = g[k][()]
                if isinstance(data, np.ndarray) and data.dtype == object:
                    data = np.array([v.decode() if isinstance(v, bytes) else v for v in data], dtype=object)
                elif isinstance(data, bytes):
                    data = data.decode()
                arrays[k] = data
        return {"id": rid, "summary": json.loads(g.attrs["summary"]), "config": json.loads(g.attrs["config"]),
                "notes": json.loads(g.attrs["notes"]), "arrays": arrays}
