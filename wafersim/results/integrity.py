"""A checksum in every file wafersim writes, checked before libhdf5 reads a byte of it.

libhdf5 trusts the bytes it parses: one flipped byte in an object header can abort the
process (HDF5 2.0.0 double-frees on byte 7,616 of an 82 KB result), which no reader
written above it can catch.  So the writers reserve an HDF5 *user block* (bytes the
library skips; the file stays ordinary HDF5 for h5py, h5netcdf and xarray) and store
there the SHA-256 of every byte after it; the readers compare before opening.  Files
without the signature (written by earlier versions, or by other tools) are read as
before.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..atomic import atomic_path
from .errors import ResultsFormatError

__all__ = ["USERBLOCK_BYTES", "MAGIC", "stamp", "verify", "signed_h5"]

#: the user block's size: the smallest HDF5 allows
USERBLOCK_BYTES = 512
#: how the signature starts; the hex digest and a newline follow, zeros fill the block
MAGIC = b"wafersim-sha256:"
_CHUNK = 1 << 20


def _digest(handle: Any) -> str:
    handle.seek(USERBLOCK_BYTES)
    h = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        h.update(chunk)
    return h.hexdigest()


def stamp(path: str | Path) -> None:
    """Write the signature of ``path`` (an HDF5 file made with a user block of
    :data:`USERBLOCK_BYTES`) into its user block."""
    with open(path, "r+b") as fh:
        block = MAGIC + _digest(fh).encode("ascii") + b"\n"
        fh.seek(0)
        fh.write(block.ljust(USERBLOCK_BYTES, b"\0"))


def verify(path: str | Path) -> None:
    """Refuse ``path`` with a :class:`ResultsFormatError` when it carries a signature its
    bytes no longer match (damaged, truncated or edited since it was written)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(USERBLOCK_BYTES)
            if not head.startswith(MAGIC):
                return
            stored = head[len(MAGIC):len(MAGIC) + 64].decode("ascii", "replace")
            if len(head) < USERBLOCK_BYTES or _digest(fh) != stored:
                raise ResultsFormatError(
                    f"{path}: damaged: its bytes differ from those wafersim wrote (SHA-256 mismatch); "
                    "it was truncated, corrupted or edited after writing")
    except OSError as exc:
        raise ResultsFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None


@contextmanager
def signed_h5(path: str | Path) -> Iterator[Any]:
    """A new HDF5 file at ``path`` (h5py, insertion order kept), written to a temporary file
    that is signed and then renamed into place (:func:`wafersim.atomic.atomic_path`)."""
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", track_order=True, userblock_size=USERBLOCK_BYTES) as f:
            yield f
        stamp(tmp)
