"""Several copies of one deployment, and KV moved from one pool of copies to another.

* :func:`run_replicas`: requests spread over ``copies`` of a deployment, each copy
  running its own scheduler (:func:`wafersim.serving.scheduler.run`), their outcomes
  merged back into the requests' order.  Requests go round-robin in the order the
  scheduler sees them (a router without load information, as SGLang's router's
  ``round_robin`` policy and vLLM's production stack's default are).
* :func:`transfer_times`: each request's KV sent from a copy of one pool to a copy of
  another over a link of a bandwidth and a latency.  A copy sends (and receives) one
  transfer at a time, first come first served: a transfer starts when the prefill is
  done and both ends are free, occupies them for ``bytes / bandwidth`` and lands a
  latency later, so that a lone request's KV lands ``bytes / bandwidth + latency``
  after its prefill.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .deployment import Deployment
from .scheduler import Outcome, SchedulerConfig, run
from .workload import Requests

__all__ = ["Pool", "round_robin", "run_replicas", "transfer_times", "link_between", "subset"]


@dataclass(frozen=True)
class Pool:
    """``copies`` copies of ``deployment`` (a pool of a disaggregated deployment, or the
    replicas of an aggregated one); ``system``: the preset or path it was named by."""
    system: str
    deployment: Deployment
    copies: int

    @property
    def devices(self) -> int:
        return self.copies * self.deployment.devices

    @property
    def power_w(self) -> float | None:
        p = self.deployment.power_w
        return None if p is None else self.copies * p

    @property
    def usd_per_hour(self) -> float | None:
        u = self.deployment.usd_per_hour
        return None if u is None else self.copies * u

    def text(self) -> str:
        return f"{self.system} x{self.copies}"


def round_robin(n: int, copies: int) -> np.ndarray:
    """The copy each of ``n`` requests goes to, in turn."""
    return np.arange(n, dtype=np.int64) % max(1, copies)


def subset(requests: Requests, index: np.ndarray) -> Requests:
    return Requests(requests.arrival_s[index], requests.prompt_tokens[index], requests.output_tokens[index],
                    requests.priority[index])


def run_replicas(requests: Requests, deployment: Deployment, config: SchedulerConfig, copies: int,
                 replica: np.ndarray | None = None, *, ready: np.ndarray | None = None,
                 held: np.ndarray | None = None, generated: np.ndarray | None = None,
                 join_s: np.ndarray | None = None) -> tuple[Outcome, list[Outcome]]:
    """Run ``requests`` on ``copies`` of ``deployment`` (``replica``: the copy of each; default
    round-robin); the merged outcome in the requests' order, and each copy's own.  The
    other arrays are :func:`~wafersim.serving.scheduler.run`'s, one value per request.

    The merged figures: the time-integral of requests in the system is the copies' sum,
    the span ends at the last finish, the
    steps and tokens are the copies' sums, the busy time their mean (so that the busy
    share is one copy's on average), and the peaks those of the fullest copy."""
    n = len(requests)
    replica = round_robin(n, copies) if replica is None else np.asarray(replica, np.int64)
    ready = requests.arrival_s + deployment.request_overhead_s if ready is None else np.asarray(ready, np.float64)
    first, finish = np.full(n, np.nan), np.full(n, np.nan)
    preempt, gen = np.zeros(n, np.int64), np.zeros(n, np.int64)
    outcomes = []
    for k in range(copies):
        idx = np.flatnonzero(replica == k)
        if not len(idx):
            continue
        part = {name: (None if a is None else np.asarray(a)[idx])
                for name, a in (("held", held), ("generated", generated), ("join_s", join_s))}
        out = run(subset(requests, idx), deployment, config, ready=ready[idx], **part)
        first[idx], finish[idx], preempt[idx], gen[idx] = out.first_token_s, out.finish_s, out.preemptions, \
            out.generated
        outcomes.append(out)
    return Outcome(requests, ready, first, finish, preempt, gen, merge_stats([o.stats for o in outcomes], copies)), \
        outcomes


def merge_stats(parts: list[dict[str, float]], copies: int) -> dict[str, float]:
    """The figures of several copies' runs (see :func:`run_replicas`)."""
    fullest = max(parts, key=lambda s: s["peak_blocks"] / max(s["total_blocks"], 1.0))
    return {"area_request_s": sum(s["area_request_s"] for s in parts), "end_s": max(s["end_s"] for s in parts),
            "steps": sum(s["steps"] for s in parts), "busy_s": sum(s["busy_s"] for s in parts) / max(copies, 1),
            "peak_running": max(s["peak_running"] for s in parts), "peak_blocks": fullest["peak_blocks"],
            "total_blocks": fullest["total_blocks"], "prefill_tokens": sum(s["prefill_tokens"] for s in parts),
            "decode_tokens": sum(s["decode_tokens"] for s in parts)}


def link_between(a: Deployment, b: Deployment) -> tuple[float, float]:
    """The link from a copy of ``a`` to a copy of ``b``: the slower end's bandwidth and the
    longer end's latency."""
    return min(a.link_bytes_per_s, b.link_bytes_per_s), max(a.link_latency_s, b.link_latency_s)


def transfer_times(nbytes: np.ndarray, done_s: np.ndarray, src: np.ndarray, dst: np.ndarray,
                   bandwidth: float, latency: float) -> tuple[np.ndarray, np.ndarray]:
    """When each transfer starts and when it lands (see the module docs): ``nbytes`` sent
    from copy ``src`` once ready at ``done_s`` to copy ``dst``, in the order they are
    ready (ties: the lower index first)."""
    n = len(nbytes)
    busy = np.asarray(nbytes, np.float64) / bandwidth
    start, landed = np.empty(n), np.empty(n)
    free_src: dict[int, float] = {}
    free_dst: dict[int, float] = {}
    for i in np.argsort(done_s, kind="stable").tolist():
        s, d = int(src[i]), int(dst[i])
        t = max(float(done_s[i]), free_src.get(s, 0.0), free_dst.get(d, 0.0))
        end = t + float(busy[i])
        free_src[s] = free_dst[d] = end
        start[i], landed[i] = t, end + latency
    return start, landed
