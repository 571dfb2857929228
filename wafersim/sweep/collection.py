"""One HDF5 file per sweep, laid out on the sweep's own axes.

Layout (format ``wafersim-sweep``, version 2; docs/results-schema.md)::

    /                  attrs: format, format-version, generated-by, creation-date,
                       spec (the spec file's text), spec-source, digest, points, failed, axes (JSON)
    /summary           a netCDF-4 group: one dimension per axis
      /<axis>          dimension scale: the axis's values (SI numbers: whole bytes as integers;
                       true/false as booleans; or text), attrs units, description;
                       a zipped axis counts 0..n-1 and each of its keys is a coordinate along it
      /<metric>        one variable per summary field, shaped like the sweep: numbers as float64
                       (NaN where the point failed), true/false as int8 (-1), text ("" )
      /point           the index of each point (its row of /runs), /status (1 ran, 0 failed,
                       -1 not run) and /error (the error of a failed point)
    /arrays            each point's arrays stacked on the sweep's axes where their shapes agree
                       (wafersim.sweep.arrays): (axes..., layer), (axes..., y, x, direction), ...
    /runs              a table, one row per point (wafersim.sweep.runs_table): its job, resolved
                       configuration, summary and notes (JSON), its error where it failed, its
                       attachments; /runs/p000000 holds a point's arrays whose shape differs
                       between points

so that ``xarray.open_dataset(path, engine="h5netcdf", group="summary")`` is an
n-dimensional Dataset and ``.to_dataframe()`` a table.  Writing needs only
h5py; the file is written to a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from ..extras import install_hint
from ..results.hdf5 import _column, _dataset, _json, _stamp, _text
from ..results.integrity import signed_h5
from ..results.run_result import LayerArray
from ..results.summary import FIELDS
from .arrays import stackable, write_arrays
from .fileformat import FORMAT, FORMAT_VERSION, attach_dims, open_sweep as _open, point_id
from .runs_table import write_runs
from .records import PointOutcome
from .points import SweepPlan

__all__ = ["FORMAT", "FORMAT_VERSION", "write_collection", "read_collection", "summary_digest", "Collection",
           "open_dataset", "point_id"]

GROUP = "summary"
NOT_RUN, FAILED, RAN = -1, 0, 1


def _kind(values: list[Any]) -> str:
    types = {type(v) for v in values} - {type(None)}      # by type: a column has few
    if types and all(issubclass(t, (bool, np.bool_)) for t in types):
        return "bool"
    if all(issubclass(t, (int, float, np.number)) and not issubclass(t, (bool, np.bool_)) for t in types):
        return "number"
    return "text"


def _variable(g: h5py.Group, name: str, values: list[Any], shape: tuple[int, ...], dims: list[str],
              units: str, description: str, coords: str) -> None:
    kind = _kind(values)
    if kind == "number":
        data = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64).reshape(shape)
        ds = g.create_dataset(name, data=data, fillvalue=np.nan, track_times=False)      # small: not compressed
        ds.attrs["_FillValue"] = np.float64(np.nan)
    elif kind == "bool":
        data = np.array([-1 if v is None else int(v) for v in values], dtype=np.int8).reshape(shape)
        ds = g.create_dataset(name, data=data, fillvalue=np.int8(-1), track_times=False)
        ds.attrs["_FillValue"] = np.int8(-1)
        ds.attrs["flag_values"] = np.array([0, 1], dtype=np.int8)
        ds.attrs["flag_meanings"] = "false true"
    else:
        data = np.array(["" if v is None else str(v) for v in values], dtype=object).reshape(shape)
        ds = _column(g, name, data)
    ds.attrs["units"] = units
    ds.attrs["description"] = description
    attach_dims(ds, g, dims, coords)


def _coordinate(values: Any) -> np.ndarray:
    """An axis's values as an array: text as an object array, numbers as numpy types them."""
    return np.asarray(values, dtype=object if isinstance(values[0], str) else None)


def _axes(g: h5py.Group, plan: SweepPlan) -> str:
    """Write each axis's dimension scale (and a zipped axis's keys); returns the names of the
    non-dimension coordinates (netCDF's ``coordinates`` attribute)."""
    extra = []
    for axis in plan.spec.axes:
        coords = plan.coordinates[axis.name]
        if not axis.zipped:
            c = coords[0]
            ds = _column(g, axis.name, _coordinate(c.values))
            ds.make_scale(axis.name)
            ds.attrs["units"] = c.units
            ds.attrs["description"] = f"sweep axis {axis.name}; values as written: {_json(list(c.written))}"
            continue
        ds = _dataset(g, axis.name, np.arange(axis.size, dtype=np.int64))
        ds.make_scale(axis.name)
        ds.attrs["units"] = ""
        ds.attrs["description"] = f"sweep axis {axis.name}: {', '.join(axis.keys)} varied together"
        for c in coords:
            name = c.key if c.key not in g else f"{axis.name}.{c.key}"
            cd = _column(g, name, _coordinate(c.values))
            cd.attrs["units"] = c.units
            cd.attrs["description"] = f"{c.key} along axis {axis.name}; values as written: {_json(list(c.written))}"
            cd.dims[0].attach_scale(ds)
            extra.append(name)
    return " ".join(extra)


