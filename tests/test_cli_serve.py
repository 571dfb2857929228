"""``wafersim serve``: the report, the per-request table, JSON, --find-rate and bad input."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from wafersim.cli import main
from wafersim.serving.traces import EXAMPLE_TRACE

BASE = ["serve", "dgx-h100", "llama-3.2-1b", "--prompt", "uniform:100:700", "--output", "uniform:8:64",
        "--requests", "300", "--max-running", "16"]


def test_report_and_per_request_table(capsys, tmp_path):
    out = tmp_path / "s.h5"
    assert main([*BASE, "--arrivals", "poisson:20", "--slo", "ttft=2s,tpot=50ms", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("P50", "P90", "P99", "TTFT", "TPOT", "goodput", "per user (P90)", "results written to"):
        assert word in text
    with h5py.File(out) as f:
        g = f["requests"]
        assert g["ttft_s"].shape == (300,) and g["ttft_s"].attrs["units"] == "s"
        assert np.allclose(g["ttft_s"][()], g["first_token_s"][()] - g["arrival_s"][()])
        assert np.all(g["finish_s"][()] >= g["first_token_s"][()])
        assert "serving" in f.attrs and "deployment" in f["runs"]


def test_json_is_the_same_for_a_seed(capsys):
    argv = [*BASE, "--arrivals", "gamma:20:cv2", "--json", "--seed", "3"]
    runs = []
    for _ in range(2):
        assert main(argv) == 0
        runs.append(json.loads(capsys.readouterr().out)["summary"])
    assert runs[0] == runs[1] and runs[0]["requests"] == 300


@pytest.mark.slow
def test_reads_a_trace(capsys):
    assert main(["serve", "wse3", "llama-3.2-1b", "--arrivals", f"trace:{EXAMPLE_TRACE}", "--requests", "12",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["requests"] == 12 and data["arrivals"].startswith("trace:")


def test_find_rate_reports_per_device_kw_and_dollar(capsys):
    assert main([*BASE, "--find-rate", "--slo", "ttft=500ms,tpot=20ms", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["find_rate"]
    assert found["rate"] > 0 and found["per_device"] == found["rate"] / 8
    assert found["per_kw"] > 0 and found["per_usd"] > 0
    ok = [t["rate"] for t in found["tried"] if t["attainment"] >= 0.9]
    assert max(ok) == found["rate"]


def test_bad_input_is_one_line_and_exit_2(capsys):
    for extra in (["--arrivals", "poisson:x"], ["--prompt", "lognormal:1"], ["--slo", "ttft=fast"],
                  ["--arrivals", "trace:/no/such.csv"], ["--prompt", "200000"]):
        assert main([*BASE, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("wafersim: error") and "\n" not in err and "Traceback" not in err
