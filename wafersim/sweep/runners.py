"""Where a sweep's points run: in this process, on a local process pool, or on a Dask cluster.

Every runner takes the jobs still to run and calls ``deliver(batch)`` in the calling
process with finished points, each its record and its outcome
(:data:`wafersim.sweep.records.Finished`), so one process writes, and writes each
batch at once.  Points travel in chunks to save round trips, and a pool's or a
cluster's chunk is delivered as one batch (one journal write); in one process each
point is delivered as it finishes (a journal write costs microseconds next to a
point).  The chunk size is small enough that a killed sweep loses little work.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any, Callable, Sequence

from ..config import ConfigError
from ..extras import install_hint
from .records import Finished, PointOutcome, encode, error_text, run_batch, run_outcome

__all__ = ["run_serial", "run_pool", "run_dask", "dask_client", "chunks", "usable_cores", "WorkerLost"]

Deliver = Callable[[list[Finished]], None]

#: Chunks a runner aims for per worker: enough that the workers stay busy to the end while
#: the points take unequal times, few enough that each chunk saves round trips.
CHUNKS_PER_WORKER = 8
#: Most points in one chunk: what a killed sweep may lose per worker, and how often the
#: journal and the progress bar hear of finished points.
CHUNK_MOST = 32
#: Seconds between a pool worker's checks that the process that started the pool still
#: lives: short enough that orphans exit promptly after ``kill -9``, long enough to cost nothing.
PARENT_POLL_S = 0.5
#: How long to wait for a remote Dask scheduler to answer (Dask's timeout text): a scheduler
#: across a network answers in well under this, and a wrong address fails within it.
DASK_CONNECT_TIMEOUT = "20s"


class WorkerLost(ConfigError):
    """A pool worker process died (killed, or out of memory), or a Dask cluster lost a task;
    the journal keeps what finished and ``--resume`` runs the points that did not."""


def _worker_lost(what: str) -> WorkerLost:
    return WorkerLost("sweep", "", f"{what}; the points that finished are kept: run again with --resume to "
                                   "finish the rest")


def chunks(jobs: Sequence[dict[str, Any]], workers: int, most: int = CHUNK_MOST) -> list[list[dict[str, Any]]]:
    """Split ``jobs`` into chunks: about CHUNKS_PER_WORKER per worker, at most ``most`` points each."""
    size = max(1, min(most, len(jobs) // max(1, workers * CHUNKS_PER_WORKER)))
    return [list(jobs[i:i + size]) for i in range(0, len(jobs), size)]


def run_serial(jobs: Sequence[dict[str, Any]], deliver: Deliver) -> None:
    cache: dict = {}
    for job in jobs:
        deliver([(None, run_outcome(job, cache))])         # the writer encodes it


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended: no such process, or a zombie not yet reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"Z", b"X")


def _watch_parent(owner: int) -> None:
    """In a pool worker: exit when the process that started the pool is gone (killed with -9)
    rather than wait for work that never comes.  (The forkserver that forked the worker
    outlives the owner while any worker lives, so the owner itself is watched.)"""
    def watch() -> None:
        import time
        while not _gone(owner):
            time.sleep(PARENT_POLL_S)
        os._exit(1)
    threading.Thread(target=watch, name="wafersim-parent-watch", daemon=True).start()


def run_pool(jobs: Sequence[dict[str, Any]], deliver: Deliver, workers: int) -> None:
    """A local process pool of ``workers`` processes, at most one per usable core (more
    would only take turns) and per point."""
    import concurrent.futures as cf
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    if not jobs:
        return
    workers = max(1, min(workers, usable_cores(), len(jobs)))
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(list(WORKER_PRELOAD))    # no effect once the server runs: it has them
    with _terminate_raises(), cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_watch_parent,
                                                     initargs=(os.getpid(),)) as pool:
        try:
            futures = [pool.submit(run_batch, chunk) for chunk in chunks(jobs, workers)]
            for fut in cf.as_completed(futures):
                deliver(fut.result())
        except BrokenProcessPool:
            pool.shutdown(wait=False, cancel_futures=True)
            raise _worker_lost("a worker process died (killed, or out of memory)") from None
        except BaseException:
            _stop_workers(pool)
            raise


#: Modules the pool's fork server imports once, so that each worker starts with them (the
#: point runner and the analytic engines, a second of imports per worker otherwise); the
#: flow and cycle engines' Numba kernels load in the workers that use them.
WORKER_PRELOAD = ("wafersim.sweep.records", "wafersim.engines.analytic_wafer", "wafersim.engines.analytic_gpu")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


#: seconds a stopped worker gets to end before it is killed
WORKER_STOP_S = 5.0


def _stop_workers(pool: Any) -> None:
    """End the pool's worker processes now (Ctrl-C, SIGTERM): a worker in the middle of a
    point would otherwise run it to its end, and a long point outlive the sweep."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(WORKER_STOP_S)
        if proc.is_alive():
            proc.kill()
            proc.join(WORKER_STOP_S)


