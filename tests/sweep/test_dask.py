"""The Dask backend, against a LocalCluster the test starts and stops: the same summary as a
serial run, a worker killed with SIGKILL mid-sweep costs no point and repeats none, and a
chunk the cluster gives up on is left for ``--resume`` rather than recorded as failed."""

from __future__ import annotations

import os
import signal

import pytest

from wafersim.sweep import journal_path, parse_spec, read_collection, read_journal, run_sweep, summary_digest
from wafersim.sweep.run import outcomes_of

from .helpers import SMALL, big, need

pytestmark = pytest.mark.slow          # starts a cluster of worker processes: CI runs it after the other tests

N = 120


@pytest.fixture(scope="module")
def client():
    distributed = need("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    path = tmp_path_factory.mktemp("serial") / "serial.h5"
    run_sweep(parse_spec(big(N), "dask.toml"), path)
    return summary_digest(path)


def test_dask_gives_the_serial_result(client, serial, tmp_path):
    report = run_sweep(parse_spec(big(N), "dask.toml"), tmp_path / "d.h5", client=client)
    assert (report.ran, report.failed) == (N, 0)
    assert summary_digest(tmp_path / "d.h5") == serial


def test_a_killed_worker_loses_no_point(client, serial, tmp_path):
    pids = client.run(os.getpid)                 # worker address -> process id
    killed = []

    def kill_one(done, total):
        if done == 10 and not killed:
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    report = run_sweep(parse_spec(big(N), "dask.toml"), tmp_path / "k.h5", client=client, on_point=kill_one)
    assert killed and report.ran == N and report.failed == 0
    c = read_collection(tmp_path / "k.h5")
    assert (c.variables["status"].data == 1).all() and int(c.attrs["finished"]) == N     # every point ran, once
    assert summary_digest(tmp_path / "k.h5") == serial
    client.wait_for_workers(2, timeout=60)       # the nanny restarted it


def test_a_point_that_kills_its_workers_is_recorded_failed_and_its_chunk_runs(client, serial, tmp_path,
                                                                              monkeypatch):
    """A point whose task kills its worker (SIGKILL, as running out of memory does) until the
    scheduler gives up (KilledWorker) is isolated: its chunk runs again one point per task, the
    point is recorded as failed with the reason and the other points run.  With the scheduler
    allowing no retry (as here, to keep the test short), Dask also fails a task that was queued
    on the worker when it died; such a point is recorded as killed too, never left unrecorded."""
    from wafersim.sweep import records, runners
    poison, real = 20, records.run_batch

    def killing_chunk(jobs):             # defined here, so pickled by value to the worker
        if any(job["index"] == poison for job in jobs):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(jobs)

    out = tmp_path / "p.h5"
    scheduler = client.cluster.scheduler
    allowed, scheduler.allowed_failures = scheduler.allowed_failures, 0      # the first death is final
    monkeypatch.setattr(runners, "run_batch", killing_chunk)
    try:
        report = run_sweep(parse_spec(big(N), "dask.toml"), out, client=client)
    finally:
        scheduler.allowed_failures = allowed
        monkeypatch.undo()
    c = read_collection(out)
    status, error = c.variables["status"].data.ravel(), c.variables["error"].data.ravel()
    assert report.ran == N and (status >= 0).all()                      # every point recorded, none lost
    failed = [i for i in range(N) if status[i] == 0]
    assert poison in failed and report.failed == len(failed) < 8
    assert all("KilledWorker" in str(error[i]) for i in failed)
    client.wait_for_workers(2, timeout=60)        # the nanny restarted it


def test_a_chunk_the_cluster_loses_is_left_for_resume(client, serial, tmp_path, monkeypatch):
    """A chunk whose task the cluster loses (a connection closed: an OSError such as
    CommClosedError) is not journaled, failed or otherwise; the other chunks are delivered,
    then WorkerLost says so, and --resume runs exactly the missing points."""
    from wafersim.sweep import records, runners
    lost_point, real = 20, records.run_batch

    def losing_chunk(jobs):              # defined here, so pickled by value to the worker
        if any(job["index"] == lost_point for job in jobs):
            raise ConnectionResetError("connection to the worker closed")
        return real(jobs)

    out = tmp_path / "l.h5"
    monkeypatch.setattr(runners, "run_batch", losing_chunk)
    try:
        with pytest.raises(runners.WorkerLost, match="--resume") as err:
            run_sweep(parse_spec(big(N), "dask.toml"), out, client=client)
    finally:
        monkeypatch.undo()
    outcomes = outcomes_of(read_journal(journal_path(out)))
    assert all(o.ok for o in outcomes.values())                   # nothing journaled as failed
    missing = set(range(N)) - set(outcomes)
    assert lost_point in missing and len(missing) < N
    assert f"lost {len(missing)} of {N} points" in str(err.value) and "ConnectionResetError" in str(err.value)
    report = run_sweep(parse_spec(big(N), "dask.toml"), out, client=client, resume=True)
    assert (report.ran, report.reused, report.failed) == (len(missing), N - len(missing), 0)
    assert summary_digest(out) == serial


def test_a_point_that_fails_in_the_model_is_recorded_failed(client, tmp_path):
    serial = run_sweep(parse_spec(SMALL, "small.toml"), tmp_path / "s.h5")
    report = run_sweep(parse_spec(SMALL, "small.toml"), tmp_path / "d.h5", client=client)
    assert report.failed == serial.failed > 0
    assert summary_digest(tmp_path / "d.h5") == summary_digest(tmp_path / "s.h5")


def test_scheduler_local_starts_and_stops_its_own_cluster(tmp_path, serial):
    need("distributed")
    report = run_sweep(parse_spec(big(N), "dask.toml"), tmp_path / "l.h5", scheduler="local", jobs=1)
    assert report.ran == N and summary_digest(tmp_path / "l.h5") == serial


def test_scheduler_address_connects_to_a_running_cluster(client, serial, tmp_path, capsys):
    from wafersim.cli import main
    spec = tmp_path / "d.toml"
    spec.write_text(big(N))
    assert main(["sweep", str(spec), "-o", str(tmp_path / "a.h5"), "--scheduler", client.scheduler.address]) == 0
    assert f"{N} ran" in capsys.readouterr().out and summary_digest(tmp_path / "a.h5") == serial
    assert len(client.scheduler_info()["workers"]) == 2          # the cluster is the caller's: still running
