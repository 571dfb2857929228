"""The append-only journal of a running sweep: what survives ``kill -9``.

While a sweep runs, its one writer appends finished points to ``OUT.journal``
beside the results file, one ``write`` per batch that arrives (a chunk of a
pool's or a cluster's points; in one process, each point), so that the batch
is in the file (the operating system's page cache) before the next one is
taken; a killed process loses only the points not yet appended.  The
journal is fsynced when the sweep ends; the results file is then written from
it atomically and the journal removed.

Layout: the line ``wafersim-sweep-journal 1`` and then frames, each
``b"WSJ1"``, a type byte (``H`` the header: the sweep's digest, point count and
spec, as JSON; ``P`` a point, as :mod:`wafersim.sweep.records` encodes it), the
payload length (uint64) and its CRC-32 (uint32), little-endian, then the
payload.  A reader keeps every frame up to the first that is short or whose
CRC does not match: the tail a process killed in the middle of a write leaves.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .fileformat import FORMAT
from .records import header_of

__all__ = ["Journal", "JournalWriter", "journal_path", "read_journal", "MAGIC", "SUFFIX"]

#: The first line of a journal: the sweep format's name, "-journal", and the journal's version.
MAGIC = f"{FORMAT}-journal 1\n".encode()
#: What a journal's name adds to the name of the results file it belongs to.
SUFFIX = ".journal"
_FRAME = struct.Struct("<4scQI")
_TAG = b"WSJ1"
#: Largest frame a reader accepts (a point of a full-wafer flow run is tens of MB).
MAX_FRAME = 1 << 34


def journal_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + SUFFIX)


@dataclass
class Journal:
    """What a journal holds: its header, each finished point's record by index, and how many
    bytes from the start are sound (a torn tail after them is dropped)."""
    header: dict[str, Any]
    records: dict[int, bytes] = field(default_factory=dict)
    sound_bytes: int = 0
    torn_bytes: int = 0


def read_journal(path: str | Path) -> Journal:
    """Read a journal; a ConfigError if it is not one (a torn last frame is not an error)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read the sweep journal: {exc.strerror or exc}") from None
    if MAGIC.startswith(data):          # killed before the first line was whole
        return Journal({}, {}, 0, len(data))
    if not data.startswith(MAGIC):
        raise ConfigError(str(path), "", "not a wafersim sweep journal")
    pos, header, records = len(MAGIC), None, {}
    while pos + _FRAME.size <= len(data):
        tag, kind, n, crc = _FRAME.unpack_from(data, pos)
        start, end = pos + _FRAME.size, pos + _FRAME.size + n
        if tag != _TAG or n > MAX_FRAME or end > len(data) or zlib.crc32(data[start:end]) != crc:
            break
        payload = data[start:end]
        if kind == b"H" and header is None:
            header = json.loads(payload)
        elif kind == b"P" and header is not None:
            index = header_of(payload)["index"]
            records.setdefault(int(index), payload)
        else:
            break
        pos = end
    if header is None:
        header = {}
    return Journal(header, records, pos, len(data) - pos)


def _frame(kind: bytes, payload: bytes) -> bytes:
    return _FRAME.pack(_TAG, kind, len(payload), zlib.crc32(payload)) + payload


class JournalWriter:
    """Appends frames to a journal, one ``os.write`` per call."""

    def __init__(self, path: str | Path, header: dict[str, Any], resume: Journal | None = None):
        self.path = Path(path)
        if resume is not None:
            fd = os.open(self.path, os.O_WRONLY)
            os.ftruncate(fd, resume.sound_bytes)       # drop a torn tail before appending
            os.lseek(fd, 0, os.SEEK_END)
            self._fd = fd
            if not resume.header:
                lead = MAGIC if resume.sound_bytes < len(MAGIC) else b""
                self._write(lead + _frame(b"H", json.dumps(header, sort_keys=True).encode()))
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            self._write(MAGIC + _frame(b"H", json.dumps(header, sort_keys=True).encode()))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def append(self, record: bytes) -> None:
        self._write(_frame(b"P", record))

    def append_many(self, records: list[bytes]) -> None:
        """Several points' records in one write (a chunk of points)."""
        self._write(b"".join(_frame(b"P", r) for r in records))

    def close(self, sync: bool = True) -> None:
        if self._fd is not None:
            if sync:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "JournalWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
