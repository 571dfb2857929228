"""Self-describing HDF5 results (schema in docs/results-schema.md).

Layout, version 2::

    /                       attrs: format, format-version, generated-by, creation-date
    /summary/<key>          one column per summary field (results.summary.Summary) along ``run``
    /summary/run            the run ids (dimension scale)
    /<table>/<key>          optional tables along ``run`` (``validation`` in validate files)
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

import contextlib
import datetime as _dt
import json
import os
import stat
from pathlib import Path
from typing import Any, Iterable, Sequence

import h5py
import numpy as np

from .._version import __version__
from .errors import ResultsFormatError
from .integrity import signed_h5, verify
from .phase import PhaseTime
from .run_result import LayerArray, RunResult
from .summary import FIELDS, Summary, problems

FORMAT = "wafersim-results"
FORMAT_VERSION = 2   # 2: validation columns in /validation, not /summary; config.provenance
#: The ``format`` of a sweep collection (wafersim.sweep.fileformat), named here so that reading
#: a results file can tell one apart without importing the sweep package.
SWEEP_FORMAT = "wafersim-sweep"
_STR = h5py.string_dtype("utf-8")
_COMPRESS = {"compression": "gzip", "shuffle": True}


def _creation_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch else _dt.datetime.now(_dt.timezone.utc)
    return now.replace(microsecond=0).isoformat()


def _stamp(f: h5py.File, fmt: str, version: int) -> None:
    """The root attributes every wafersim file has: format, format-version, generated-by, creation-date."""
    f.attrs["format"] = fmt
    f.attrs["format-version"] = version
    f.attrs["generated-by"] = f"wafersim {__version__}"
    f.attrs["creation-date"] = _creation_date()


def _json(obj: Any) -> str:
    return _ENCODER.encode(obj)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} as JSON")


#: ``json.dumps(obj, sort_keys=True, default=_json_default)``, made once: it writes the same
#: text in a little over half the time of building an encoder per call (a sweep writes one per point).
_ENCODER = json.JSONEncoder(sort_keys=True, default=_json_default)


def _options(dtype: np.dtype, size: int) -> dict[str, Any]:
    opts: dict[str, Any] = {"track_times": False}
    if dtype.kind in "fiub" and size >= 16:
        opts.update(_COMPRESS, chunks=True)
    return opts


def _dataset(group: h5py.Group, name: str, data: np.ndarray, **kw: Any) -> h5py.Dataset:
    data = np.asarray(data)
    return group.create_dataset(name, data=data, **_options(data.dtype, data.size), **kw)


def _empty_dataset(group: h5py.Group, name: str, shape: tuple[int, ...], dtype: np.dtype | str,
                   fillvalue: Any) -> h5py.Dataset:
    """A dataset as :func:`_dataset` makes one for an array of ``shape`` and ``dtype`` (the same
    chunks and compression), nothing written yet: it reads ``fillvalue`` until written, and a
    chunk never written takes no room in the file."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64))
    return group.create_dataset(name, shape=shape, dtype=dtype, fillvalue=fillvalue, **_options(dtype, size))


def _column(group: h5py.Group, name: str, data: np.ndarray) -> h5py.Dataset:
    """A dataset of ``data``: UTF-8 text where it is an object array (of str), else as :func:`_dataset` stores it."""
    data = np.asarray(data)
    if data.dtype == object:
        return group.create_dataset(name, data=data, dtype=_STR, track_times=False)
    return _dataset(group, name, data)


def _scale(group: h5py.Group, name: str, values: np.ndarray) -> h5py.Dataset:
    ds = _dataset(group, name, values) if np.asarray(values).dtype.kind != "U" else \
        group.create_dataset(name, data=np.asarray(values, dtype=object), dtype=_STR, track_times=False)
    ds.make_scale(name)
    return ds


def _dim_scale(group: h5py.Group, arr: LayerArray, axis: int) -> None:
    """The scale of ``arr``'s dimension ``axis`` in ``group`` unless it is there: its labels, or 0..n-1."""
    dim = arr.dims[axis]
    if dim not in group:
        labels = (arr.labels or {}).get(dim)
        _scale(group, dim, np.array(labels, dtype=str) if labels else np.arange(arr.shape[axis]))


#: attribute of an array held as a leading corner of its dataset: the corner's shape (the
#: rest of the dataset reads as 0); a reader loads only the corner
STORED_SHAPE = "stored_shape"


