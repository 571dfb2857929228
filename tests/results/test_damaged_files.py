"""``show`` and the readers refuse damaged results files with a ResultsFormatError naming what is wrong."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

import wafersim
from wafersim.cli import main
from wafersim.results.errors import ResultsFormatError
from wafersim.results.hdf5 import read_provenance, read_run, read_summaries, read_table, write_results
from wafersim.results.integrity import MAGIC, USERBLOCK_BYTES, stamp


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("good") / "good.h5"
    write_results(path, wafersim.simulate("wse3", "llama-3.1-8b"))
    return path


def _copy(good: Path, tmp_path: Path) -> Path:
    path = tmp_path / "damaged.h5"
    path.write_bytes(good.read_bytes())
    return path


def _run_group(f):
    return f["runs"][next(iter(f["runs"]))]


DAMAGE = {
    "summary not JSON": (lambda f: _run_group(f).attrs.__setitem__("summary", "{"), "not JSON"),
    "summary a list": (lambda f: _run_group(f).attrs.__setitem__("summary", "[]"), "not a JSON object"),
    "summary missing": (lambda f: _run_group(f).attrs.__delitem__("summary"), "no attribute 'summary'"),
    "summary wrong type": (lambda f: _run_group(f).attrs.__setitem__(
        "summary", json.dumps({**json.loads(_run_group(f).attrs["summary"]), "tpot_s": "fast"})), "tpot_s"),
    "summary NaN": (lambda f: _run_group(f).attrs.__setitem__(
        "summary", json.dumps({**json.loads(_run_group(f).attrs["summary"]), "ttft_s": float("nan")})),
        "not finite"),
    "summary negative": (lambda f: _run_group(f).attrs.__setitem__(
        "summary", json.dumps({**json.loads(_run_group(f).attrs["summary"]), "weight_bytes": -3.3e18})),
        "negative"),
    "summary numeric attr": (lambda f: _run_group(f).attrs.__setitem__("summary", 5), "not text"),
    "config mistyped": (lambda f: _run_group(f).attrs.__setitem__(
        "config", json.dumps({"provenance": {"system": {"bases": 3}}})), "provenance"),
    "no runs": (lambda f: f.__delitem__("runs"), "/runs"),
    "runs a dataset": (lambda f: (f.__delitem__("runs"), f.create_dataset("runs", data=np.arange(3))), "/runs"),
    "version text": (lambda f: f.attrs.__setitem__("format-version", "two"), "format-version"),
    "version newer": (lambda f: f.attrs.__setitem__("format-version", 99), "newer"),
    "format wrong": (lambda f: f.attrs.__setitem__("format", "something"), "not a wafersim results file"),
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damage_is_a_results_format_error(good, tmp_path, name):
    """Content damaged through HDF5 itself and signed again, so that the checks behind the
    checksum see it (unsigned, the checksum refuses it first: see below)."""
    path = _copy(good, tmp_path)
    damage, expect = DAMAGE[name]
    with h5py.File(path, "r+") as f:
        damage(f)
    stamp(path)
    errors = []
    for reader in (read_summaries, read_run, read_provenance):
        try:
            reader(path)
        except ResultsFormatError as exc:
            errors.append(str(exc))
    assert errors, f"{name}: every reader accepted the damaged file"
    assert any(expect in e for e in errors), errors
    assert all(str(path) in e for e in errors)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["show", str(path)]) == 2
    assert err.getvalue().startswith("wafersim: error: ") and "Traceback" not in err.getvalue()


@pytest.mark.parametrize("cut", [0, 8, 512, 4096, -100])
def test_truncated_files(good, tmp_path, cut):
    data = good.read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[:cut])
    with pytest.raises(ResultsFormatError):
        read_summaries(path)


def test_non_regular_files_are_refused_without_opening(tmp_path):
    fifo = tmp_path / "fifo.h5"
    os.mkfifo(fifo)      # opening it would block forever
    with pytest.raises(ResultsFormatError, match="not a regular file"):
        read_summaries(fifo)
    with pytest.raises(ResultsFormatError, match="a directory"):
        read_run(tmp_path)
    with pytest.raises(ResultsFormatError, match="not a regular file"):
        read_summaries("/dev/null")
    with pytest.raises(ResultsFormatError, match="no such file"):
        read_summaries(tmp_path / "missing.h5")


def test_a_missing_run_or_table_is_a_key_error(good):
    with pytest.raises(KeyError, match="no run"):
        read_run(good, "nope")
    with pytest.raises(KeyError, match="no table"):
        read_table(good, "nope")


def test_good_file_still_reads(good):
    run = read_run(good)
    assert run.summary.tpot_s > 0
    assert read_summaries(good)[0]["system"] == "wse3"


def test_a_signed_file_changed_after_writing_is_refused_before_libhdf5_reads_it(good, tmp_path):
    """Every byte after the user block is covered: one flipped bit anywhere, an edit made
    through h5py, or a cut is refused; the signature is the SHA-256 of those bytes."""
    import hashlib

    data = good.read_bytes()
    assert data.startswith(MAGIC)
    assert data[len(MAGIC):len(MAGIC) + 64].decode() == hashlib.sha256(data[USERBLOCK_BYTES:]).hexdigest()
    path = tmp_path / "damaged.h5"
    for pos in (USERBLOCK_BYTES, len(data) // 3, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1:])
        for reader in (read_summaries, read_run, read_provenance):
            with pytest.raises(ResultsFormatError, match="SHA-256 mismatch"):
                reader(path)
    path.write_bytes(data)
    with h5py.File(path, "r+") as f:
        f.attrs["note"] = "edited"
    with pytest.raises(ResultsFormatError, match="SHA-256 mismatch"):
        read_run(path)
    path.write_bytes(data[:USERBLOCK_BYTES + 100])
    with pytest.raises(ResultsFormatError, match="SHA-256 mismatch"):
        read_run(path)


def test_files_without_a_signature_read_as_before(good, tmp_path):
    """Files of earlier versions (no user block) and a cleared signature still open."""
    path = tmp_path / "unsigned.h5"
    data = good.read_bytes()
    path.write_bytes(bytes(USERBLOCK_BYTES) + data[USERBLOCK_BYTES:])
    assert read_run(path).summary.tpot_s == read_run(good).summary.tpot_s
