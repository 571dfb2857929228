"""``serve``: requests arriving over time on one deployment, and the highest rate that meets
the SLOs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError
from .deployment import Deployment, deploy
from .metrics import SLO, parse_slo, summarise
from .scheduler import DEFAULTS, Outcome, SchedulerConfig, resolve, run
from .traces import read_trace
from .workload import ArrivalSpec, LengthSpec, Requests, draw, parse_arrivals, parse_lengths

__all__ = ["ServeResult", "serve", "requests_for", "find_rate", "DEFAULT_REQUESTS"]

#: requests drawn from a Poisson or gamma process unless told otherwise
DEFAULT_REQUESTS = 1000
#: --find-rate: the share of requests that must meet the SLOs (DistServe's goodput: 90 %)
DEFAULT_ATTAINMENT = 0.9
#: --find-rate stops when the bracket is this narrow, relative to its top
RATE_TOLERANCE = 0.02
#: --find-rate's most simulations
RATE_SEARCH_RUNS = 40


@dataclass(frozen=True)
class ServeResult:
    """One simulation: the requests, what became of them, its figures, the deployment and
    the scheduler that ran them."""
    arrivals: str
    deployment: Deployment
    scheduler: SchedulerConfig
    outcome: Outcome
    summary: dict[str, Any]
    slo: SLO
    seed: int


def requests_for(arrivals: ArrivalSpec | str, prompt: LengthSpec | str = "2048", output: LengthSpec | str = "128",
                 count: int | None = None, seed: int = 0) -> Requests:
    """The requests of an arrival spec (a trace's rows, or ``count`` drawn requests)."""
    spec = parse_arrivals(arrivals) if isinstance(arrivals, str) else arrivals
    if spec.kind == "trace":
        return read_trace(spec.path, spec.time_unit, count)
    p = parse_lengths(prompt, "--prompt") if isinstance(prompt, str) else prompt
    o = parse_lengths(output, "--output") if isinstance(output, str) else output
    return draw(spec, p, o, DEFAULT_REQUESTS if count is None else count, seed)


def serve(system: Any, model: Any, *, arrivals: ArrivalSpec | str = "poisson:1", requests: int | None = None,
          prompt: LengthSpec | str = "2048", output: LengthSpec | str = "128", slo: SLO | str | None = None,
          seed: int = 0, runtime: str | None = None, scheduler: dict[str, Any] | None = None,
          deployment: Deployment | None = None, mapping: Any = None, fidelity: str = "analytic",
          **sizing: Any) -> ServeResult:
    """Simulate requests arriving at ``system`` running ``model`` (see ``wafersim serve --help``).

    ``scheduler``: settings over the runtime's (max_running, max_batched_tokens,
    block_tokens, round_steps, policy, mixed_step); ``deployment``: one already built
    for these requests (its step table is reused); ``sizing``: wafers, gpus, tp, pp, ep,
    dtype, kv_dtype."""
    spec = parse_arrivals(arrivals) if isinstance(arrivals, str) else arrivals
    reqs = requests_for(spec, prompt, output, requests, seed)
    slo = parse_slo(slo) if not isinstance(slo, SLO) else slo
    if deployment is None:
        deployment = build_deployment(system, model, reqs, runtime=runtime, scheduler=scheduler, mapping=mapping,
                                      fidelity=fidelity, **sizing)
    config = resolve(deployment.knobs, scheduler)
    outcome = run(reqs, deployment, config)
    rate = spec.rate if spec.kind != "trace" else None
    return ServeResult(spec.text(), deployment, config, outcome, summarise(outcome, slo, rate), slo, seed)


def build_deployment(system: Any, model: Any, reqs: Requests, *, runtime: str | None = None,
                     scheduler: dict[str, Any] | None = None, mapping: Any = None, fidelity: str = "analytic",
                     **sizing: Any) -> Deployment:
    """The deployment sized for the longest of ``reqs`` with a step table as deep as the
    scheduler runs (the runtime's limit, or the caller's)."""
    from ..presets import load_model, load_system
    if isinstance(model, str):
        model = load_model(model)
    if isinstance(system, str):
        system = load_system(system, runtime=runtime)
        runtime = None
    longest = reqs.max_context
    if longest > model.max_context:
        raise ConfigError("serve", "", f"a request of {longest} tokens (prompt + output) exceeds the "
                          f"{model.max_context}-token context of {model.name}: shorten --prompt/--output or the trace")
    eff = getattr(system, "efficiency", None)
    most = (scheduler or {}).get("max_running") or getattr(eff, "max_batch", 0) or DEFAULTS["max_running"]
    return deploy(system, model, max_context=longest, max_running=int(most), runtime=runtime, mapping=mapping,
                  fidelity=fidelity, **sizing)


def find_rate(system: Any, model: Any, *, slo: SLO | str, attainment: float = DEFAULT_ATTAINMENT,
              requests: int | None = None, prompt: LengthSpec | str = "2048", output: LengthSpec | str = "128",
              seed: int = 0, runtime: str | None = None, scheduler: dict[str, Any] | None = None,
              mapping: Any = None, fidelity: str = "analytic", **sizing: Any) -> tuple[float, ServeResult, list]:
    """The highest Poisson rate at which at least ``attainment`` of the requests meet ``slo``,
    by bisection over runs of the same requests (the same seed: the gaps scale with the rate),
    with its run and every (rate, attainment) tried."""
    slo = parse_slo(slo) if not isinstance(slo, SLO) else slo
    if slo == SLO():
        raise ConfigError("--find-rate", "", "needs an SLO to meet: give --slo, e.g. ttft=2s,tpot=50ms")
    if not 0 < attainment <= 1:
        raise ConfigError("--attainment", "", f"expected a share from 0 (excluded) to 1; got {attainment!r}")
    base = requests_for("poisson:1", prompt, output, requests, seed)
    dep = build_deployment(system, model, base, runtime=runtime, scheduler=scheduler, mapping=mapping,
                           fidelity=fidelity, **sizing)
    tried: list[tuple[float, float]] = []

    def at(rate: float) -> ServeResult:
        reqs = Requests(base.arrival_s / rate, base.prompt_tokens, base.output_tokens, base.priority)
        config = resolve(dep.knobs, scheduler)
        out = run(reqs, dep, config)
        result = ServeResult(f"poisson:{rate:.6g}", dep, config, out, summarise(out, slo, rate), slo, seed)
        tried.append((rate, result.summary["slo_attainment"]))
        return result

    # the bracket: the prefill-bound rate of one request at a time is a first guess
    guess = 1.0 / max(dep.table.prefill(float(base.prompt_tokens.mean())), 1e-9)
    lo, hi, best = 0.0, guess, None
    runs = 0
    while runs < RATE_SEARCH_RUNS:
        r = at(hi)
        runs += 1
        if r.summary["slo_attainment"] < attainment:
            break
        lo, best, hi = hi, r, hi * 2
    while runs < RATE_SEARCH_RUNS and hi - lo > RATE_TOLERANCE * hi:
        mid = math.sqrt(lo * hi) if lo > 0 else hi / 2
        r = at(mid)
        runs += 1
        if r.summary["slo_attainment"] >= attainment:
            lo, best = mid, r
        else:
            hi = mid
        if lo == 0 and hi < guess * 1e-6:
            break
    if best is None:
        raise ConfigError("--find-rate", "", f"no rate down to {hi:.3g} requests/s meets {slo.text()} for "
                          f"{100 * attainment:g} % of requests on {dep.name}")
    return lo, best, sorted(tried)
