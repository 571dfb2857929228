"""``wafersim show FILE`` prints what the file is: the validation table of a ``validate -o``
file, the frontier of a ``compare --frontier -o`` file, the search of an ``explore -o`` file,
the curve of a ``noc-sweep -o`` file, and each run of any other results file.  Each is
checked against what the command that wrote the file printed, or against the file's data."""

from __future__ import annotations

import h5py
import pytest

from wafersim.cli import main
from wafersim.results.errors import ResultsFormatError
from wafersim.results.hdf5 import file_kind, read_noc_sweep, read_table
from wafersim.validation import MEASUREMENTS

#: one shipped measurement file: ten GPU rows, a second to run
TABLE = MEASUREMENTS / "gpu-gptfast.toml"


def _written(argv: list[str], capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def _shown(path, capsys) -> str:
    assert main(["show", str(path)]) == 0
    return capsys.readouterr().out


def test_a_validation_file_shows_its_table_and_error_statistics(tmp_path, capsys):
    out = tmp_path / "v.h5"
    printed = _written(["validate", "--table", str(TABLE), "-o", str(out)], capsys)
    assert file_kind(out) == "validation"
    shown = _shown(out, capsys)
    table = read_table(out, "validation")
    assert shown.splitlines()[0] == f"validation: {len(table['run'])} rows of published measurements against " \
                                    "the model's predictions"
    # the same table and statistics that validate printed, line for line
    body = [ln for ln in printed.splitlines() if not ln.startswith("results written to")]
    assert body == shown.splitlines()[1:len(body) + 1]
    head = shown.splitlines()[1].split()
    assert head == ["row", "metric", "predicted", "measured", "error", "runtime", "cal"]
    # each row's error is (predicted - measured) / measured of the file's own columns
    for rid, predicted, measured in zip(table["run"], table["predicted"], table["measured"]):
        line = next(ln for ln in shown.splitlines() if ln.startswith(rid + " "))
        assert float(line.split()[4].rstrip("%")) == pytest.approx(100 * (predicted - measured) / measured, abs=0.051)
    assert "median |error|" in shown and "10 rows from 1 source (gpu-gptfast)" in shown


@pytest.mark.parametrize("mode", ["fixed", "envelope"])
def test_a_frontier_file_shows_each_side_and_the_crossovers(tmp_path, capsys, mode):
    out = tmp_path / "f.h5"
    printed = _written(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--frontier", mode, "--prompt", "1024",
                        "--output", "32", "-o", str(out)], capsys)
    assert file_kind(out) == "frontier"
    shown = _shown(out, capsys)
    # every frontier row and crossover sentence compare printed, in its order
    wanted = [ln for ln in printed.splitlines() if ln.startswith(("  ", "A:", "B:", "per "))]
    got = [ln for ln in shown.splitlines() if ln.startswith(("  ", "A:", "B:", "per "))]
    assert got == wanted
    for side in ("a", "b"):
        table = read_table(out, f"frontier/{side}")
        if mode == "fixed":
            assert f"batch {table['batch'][0]} to {table['batch'][-1]}" in shown
        else:
            assert all(d in shown for d in table["deployment"]) and "points on the envelope" in shown
    assert sum(ln.startswith(("per device:", "per kW:", "per dollar:")) for ln in shown.splitlines()) == 3


def test_an_explore_file_shows_the_search_the_best_layouts_and_the_front(tmp_path, capsys):
    out = tmp_path / "e.h5"
    printed = _written(["explore", "dgx-h100", "llama-3.1-70b", "--budget", "24", "--axis", "tp=2,4,8",
                        "--axis", "batch=1,8,64", "--constraint", "ttft_s<=2 s", "-o", str(out)], capsys)
    assert file_kind(out) == "explore"
    shown = _shown(out, capsys)
    report = [ln for ln in printed.splitlines() if not ln.startswith("results written to")]
    assert shown.splitlines()[:len(report)] == report        # what explore printed, the cost line included
    assert "subject to fits_on_chip, ttft_s <= 2 s" in shown and "best layouts:" in shown
    assert "Pareto front" in shown and "best-1" in shown.splitlines()[-1]


def test_a_noc_sweep_file_shows_its_curve(tmp_path, capsys):
    out = tmp_path / "n.h5"
    _written(["noc-sweep", "--mesh", "4x4", "--rates", "0.05,0.3", "--cycles", "150", "--warmup", "30",
              "-o", str(out)], capsys)
    assert file_kind(out) == "noc-sweep"
    shown = _shown(out, capsys)
    data = read_noc_sweep(out)
    assert "4 x 4 routers, uniform traffic" in shown
    rows = [ln.split() for ln in shown.splitlines() if ln.startswith("    0.")]
    assert len(rows) == 2
    for i, row in enumerate(rows):
        assert float(row[0]) == pytest.approx(data["offered"][i], abs=5e-4)
        assert float(row[1]) == pytest.approx(data["accepted"][i], abs=5e-4)
        assert float(row[2]) == pytest.approx(data["latency_mean"][i], abs=0.05)
        assert float(row[4]) == pytest.approx(data["latency_p99"][i], abs=0.05)
    assert float(rows[1][2]) >= float(rows[0][2])             # more load, no shorter wait


def test_a_run_file_shows_each_run_as_before(tmp_path, capsys):
    out = tmp_path / "r.h5"
    _written(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--layers", "2", "-o", str(out)], capsys)
    assert file_kind(out) == "runs"
    shown = _shown(out, capsys)
    assert "wse3 running llama-3.1-8b" in shown and "dgx-h100 running llama-3.1-8b" in shown
    assert shown.count("provenance:") == 2 and shown.count("tokens_per_s_per_user") == 2
    assert shown.count("  figures for the first 2 of 32 layers, without embedding and LM head\n") == 2


def test_a_file_of_another_format_is_refused_by_name(tmp_path, capsys):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(ResultsFormatError, match="not a wafersim results file"):
        file_kind(path)
    assert main(["show", str(path)]) == 2
    assert "not a wafersim results file" in capsys.readouterr().err


@pytest.mark.parametrize("damage", [lambda f: f.__delitem__("validation/predicted"),
                                    lambda f: f.attrs.__setitem__("validation-error-stats", "{")])
def test_a_damaged_validation_file_is_a_format_error_not_a_crash(tmp_path, capsys, damage):
    from wafersim.results.integrity import stamp
    out = tmp_path / "v.h5"
    _written(["validate", "--table", str(TABLE), "-o", str(out)], capsys)
    with h5py.File(out, "r+") as f:
        damage(f)
    stamp(out)                      # signed again, so that the checks behind the checksum see the damage
    assert main(["show", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wafersim: error: ") and str(out) in err and "Traceback" not in err
