"""One point of a sweep run, and its outcome as bytes.

:func:`run_point` is what a worker runs: it loads the point's system and model
(with the sweep's overrides), calls :func:`wafersim.simulate` (or, for a ``[serve]``
point, :func:`wafersim.serving.points.run_point`) and returns the
outcome encoded by :func:`encode`, a run or the error that stopped it.  The
bytes travel back to the one process that writes, which appends them to the
journal as they are; :func:`decode` turns them into a :class:`PointOutcome`.

Encoding: a little-endian ``uint32`` header length, the header as UTF-8 JSON
(the index, the status, the summary (with both phases' components and the
notes, the text a collection's row holds), configuration, phases, notes, and each
array's dtype, shape, units and dimensions), then each array's bytes in that
order, then each attachment's UTF-8 text (``attachment_bytes`` gives their names
and lengths: a topology's GraphML is tens of kB, which JSON would escape).  An
array held as a leading corner of a larger one, zero elsewhere
(:class:`~wafersim.results.run_result.LayerArray`), records the corner's shape
and bytes and the whole array's shape as ``whole``; records without it hold
whole arrays.  JSON keeps every float exactly (shortest round-trip text), so a
decoded run equals the one simulated.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import ERROR_TEXT_MAX
from ..presets import load_model, load_system
from ..results.hdf5 import _run_texts
from ..results.phase import PhaseTime
from ..results.run_result import LayerArray, RunResult
from ..results.summary import Summary
from ..runner import simulate

__all__ = ["PointOutcome", "Finished", "run_outcome", "run_point", "run_chunk", "run_batch", "encode", "decode",
           "error_text", "header_of"]

#: The length of a record's JSON header that leads it: a little-endian uint32.
_LEN = struct.Struct("<I")
def error_text(exc: BaseException) -> str:
    """What a failed point records: the error's type and message on one line, at most
    ERROR_TEXT_MAX characters (a point's error is one cell of the sweep's table)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:ERROR_TEXT_MAX]


@dataclass(frozen=True)
class PointOutcome:
    """A finished point: its run, or the error that stopped it (type and message)."""
    index: int
    result: RunResult | None
    error: str = ""
    seconds: float = 0.0
    #: the run's JSON texts once made (:func:`texts`): made once, for the record and the collection
    _texts: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.result is not None


def texts(outcome: PointOutcome, shared: dict | None = None) -> dict[str, str]:
    """What a collection's row of a point that ran holds as text (system, model, and config,
    summary and notes as JSON; wafersim.results.hdf5 writes a run's attributes the same), made
    once per outcome: its record embeds the same JSON.  ``shared`` (a dict kept for a sweep or
    a chunk of it) lets points reuse the text of the system and model they share."""
    if not outcome._texts and outcome.result is not None:
        outcome._texts.update(_run_texts(outcome.result, shared))
    return outcome._texts


#: A finished point as a runner hands it to the one process that writes: its record (the
#: bytes the journal holds; None where the writer is to encode it) and its outcome (what the
#: collection is written from), so that the writer never decodes a record.
Finished = tuple["bytes | None", PointOutcome]


def run_outcome(job: dict[str, Any], cache: dict | None = None) -> PointOutcome:
    """Run one point's job (see :func:`wafersim.sweep.points.job_for`); any error becomes a
    recorded outcome, so that one bad point never stops a sweep.  ``cache`` (a dict kept
    for one sweep or one chunk of it) lets points share a loaded preset: specs are frozen."""
    t0 = time.perf_counter()
    cache = {} if cache is None else cache
    try:
        system = _load(cache, load_system, job["system"], job["system_sets"], job.get("runtime"))
        model = _load(cache, load_model, job["model"], job["model_sets"])
        if job.get("serve") is not None:
            from ..serving.points import run_point as serve_point
            result = serve_point(system, model, job["mapping"], job["scenario"], job["serve"], job.get("runtime"),
                                 cache)
        else:
            result = simulate(system, model, mapping=job["mapping"], **job["scenario"])
        return PointOutcome(job["index"], result, "", time.perf_counter() - t0)
    except Exception as exc:       # a bug in one point is recorded too (its type says it is one)
        return PointOutcome(job["index"], None, error_text(exc), time.perf_counter() - t0)


def run_point(job: dict[str, Any], cache: dict | None = None) -> bytes:
    """:func:`run_outcome`, encoded (:func:`encode`)."""
    return encode(run_outcome(job, cache))


def _load(cache: dict, loader: Any, ref: str, sets: dict[str, Any], runtime: str | None = None) -> Any:
    key = (loader.__name__, ref, json.dumps(sets, sort_keys=True), runtime)
    if key not in cache:
        cache[key] = loader(ref, sets) if runtime is None else loader(ref, sets, runtime=runtime)
    return cache[key]


