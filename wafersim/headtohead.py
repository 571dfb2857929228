"""A head-to-head of two systems along the throughput-interactivity frontier.

Each side is first sized to hold the job (``wafers="auto"``, ``gpus="auto"``),
then keeps that hardware and layout while its batch grows from 1 to the
largest batch that fits (and, when asked, past it into spill).  Each point is
a run; its interactivity is tokens/s per user, its throughput tokens/s per
device, per kW of wall power and per dollar.

At an interactivity target ``x`` a system delivers the best throughput of any
of its points that is at least that interactive (it may run faster than asked).
The *crossover* on a basis is where the better side changes: e.g. "per kW:
dgx-h100 below 120 tokens/s per user, wse3 above".  Bases: ``device``, ``kW``
and ``dollar`` (throughput per million-token cost).

:func:`replicas_for` sizes data-parallel copies of one side to match the
other's devices, power or price (``compare --basis``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .config import ConfigError
from .engines import registry as engines
from .hardware.deployment import NEEDS

if TYPE_CHECKING:
    from .results.run_result import RunResult

__all__ = ["Frontier", "Deployment", "deployment_of", "frontier", "crossovers", "replicas_for", "with_replicas", "replicas_note", "with_replicas_note",
           "labelled_frontiers", "run_ids", "DEPLOYMENT_COLUMNS", "TOTAL_KEYS", "BASES", "SIZING_BASES"]

#: basis -> (summary key, words, more is better)
BASES = {"device": ("tokens_per_s_per_device", "per device", True),
         "kW": ("tokens_per_s_per_kw", "per kW", True),
         "dollar": ("usd_per_million_tokens", "per dollar", False)}
#: compare --basis: what the replicated side is matched on (fit: one copy each)
SIZING_BASES = {"fit": None, "equal-devices": "devices", "equal-power": "power_w", "equal-cost": "cost_usd"}


@dataclass(frozen=True)
class Frontier:
    """One side's points, in increasing batch (an envelope: most interactive first); ``fixed`` is
    the scenario every point shares; ``deployments`` the deployment of each point
    (:class:`Deployment`), ``evaluated`` every (run, deployment) an envelope
    search ran, on the envelope or not."""
    system: str
    runs: tuple[RunResult, ...]
    fixed: dict[str, Any]
    max_batch: int
    deployments: tuple[Any, ...] = ()
    evaluated: tuple[tuple[Any, Any], ...] = ()

    def series(self, key: str) -> list[float | None]:
        return [r.summary.get(key) for r in self.runs]


@dataclass(frozen=True)
class Deployment:
    """How one frontier point is deployed: wafers, or GPUs in a ``tp x pp x ep`` layout,
    with ``copies`` data-parallel copies packed into one allocation unit."""
    kind: str
    devices: int
    tp: int = 1
    pp: int = 1
    ep: int = 1
    copies: int = 1

    def scenario(self) -> dict[str, Any]:
        """The scenario keys that run one copy of it."""
        if self.kind == "wafer":
            return {"wafers": self.devices}
        return {"tp": self.tp, "pp": self.pp, "ep": self.ep}

    def tag(self) -> str:
        """A short name for run ids: ``w5``, ``tp4pp2ep1``, ``tp4pp1ep1x2``."""
        if self.kind == "wafer":
            return f"w{self.devices}"
        return f"tp{self.tp}pp{self.pp}ep{self.ep}" + (f"x{self.copies}" if self.copies > 1 else "")

    def text(self) -> str:
        """``5 wafers``; ``tp 4 x pp 2 x ep 1 (8 GPUs)``; ``2 copies of tp 4 x pp 1 x ep 1 (4 GPUs each)``."""
        if self.kind == "wafer":
            return f"{self.devices} wafer{'s' if self.devices != 1 else ''}"
        layout = f"tp {self.tp} x pp {self.pp} x ep {self.ep}"
        if self.copies > 1:
            return f"{self.copies} copies of {layout} ({self.devices} GPU{'s' if self.devices != 1 else ''} each)"
        return f"{layout} ({self.devices} GPU{'s' if self.devices != 1 else ''})"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text(), "devices": self.devices, "copies": self.copies}
        if self.kind == "wafer":
            out["wafers"] = self.devices
        else:
            out.update(tp=self.tp, pp=self.pp, ep=self.ep)
        return out


def deployment_of(kind: str, summary: Any) -> Deployment:
    """The deployment a run's summary ran on (one copy)."""
    from .sizing import held_layout
    held = held_layout(kind, summary)
    if kind == "wafer":
        return Deployment("wafer", held["wafers"])
    return Deployment("gpu", int(summary["devices"]), held["tp"], held["pp"], held["ep"])


