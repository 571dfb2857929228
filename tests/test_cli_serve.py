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


def test_disaggregated_pools_show_the_kv_transfer_and_the_aggregated_comparison(capsys, tmp_path):
    out = tmp_path / "d.h5"
    argv = ["serve", "dgx-h100", "llama-3.2-1b", "--prefill", "1", "--decode", "dgx-h100:2", "--prompt", "512",
            "--output", "uniform:1:32", "--requests", "200", "--max-running", "16", "--arrivals", "poisson:50",
            "--slo", "ttft=1s,tpot=50ms"]
    assert main([*argv, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("disaggregated", "KV transfer", "aggregated on the same requests", "dgx-h100 x3"):
        assert word in text
    with h5py.File(out) as f:
        g = f["requests"]
        moved = g["decode_copy"][()] >= 0
        assert np.all(moved == (g["output_tokens"][()] > 1))
        # one DGX H100's eight 400 Gb/s NICs: 400 GB/s, 3 us
        expected = g["kv_bytes"][()][moved] / 400e9 + 3e-6
        assert np.all(g["kv_transfer_s"][()][moved] >= expected * (1 - 1e-9))
        assert sorted(f["runs"]) == ["decode", "prefill"]
    assert main([*argv, "--json", "--no-compare"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["prefill"]["copies"] == 1 and data["decode"]["copies"] == 2 and data["aggregated"] == []
    assert data["summary"]["requests"] == 200 and data["kv_transfer"] == "async"


def test_disaggregated_bad_input_is_one_line_and_exit_2(capsys):
    base = ["serve", "llama-3.2-1b", "--requests", "10"]
    for extra in (["--prefill", "dgx-h100:1"], ["--prefill", "2", "--decode", "2"], ["--kv-transfer", "async"],
                  ["--prefill", "dgx-h100:1", "--decode", "dgx-h100:0"],
                  ["--prefill", "dgx-h100:1", "--decode", "dgx-h100:1", "--find-rate", "--slo", "ttft=1s"], []):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("wafersim: error") and "\n" not in err and "Traceback" not in err


@pytest.mark.slow
def test_gpu_prefill_wafer_decode(capsys):
    assert main(["serve", "--prefill", "dgx-h100:1", "--decode", "wse3:2", "llama-3.2-1b", "--requests", "200",
                 "--arrivals", "poisson:20", "--slo", "ttft=2s,tpot=50ms", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # the slower end: one wafer's 1.2 Tb/s edge I/O against eight 400 Gb/s NICs
    assert data["summary"]["kv_link_bytes_per_s"] == pytest.approx(150e9)
    assert {a["system"] for a in data["aggregated"]} == {"dgx-h100", "wse3"}