@contextlib.contextmanager
def _terminate_raises():
    """SIGTERM raises SystemExit(143) in the main thread while the pool runs, so that the
    pool's workers are stopped (and the journal kept for ``--resume``) instead of left running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)
    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def dask_client(scheduler: str, workers: int):
    """A ``distributed.Client`` and the LocalCluster it runs on (None for a remote scheduler):
    ``scheduler`` is an address (``tcp://host:8786``) or ``local`` for a LocalCluster of
    ``workers`` processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--scheduler", "", "running on Dask needs dask and distributed; install them with: "
                                             f"{install_hint('dask')}") from None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=DASK_CONNECT_TIMEOUT), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError("--scheduler", "", f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None


def _cluster_failures() -> tuple[tuple[type[BaseException], ...], type[BaseException]]:
    """What a Dask future raises when the cluster, not the chunk's code, failed: a connection
    closed (``CommClosedError`` and other ``OSError``s) or the scheduler dropped the task
    (cancelled); and ``KilledWorker``, which Dask raises once a task has taken down as many
    workers as it allows (a point that runs out of memory does).  ``run_batch`` itself
    raises nothing else: a point's own error is in its record."""
    import asyncio
    import concurrent.futures as cf
    from distributed import KilledWorker
    return (OSError, cf.CancelledError, asyncio.CancelledError), KilledWorker


def _failed(jobs: Sequence[dict[str, Any]], exc: BaseException) -> list[Finished]:
    """Each job's point recorded as failed with ``exc``."""
    outcomes = [PointOutcome(job["index"], None, error_text(exc)) for job in jobs]
    return [(encode(o), o) for o in outcomes]


def run_dask(jobs: Sequence[dict[str, Any]], deliver: Deliver, client: Any) -> None:
    """On a Dask cluster through ``client``.  A chunk whose task keeps killing its workers
    (``KilledWorker``) is run again one point per task, so that the point that kills them is
    recorded as failed and the others run; a chunk the cluster lost (a worker or connection
    gone) delivers nothing: once the other chunks are delivered, :class:`WorkerLost` says how
    many points did not run, and ``--resume`` runs them.  Any other error of a chunk's task is
    recorded as its points' failure."""
    if not jobs:
        return
    from distributed import as_completed
    lost_to, killed = _cluster_failures()
    n = max(1, len(client.scheduler_info().get("workers", {})))
    futures = {client.submit(run_batch, part, pure=False): part for part in chunks(jobs, n)}
    pending = as_completed(list(futures))
    lost, why = 0, ""
    for fut in pending:
        part = futures.pop(fut)
        try:
            records = fut.result()
        except killed as exc:
            if len(part) > 1:         # find the point that kills its workers: one point per task
                records = []
                for job in part:
                    one = client.submit(run_batch, [job], pure=False)
                    futures[one] = [job]
                    pending.add(one)
            else:
                records = _failed([part[0]], exc)
        except lost_to as exc:        # the cluster lost the task: no records, left for --resume
            records = []
            lost, why = lost + len(part), why or error_text(exc)
        except Exception as exc:      # the task itself failed: its points are recorded as failed
            records = _failed(part, exc)
        if records:
            deliver(records)
        fut.release()
    if lost:
        raise _worker_lost(f"the Dask cluster lost {lost} of {len(jobs)} points ({why})")