def _batches(max_batch: int, spill: bool) -> list[int]:
    out, b = [], 1
    while b < max_batch:
        out.append(b)
        b *= 2
    out.append(max_batch)
    if spill:
        out += [2 * max_batch, 4 * max_batch]
    return out


def frontier(system: Any, model: Any, *, spill: bool = False, fidelity: str = "analytic",
             **scenario: Any) -> Frontier:
    """Size ``system`` to hold one sequence of the job, then sweep the batch from 1 to the
    largest that fits on that hardware (and two points past it with ``spill``)."""
    from .runner import simulate
    from .sizing import held_layout
    kind = system.kind
    fidelity = engines.fidelity_or_default(kind, fidelity)
    auto = {"wafers": "auto"} if kind == "wafer" else {"gpus": "auto"}
    first = simulate(system, model, fidelity=fidelity, **{**auto, **scenario, "batch": 1})
    s = first.summary
    fixed = {**scenario, **held_layout(kind, s), "fidelity": fidelity}
    largest = simulate(system, model, **{**fixed, "batch": "max"}).summary["batch"]
    runs = [first if b == 1 else simulate(system, model, **{**fixed, "batch": b}) for b in _batches(largest, spill)]
    return Frontier(s["system"], tuple(runs), fixed, largest, deployments=(deployment_of(kind, s),) * len(runs))


def _best_at(points: Sequence[tuple[float, float]], x: float, more_is_better: bool) -> float | None:
    """The best value among points at least ``x`` interactive; None when none is."""
    ok = [y for px, y in points if px >= x * (1 - 1e-12)]
    if not ok:
        return None
    return max(ok) if more_is_better else min(ok)


def crossovers(a: Frontier, b: Frontier, basis: str) -> tuple[list[tuple[float, str]], str]:
    """Where the better side changes along interactivity on ``basis``, and a sentence.

    Returns ([(x, winner above x)], text): the winner at each breakpoint, lowest first.
    """
    key, words, more = BASES[basis]
    pa = [(r.summary["tokens_per_s_per_user"], r.summary[key]) for r in a.runs if key in r.summary]
    pb = [(r.summary["tokens_per_s_per_user"], r.summary[key]) for r in b.runs if key in r.summary]
    if not pa or not pb:
        return [], f"{words}: unknown (a price or power is missing)"
    xs = sorted({x for x, _ in pa} | {x for x, _ in pb})
    winners: list[tuple[float, str]] = []
    for x in xs:
        ya, yb = _best_at(pa, x, more), _best_at(pb, x, more)
        if ya is None and yb is None:
            continue
        if yb is None or (ya is not None and (ya > yb if more else ya < yb)):
            w = a.system
        else:
            w = b.system
        if not winners or winners[-1][1] != w:
            winners.append((x, w))
    if len(winners) == 1:
        return winners, f"{words}: {winners[0][1]} is better at every interactivity either reaches"
    top = {a.system: max(x for x, _ in pa), b.system: max(x for x, _ in pb)}
    parts = [f"{winners[0][1]} below {winners[1][0]:.4g} tokens/s per user"]
    for (x, w), nxt in zip(winners[1:], [*winners[2:], None]):
        loser = b.system if w == a.system else a.system
        reach = f" ({loser} reaches at most {top[loser]:.4g})" if top[loser] < x else ""
        parts.append(f"{w} from {x:.4g}" + (f" to {nxt[0]:.4g}" if nxt else " up") + reach)
    return winners, f"{words}: " + ", ".join(parts)


#: the frontier table's columns: summary key -> (units, meaning)
FRONTIER_KEYS = ("batch", "system", "tokens_per_s_per_user", "tokens_per_s", "tokens_per_s_per_device", "tokens_per_s_per_kw",
                 "usd_per_million_tokens", "ttft_s", "tpot_s", "fits_on_chip", "devices", "power_w", "cost_usd")


#: the deployment columns of a frontier table: column -> (units, meaning)
DEPLOYMENT_COLUMNS = {"deployment": ("", "the deployment that gives the point (wafers, or tp x pp x ep on GPUs)"),
                      "copies": ("", "data-parallel copies packed into one allocation unit"),
                      "tp": ("", "tensor-parallel GPUs of one copy (0 on wafers)"),
                      "pp": ("", "pipeline stages of one copy (0 on wafers)"),
                      "ep": ("", "expert-parallel ranks of one copy (0 on wafers)"),
                      "run": ("", "the point's run in /runs")}


def run_ids(f: Frontier, side: str) -> list[str]:
    """The run id of each point: ``a-b<batch>`` on one deployment (as before envelopes), else
    ``a-<deployment>-b<batch>`` (``a-w5-b59``, ``b-tp4pp1ep1x2-b412``)."""
    tags = [d.tag() for d in f.deployments] or [""] * len(f.runs)
    one = len(set(tags)) <= 1
    return [f"{side}-b{r.summary['batch']}" if one else f"{side}-{t}-b{r.summary['batch']}" for r, t in zip(f.runs, tags)]


