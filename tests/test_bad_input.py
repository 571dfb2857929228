"""Each example of issue 13 gives one clean error line (status 2) or a finite, sane result."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import wafersim
from wafersim.atomic import TEMP_MARK, atomic_path, check_output_path, remove_stale_temporaries

from tests.cli_calls import cli, refused
from wafersim.config import ConfigError, InputError, WafersimError

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args,match", [
    (["--batch", "9223372036854775808"], "--batch"),
    (["--set", "model.ffn_size=1e30"], "ffn_size"),
    (["--set", "system.kind=[1, 2]"], "--set system.kind"),
    (["--set", "system.core.flops_per_cycle_16bit=nan"], "finite"),
    (["--set", "system.core.flops_per_cycle_16bit=inf"], "finite"),
    (["--set", "system.core.flops_per_cycle_16bit=1e-320"], "magnitude"),
    (["--set", "system.core.sram_bytes=9223372036854775808"], "sram_bytes"),
    (["--set", "model.head_dim=1e12"], "head_dim"),
    (["--set", "model.num_layers=1e308"], "num_layers"),
    (["--set", "model.num_layers=1000000000", "--wafers", "2"], "num_layers"),
    (["--set", "system.core.clock_hz=\"1e400 GHz\""], "clock_hz"),
    (["--set", "mapping.placement=[1]"], "placement"),
    (["--set", "model.name=1979-05-27"], "name"),
])
def test_wafer_examples_are_refused(args, match):
    refused("run", "wse3", "llama-3.1-8b", *args, match=match)


def test_gpu_examples_are_refused():
    refused("run", "dgx-h100", "llama-3.1-8b", "--set", "system.efficiency.collective=nan", match="finite")
    refused("run", "dgx-h100", "llama-3.1-8b", "--tp", "auto", "--set", "system.interconnect.leaf_switches=65536",
            "--set", "system.interconnect.spine_switches=65536", "--set", "system.interconnect.nodes=2",
            match="edges")


def test_one_row_block_says_why_or_runs():
    err = refused("run", "wse3", "llama-3.1-8b", "--cores", "1x1170", match="at least 2 rows")
    assert "--placement sequential" in err
    rc, out, _ = cli("run", "wse3", "llama-3.1-8b", "--cores", "1x1170", "--placement", "sequential", "--json")
    assert rc == 0 and math.isfinite(json.loads(out)["tpot_s"])


def test_bad_preset_files(tmp_path):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'base = "wse3"\nname = "caf\xe9"\n')
    refused("run", str(bad), "llama-3.1-8b", match="UTF-8")
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    refused("run", str(deep), "llama-3.1-8b", match="nested")
    dated = tmp_path / "dated.toml"
    dated.write_text('base = "wse3"\n')
    refused("run", str(dated), "llama-3.1-8b", "--set", "system.description=1979-05-27", match="description")
    refused("run", "x" * 300, "llama-3.1-8b", match="too long")
    refused("run", "wse3\x00", "llama-3.1-8b", match="control")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    refused("run", str(fifo), "llama-3.1-8b", match="regular file")


def test_validate_table_with_a_row_of_the_wrong_type(tmp_path):
    table = tmp_path / "t.toml"
    table.write_text('row = [1, 2]\n')
    refused("validate", "--table", str(table), match="row[0]")
    table.write_text('[[row]]\nid = "a"\nsystem = 5\nmodel = "llama-3.1-8b"\nmetric = "tpot_s"\nvalue = 1.0\n'
                     'source = "x"\n')
    refused("validate", "--table", str(table), match="row[0].system")


def test_validate_json_has_no_nan(tmp_path):
    table = tmp_path / "t.toml"
    table.write_text('[[row]]\nid = "a"\nsystem = "wse3"\nmodel = "llama-3.1-8b"\nmetric = "tpot_s"\n'
                     'value = 0.001\nsource = "x"\n')
    rc, out, _ = cli("validate", "--table", str(table), "--json")
    assert rc == 0
    json.loads(out, parse_constant=lambda c: pytest.fail(f"JSON holds {c}"))


@pytest.mark.parametrize("kind", ["dir", "readonly_place", "under_file", "proc", "long", "missing_parent", "fifo"])
def test_output_path_checked_before_simulating(tmp_path, kind):
    (tmp_path / "file").write_text("x")
    target = {"dir": tmp_path, "under_file": tmp_path / "file" / "out.h5", "proc": Path("/proc/out.h5"),
              "long": tmp_path / ("y" * 300 + ".h5"), "missing_parent": tmp_path / "a" / "b" / "out.h5",
              "fifo": tmp_path / "fifo.h5", "readonly_place": Path("/sys/out.h5")}[kind]
    if kind == "fifo":
        os.mkfifo(target)
    start = time.perf_counter()
    # a 64-wafer flow run would take a minute: the path must be refused first
    refused("run", "wse3", "llama-3.1-70b", "--fidelity", "flow", "--wafers", "16", "-o", str(target))
    assert time.perf_counter() - start < 5
    assert not (tmp_path / "a").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["file"] + (["fifo.h5"] if kind == "fifo" else []))


def test_check_output_path_accepts_a_fresh_name(tmp_path):
    assert check_output_path(tmp_path / "ok.h5") == tmp_path / "ok.h5"
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_are_removed(tmp_path):
    target = tmp_path / "out.h5"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.h5{TEMP_MARK}{int(dead.stdout)}-abc.tmp"
    stale.write_text("half")
    mine = tmp_path / f".out.h5{TEMP_MARK}{os.getpid()}-abc.tmp"
    mine.write_text("in use")
    old = tmp_path / ".out.h5.abcd1234.tmp"          # an earlier version's name, a day old
    old.write_text("half")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    recent = tmp_path / ".out.h5.efgh5678.tmp"       # perhaps another writer's, in use
    recent.write_text("half")
    assert sorted(remove_stale_temporaries(target)) == sorted([stale, old])
    assert mine.exists() and recent.exists() and not stale.exists() and not old.exists()


@pytest.mark.parametrize("signum,status", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)])
def test_signal_during_a_write_leaves_no_file(tmp_path, signum, status):
    target = tmp_path / "out.h5"
    with pytest.raises(status):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            os.kill(os.getpid(), signum)       # held until the write is over
            tmp.write_text("complete-looking")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_a_write_exits_130_without_a_file(tmp_path):
    """A real process: SIGINT while h5py writes; the run exits 130 and leaves nothing."""
    script = (
        "import os, signal, sys, wafersim.results.hdf5 as h\n"
        "orig = h._write_run\n"
        "def slow(group, result):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    orig(group, result)\n"
        "h._write_run = slow\n"
        "from wafersim.cli import main\n"
        f"sys.exit(main(['run', 'mini-wafer', {str(DATA / 'tiny-llama.toml')!r}, '-o', {str(tmp_path / 'o.h5')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", [
    lambda: wafersim.simulate("wse3", None),
    lambda: wafersim.simulate(None, "llama-3.1-8b"),
    lambda: wafersim.simulate("wse3", "llama-3.1-8b", mapping=5),
    lambda: wafersim.simulate("wse3", "llama-3.1-8b", batch=2**70),
    lambda: wafersim.simulate("wse3", "llama-3.1-8b", batch=1.5),
    lambda: wafersim.simulate("wse3", "llama-3.1-8b", dtype=["bf16"]),
    lambda: wafersim.simulate("wse3", "llama-3.1-8b", mapping={1: 2}),
    lambda: wafersim.simulate("dgx-h100", "llama-3.1-8b", fidelity="flow"),
    lambda: wafersim.simulate("wse3", "llama-3.1-8b", bogus=1),
    lambda: wafersim.MappingOptions(placement="bogus"),
    lambda: wafersim.load_system(5),
    lambda: dataclasses.replace(wafersim.load_system("wse3").mesh, cores_x=10**9),
    lambda: dataclasses.replace(wafersim.load_model("llama-3.1-8b"), ffn_size=-1),
])
def test_api_misuse_raises_the_documented_errors(call):
    with pytest.raises(WafersimError):
        call()


def test_error_family():
    assert issubclass(ConfigError, WafersimError) and issubclass(InputError, WafersimError)
    assert issubclass(wafersim.ResultsFormatError, WafersimError)


def test_non_finite_results_are_refused():
    """The last line of defence: a summary with a NaN never reaches the user."""
    from wafersim.engines.assembly import _refuse
    with pytest.raises(InputError, match="no physical result"):
        _refuse(wafersim.load_system("wse3"), wafersim.load_model("llama-3.1-8b"), ["tpot_s = nan is not finite"])
    from wafersim.results.summary import problems
    r = wafersim.simulate("wse3", "llama-3.1-8b")
    assert problems(r.summary) == []
    bad = {**r.summary.to_dict(), "ttft_s": float("nan"), "weight_bytes": -3.3e18}
    assert len(problems(bad)) == 2


def test_thousand_rack_gpu_system_is_fast():
    start = time.perf_counter()
    rc, out, err = cli("run", "gb200-nvl72", "llama-3.1-70b", "--tp", "auto", "--set",
                       "system.interconnect.nodes=1000", "--json")
    assert rc == 0, err
    assert time.perf_counter() - start < 60      # about 3 s alone; generous for a loaded CI machine
    assert json.loads(out)["devices"] <= 72


def test_every_spec_class_validates_on_construction():
    """A dataclass with config metadata (quantity, integer, ...) must derive from config.Spec,
    so that building it or ``dataclasses.replace`` on it runs the same checks as a preset file."""
    import importlib
    import pkgutil

    from wafersim.config import Spec
    found, unchecked = [], []
    for package in ("hardware", "workload", "mapping"):
        pkg = importlib.import_module(f"wafersim.{package}")
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"wafersim.{package}.{info.name}")
            for obj in vars(module).values():
                if (isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
                        and any("kind" in f.metadata and f.metadata["kind"] != "provenance"
                                for f in dataclasses.fields(obj))):
                    found.append(obj.__name__)
                    if not issubclass(obj, Spec):
                        unchecked.append(f"{module.__name__}.{obj.__name__}")
    assert len(found) >= 15
    assert not unchecked, f"derive these from wafersim.config.Spec: {unchecked}"


@pytest.mark.parametrize("args,match", [
    (["mini-wafer", "--batch", "1048576", "--prompt", "16000000"], "KV cache"),
    (["mini-wafer", "--fidelity", "flow", "--batch", "1048576", "--prompt", "16000000"], "KV cache"),
    (["mini-wafer", "--set", "system.core.sram_bytes=1e18", "--batch", "max"], "2**60"),
])
def test_jobs_beyond_int64_byte_counts_are_refused(args, match):
    big = ["--set", "model.max_context=16777216", "--set", "model.num_kv_heads=4", "--set", "model.head_dim=65536"]
    refused("run", args[0], str(DATA / "tiny-llama.toml"), *args[1:], *big, match=match)


def test_batch_max_is_capped_with_a_note():
    rc, out, err = cli("run", "dgx-h100", str(DATA / "tiny-llama.toml"), "--set", "system.gpu.hbm_bytes=1e18",
                       "--batch", "max", "--prompt", "16", "--output", "1", "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["batch"] == 2**20 and any("capped" in n for n in data["notes"])