def _read_array(item: h5py.Dataset, dims: tuple[str, ...], labels: dict[str, tuple[str, ...]] | None) -> LayerArray:
    """The array of ``item``: only its stored corner when it has one (``STORED_SHAPE``)."""
    units, description = str(item.attrs.get("units", "")), str(item.attrs.get("description", ""))
    if STORED_SHAPE not in item.attrs:
        return LayerArray(item[()], dims, units, description, labels)
    corner = np.asarray(item.attrs[STORED_SHAPE])
    if corner.ndim != 1 or corner.dtype.kind not in "iu" or len(corner) != item.ndim \
            or any(not 1 <= int(c) <= n for c, n in zip(corner, item.shape)):
        raise ResultsFormatError(f"{item.file.filename}: {item.name}: attribute {STORED_SHAPE} = {corner.tolist()!r:.80} "
                                 f"is not the shape of a corner of its {item.shape} array")
    stored = item[tuple(slice(0, int(c)) for c in corner)]
    return LayerArray(stored, dims, units, description, labels, shape=item.shape)


def _write_array(group: h5py.Group, name: str, arr: LayerArray) -> None:
    if arr.stored.shape == arr.shape:
        ds = _dataset(group, name, arr.stored)
    else:
        # a corner of a larger array: the dataset has the whole shape, zero where nothing is
        # written, and only the chunks the corner touches take room in the file
        ds = _empty_dataset(group, name, arr.shape, arr.dtype, 0)
        ds[arr.corner] = arr.stored
        ds.attrs[STORED_SHAPE] = np.array(arr.stored.shape, dtype=np.int64)
    ds.attrs["units"] = arr.units
    ds.attrs["description"] = arr.description
    for axis, dim in enumerate(arr.dims):
        _dim_scale(group, arr, axis)
        ds.dims[axis].attach_scale(group[dim])


#: Shortest JSON text of a configuration's part that :func:`_json_config` keeps for reuse:
#: the system's and the model's dictionaries (kilobytes, shared by every run of a spec), not
#: the scenario of each run.
SHARE_MIN_CHARS = 512


def _json_config(config: dict[str, Any], shared: dict[int, tuple[Any, str]] | None) -> str:
    """``_json(config)``, each top-level part's text taken from ``shared`` (id -> (part,
    text)) where the same object was written before: a run's system and model dictionaries
    are built once per spec and shared by its runs (wafersim.runner), so a sweep writes
    each once.  The text is the same as ``_json(config)``'s."""
    if shared is None:
        return _json(config)
    parts = []
    for key in sorted(config):
        value = config[key]
        hit = shared.get(id(value))
        if hit is None or hit[0] is not value:
            hit = (value, _json(value))
            if isinstance(value, dict) and len(hit[1]) >= SHARE_MIN_CHARS:
                shared[id(value)] = hit              # holds the part, so its id is not reused
        parts.append(f"{_json(key)}: {hit[1]}")
    return "{" + ", ".join(parts) + "}"


def _run_texts(result: RunResult, shared: dict[int, tuple[Any, str]] | None = None) -> dict[str, str]:
    """What a run's group attributes hold: system, model, config, summary and notes (JSON);
    ``shared``: see :func:`_json_config`."""
    return {"system": str(result.summary["system"]), "model": str(result.summary["model"]),
            "config": _json_config(result.config, shared), "summary": _json(result.to_json()),
            "notes": _json(result.notes)}


def _run_attrs(group: h5py.Group, result: RunResult) -> None:
    """A run's group attributes: system, model, config, summary and notes (JSON)."""
    for name, text in _run_texts(result).items():
        group.attrs[name] = text


def _write_attachments(group: h5py.Group, result: RunResult) -> None:
    """A run's attachments (name -> text), one scalar UTF-8 dataset each."""
    for name, text in sorted(result.attachments.items()):
        group.create_dataset(name, data=text, dtype=_STR, track_times=False)


def _write_run(group: h5py.Group, result: RunResult) -> None:
    _run_attrs(group, result)
    for name, arr in sorted(result.arrays.items()):
        _write_array(group, name, arr)
    names = sorted(set(result.prefill.components) | set(result.decode.components))
    _scale(group, "component", np.array(names, dtype=str))
    for label, phase in (("prefill_components_s", result.prefill), ("decode_components_s", result.decode)):
        ds = _dataset(group, label, np.array([phase.components.get(n, 0.0) for n in names]))
        ds.attrs["units"] = "s"
        ds.attrs["description"] = f"{label.split('_')[0]}: seconds each resource alone would need"
        ds.dims[0].attach_scale(group["component"])
    _write_attachments(group, result)