def write_collection(path: str | Path, plan: SweepPlan, outcomes: Mapping[int, PointOutcome], *,
                     arrays: bool = True) -> Path:
    """Write a sweep's collection atomically.  ``outcomes`` maps point index to outcome; a
    point without one is stored as not run.  ``arrays=False`` keeps each point's configuration
    and summary under /runs, not its arrays."""
    path = Path(path)
    n = len(plan.jobs)
    shape = plan.shape
    dims = [a.name for a in plan.spec.axes]
    ran = [outcomes.get(i) for i in range(n)]
    failed = sum(1 for o in ran if o is not None and not o.ok)
    with signed_h5(path) as f:
        _stamp(f, FORMAT, FORMAT_VERSION)
        f.attrs["spec"] = plan.spec.text
        f.attrs["spec-source"] = plan.spec.source
        f.attrs["description"] = plan.spec.description
        f.attrs["digest"] = plan.digest
        f.attrs["points"] = n
        f.attrs["finished"] = sum(1 for o in ran if o is not None)
        f.attrs["failed"] = failed
        f.attrs["axes"] = _json([{"name": a.name, "keys": list(a.keys), "size": a.size,
                                  "units": [c.units for c in plan.coordinates[a.name]]} for a in plan.spec.axes])
        g = f.create_group(GROUP, track_order=True)
        coords = _axes(g, plan)
        summaries = [vars(o.result.summary) if o is not None and o.ok else {} for o in ran]   # fields, None unset
        status = [NOT_RUN if o is None else RAN if o.ok else FAILED for o in ran]
        _ints(g, "point", np.arange(n, dtype=np.int64).reshape(shape), dims, coords,
              "index of the point: its row of the /runs table")
        _ints(g, "status", np.array(status, dtype=np.int8).reshape(shape), dims, coords,
              "1: the point ran; 0: it failed (see error); -1: not run",
              flags=(np.array([NOT_RUN, FAILED, RAN], dtype=np.int8), "not_run failed ran"))
        _variable(g, "error", [o.error if o is not None and not o.ok else "" for o in ran], shape, dims, "",
                  "why the point failed (empty where it ran)", coords)
        for key, (units, description) in FIELDS.items():
            values = [s.get(key) for s in summaries]
            if any(v is not None for v in values):
                name = key if key not in g else f"resolved_{key}"      # an axis of the same name holds the spec's
                _variable(g, name, values, shape, dims, units, description, coords)
        stacked = stackable([o.result for o in ran if o is not None and o.ok], dims) if arrays else []
        if arrays:
            write_arrays(f, ran, shape, dims, lambda group: _axes(group, plan), stacked)
        write_runs(f, plan.jobs, ran, set(stacked), arrays)
    return path


def _ints(g: h5py.Group, name: str, data: np.ndarray, dims: list[str], coords: str, description: str,
          flags: tuple[np.ndarray, str] | None = None) -> None:
    ds = _dataset(g, name, data)
    ds.attrs["units"] = ""
    ds.attrs["description"] = description
    if flags is not None:
        ds.attrs["flag_values"], ds.attrs["flag_meanings"] = flags
    attach_dims(ds, g, dims, coords)


Variable = LayerArray      # a variable of the summary group: data, dims, units, description


