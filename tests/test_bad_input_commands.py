"""The newer commands take bad input as the others do: one error line, status 2, and no
run without a bound (issue: noc-sweep flags, cycle fidelity at wafer scale, sweep specs,
damaged collections, interrupted pools, API edges)."""

from __future__ import annotations

import io
import time

import pytest


from tests.cli_calls import cli, refused
from wafersim.engines import cost


@pytest.mark.parametrize("args,match", [
    (["--mesh", "abc"], "expected ROWSxCOLS"),
    (["--mesh", "8"], "expected ROWSxCOLS"),
    (["--mesh", "0x0"], "positive ROWSxCOLS"),
    (["--mesh", ""], "expected ROWSxCOLS"),
    (["--mesh", "\uff18x\uff18"], "expected ROWSxCOLS"),            # full-width digits
    (["--mesh", "9" * 30 + "x9"], "expected ROWSxCOLS"),
    (["--mesh", "1x1"], "at least 2 routers"),
    (["--mesh", "5000x5000"], "more than"),
    (["--rates", ","], "comma-separated"),
    (["--rates", "0"], "--rates"),
    (["--rates", "1e-300"], "--rates"),
    (["--rates", "nan"], "--rates"),
    (["--rates", "5"], "above --packet"),
    (["--rates", ",".join(["0.1"] * 101)], "at most 100"),
    (["--cycles", "0"], "--cycles"),
    (["--cycles", str(2**63)], "--cycles"),
    (["--cycles", "\uff11\uff10"], "--cycles"),
    (["--vcs", "-1"], "--vcs"),
    (["--vcs", str(2**63)], "--vcs"),
    (["--buffer", "0"], "--buffer"),
    (["--packet", "100000"], "--packet"),
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**63)], "--seed"),
    (["--warmup", "3000"], "warmup"),
    (["--pattern", "transpose", "--mesh", "4x8"], "square mesh"),
    (["--system", "dgx-h100"], "GPU system"),
    (["--system", "no-such-system"], "no-such-system"),
    (["--cycles", "1000000000", "--mesh", "16x16"], "--force"),
    (["--system", "wse3"], "--force"),
    (["--mesh", "1000x1000"], "--force"),
])
def test_noc_sweep_flags_are_refused(args, match):
    refused("noc-sweep", *args, match=match)


def test_noc_sweep_estimate_is_printed_before_the_refusal():
    rc, out, err = cli("noc-sweep", "--cycles", "1000000000", "--mesh", "16x16")
    assert rc == 2 and "estimated work: 1.54e+12 router-cycles" in out and "above the bound" in err


def test_noc_sweep_help_describes_every_flag():
    rc, out, _ = cli("noc-sweep", "--help")
    assert rc == 0 and "latency-throughput" in out
    for flag in ("--system", "--mesh", "--vcs", "--buffer", "--pattern", "--rates", "--packet", "--cycles",
                 "--warmup", "--seed", "--out", "--force"):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(flag) or f", {flag}" in ln)
        assert len(line.split(None, 2)) >= 2, line


def test_noc_sweep_short_run_takes_a_default_warmup():
    """--cycles below the default warm-up of 1000 gets a third of the cycles, not a refusal."""
    rc, out, err = cli("noc-sweep", "--mesh", "4x4", "--rates", "0.1", "--cycles", "300")
    assert rc == 0, err
    assert "offered" in out


def test_cycle_fidelity_at_wafer_scale_is_estimated_and_refused_quickly():
    t0 = time.monotonic()
    rc, out, err = cli("run", "wse3", "llama-3.1-8b", "--fidelity", "cycle")
    assert rc == 2 and "estimated" in err and "router-cycles" in err and "--force" in err.splitlines()[-1]
    assert time.monotonic() - t0 < 120


def test_cycle_estimate_is_close_to_the_work_done():
    """The estimate (lowered program: box set-up plus flit-hops per stage simulation) is
    within a factor of two of the router-cycles the run then counts."""
    import wafersim
    seen = []

    class Meter(cost.Meter):
        def __init__(self, label, total):
            seen.append(total)
            self.done = 0.0

        def update(self, done):
            self.done = done

        def close(self):
            seen.append(self.done)

    with cost.budget(progress=Meter):
        wafersim.simulate("wse2", "llama-3.1-8b", fidelity="cycle", layers=1, mapping={"cores": "16x16"},
                          prompt_tokens=16, output_tokens=8)
    estimate, done = seen
    assert 0.5 * estimate <= done <= 2 * estimate