def _write_columns(g: h5py.Group, columns: Sequence[tuple[str, list[Any], str, str]], n: int,
                   dim: str = "run") -> None:
    """Columns (name, values with None where a run lacks it, units, description) along
    ``run``: booleans as int8, numbers as int64 or float64, text as UTF-8; a column some
    runs lack is filled with NaN (numbers) or "" (text), as its ``_FillValue`` says."""
    for key, values, unit, meaning in columns:
        present = [v for v in values if v is not None]
        missing = len(present) < n
        fill: Any = None
        if all(isinstance(v, (bool, np.bool_)) for v in present) and not missing:
            data = np.array(present, dtype=np.int8)
        elif all(isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)) for v in present):
            as_int = all(isinstance(v, (int, np.integer)) for v in present) and not missing
            fill = None if as_int else np.nan
            data = np.array([fill if v is None else v for v in values], dtype=np.int64 if as_int else np.float64)
        else:
            fill = ""
            data = np.array(["" if v is None else str(v) for v in values], dtype=object)
        ds = _column(g, key, data)
        ds.attrs["units"] = unit
        ds.attrs["description"] = meaning
        if missing:
            ds.attrs["_FillValue"] = fill
        ds.dims[0].attach_scale(g[dim])


def _table(root: h5py.File, name: str, run_ids: Sequence[Any],
           columns: Sequence[tuple[str, list[Any], str, str]], dim: str = "run") -> None:
    g = root.create_group(name)
    values = np.array(run_ids, dtype=str) if dim == "run" else np.asarray(run_ids)
    _scale(g, dim, values)
    _write_columns(g, columns, len(run_ids), dim)


def _write_summary(root: h5py.File, results: Sequence[RunResult], run_ids: Sequence[str]) -> None:
    """One column per summary field that any run has, in the declared order."""
    columns = [(key, [r.summary.get(key) for r in results], *FIELDS[key])
               for key in FIELDS if any(key in r.summary for r in results)]
    _table(root, "summary", run_ids, columns)


def write_results(path: str | Path, results: RunResult | Iterable[RunResult],
                  run_ids: Sequence[str] | None = None, extra_attrs: dict[str, str] | None = None,
                  tables: dict[str, Sequence[tuple[str, list[Any], str, str]]] | None = None) -> Path:
    """Write one or more runs to ``path`` atomically (temporary file, then rename).

    ``tables`` adds groups of columns beside ``/summary``: name -> columns of (key, one
    value per run, units, description) along ``run`` (e.g. the measurements ``wafersim
    validate -o`` compares with), or name -> (dimension, its values, columns) along a
    dimension of their own (e.g. ``frontier/a`` along ``batch``)."""
    from ..atomic import check_output_path
    path = check_output_path(path, "path")          # a file name in a folder that takes new files
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
    with signed_h5(path) as f:
        _stamp(f, FORMAT, FORMAT_VERSION)
        for k, v in sorted((extra_attrs or {}).items()):
            f.attrs[k] = v
        runs = f.create_group("runs")
        for rid, res in zip(run_ids, results):
            _write_run(runs.create_group(rid), res)
        _write_summary(f, results, run_ids)
        for name, table in sorted((tables or {}).items()):
            if name.split("/")[0] in ("runs", "summary"):
                raise ValueError(f"table name {name!r} is taken")
            if isinstance(table, tuple) and len(table) == 3 and isinstance(table[0], str):
                _table(f, name, table[1], table[2], dim=table[0])
            else:
                _table(f, name, run_ids, table)
    return path