@dataclass(frozen=True)
class Collection:
    """A sweep file read with h5py: root attributes, each axis's coordinate, each variable."""
    attrs: dict[str, Any]
    dims: tuple[str, ...]
    variables: dict[str, Variable]

    def label(self, name: str) -> str:
        """``name [units]``, or the name alone when it has none."""
        units = self.variables[name].units if name in self.variables else ""
        return f"{name} [{units}]" if units else name

    def axis_keys(self, axis: str) -> list[str]:
        """The keys an axis varies (several for a zipped axis), as the file's ``axes`` attribute
        lists them; the axis's own name when the file does not say."""
        try:
            entries = json.loads(self.attrs.get("axes") or "[]")
        except (TypeError, ValueError):
            entries = []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("name") == axis and isinstance(entry.get("keys"), list):
                return [str(k) for k in entry["keys"]]
        return [axis]

    def ticks(self, axis: str) -> list[str]:
        """Readable values along an axis: its coordinate, or for a zipped axis each key's value
        (``tp=2, pp=4``)."""
        zipped = [n for n in self.axis_keys(axis) if n != axis and n in self.variables]
        if zipped:
            return [", ".join(f"{n}={_short(self.variables[n].data[i])}" for n in zipped)
                    for i in range(len(self.variables[axis].data))]
        return [_short(v) for v in self.variables[axis].data]

    def index(self, axis: str, value: str) -> int:
        """Where ``axis`` takes ``value`` (a number compares as a number, true/false as a
        boolean, else as text)."""
        if axis not in self.dims:
            raise KeyError(f"no axis {axis!r}; axes: {', '.join(self.dims)}")
        coords = self.variables[axis].data
        for i, c in enumerate(coords):
            if str(c) == value:
                return i
            if isinstance(c, (bool, np.bool_)):
                if _short(c) == value.lower():
                    return i
                continue
            try:
                if float(c) == float(value):
                    return i
            except (TypeError, ValueError):
                pass
        raise KeyError(f"axis {axis!r} has no value {value!r}; it has {', '.join(map(str, coords))}")

    def take(self, name: str, fixed: dict[str, int]) -> tuple[np.ndarray, tuple[str, ...]]:
        """Variable ``name`` with each axis in ``fixed`` (axis -> index) taken at that index;
        returns the data and its remaining dimensions."""
        v = self.variables[name]
        index = tuple(fixed.get(d, slice(None)) for d in v.dims)
        return v.data[index], tuple(d for d in v.dims if d not in fixed)


def _text_replace(v: Any) -> Any:
    """Text read back, with any bytes that are not UTF-8 replaced (a summary is read whatever it holds)."""
    return _text(v, "replace")


def _short(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"        # as TOML writes them
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def read_collection(path: str | Path) -> Collection:
    """The summary group of a sweep file as numpy arrays with dimensions and units; a
    ResultsFormatError if it lacks what a collection holds."""
    try:
        return _read_collection(path)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise _damaged(path, exc) from None


def _damaged(path: str | Path, exc: BaseException):
    from ..results.errors import ResultsFormatError
    return ResultsFormatError(f"{path}: not a complete sweep collection ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:200]})")


def _read_collection(path: str | Path) -> Collection:
    with _open(path) as f:
        attrs = {k: _text_replace(v) for k, v in f.attrs.items()}
        g = f[GROUP]
        axes = json.loads(attrs["axes"])
        variables = {}
        for name, ds in g.items():
            dims = tuple(d[0].name.rsplit("/", 1)[-1] if len(d) else f"dim_{i}" for i, d in enumerate(ds.dims))
            variables[name] = Variable(_text_replace(ds[()]), dims, str(_text_replace(ds.attrs.get("units", ""))),
                                       str(_text_replace(ds.attrs.get("description", ""))))
    return Collection(attrs, tuple(a["name"] for a in axes), variables)


def summary_digest(path: str | Path) -> str:
    """SHA-256 of the summary group's contents: every dataset's name, type, shape, values and
    attributes (the same spec gives the same digest, whatever ran it and when)."""
    try:
        return _summary_digest(path)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise _damaged(path, exc) from None


def _summary_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with _open(path) as f:
        g = f[GROUP]
        for name in sorted(g):
            ds = g[name]
            h.update(name.encode() + str(ds.dtype).encode() + str(ds.shape).encode())
            data = _text_replace(ds[()])
            h.update(json.dumps(data.tolist() if isinstance(data, np.ndarray) else data, default=str).encode())
            for k in sorted(ds.attrs):
                if k in ("DIMENSION_LIST", "REFERENCE_LIST"):
                    continue
                v = _text_replace(ds.attrs[k])
                h.update(k.encode() + repr(v.tolist() if isinstance(v, np.ndarray) else v).encode())
    return h.hexdigest()


def open_dataset(path: str | Path):
    """The summary as an ``xarray.Dataset`` (needs ``pip install xarray h5netcdf pandas``).  The
    file is checked first as :func:`read_collection` checks it (signature, format, version,
    the summary group): a damaged or edited file is a ResultsFormatError."""
    try:
        import xarray
    except ImportError:
        raise ImportError("opening a sweep as a Dataset needs xarray and h5netcdf; install them with: "
                          f"{install_hint('sweep')}") from None
    from ..results.errors import ResultsFormatError
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    read_collection(path)
    try:
        ds = xarray.open_dataset(path, engine="h5netcdf", group=GROUP)
        return ds.load()
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise ResultsFormatError(f"{path}: cannot open the summary as a Dataset ({type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:200]})") from None
