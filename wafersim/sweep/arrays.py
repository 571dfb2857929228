"""Each point's arrays, stacked on the sweep's axes where every point's array has the same
shape, so that one dataset holds an array of all the points (and HDF5 writes one
dataset, not one per point).

``/arrays/<name>`` has the sweep's dimensions and then the array's own (``layer``,
``y``, ``x``, ``direction``, ...), NaN where a point failed or did not run;
``/arrays/prefill_components_s`` and ``decode_components_s`` hold each point's
time components along ``component``.  An array whose shape differs between points
(a sweep over models with different layer counts, or over mesh sizes) stays in the
point's group, ``/runs/p<index>/<name>``.  :func:`read_point` puts a point's run
back together from both places.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from ..results.errors import ResultsFormatError
from ..results.hdf5 import _dataset, _dim_scale, _empty_dataset, _scale, _text
from ..results.phase import PhaseTime
from ..results.run_result import LayerArray, RunResult
from ..results.summary import Summary
from .fileformat import attach_dims, open_sweep
from .records import PointOutcome
from .runs_table import own_group, read_attachments, read_row

__all__ = ["stackable", "write_arrays", "read_point", "GROUP", "PHASES"]

GROUP = "arrays"
PHASES = (("prefill_components_s", "prefill"), ("decode_components_s", "decode"))


def _signature(a: LayerArray) -> tuple:
    return (a.dims, a.shape, a.units, a.description, tuple(sorted((a.labels or {}).items())))


def stackable(results: Sequence[RunResult], axes: Sequence[str]) -> list[str]:
    """Names of the arrays every run has with the same dimensions, shape, units and labels
    (and no dimension named like a sweep axis)."""
    if not results:
        return []
    first = results[0].arrays
    out = []
    for name, a in sorted(first.items()):
        if set(a.dims) & set(axes) or a.dtype.kind not in "biuf":
            continue
        sig = _signature(a)
        if all(name in r.arrays and _signature(r.arrays[name]) == sig for r in results[1:]):
            out.append(name)
    return out


def write_arrays(f: h5py.File, ran: Sequence[PointOutcome | None], shape: tuple[int, ...], dims: list[str],
                 write_axes, names: list[str]) -> None:
    """``/arrays``: the stacked arrays and both phases' components; ``write_axes(group)`` writes the
    sweep's dimension scales (and returns the netCDF ``coordinates`` text)."""
    ok = [o.result for o in ran if o is not None and o.ok]
    if not ok:
        return
    g = f.create_group(GROUP, track_order=True)
    coords = write_axes(g)
    template = ok[0]
    for name in names:
        a = template.arrays[name]
        for axis in range(len(a.dims)):
            _dim_scale(g, a, axis)
        ds = _empty_dataset(g, name, (*shape, *a.shape), np.float64, np.nan)
        _write_stacked(ds, ran, shape, name, a)
        _describe(ds, g, [*dims, *a.dims], a.units, a.description, coords, str(a.dtype))
    components = sorted({c for r in ok for p in (r.prefill, r.decode) for c in p.components})
    _scale(g, "component", np.array(components, dtype=str))
    for label, phase in PHASES:
        data = np.full((len(ran), len(components)), np.nan)
        for i, o in enumerate(ran):
            if o is not None and o.ok:
                comps = getattr(o.result, phase).components
                data[i] = [comps.get(c, 0.0) for c in components]
        _write(g, label, data.reshape(*shape, len(components)), [*dims, "component"], "s",
               f"{phase}: seconds each resource alone would need", coords, "float64")


#: Most bytes of one write of a stacked array: points are written together, a run of them
#: along the last axis at a time, up to this much (a point whose array is larger on its own
#: is written alone, a chunk at a time), so memory does not grow with points x array size.
SLAB_BYTES = 64 << 20


