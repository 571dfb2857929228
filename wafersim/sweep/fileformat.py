"""What marks a sweep collection: its format name and version, the names of point groups,
how a variable is tied to the sweep's dimensions, and opening one for reading (refusing
other files)."""

from __future__ import annotations

from pathlib import Path

import h5py

from ..results.errors import ResultsFormatError
from ..results.hdf5 import SWEEP_FORMAT, _text
from ..results.integrity import verify

__all__ = ["FORMAT", "FORMAT_VERSION", "point_id", "open_sweep", "attach_dims"]

FORMAT = SWEEP_FORMAT
#: 2: axes of whole bytes as integers, boolean axes as booleans (1: float64, "true"/"false");
#: 3: /runs a table of one row per point (2: one group per point, its row as attributes)
FORMAT_VERSION = 3


def point_id(index: int) -> str:
    """The group of point ``index`` under /runs (its arrays that are not stacked)."""
    return f"p{index:06d}"


def attach_dims(ds: h5py.Dataset, g: h5py.Group, dims: list[str], coords: str) -> None:
    """Tie ``ds`` to the dimension scales ``dims`` of ``g`` and name its netCDF ``coordinates``."""
    if coords:
        ds.attrs["coordinates"] = coords
    for axis, dim in enumerate(dims):
        ds.dims[axis].attach_scale(g[dim])


def open_sweep(path: str | Path) -> h5py.File:
    """Open a sweep collection for reading; a ResultsFormatError for anything else."""
    verify(path)
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise ResultsFormatError(f"{path}: cannot open as HDF5 ({exc})") from None
    fmt = f.attrs.get("format")
    fmt = _text(fmt, "replace") if isinstance(fmt, bytes) else fmt
    if fmt != FORMAT:
        f.close()
        raise ResultsFormatError(f"{path}: not a wafersim sweep file (attribute 'format' is {fmt!r})")
    raw = f.attrs.get("format-version", -1)
    try:
        version = int(raw)
    except (TypeError, ValueError, OverflowError):
        f.close()
        raise ResultsFormatError(f"{path}: format-version is {raw!r:.40}, not a number") from None
    if version > FORMAT_VERSION:
        f.close()
        raise ResultsFormatError(f"{path}: format-version is newer than this wafersim reads ({FORMAT_VERSION})")
    return f
