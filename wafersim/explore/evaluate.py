"""Running one point of a design space and scoring it.

A point's values go to ``simulate``: scenario keys as they are, ``mapping.<field>`` into
the mapping options, ``replicas`` to :func:`wafersim.headtohead.with_replicas` (data-parallel
copies: devices, power, price and total tokens/s multiply; per-user and per-unit figures do
not).  A layout the engine or the sizing refuses (a ``WafersimError``) is recorded as
``refused`` with its message; a run that breaks a constraint as ``violates``.  With
``serve`` settings every point is a serving simulation
(:func:`wafersim.serving.points.run_point`: its goodput, percentiles and SLO attainment
in its summary), ``serve.<key>`` axes setting them per point.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..config import WafersimError
from ..headtohead import with_replicas
from ..results.run_result import RunResult
from ..runner import simulate
from .goals import Constraint, Objective
from .hardware import PREFIX as DESIGN
from .space import REPLICAS, Space

__all__ = ["Point", "Evaluator", "STATUSES", "point_scenario"]

#: the prefix of a serving setting's axis (``serve.rate``)
SERVE = "serve."
#: a point's status: its run satisfies every constraint, breaks one, or was refused
STATUSES = ("ok", "violates", "refused")
_TIER = {status: n for n, status in enumerate(STATUSES)}


@dataclass(frozen=True)
class Point:
    """One evaluated point: where it sits in the space, what it set, how it went."""
    order: int                      # 0 for the first point evaluated
    index: tuple[int, ...]
    params: dict[str, Any]
    status: str
    metrics: dict[str, Any]         # the run's summary after replicas; {} when refused
    message: str = ""               # why it violates a constraint or was refused

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def point_scenario(fixed: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The scenario keys of a point: the fixed ones, then the point's own.  A point of a
    ``speculative`` axis at 0 (no speculation) drops the acceptance rate and draft model
    the other points of the axis share."""
    out = {**fixed, **{k: v for k, v in params.items()
                       if not k.startswith(("mapping.", DESIGN, SERVE)) and k != REPLICAS}}
    if "speculative" in params and not params["speculative"]:
        out.pop("acceptance", None)
        out.pop("draft", None)
    return out


class Evaluator:
    """Runs points of ``space`` and remembers them; calling it with an index returns the
    point's score for :func:`wafersim.explore.methods.search`: ``(tier, value)`` with tier
    0 for a point that satisfies the constraints (value: the objective's loss), 1 for one
    that breaks a constraint (value: the summed relative violation), 2 for a refused one.
    The runs of the ``keep`` best-scored points are kept for the results file.

    ``hardware`` (a search over designs) maps a point's values to its system and the
    design's figures, which join the run's summary."""

    def __init__(self, system: Any, model: Any, space: Space, objective: Objective,
                 constraints: Sequence[Constraint], scenario: dict[str, Any], mapping: dict[str, Any],
                 keep: int, progress: Callable[[Point], None] | None = None,
                 hardware: Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]] | None = None,
                 serve: dict[str, Any] | None = None):
        self.system, self.model, self.space, self.hardware = system, model, space, hardware
        self.serve, self._deployments = serve, {}
        self.objective, self.constraints = objective, tuple(constraints)
        self.scenario, self.mapping, self.keep, self.progress = scenario, mapping, keep, progress
        self.points: dict[tuple[int, ...], Point] = {}
        self.runs: dict[tuple[int, ...], RunResult] = {}
        self._ranked: list[tuple[Any, int, tuple[int, ...]]] = []

    def __call__(self, index: tuple[int, ...]) -> tuple[int, float]:
        params = self.space.params(index)
        point, result = self.run(index, params)
        self.points[index] = point
        if self.progress is not None:
            self.progress(point)
        score = self.score(point)
        if result is not None:
            bisect.insort(self._ranked, (score, point.order, index))
            if any(i == index for _, _, i in self._ranked[:self.keep]):
                self.runs[index] = result
            if len(self._ranked) > self.keep:
                self.runs.pop(self._ranked[self.keep][2], None)
        return score

    def run(self, index: tuple[int, ...], params: dict[str, Any]) -> tuple[Point, RunResult | None]:
        scenario = point_scenario(self.scenario, params)
        if scenario.get("request_rate") and params.get(REPLICAS, 1) > 1:
            scenario["request_rate"] = scenario["request_rate"] / params[REPLICAS]   # each copy takes its share
        mapping = dict(self.mapping)
        for key, value in params.items():
            if key.startswith("mapping."):
                mapping[key.removeprefix("mapping.")] = value
        order = len(self.points)
        system, design = self.system, {}
        try:
            if self.hardware is not None:
                system, design = self.hardware(params)
            if self.serve is None:
                result = simulate(system, self.model, mapping=mapping or None, **scenario)
            else:
                from ..serving.points import run_point
                settings = {**self.serve, **{k.removeprefix(SERVE): v for k, v in params.items() if k.startswith(SERVE)}}
                result = run_point(system, self.model, mapping or None, scenario, settings, cache=self._deployments)
        except WafersimError as exc:
            return Point(order, index, params, "refused", {}, str(exc)), None
        metrics = {**design, **with_replicas(result.summary.to_dict(), params.get(REPLICAS, 1))}
        broken = [c.text() for c in self.constraints if c.violation(metrics) is not None]
        if broken:
            return Point(order, index, params, "violates", metrics, "breaks " + ", ".join(broken)), result
        return Point(order, index, params, "ok", metrics), result

    def score(self, point: Point) -> tuple[int, float]:
        if point.status == "refused":
            return (_TIER["refused"], 0.0)
        if point.status == "violates":
            return (_TIER["violates"], sum(c.violation(point.metrics) or 0.0 for c in self.constraints))
        return (_TIER["ok"], self.objective.loss(point.metrics))

    def ranked(self) -> list[Point]:
        """Points with a run, best score first (ties: the earlier evaluated first)."""
        return [self.points[i] for _, _, i in self._ranked]
