"""Running a sweep end to end: plan, journal, run the points, write the collection.

::

    from wafersim.sweep import run_sweep
    report = run_sweep("sweeps/sram-batch.toml", "sweep.h5", jobs=2)

The points are checked first (:func:`wafersim.sweep.spec.plan`); finished
points are appended to ``OUT.journal`` (:mod:`wafersim.sweep.journal`) by this
process alone, a chunk at a time, and kept in memory as they arrive; at the end
the collection is written atomically from them (and from the journal's points
of an earlier run, when resuming) and the journal removed.  A sweep killed at any moment leaves the
journal; ``resume=True`` runs only the points it lacks.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

from ..atomic import check_output_path
from ..config import ConfigError
from .collection import write_collection
from .journal import Journal, JournalWriter, journal_path, read_journal
from .progress import Progress
from .records import Finished, PointOutcome, decode, encode, header_of
from .runners import dask_client, run_dask, run_pool, run_serial
from .points import SweepPlan, plan as make_plan
from .spec import SweepSpec, load_spec, parse_spec

__all__ = ["run_sweep", "SweepReport", "outcomes_of"]


@dataclass(frozen=True)
class SweepReport:
    """What a sweep did: where it wrote, how many points it holds, ran now, reused from the
    journal, and failed, and how long this run took; of that, how long this process spent
    writing (encoding records, the journal, the collection) and how long the points took to
    run, summed over the processes that ran them."""
    path: Path
    points: int
    ran: int
    reused: int
    failed: int
    seconds: float
    digest: str
    write_seconds: float = 0.0
    point_seconds: float = 0.0

    @property
    def write_share(self) -> float:
        """The share of this run's time this process spent writing."""
        return self.write_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def points_per_s(self) -> float:
        return self.ran / self.seconds if self.seconds > 0 else float("inf")


def _plan(spec: str | Path | SweepSpec | SweepPlan | dict) -> SweepPlan:
    if isinstance(spec, SweepPlan):
        return spec
    if isinstance(spec, SweepSpec):
        return make_plan(spec)
    if isinstance(spec, dict):
        return make_plan(parse_spec(spec))
    return make_plan(load_spec(spec))


def outcomes_of(journal: Journal) -> dict[int, PointOutcome]:
    return {i: decode(rec) for i, rec in sorted(journal.records.items())}


def _header(plan: SweepPlan) -> dict[str, Any]:
    return {"digest": plan.digest, "points": len(plan.jobs), "source": plan.spec.source}


def run_sweep(spec: str | Path | SweepSpec | SweepPlan | dict, out: str | Path, *, jobs: int = 1,
              scheduler: str | None = None, client: Any = None, force: bool = False, resume: bool = False,
              progress: bool | None = None, stream: TextIO | None = None, arrays: bool = True,
              on_point: Callable[[int, int], None] | None = None) -> SweepReport:
    """Run every point of ``spec`` (a spec file, a parsed spec, a plan or a TOML table) and
    write the collection to ``out``.

    ``jobs``: processes (1 runs in this process); ``scheduler``: a Dask scheduler address,
    or ``"local"`` for a LocalCluster of ``jobs`` workers (``client``: a Dask client to use).
    An existing ``out`` or journal is refused unless ``force`` (start over) or ``resume``
    (keep the journal's points, run the rest).  ``progress``: a bar on ``stream`` (default:
    when stderr is a terminal).  ``on_point(done, total)`` is called after each point is in
    the journal.
    """
    t0 = time.perf_counter()
    out = check_output_path(out)
    jpath = journal_path(out)
    plan = _plan(spec)
    if jobs < 1:
        raise ConfigError("-j", "", f"expected a positive number of processes; got {jobs}")
    journal = None
    if resume and jpath.exists():
        journal = read_journal(jpath)
        if journal.header and journal.header.get("digest") != plan.digest:
            raise ConfigError(str(jpath), "", "was written by a different sweep (its spec or presets changed); "
                                              "use --force to start over")
    elif resume and out.exists():
        return _already_done(out, plan, t0)
    elif not force:
        for p in (out, jpath):
            if p.exists():
                hint = "--resume to finish it or --force to start over" if p == jpath else \
                    "--force to replace it (or --resume to finish a killed sweep)"
                raise ConfigError(str(p), "", f"exists; {hint}")
    done = dict(journal.records) if journal is not None else {}
    todo = [job for job in plan.jobs if job["index"] not in done]
    failed_before = sum(1 for rec in done.values() if not decode_ok(rec))
    cluster, own_client = None, False
    if client is None and scheduler is not None and todo:
        client, cluster = dask_client(scheduler, jobs)        # before the journal: a bad address leaves nothing
        own_client = True
    bar = Progress(len(plan.jobs), len(done), stream=stream, enabled=progress)
    bar.failed = failed_before
    writer = JournalWriter(jpath, _header(plan), resume=journal)
    arrived: dict[int, PointOutcome] = {}

    writing = [0.0]          # seconds this process spends writing: records, journal, collection
    shared: dict = {}        # JSON of the system and model parts the points share (records.texts)

    def deliver(batch: list[Finished]) -> None:
        t = time.perf_counter()
        writer.append_many([encode(outcome, shared) if record is None else record for record, outcome in batch])
        writing[0] += time.perf_counter() - t
        for _, outcome in batch:
            arrived.setdefault(outcome.index, outcome)
            bar.update(outcome.ok)
            if on_point is not None:
                on_point(bar.done, bar.total)

    try:
        if client is not None:
            run_dask(todo, deliver, client)
        elif jobs > 1 and len(todo) > 1:
            run_pool(todo, deliver, jobs)
        else:
            run_serial(todo, deliver)
    finally:
        writer.close()
        bar.close()
        if own_client:                    # the client (and the LocalCluster) this call started
            client.close()
            if cluster is not None:
                cluster.close()
    outcomes = {i: decode(rec) for i, rec in done.items()}       # an earlier run's points
    for i, outcome in arrived.items():
        outcomes.setdefault(i, outcome)
    outcomes = dict(sorted(outcomes.items()))
    missing = len(plan.jobs) - len(outcomes)
    if missing:
        raise ConfigError(str(jpath), "", f"{missing} points have no result; run again with --resume")
    t = time.perf_counter()
    write_collection(out, plan, outcomes, arrays=arrays)
    os.unlink(jpath)
    writing[0] += time.perf_counter() - t
    failed = sum(1 for o in outcomes.values() if not o.ok)
    return SweepReport(out, len(plan.jobs), len(todo), len(done), failed, time.perf_counter() - t0, plan.digest,
                       writing[0], sum(o.seconds for i, o in arrived.items()))


def decode_ok(record: bytes) -> bool:
    """Whether a record is of a point that ran, without decoding its arrays."""
    return bool(header_of(record)["ok"])


def _already_done(out: Path, plan: SweepPlan, t0: float) -> SweepReport:
    """``resume`` with no journal: the collection is there; it must be of this sweep."""
    from .collection import read_collection
    attrs = read_collection(out).attrs
    if attrs.get("digest") != plan.digest:
        raise ConfigError(str(out), "", "holds a different sweep (its spec or presets changed); use --force to "
                                        "replace it")
    if int(attrs.get("finished", 0)) != len(plan.jobs):
        raise ConfigError(str(out), "", "holds an unfinished sweep and no journal; use --force to start over")
    return SweepReport(out, len(plan.jobs), 0, len(plan.jobs), int(attrs.get("failed", 0)),
                       time.perf_counter() - t0, plan.digest)
