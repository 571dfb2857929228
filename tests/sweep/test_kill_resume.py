"""A sweep killed with SIGKILL at any moment leaves a readable journal holding every
finished point, and --resume finishes the rest without running any point twice; the
result is the same, to the byte of summary data, as a sweep never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from wafersim.sweep import journal_path, parse_spec, read_journal, run_sweep, summary_digest
from wafersim.sweep.runners import chunks

from .helpers import ROOT, big

N = 40
KILLER = textwrap.dedent("""
    import os, sys
    import wafersim.sweep.run as run
    import wafersim.sweep.collection as collection
    from wafersim.sweep import parse_spec, run_sweep
    spec_text, out, at, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    die = lambda *a, **k: os.kill(os.getpid(), 9)
    if at == 0:                       # as soon as the journal exists, before any point
        class Writer(run.JournalWriter):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                die()
        run.JournalWriter = Writer
    if at < 0:                        # in the middle of writing the collection
        collection._variable = die
    on_point = (lambda done, total: done >= at and die()) if at > 0 else None
    run_sweep(parse_spec(spec_text, "kill.toml"), out, jobs=jobs, on_point=on_point, progress=False)
""")


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    path = tmp_path_factory.mktemp("clean") / "clean.h5"
    run_sweep(parse_spec(big(N), "kill.toml"), path)
    return summary_digest(path)


@pytest.mark.parametrize("at,jobs", [(0, 1), (1, 1), (17, 1), (N, 1), (-1, 1), (23, 2)])
def test_killed_sweep_keeps_finished_points_and_resumes_without_redoing(tmp_path, clean, at, jobs):
    out = tmp_path / "s.h5"
    proc = subprocess.run([sys.executable, "-c", KILLER, big(N), str(out), str(at), str(jobs)], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not out.exists()                               # no half-written collection, ever
    journal = read_journal(journal_path(out))              # readable, whatever the moment
    kept = N if at in (-1, N) else at
    if jobs == 1:                                          # one process journals each point as it finishes
        assert sorted(journal.records) == list(range(kept))
    else:               # a pool journals a chunk at once: every point of the chunks delivered, no more
        size = len(chunks(list(range(N)), jobs)[0])
        assert kept <= len(journal.records) < kept + size
        kept = len(journal.records)
    report = run_sweep(parse_spec(big(N), "kill.toml"), out, resume=True)
    assert (report.reused, report.ran, report.points) == (kept, N - kept, N)
    assert summary_digest(out) == clean
    assert not journal_path(out).exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "s.h5"]
    assert leftovers == [] or all(".wafersim-" in n for n in leftovers)


@pytest.mark.slow
def test_cli_sweep_killed_mid_run_then_resumed(tmp_path, clean):
    spec = tmp_path / "big.toml"
    spec.write_text(big(1000))
    out = tmp_path / "big.h5"
    cmd = [sys.executable, "-m", "wafersim", "sweep", str(spec), "-o", str(out), "-j", "1"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jpath = journal_path(out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if jpath.exists() and len(read_journal(jpath).records) >= 5:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    done = len(read_journal(jpath).records)
    assert 5 <= done < 1000
    refused = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = subprocess.run([*cmd, "--resume"], env=_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{1000 - done} ran, {done} already done" in resumed.stdout
    again = subprocess.run([*cmd, "--resume"], env=_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "0 ran, 1000 already done" in again.stdout