def check_format(f: h5py.File, path: str | Path) -> None:
    fmt = _attr_text(f.attrs.get("format"))
    if fmt == SWEEP_FORMAT:
        raise ResultsFormatError(f"{path}: not a wafersim results file but a sweep collection; open it with "
                                 "xarray.open_dataset(path, engine='h5netcdf', group='summary'), "
                                 "wafersim.sweep.read_collection or tools/plot_sweep.py; `wafersim show` summarises it")
    if fmt != FORMAT:
        raise ResultsFormatError(f"{path}: not a wafersim results file (attribute 'format' is {_short(fmt)})")
    raw = f.attrs.get("format-version", -1)
    try:
        version = int(raw)
    except (TypeError, ValueError, OverflowError):
        raise ResultsFormatError(f"{path}: attribute 'format-version' is {_short(raw)}; expected an integer") from None
    if version > FORMAT_VERSION:
        raise ResultsFormatError(f"{path}: format-version {version} is newer than this wafersim reads ({FORMAT_VERSION})")
    if "runs" not in f or not isinstance(f["runs"], h5py.Group) or not len(f["runs"]):
        raise ResultsFormatError(f"{path}: damaged: no group /runs with at least one run")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _attr_text(value: Any) -> Any:
    if isinstance(value, bytes):
        with contextlib.suppress(UnicodeDecodeError):
            return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "OSU":
        return _attr_text(value.item())
    return value


#: What reading a damaged file can raise inside h5py, json and the summary; each becomes
#: a ResultsFormatError naming the file and what is wrong.
_DAMAGE = (KeyError, ValueError, TypeError, AttributeError, IndexError, OSError, RuntimeError,
           OverflowError, UnicodeDecodeError, RecursionError, StopIteration)