def run_chunk(jobs: list[dict[str, Any]]) -> list[bytes]:
    """Several points in one task (fewer round trips to the pool or the cluster)."""
    cache: dict = {}
    return [run_point(job, cache) for job in jobs]


def run_batch(jobs: list[dict[str, Any]]) -> list[Finished]:
    """Several points in one task, each as its record and its outcome: a worker encodes the
    records (in parallel with the other workers), and the writer appends them to the journal
    as they are and writes the collection from the outcomes."""
    cache: dict = {}
    shared: dict = {}
    out = []
    for job in jobs:
        outcome = run_outcome(job, cache)
        out.append((encode(outcome, shared), outcome))
    return out


def _phase(p: PhaseTime) -> dict[str, Any]:
    return {"time_s": p.time_s, "components": dict(sorted(p.components.items()))}


def encode(outcome: PointOutcome, shared: dict | None = None) -> bytes:
    """The record of ``outcome`` (``shared``: see :func:`texts`)."""
    head: dict[str, Any] = {"index": outcome.index, "ok": outcome.ok, "error": outcome.error,
                            "seconds": round(outcome.seconds, 6)}
    blobs: list[bytes] = []
    r = outcome.result
    if r is not None:
        arrays = []
        for name in sorted(r.arrays):
            a = r.arrays[name]
            data = np.ascontiguousarray(a.stored)
            if data.dtype.kind not in "biuf":
                raise TypeError(f"array {name} of dtype {data.dtype} cannot be recorded")
            arrays.append({"name": name, "dtype": data.dtype.str, "shape": list(data.shape), "dims": list(a.dims),
                           "units": a.units, "description": a.description,
                           "labels": {k: list(v) for k, v in (a.labels or {}).items()} or None})
            if a.shape != data.shape:
                arrays[-1]["whole"] = list(a.shape)
            blobs.append(data.tobytes())
        attached = [(name, text.encode()) for name, text in sorted(r.attachments.items())]
        head.update(prefill=_phase(r.prefill), decode=_phase(r.decode), attachments={}, arrays=arrays,
                    attachment_bytes=[[name, len(data)] for name, data in attached])
        blobs += [data for _, data in attached]
    parts = {k: _ENCODER.encode(v) for k, v in head.items()}
    if r is not None:       # the texts the collection stores too, made once (the summary with the phases)
        made = texts(outcome, shared)
        parts.update(config=made["config"], summary=made["summary"], notes=made["notes"])
    text = ("{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in sorted(parts.items())) + "}").encode()
    return b"".join([_LEN.pack(len(text)), text, *blobs])


#: the header's JSON (an encoder made once: see wafersim.results.hdf5._ENCODER)
_ENCODER = json.JSONEncoder(sort_keys=True, allow_nan=True, default=lambda o: _plain(o))


def _plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set, frozenset)):
        return list(o)
    raise TypeError(f"cannot record {type(o).__name__}")


def header_of(payload: bytes) -> dict[str, Any]:
    """The JSON header of a record (index, status, error, ...) without decoding its arrays."""
    (n,) = _LEN.unpack_from(payload)
    return json.loads(payload[_LEN.size:_LEN.size + n])


def decode(payload: bytes) -> PointOutcome:
    """The outcome :func:`encode` wrote (a ValueError if the bytes are not one)."""
    if len(payload) < _LEN.size:
        raise ValueError("record too short")
    (n,) = _LEN.unpack_from(payload)
    head = header_of(payload)
    if not head["ok"]:
        return PointOutcome(int(head["index"]), None, str(head["error"]), float(head["seconds"]))
    arrays, offset = {}, _LEN.size + n
    for a in head["arrays"]:
        dtype = np.dtype(a["dtype"])
        count = int(np.prod(a["shape"], dtype=np.int64))
        data = np.frombuffer(payload, dtype=dtype, count=count, offset=offset).reshape(a["shape"]).copy()
        offset += count * dtype.itemsize
        labels = {k: tuple(v) for k, v in a["labels"].items()} if a["labels"] else None
        arrays[a["name"]] = LayerArray(data, tuple(a["dims"]), a["units"], a["description"], labels,
                                       shape=a.get("whole"))
    attachments = dict(head["attachments"])
    for name, size in head.get("attachment_bytes", ()):       # records before them held the text in JSON
        attachments[name] = payload[offset:offset + size].decode()
        offset += size
    if offset != len(payload):
        raise ValueError(f"record of {len(payload)} bytes holds {offset}")
    phase = {k: PhaseTime(float(head[k]["time_s"]), {c: float(v) for c, v in head[k]["components"].items()})
             for k in ("prefill", "decode")}
    result = RunResult(Summary.from_mapping(head["summary"]), head["config"], phase["prefill"], phase["decode"],
                       arrays, list(head["notes"]), attachments)
    return PointOutcome(int(head["index"]), result, "", float(head["seconds"]))