def _write_stacked(ds: h5py.Dataset, ran: Sequence[PointOutcome | None], shape: tuple[int, ...], name: str,
                   a: LayerArray) -> None:
    """Array ``name`` of every point that ran into ``ds``, NaN where none ran: one write per run
    of points along the last axis (as many as SLAB_BYTES holds)."""
    whole = int(np.prod(a.shape, dtype=np.int64)) * 8
    step = max(1, min(shape[-1], SLAB_BYTES // max(1, whole)))
    lead = int(np.prod(shape[:-1], dtype=np.int64))
    for row in range(lead):
        at = np.unravel_index(row, shape[:-1]) if shape[:-1] else ()
        for j0 in range(0, shape[-1], step):
            j1 = min(shape[-1], j0 + step)
            points = [ran[row * shape[-1] + j] for j in range(j0, j1)]
            if not any(o is not None and o.ok for o in points):
                continue
            if j1 - j0 == 1:
                _write_point_array(ds, (*at, j0), points[0].result.arrays[name])
                continue
            block = np.full((j1 - j0, *a.shape), np.nan)
            for k, o in enumerate(points):
                if o is not None and o.ok:
                    b = o.result.arrays[name]
                    if b.stored.shape != b.shape:          # a corner of the whole: zero elsewhere
                        block[k] = 0.0
                    block[(k, *b.corner)] = b.stored
            ds[(*(int(i) for i in at), slice(j0, j1))] = block


def _write_point_array(ds: h5py.Dataset, point: tuple[int, ...], a: LayerArray) -> None:
    """``a``'s whole array, as float64, into ``point`` of ``ds`` (the sweep's dimensions first).
    An array held as a corner is written a chunk at a time, zeros and the corner's part of the
    chunk, so the whole array is never built."""
    if a.stored.shape == a.shape or ds.chunks is None:
        ds[point] = np.asarray(a.data, np.float64)
        return
    at = tuple(slice(int(i), int(i) + 1) for i in point)
    for sel in ds.iter_chunks(at + tuple(slice(0, n) for n in a.shape)):
        own = sel[len(at):]                                  # the chunk's part of this point's array
        block = np.zeros(tuple(s.stop - s.start for s in own), np.float64)
        inside = tuple(slice(s.start, min(s.stop, n)) for s, n in zip(own, a.stored.shape))
        if all(s.start < s.stop for s in inside):
            block[tuple(slice(0, s.stop - s.start) for s in inside)] = a.stored[inside]
        ds[tuple(int(i) for i in point) + own] = block


def _write(g: h5py.Group, name: str, data: np.ndarray, dims: list[str], units: str, description: str,
           coords: str, dtype: str) -> None:
    _describe(_dataset(g, name, data, fillvalue=np.nan), g, dims, units, description, coords, dtype)


def _describe(ds: h5py.Dataset, g: h5py.Group, dims: list[str], units: str, description: str, coords: str,
              dtype: str) -> None:
    """The attributes and dimension scales of a stacked array."""
    ds.attrs["_FillValue"] = np.float64(np.nan)
    ds.attrs["units"] = units
    ds.attrs["description"] = description
    ds.attrs["dtype"] = dtype           # what the engine made (read_point gives it back)
    attach_dims(ds, g, dims, coords)


def read_point(path: str | Path, index: int) -> RunResult:
    """Point ``index`` of a sweep file as a :class:`RunResult` (summary, configuration, notes,
    both phases' components and every array, from /arrays and its own group)."""
    with open_sweep(path) as f:
        row = read_row(f, index)
        if row is None:
            raise ResultsFormatError(f"{path}: no point {index} (it did not run, or the file has no /runs)")
        if "error" in row:
            raise ResultsFormatError(f"{path}: point {index} failed: {row['error']}")
        if GROUP not in f or not row.get("components"):
            raise ResultsFormatError(f"{path}: point {index} was stored without its arrays (--no-arrays)")
        stored = json.loads(row["summary"])
        g = f[GROUP]
        where = np.unravel_index(index, f["summary/point"].shape)
        own = set(json.loads(row["components"]))
        names = [_text(n) for n in g["component"][()]]
        phases = {}
        for label, phase in PHASES:
            values = g[label][where]
            total = stored["ttft_s" if phase == "prefill" else "tpot_s"]
            phases[phase] = PhaseTime(float(total), {n: float(v) for n, v in zip(names, values) if n in own})
        arrays = {}
        for name, ds in g.items():
            if ds.is_scale or name in dict(PHASES) or len(ds.dims) <= len(where):
                continue
            dims = tuple(d[0].name.rsplit("/", 1)[-1] for d in ds.dims)[len(where):]
            labels = {d: tuple(str(_text(v)) for v in g[d][()]) for d in dims if h5py.check_string_dtype(g[d].dtype)}
            data = ds[where].astype(_text(ds.attrs["dtype"]))
            arrays[name] = LayerArray(data, dims, str(_text(ds.attrs["units"])), str(_text(ds.attrs["description"])),
                                      labels or None)
        rg = own_group(f, index)
        for name, ds in (rg.items() if rg is not None else ()):
            if ds.is_scale or (ds.shape == () and h5py.check_string_dtype(ds.dtype)):
                continue                 # an attachment (version 2): read_attachments has it
            dims = tuple(d[0].name.rsplit("/", 1)[-1] for d in ds.dims)
            labels = {d: tuple(str(_text(v)) for v in rg[d][()]) for d in dims
                      if d in rg and h5py.check_string_dtype(rg[d].dtype)}
            arrays[name] = LayerArray(ds[()], dims, str(_text(ds.attrs["units"])), str(_text(ds.attrs["description"])),
                                      labels or None)
        attachments = read_attachments(f, index)
        return RunResult(Summary.from_mapping(stored), json.loads(row["config"]), phases["prefill"],
                         phases["decode"], arrays, json.loads(row["notes"]), attachments)