def test_cycle_bound_is_lifted_by_force_only(monkeypatch):
    import wafersim
    from wafersim.config import ConfigError
    monkeypatch.setattr(cost, "WORK_MAX", 1e3)
    kw = dict(fidelity="cycle", layers=1, mapping={"cores": "16x16"}, prompt_tokens=16, output_tokens=8)
    with cost.budget(), pytest.raises(ConfigError, match="--force"):
        wafersim.simulate("wse2", "llama-3.1-8b", **kw)
    with cost.budget(force=True):
        assert wafersim.simulate("wse2", "llama-3.1-8b", **kw).summary["tpot_s"] > 0


def test_work_meter_writes_a_line_to_a_log_at_a_low_rate():
    from wafersim.sweep.progress import WorkMeter
    now = [0.0]
    out = io.StringIO()
    m = WorkMeter("x", 100.0, stream=out, tty=False, clock=lambda: now[0], log_interval=30.0)
    for t in range(0, 120):
        now[0] = float(t)
        m.update(t * 0.5)
    m.close()
    lines = out.getvalue().splitlines()
    assert 3 <= len(lines) <= 4 and all("ETA" in ln and "of 100 router-cycles" in ln for ln in lines)


SPEC_HEAD = 'model = "llama-3.1-8b"\n'


@pytest.mark.parametrize("text,match", [
    ('[axes]\nsystem = ["wse3", 5]\n', "preset names or paths"),
    ('system = "wse3"\n[axes]\nbatch = [' + "1" * 5000 + "]\n", "not valid TOML"),
    ('system = "wse3"\n[scenario]\nprompt_tokens = 10\nprompt = 20\n[axes]\nbatch = [1, 2]\n', "give one of them"),
    ('system = "dgx-h100"\n[scenario]\ngpus = 100000\n[axes]\nbatch = [1, 2]\n', "may span at most"),
    ('system = "dgx-h100"\n[axes]\ntp = [2, 3]\n', "must divide the 32 attention heads"),
    ('system = "wse3"\n[axes]\nbatch = { start = 1, stop = 1000, step = 1 }\nprompt = { start = 1, stop = 101, step = 1 }\n',
     "at most 100000"),
])
def test_sweep_specs_are_refused_under_check(tmp_path, text, match):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC_HEAD + text)
    refused("sweep", str(spec), "--check", "-o", str(tmp_path / "s.h5"), match=match)


@pytest.mark.parametrize("args,match", [
    (["explore", "dgx-h100", "llama-3.1-8b", "--constraint", "ttft_s<=-1"], "never negative"),
    (["explore", "dgx-h100", "llama-3.1-8b", "--max-power=-1 kW"], "never negative"),
    (["explore", "dgx-h100", "llama-3.1-8b", "--axis", "tp=3", "--budget", "8"], "tp may be 1, 2, 4, 8"),
    (["explore", "dgx-h100", "llama-3.1-8b", "--axis", "tp=8", "--axis", "pp=64,80", "--budget", "8"], "was refused"),
    (["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--spill"], "--frontier"),
    (["compare", "mini-wafer", "dgx-h100", "llama-3.1-8b", "--basis", "equal-cost", "--layers", "1"],
     "deployment"),
])
def test_explore_and_compare_mistakes_are_refused(args, match):
    refused(*args, match=match)


def _small_sweep(tmp_path):
    from wafersim.sweep.run import run_sweep
    from wafersim.sweep.spec import parse_spec
    path = tmp_path / "small.h5"
    run_sweep(parse_spec('system = "wse3"\nmodel = "llama-3.1-8b"\n[axes]\nbatch = [1, 2]\n', "small.toml"), path,
              jobs=1)
    return path


