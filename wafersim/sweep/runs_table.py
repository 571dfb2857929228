"""The /runs table of a sweep collection: one row per point, each column one dataset.

Layout (format version 3)::

    /runs                          attrs: layout = "table"
      /runs/<column>               text, one element per point (the index /summary/point gives):
                                   point (its job, JSON), system, model, config, summary and
                                   notes (JSON, as a runs file's run attributes hold them),
                                   components (JSON list; "" without --arrays), error
                                   ("" where the point ran); every column "" where it did not run
      /runs/attachments/<name>/text    each distinct text of attachment <name>
      /runs/attachments/<name>/which   for each point, which of them it has (-1: none)
      /runs/p<index>/<array>       a point's arrays that are not stacked under /arrays

A column is written at once, where one group per point with its attributes took
HDF5 about ten times as long.  Version 2 files held one group per point with the
columns as its attributes and its attachments as datasets; :func:`read_row` and
:func:`read_attachments` read both.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import h5py
import numpy as np

from ..results.hdf5 import _STR, _json, _text, _write_array
from .fileformat import point_id
from .records import PointOutcome, texts

__all__ = ["COLUMNS", "write_runs", "read_row", "read_attachments", "own_group", "LAYOUT"]

#: The columns of the table, in the order they are written.
COLUMNS = ("point", "system", "model", "config", "summary", "notes", "components", "error")
#: The ``layout`` attribute of /runs that marks a table (version 2 files have none).
LAYOUT = "table"
GROUP = "runs"


def write_runs(f: h5py.File, jobs: Sequence[dict[str, Any]], ran: Sequence[PointOutcome | None],
               stacked: set[str], arrays: bool) -> None:
    """/runs: each point's row; its arrays not in ``stacked`` (and its attachments) when ``arrays``."""
    n = len(ran)
    columns = {c: [""] * n for c in COLUMNS}
    attachments: dict[str, dict[str, int]] = {}
    which: dict[str, np.ndarray] = {}
    g = f.create_group(GROUP, track_order=True)
    g.attrs["layout"] = LAYOUT
    for i, o in enumerate(ran):
        if o is None:
            continue
        columns["point"][i] = _json(jobs[i])
        if not o.ok:
            columns["error"][i] = o.error
            continue
        r = o.result
        for name, text in texts(o).items():
            columns[name][i] = text
        if not arrays:
            continue
        columns["components"][i] = _json(sorted(set(r.prefill.components) | set(r.decode.components)))
        own = [name for name in sorted(r.arrays) if name not in stacked]
        if own:
            rg = g.create_group(point_id(i), track_order=True)
            for name in own:
                _write_array(rg, name, r.arrays[name])
        for name, text in r.attachments.items():
            distinct = attachments.setdefault(name, {})
            which.setdefault(name, np.full(n, -1, np.int64))[i] = distinct.setdefault(text, len(distinct))
    for c in COLUMNS:
        g.create_dataset(c, data=np.array(columns[c], dtype=object), dtype=_STR, track_times=False)
    if attachments:
        a = g.create_group("attachments", track_order=True)
        for name in sorted(attachments):
            ag = a.create_group(name)
            ag.create_dataset("text", data=np.array(list(attachments[name]), dtype=object), dtype=_STR,
                              track_times=False)
            ag.create_dataset("which", data=which[name], track_times=False)


def _is_table(f: h5py.File) -> bool:
    return GROUP in f and _text(f[GROUP].attrs.get("layout", "")) == LAYOUT


def read_row(f: h5py.File, index: int) -> dict[str, str] | None:
    """Point ``index``'s row (column -> text, those it has); None where it did not run."""
    runs = f.get(GROUP)
    if runs is None:
        return None
    if _is_table(f):
        if not 0 <= index < runs["point"].shape[0]:
            return None
        row = {c: _text(runs[c][index]) for c in COLUMNS if c in runs}
        if not row.get("point"):
            return None
        return {c: v for c, v in row.items() if v != "" or c == "components"}
    pid = point_id(index)
    if pid not in runs:
        return None
    return {k: _text(v) for k, v in runs[pid].attrs.items()}


def own_group(f: h5py.File, index: int) -> h5py.Group | None:
    """The group of point ``index``'s own arrays (not stacked), if it has one."""
    runs = f.get(GROUP)
    pid = point_id(index)
    return runs[pid] if runs is not None and pid in runs else None


def read_attachments(f: h5py.File, index: int) -> dict[str, str]:
    """Point ``index``'s attachments (name -> text)."""
    if _is_table(f):
        a = f[GROUP].get("attachments")
        out = {}
        for name, ag in (a.items() if a is not None else ()):
            k = int(ag["which"][index])
            if k >= 0:
                out[name] = _text(ag["text"][k])
        return out
    rg = own_group(f, index)
    return {name: _text(ds[()]) for name, ds in (rg.items() if rg is not None else ())
            if isinstance(ds, h5py.Dataset) and ds.shape == () and h5py.check_string_dtype(ds.dtype)}


def configs(f: h5py.File) -> dict[int, dict[str, Any]]:
    """Point index -> resolved configuration of every point that ran."""
    runs = f.get(GROUP)
    if runs is None:
        return {}
    if _is_table(f):
        texts = [_text(t) for t in runs["config"][()]]
        return {i: json.loads(t) for i, t in enumerate(texts) if t}
    return {int(name.lstrip("p")): json.loads(_text(g.attrs["config"])) for name, g in runs.items()
            if "config" in g.attrs}