def _open_hdf5(path: str | Path) -> h5py.File:
    """Open a file wafersim wrote, of any format, for reading: its checksum checked first.  A
    path that is not a regular file (a FIFO, a device, a directory) is refused without opening it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ResultsFormatError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise ResultsFormatError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ResultsFormatError(f"{path}: {what}; expected a wafersim results file")
    verify(path)
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise ResultsFormatError(f"{path}: cannot open as HDF5 ({exc})") from None


def _open(path: str | Path) -> h5py.File:
    """Open a results file for reading, checking it is one this version can read."""
    f = _open_hdf5(path)
    try:
        check_format(f, path)
    except ResultsFormatError:
        f.close()
        raise
    except _DAMAGE as exc:
        f.close()
        raise ResultsFormatError(f"{path}: damaged: {type(exc).__name__}: {exc}") from None
    return f


NOC_FORMAT = "wafersim-noc-sweep"
NOC_FORMAT_VERSION = 1
#: the kinds of file :func:`file_kind` tells apart
FILE_KINDS = ("runs", "validation", "frontier", "explore", "noc-sweep", "sweep")


def file_kind(path: str | Path) -> str:
    """What a file wafersim wrote holds, from its root: ``noc-sweep`` and ``sweep`` by their
    ``format``; in a results file ``validation`` (``validate -o``: a /validation table),
    ``frontier`` (``compare --frontier -o``: /frontier tables), ``explore`` (``explore -o``:
    the root attribute ``explore``) or ``runs`` (``run`` and ``compare -o``).  A file of
    another format, or a results file this version cannot read, is a ResultsFormatError."""
    with _open_hdf5(path) as f:
        try:
            fmt = _attr_text(f.attrs.get("format"))
            if fmt == NOC_FORMAT:
                return "noc-sweep"
            if fmt == SWEEP_FORMAT:
                return "sweep"
            check_format(f, path)
            if "validation" in f or "validation-error-stats" in f.attrs:
                return "validation"
            if "frontier" in f or "frontier-crossovers" in f.attrs:
                return "frontier"
            if "explore" in f.attrs:
                return "explore"
            return "runs"
        except _DAMAGE as exc:
            raise ResultsFormatError(f"{path}: damaged: {type(exc).__name__}: {str(exc)[:200]}") from None


def read_root_json(path: str | Path, name: str) -> dict[str, Any]:
    """A JSON root attribute of a results file (``validation-error-stats``, ``frontier-crossovers``,
    ``explore``); a ResultsFormatError when it is missing or is not a JSON object."""
    with _reading(path, f"attribute {name!r}") as f:
        return _json_attr(f, name, path, dict)


class MissingEntry(KeyError):
    """A run or table the caller asked for is not in the file (not damage)."""


@contextlib.contextmanager
def _reading(path: str | Path, what: str = ""):
    """Open ``path``; any error from damaged contents becomes a ResultsFormatError."""
    f = _open(path)
    try:
        with f:
            yield f
    except (ResultsFormatError, MissingEntry):
        raise
    except _DAMAGE as exc:
        where = f" ({what})" if what else ""
        raise ResultsFormatError(f"{path}: damaged{where}: {type(exc).__name__}: {str(exc)[:200]}") from None


def _json_attr(group: h5py.Group, name: str, path: str | Path, kind: type) -> Any:
    """A JSON attribute of a run, of type ``kind`` (dict or list)."""
    if name not in group.attrs:
        raise ResultsFormatError(f"{path}: damaged: {group.name} has no attribute {name!r}")
    raw = _attr_text(group.attrs[name])
    if not isinstance(raw, str):
        raise ResultsFormatError(f"{path}: damaged: {group.name} attribute {name!r} is not text")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ResultsFormatError(f"{path}: damaged: {group.name} attribute {name!r} is not JSON ({str(exc)[:80]})") from None
    if not isinstance(value, kind):
        raise ResultsFormatError(f"{path}: damaged: {group.name} attribute {name!r} is not a JSON "
                                 f"{'object' if kind is dict else 'array'}")
    return value


def _summary(group: h5py.Group, path: str | Path) -> dict[str, Any]:
    summary = _json_attr(group, "summary", path, dict)
    bad = problems(summary)
    if bad:
        raise ResultsFormatError(f"{path}: damaged: {group.name} summary: {bad[0]}")
    notes = summary.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ResultsFormatError(f"{path}: damaged: {group.name} summary: notes is not a list of text")
    return summary


def _runs(f: h5py.File, path: str | Path) -> list[h5py.Group]:
    runs = []
    for rid in f["runs"]:
        g = f["runs"][rid]
        if not isinstance(g, h5py.Group):
            raise ResultsFormatError(f"{path}: damaged: /runs/{rid} is not a group")
        runs.append(g)
    return runs


def read_summaries(path: str | Path) -> list[dict[str, Any]]:
    """The summary of every run in a results file, as dicts (JSON values)."""
    with _reading(path, "summary") as f:
        return [_summary(g, path) for g in _runs(f, path)]


def read_table(path: str | Path, name: str = "summary") -> dict[str, list[Any]]:
    """A table along ``run`` (``summary``, or ``validation`` in validate files) as column -> values,
    with the run ids under ``run``; text decoded, booleans as 0/1."""
    with _reading(path, f"table {name!r}") as f:
        if name not in f or name == "runs" or not isinstance(f[name], h5py.Group):
            tables = [k for k in f if k != "runs" and isinstance(f[k], h5py.Group)]
            raise MissingEntry(f"{path}: no table {name!r}; tables: {', '.join(tables)}")
        g = f[name]
        return {key: [v.item() if hasattr(v, "item") else v for v in _text(g[key][()])] for key in g}


def _sound_provenance(prov: Any) -> bool:
    """Whether ``prov`` has the shape :func:`wafersim.provenance.describe` reads."""
    if not isinstance(prov, dict):
        return False
    for rec in prov.values():
        if not isinstance(rec, dict):
            return False
        bases, typed = rec.get("bases", []), rec.get("set", [])
        if not isinstance(bases, list) or not all(isinstance(b, dict) for b in bases):
            return False
        if not isinstance(typed, list) or not all(isinstance(t, str) for t in typed):
            return False
    return True


def read_provenance(path: str | Path) -> list[dict[str, Any]]:
    """Each run's ``config["provenance"]`` (preset, base chain, overrides of the system and
    the model), in run order; ``{}`` for a run written before provenance was recorded."""
    with _reading(path, "provenance") as f:
        out = []
        for g in _runs(f, path):
            prov = _json_attr(g, "config", path, dict).get("provenance", {})
            if not _sound_provenance(prov):
                raise ResultsFormatError(f"{path}: damaged: {g.name} provenance is not a table of records")
            out.append(prov)
        return out


def _text(v: Any, errors: str = "strict") -> Any:
    """Text as h5py reads it back, as str: bytes decoded as UTF-8 (``errors`` as for
    bytes.decode), element by element in an object array of any shape; anything else as it is."""
    if isinstance(v, bytes):
        return v.decode("utf-8", errors)
    if isinstance(v, np.ndarray) and v.dtype == object:
        return np.array([_text(x, errors) for x in v.ravel()], dtype=object).reshape(v.shape)
    return v


def read_run(path: str | Path, run_id: str | None = None) -> RunResult:
    """One run as a :class:`RunResult`: the typed summary, both phases' components, every
    array with its dimensions, units and labels, the notes, attachments and configuration."""
    with _reading(path, "run") as f:
        runs = f["runs"]
        rid = run_id or next(iter(runs))
        if rid not in runs:
            if run_id is None:         # listed but not found: a damaged name in the group's index
                raise ResultsFormatError(f"{path}: damaged: /runs lists {rid!r} but it cannot be opened")
            raise MissingEntry(f"{path}: no run {rid!r}; runs: {', '.join(runs)}")
        g = runs[rid]
        if not isinstance(g, h5py.Group):
            raise ResultsFormatError(f"{path}: damaged: /runs/{rid} is not a group")
        stored = _summary(g, path)
        names = [str(n) for n in _text(g["component"][()])] if "component" in g else []
        phases = {}
        for label, total in (("prefill_components_s", "ttft_s"), ("decode_components_s", "tpot_s")):
            values = g[label][()] if label in g else []
            phases[label] = PhaseTime(float(stored[total]), {n: float(v) for n, v in zip(names, values)})
        arrays, attachments = {}, {}
        for name, item in g.items():
            if not isinstance(item, h5py.Dataset) or name in phases or item.is_scale:
                continue
            if item.shape == () and h5py.check_string_dtype(item.dtype):
                attachments[name] = _text(item[()])
                continue
            dims = tuple(d[0].name.rsplit("/", 1)[-1] if len(d) else f"dim_{i}" for i, d in enumerate(item.dims))
            labels = {dim: tuple(str(v) for v in _text(g[dim][()])) for dim in dims
                      if dim in g and h5py.check_string_dtype(g[dim].dtype)}
            arrays[name] = _read_array(item, dims, labels or None)
        return RunResult(Summary.from_mapping(stored), _json_attr(g, "config", path, dict),
                         phases["prefill_components_s"], phases["decode_components_s"], arrays,
                         _json_attr(g, "notes", path, list), attachments)


def write_noc_sweep(path: str | Path, columns: Sequence[tuple[str, Sequence[float], str, str]],
                    link_utilisation: np.ndarray, config: dict[str, Any]) -> Path:
    """A latency-throughput sweep of the cycle-level network (``wafersim noc-sweep``).

    Layout: root attrs ``format`` = ``wafersim-noc-sweep``, ``format-version``,
    ``generated-by``, ``creation-date`` and ``config`` (JSON: mesh, pattern, router);
    ``/sweep/<column>`` one value per injection rate along the dimension ``point``
    (attrs ``units``, ``description``); ``/sweep/link_utilisation`` (point, y, x,
    direction): flits per cycle on each directed link."""
    path = Path(path)
    n = len(columns[0][1]) if columns else 0
    with signed_h5(path) as f:
        _stamp(f, NOC_FORMAT, NOC_FORMAT_VERSION)
        f.attrs["config"] = _json(config)
        g = f.create_group("sweep")
        _scale(g, "point", np.arange(n))
        for name, values, units, description in columns:
            ds = _dataset(g, name, np.asarray(values, dtype=np.float64))
            ds.attrs["units"] = units
            ds.attrs["description"] = description
            ds.dims[0].attach_scale(g["point"])
        u = np.asarray(link_utilisation, dtype=np.float32)
        _scale(g, "y", np.arange(u.shape[1]))
        _scale(g, "x", np.arange(u.shape[2]))
        _scale(g, "direction", np.array(["E", "W", "N", "S"], dtype=str))
        ds = _dataset(g, "link_utilisation", u)
        ds.attrs["units"] = "flit/cycle"
        ds.attrs["description"] = "flits each directed link carried per cycle"
        for axis, dim in enumerate(("point", "y", "x", "direction")):
            ds.dims[axis].attach_scale(g[dim])
    return path


def read_noc_sweep(path: str | Path) -> dict[str, Any]:
    """The columns (numpy arrays), ``link_utilisation`` and ``config`` of a noc-sweep file."""
    verify(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ResultsFormatError(f"{path}: cannot open as HDF5 ({exc})") from None
    with f:
        if f.attrs.get("format") != NOC_FORMAT:
            raise ResultsFormatError(f"{path}: not a noc-sweep file (attribute 'format' is {f.attrs.get('format')!r})")
        if int(f.attrs.get("format-version", -1)) > NOC_FORMAT_VERSION:
            raise ResultsFormatError(f"{path}: format-version is newer than this wafersim reads")
        g = f["sweep"]
        out: dict[str, Any] = {k: g[k][()] for k in g if k not in ("point", "y", "x", "direction")}
        out["config"] = json.loads(f.attrs["config"])
    return out