def test_open_dataset_checks_the_file_as_the_other_readers_do(tmp_path):
    pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    import h5py
    from wafersim.results.errors import ResultsFormatError
    from wafersim.sweep import open_dataset
    path = _small_sweep(tmp_path)
    assert open_dataset(path).sizes["batch"] == 2
    edited = tmp_path / "edited.h5"
    edited.write_bytes(path.read_bytes())
    with h5py.File(edited, "r+") as f:           # an edit the signature no longer matches
        f.attrs["format-version"] = 99
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    flipped = bytearray(path.read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF
    (tmp_path / "flipped.h5").write_bytes(bytes(flipped))
    for bad in (edited, truncated, tmp_path / "flipped.h5", tmp_path):
        with pytest.raises(ResultsFormatError):
            open_dataset(bad)


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    import os
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out.update(kids)
        todo.extend(kids)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").path.isdir("/proc")
                    or "forkserver" not in __import__("multiprocessing").get_all_start_methods(),
                    reason="needs /proc and forkserver workers")
def test_sigterm_to_a_pool_sweep_stops_its_workers(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path
    spec = tmp_path / "long.toml"
    # cycle-level points of about 10^7 router-cycles take seconds each inside one Numba kernel: a
    # worker cannot notice that its sweep is gone before its point ends, so only a sweep that stops
    # its workers leaves none behind when it exits
    spec.write_text('system = "wse2"\nmodel = "llama-3.1-8b"\n[scenario]\nfidelity = "cycle"\nlayers = 1\n'
                    'wafers = 1\ncores = "64x64"\n[axes]\nbatch = { start = 1, stop = 2000, step = 1 }\n')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "wafersim", "sweep", str(spec), "-j", "2", "-o", str(tmp_path / "o.h5")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: set[int] = set()
    workers: set[int] = set()           # the pool's processes: children of the forkserver
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        kids = _descendants(proc.pid)
        seen |= kids
        workers |= {w for k in kids for w in _descendants(k)}
        time.sleep(0.2)
    assert proc.poll() is None and len(workers) >= 2, proc.stderr.read()
    time.sleep(2.0)                     # the workers are into their points
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    assert not [p for p in workers if _alive(p)], "the sweep ended with workers still running"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in seen):
        time.sleep(0.2)
    assert not [p for p in seen if _alive(p)]
    assert proc.returncode != 0


def _run():
    import wafersim
    return wafersim.simulate("dgx-h100", "llama-3.1-8b")


@pytest.mark.parametrize("call", [
    lambda tmp: __import__("wafersim").load_model("llama-3.1-8b", 5),
    lambda tmp: __import__("wafersim").load_model("llama-3.1-8b", {5: 1}),
    lambda tmp: __import__("wafersim").load_system("wse3", {("core",): 1}),
    lambda tmp: __import__("wafersim").load_system("wse3", {"core.clock_hz": 10**400}),
    lambda tmp: __import__("wafersim.results.hdf5").results.hdf5.write_results("", _run()),
    lambda tmp: __import__("wafersim.results.hdf5").results.hdf5.write_results(str(tmp), _run()),
    lambda tmp: __import__("wafersim.results.hdf5").results.hdf5.write_results(None, _run()),
])
def test_api_edges_raise_wafersim_errors(tmp_path, call):
    from wafersim.config import WafersimError
    with pytest.raises(WafersimError):
        call(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("table, key, why", [
    ('[efficiency]\nmemory = "abc"\n', "efficiency.memory", "expected a number"),     # the profile would hide it
    ("efficiency = 5\n", "efficiency", "expected a table"),
    ("[efficiency]\nmemry = 0.5\n", "efficiency.memry", "did you mean efficiency.memory"),
])
def test_a_malformed_efficiency_table_is_blamed_on_the_system_file(tmp_path, table, key, why):
    """The runtime profile's settings are laid over a GPU preset's [efficiency] table; a fault in
    the table is still the preset file's, named with its key, not the profile's."""
    path = tmp_path / "bad-eff.toml"
    path.write_text(f'base = "dgx-h100"\nname = "bad-eff"\n{table}')
    err = refused("run", str(path), "llama-3.1-8b", match=f"{path}: key '{key}'")
    assert why in err and "runtime" not in err.split("key")[0]
