"""Writing files so that a failed or interrupted write never leaves a half-written one.

* :func:`check_output_path` says, before any work is done, whether a file can be
  written at a path: a name of sane length, not a directory or a special file, a
  parent folder that exists and takes a new file (tried by creating one).
* :func:`atomic_path` writes to a temporary name beside the target and renames it
  into place.  SIGINT and SIGTERM that arrive during the write are held until the
  write is over: the temporary file is then removed and the signal acted on
  (KeyboardInterrupt, or SystemExit(143) for SIGTERM), so an interrupted run leaves
  neither a partial file nor a complete-looking one.  Temporary names carry the id
  of the process that made them; one whose process is gone (killed with -9) is
  removed by the next write beside it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from .config import ConfigError

__all__ = ["atomic_path", "check_output_path", "remove_stale_temporaries", "TEMP_MARK"]

TEMP_MARK = ".wafersim-"
"""What every temporary name holds, followed by the writer's process id."""
_RESERVE = 40
"""Characters the temporary name adds to the target's name (mark, pid, random part, suffix)."""


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output_path(path: str | Path, what: str = "-o", *, overwrite: bool = True) -> Path:
    """Return ``path`` as a Path if a results file can be written there; a ConfigError
    naming ``what`` and the reason otherwise.  Creates and removes one empty file in
    the parent folder to prove it takes new files.  With ``overwrite=False`` an existing
    file is refused too (the command line's ``-o`` without ``--force``)."""
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ConfigError(what, "", f"expected a file name, got {path!r}")
    text = str(path)
    shown = text if len(text) <= 80 else text[:77] + "..."
    if "\0" in text:
        raise ConfigError(what, "", "a file name cannot hold a NUL character")
    path = Path(text)
    if text.endswith("/") or path.name in ("", ".", ".."):
        raise ConfigError(what, "", f"{shown} names a directory; expected a file name")
    try:
        name_bytes = len(path.name.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        raise ConfigError(what, "", f"{shown}: the name is not valid text") from None
    parent = path.parent
    limit = _name_max(parent if parent.is_dir() else Path("."))
    if name_bytes > limit - _RESERVE:
        raise ConfigError(what, "", f"file name of {name_bytes} bytes is too long; at most {limit - _RESERVE}")
    if len(text.encode("utf-8", "surrogateescape")) > 4000:
        raise ConfigError(what, "", "path too long; at most 4000 bytes")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise ConfigError(what, "", f"{shown}: a part of the path is a file, not a directory") from None
    except OSError as exc:
        raise ConfigError(what, "", f"{shown}: {exc.strerror or exc}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(what, "", f"{shown} is a directory; expected a file name")
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(what, "", f"{shown} exists and is not a regular file")
        if not overwrite:
            raise ConfigError(what, "", f"{shown} exists; pass --force to replace it")
    try:
        pst = os.stat(parent)
    except FileNotFoundError:
        raise ConfigError(what, "", f"folder {str(parent)[:80]} does not exist; create it first") from None
    except NotADirectoryError:
        raise ConfigError(what, "", f"{shown}: a part of the path is a file, not a directory") from None
    except OSError as exc:
        raise ConfigError(what, "", f"folder {str(parent)[:80]}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(pst.st_mode):
        raise ConfigError(what, "", f"{str(parent)[:80]} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}{os.getpid()}-", suffix=".probe", dir=parent)
    except OSError as exc:
        raise ConfigError(what, "", f"cannot write in {str(parent)[:80]}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


LEGACY_AGE_S = 24 * 3600
"""Age after which a temporary of an earlier version (``.NAME.XXXXXXXX.tmp``, no process id) counts as stale."""


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove temporary files beside ``path`` left by writers that no longer run (and those
    of earlier versions, which carry no process id, once a day old); returns them."""
    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}{TEMP_MARK}") + r"(\d+)-[^/]*\.(tmp|png|probe)$")
    legacy = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}\.tmp$")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = pattern.match(entry.name)
        stale = m is not None and not _alive(int(m.group(1)))
        if not stale and legacy.match(entry.name):
            with contextlib.suppress(OSError):
                stale = entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime > LEGACY_AGE_S
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


class _HeldSignals:
    """Hold SIGINT and SIGTERM while a file is written (main thread only)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.caught: int | None = None
        self._old: dict[int, object] = {}

    def _hold(self, signum: int, frame: object) -> None:
        if self.caught is None:
            self.caught = signum

    def __enter__(self) -> "_HeldSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                try:
                    self._old[sig] = signal.signal(sig, self._hold)
                except (ValueError, OSError):
                    pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def act(self) -> None:
        """Raise what the held signal asks for: KeyboardInterrupt for SIGINT, SystemExit(143) for SIGTERM."""
        if self.caught == signal.SIGINT:
            raise KeyboardInterrupt
        if self.caught is not None:
            raise SystemExit(128 + self.caught)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (with the
    permissions of an ordinary new file), on failure or interruption it is removed and
    ``path`` untouched.  The parent folder must exist (see :func:`check_output_path`)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(str(path)[:80], "", f"folder {str(path.parent)[:80]} does not exist; create it first")
    remove_stale_temporaries(path)
    with _HeldSignals() as held:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}{os.getpid()}-", suffix=suffix,
                                       dir=path.parent)
        except OSError as exc:
            raise ConfigError(str(path)[:80], "", f"cannot write: {exc.strerror or exc}") from None
        os.close(fd)
        try:
            yield Path(tmp)
            if held.caught is not None:
                held.act()
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)     # mkstemp makes 0600
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    held.act()      # a signal that came during the rename: the file is complete, the run still stops
