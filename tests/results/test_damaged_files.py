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
    path = _copy(good, tmp_path)
    damage, expect = DAMAGE[name]
    with h5py.File(path, "r+") as f:
        damage(f)
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