def frontier_table(f: Frontier, side: str = "a") -> tuple[str, list[int], list[tuple[str, list[Any], str, str]]]:
    """One side's frontier for :func:`wafersim.results.hdf5.write_results` ``tables``: along
    ``batch`` (an envelope's batches may repeat), with each point's deployment and run id."""
    from .results.summary import field_info
    columns = [(key, [r.summary.get(key) for r in f.runs], *field_info(key)) for key in FRONTIER_KEYS[1:]]
    deps = list(f.deployments) or [None] * len(f.runs)
    values = {"deployment": [d.text() if d else "" for d in deps],
              "copies": [d.copies if d else 1 for d in deps],
              **{k: [getattr(d, k) if d and d.kind == "gpu" else 0 for d in deps] for k in ("tp", "pp", "ep")},
              "run": run_ids(f, side)}
    columns += [(key, values[key], *info) for key, info in DEPLOYMENT_COLUMNS.items()]
    return "batch", [r.summary["batch"] for r in f.runs], columns


def replicas_for(a: dict[str, Any], b: dict[str, Any], basis: str) -> tuple[int, int]:
    """Data-parallel copies of each side so that the smaller one matches the larger on
    ``basis`` (``equal-devices``, ``equal-power``, ``equal-cost``; ``fit``: one each):
    the nearest whole number of copies, at least one, so the two sides differ by at most
    half a copy of the replicated side."""
    key = SIZING_BASES[basis]
    if key is None:
        return 1, 1
    va, vb = a.get(key), b.get(key)
    if not va or not vb:
        side = "a" if not va else "b"
        need = NEEDS[key][0]
        raise ConfigError("--basis", basis, f"needs {key} on both sides; side {side} ({(a if side == 'a' else b)['system']}) "
                          f"has no deployment.{need}: set it (--set {side}.deployment.{need}=VALUE)")
    if va >= vb:
        return 1, max(1, round(va / vb))
    return max(1, round(vb / va)), 1


#: summary keys that add up over data-parallel copies: what the deployment runs, holds, draws,
#: costs and serves (each copy holds its own weights and KV cache)
TOTAL_KEYS = ("devices", "nodes", "power_w", "cost_usd", "usd_per_hour", "tokens_per_s", "request_tokens_per_s",
              "batch", "max_batch", "request_rate", "requests_in_flight", "weight_bytes", "kv_bytes",
              "spilled_bytes", "sram_capacity_bytes")


def with_replicas(summary: dict[str, Any], replicas: int) -> dict[str, Any]:
    """A side's totals for ``replicas`` data-parallel copies: each key of :data:`TOTAL_KEYS`
    times ``replicas``; per-user, per-unit, per-token and per-copy figures (the layout, the
    ratios per device, kW and dollar, energies per token) unchanged.  Under load, each copy
    was run at its share of the request rate, and the totals add up."""
    out = dict(summary)
    out["replicas"] = replicas
    for key in TOTAL_KEYS:
        if isinstance(out.get(key), (int, float)) and not isinstance(out[key], bool):
            out[key] = out[key] * replicas
    return out


def replicas_note(summary: dict[str, Any], replicas: int) -> str | None:
    """What a replicated side is, for its notes: the copies, one copy's hardware and the
    totals that add up; None for one copy."""
    if replicas == 1:
        return None
    unit = "wafer" if summary["kind"] == "wafer" else "GPU"
    devices = summary["devices"]
    one = f"{devices} {unit}{'s' if devices != 1 else ''}"
    if summary.get("nodes"):
        one += f" in {summary['nodes']} node{'s' if summary['nodes'] != 1 else ''}"
    total = f"{devices * replicas} {unit}s"
    rate = f" at {summary['request_rate']:g} requests/s" if summary.get("request_rate") else ""
    return (f"{replicas} data-parallel copies ({total} in all), each {one} decoding a batch of "
            f"{summary['batch']}{rate}: the table's totals (devices, power, price, batch, tokens/s, request "
            f"tokens/s, bytes held) are for all {replicas} copies; per-user, per-device, per-kW and per-dollar "
            f"figures and the other notes are one copy's")


def with_replicas_note(result: RunResult, replicas: int) -> RunResult:
    """``result`` (one copy) with a first note that says it stands for ``replicas`` copies."""
    note = replicas_note(result.summary, replicas)
    if note is None:
        return result
    return dataclasses.replace(result, notes=[note, *result.notes])


def labelled_frontiers(a: Frontier, b: Frontier, labels: tuple[str, str]) -> tuple[Frontier, Frontier]:
    """The two frontiers under names that tell them apart (for :func:`crossovers`' sentences)."""
    return dataclasses.replace(a, system=labels[0]), dataclasses.replace(b, system=labels[1])
