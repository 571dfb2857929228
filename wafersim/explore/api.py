"""The search itself: :func:`explore` and what it returns (see the package's docstring)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..config import ConfigError, build
from ..engines import registry as engines
from ..hardware.deployment import missing
from ..hardware.gpu import GpuSystemSpec
from ..hardware.wafer import WaferSpec
from ..mapping.options import MappingOptions
from ..presets import load_model, load_system
from ..results.run_result import RunResult
from ..sizing import FOREIGN_KEYS, check_kind
from ..workload.model import ModelSpec
from ..workload.scenario import Scenario
from .defaults import default_space, hardware_space
from .evaluate import Evaluator, Point, point_scenario
from .hardware import DESIGN_METRICS, PREFIX as DESIGN, Hardware, check_values
from .goals import DEFAULT_CONSTRAINTS, DEFAULT_PARETO, Constraint, Objective, constraint, objective as as_objective
from .pareto import pareto_front
from .methods import DEFAULT_BUDGET, METHODS, Trace, search
from .space import REPLICAS, Axis, Space, parse_axis

__all__ = ["explore", "Exploration", "Cost", "Space", "Axis", "Point", "parse_axis", "DEFAULT_BUDGET",
           "DEFAULT_CONSTRAINTS", "DEFAULT_PARETO", "METHODS"]

#: the most points one search may evaluate
BUDGET_MOST = 1_000_000
#: the largest seed: a signed 64-bit integer, so a seed round-trips through any tool's integers
SEED_MOST = 2**63 - 1
#: the most best layouts one search reports: each keeps its full run in memory and in the file
TOP_MOST = 1000


@dataclass(frozen=True)
class Cost:
    """What the search spent."""
    evaluated: int        # points run
    ok: int               # ... that satisfy every constraint
    violates: int         # ... that break one
    refused: int          # ... that the engine or the sizing refused
    space_size: int
    budget: int
    method: str
    seed: int
    best_at: int | None   # evaluations until the best point was first reached (None: no feasible point)
    wall_s: float         # seconds for the whole call, default-space sizing included

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Exploration:
    """The points evaluated (in order), the best layouts, the Pareto front and the cost."""
    system: str
    model: str
    kind: str
    space: Space
    objective: Objective
    constraints: tuple[Constraint, ...]
    pareto: tuple[Objective, Objective]
    fixed: dict[str, Any]
    points: tuple[Point, ...]
    best: tuple[Point, ...]          # best first; points that break a constraint only after every feasible one
    front: tuple[Point, ...]         # feasible points no other feasible point beats on both pareto objectives
    cost: Cost
    runs: dict[tuple[int, ...], RunResult] = field(default_factory=dict, repr=False)   # the runs of ``best``
    design: str | None = None        # a hardware search: the design (designs/) its points vary

    def best_design(self, name: str | None = None) -> Any:
        """The :class:`~wafersim.design.DesignedSystem` of the best point of a hardware search
        (its system named ``name``); a ConfigError when no point satisfies the constraints."""
        if self.design is None:
            raise ConfigError("explore", "hardware", "the search varied no design (explore --hardware does)")
        if not self.best or not self.best[0].ok:
            raise ConfigError("explore", "design", "no design evaluated satisfies every constraint, so there is "
                                                   "none to write; relax a constraint or raise --budget")
        return Hardware(self.design).designed(self.best[0].params, name=name)


def _number(name: str, value: Any, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ConfigError("explore", name, f"expected an integer from {least} to {most}; got {value!r}")
    return value


def _check_serve(serve: Mapping[str, Any] | None, space: Space) -> dict[str, Any] | None:
    """The serving settings checked (with each ``serve.<key>`` axis's values); None without them."""
    serving_axes = [a for a in space.axes if a.key.startswith("serve.")]
    if serve is None:
        if serving_axes:
            raise ConfigError("--axis", serving_axes[0].key, "sets a serving setting: give --serve settings too "
                              "(e.g. --serve rate=4)")
        return None
    from ..serving.points import check
    settings = dict(serve)
    check(settings)
    for axis in space.axes:
        if axis.key in (REPLICAS, "batch", "prompt_tokens", "output_tokens", "request_rate"):
            raise ConfigError("--axis", axis.key, "a serving point's requests set the batch and lengths (--serve "
                              "prompt=..., output=...) and its rate (serve.rate)")
        for value in axis.values if axis in serving_axes else ():
            check({**settings, axis.key.removeprefix("serve."): value})
    if "prefill" in settings or "decode" in settings:
        raise ConfigError("--serve", "prefill", "explore searches one deployment's layout; run disaggregated "
                          "pools with wafersim serve --prefill/--decode")
    return settings


def _check_axes(kind: str, space: Space, fixed: dict[str, Any], mapping: Mapping[str, Any], model: Any,
                hardware: Hardware | None = None) -> None:
    """Refuse up front an axis or a fixed key that no point of this kind of system could run."""
    for axis in space.axes:
        if axis.key.startswith(DESIGN) and hardware is None:
            raise ConfigError("--axis", axis.key, "design.* varies a wafer design; give --hardware and a design "
                                                  "(designs/) as the system")
        if axis.key in fixed:
            raise ConfigError("--axis", axis.key, "is also given as a fixed value; give it once")
        if axis.key.startswith("mapping.") and axis.key.removeprefix("mapping.") in mapping:
            raise ConfigError("--axis", axis.key, "is also given with --set; give it once")
        if kind != "wafer" and axis.key.startswith("mapping."):
            raise ConfigError("--axis", axis.key, "mapping.* lays a model out on wafers; a GPU system uses tp, pp, ep")
        rule = FOREIGN_KEYS.get(kind, {}).get(axis.key)
        if rule and any(v not in rule[0] for v in axis.values):
            raise ConfigError("--axis", axis.key, rule[1])
    if kind != "wafer" and mapping:
        raise ConfigError("--set", "mapping", "mapping.* lays a model out on wafers; a GPU system uses tp, pp, ep")
    build(MappingOptions, mapping, "mapping")
    first = {a.key: a.values[0] for a in space.axes}
    for axis in space.axes:             # a value no point could take is a mistake, not a refused layout
        for value in axis.values:
            if axis.key.startswith("mapping."):
                build(MappingOptions, {**mapping, axis.key.removeprefix("mapping."): value}, "mapping")
            elif axis.key in Scenario.__dataclass_fields__:     # checked at a point of the space: the first
                Scenario(**point_scenario(fixed, {**first, axis.key: value}))   # values of the other axes
    if hardware is not None:
        check_values(hardware, space)
    tp = next((a for a in space.axes if a.key == "tp"), None)
    if kind == "gpu" and tp is not None:
        _check_tensor_parallel(tp.values, model)


def _check_tensor_parallel(values: Sequence[Any], model: Any) -> None:
    """A tensor parallelism must split the attention heads evenly and the KV heads evenly (or be a
    multiple of them): a value that cannot is refused before any point runs, with the ones that can."""
    heads, kvh = model.num_heads, model.num_kv_heads
    ok = lambda t: isinstance(t, int) and heads % t == 0 and (kvh % t == 0 or t % kvh == 0)
    bad = [v for v in values if v != "auto" and not ok(v)]
    if bad:
        good = [t for t in range(1, heads + 1) if ok(t)]
        raise ConfigError("--axis", "tp", f"tp = {', '.join(map(str, bad))} cannot split the {heads} attention heads "
                          f"and {kvh} KV heads of {model.name}; tp may be {', '.join(map(str, good))}")


def _check_deployment(system: Any, wants: Sequence[tuple[str, str]]) -> None:
    """Refuse a goal whose summary key needs a power or price the system's preset leaves
    out: every point would rank as unknown."""
    for what, key in wants:
        need = missing(system.deployment, key)
        if need:
            raise ConfigError("explore", what, f"{key} needs {need}, which {system.name} leaves at 0 (unknown); "
                                               f"set it (--set {need}=VALUE) or choose another {what}")


def _first(space: Space | None) -> dict[str, Any]:
    """The first value of each axis of ``space`` that is not a mapping option or a design variable."""
    return {} if space is None else {a.key: a.values[0] for a in space.axes
                                     if not a.key.startswith(("mapping.", DESIGN))}


def _front(points: Sequence[Point], pareto: tuple[Objective, Objective]) -> list[Point]:
    usable = [p for p in points if p.ok and all(o.value(p.metrics) is not None for o in pareto)]
    xs = [pareto[0].value(p.metrics) for p in usable]
    ys = [pareto[1].value(p.metrics) for p in usable]
    return [usable[i] for i in pareto_front(xs, ys, (pareto[0].maximize, pareto[1].maximize))]


def explore(system: WaferSpec | GpuSystemSpec | str, model: ModelSpec | str, *,
            space: Space | Mapping[str, Sequence[Any]] | None = None, objective: str | Objective = "per-device",
            constraints: Sequence[str | Constraint] = DEFAULT_CONSTRAINTS,
            pareto: Sequence[str | Objective] = DEFAULT_PARETO, budget: int = DEFAULT_BUDGET, seed: int = 0,
            method: str = "local", top: int = 5, mapping: Mapping[str, Any] | None = None,
            progress: Callable[[Point, int], None] | None = None, hardware: bool = False,
            serve: Mapping[str, Any] | None = None,
            **scenario: Any) -> Exploration:
    """Search ``space`` (default: :func:`~wafersim.explore.defaults.default_space`) for the
    ``top`` best layouts of ``model`` on ``system`` by ``objective`` among the points that
    satisfy ``constraints``, evaluating at most ``budget`` points.

    ``space`` maps axis keys to values (``{"batch": [1, 2, 4], "mapping.region": ["", "64x64"]}``)
    or is a :class:`Space`; ``objective`` and ``pareto`` are names of
    :data:`~wafersim.explore.goals.OBJECTIVES` or ``max:KEY`` / ``min:KEY``; ``constraints`` are
    texts such as ``"ttft_s<=2 s"``, ``"devices<=8"``, ``"fits_on_chip"``; ``method`` is
    ``local`` (random plus local refinement), ``grid`` or ``random``.  Other keywords are
    scenario keys every point shares (``prompt_tokens``, ``dtype``, ``fidelity``, ...);
    ``mapping`` holds mapping options every point shares.  ``progress(point, total)`` is called
    after each point with the most points the search will evaluate.

    With ``hardware``, ``system`` names a wafer design (``designs/``) and the search varies
    it too: ``design.<variable>`` axes (default: :func:`~wafersim.explore.hardware.hardware_space`),
    each point's system built from its design, the design's figures (``area_mm2``,
    ``wafer_power_w``, ``wafer_price_usd``, ``wafer_yield``, ...) joined to its metrics for the
    constraints and objectives; :meth:`Exploration.best_design` gives the best design back.

    ``serve`` (settings of ``wafersim serve``: ``{"rate": 4, "slo": "ttft=2s,tpot=50ms"}``)
    makes every point a serving simulation of requests on the point's layout (each builds
    its own step table: seconds a point on large models), scored by its goodput,
    percentiles and SLO attainment (objective ``goodput``); ``serve.<key>`` axes vary them.
    Its requests set the batch: the default space has no ``batch`` axis then.
    """
    start = time.perf_counter()
    hw = None
    if hardware:
        if not isinstance(system, (str, Path)):
            raise ConfigError("explore", "system", "a hardware search starts from a design name or file "
                                                   f"(designs/); got {type(system).__name__}")
        hw = Hardware(system)
        system = hw.system
    elif isinstance(system, str):
        system = load_system(system)
    if isinstance(model, str):
        model = load_model(model)
    kind = getattr(system, "kind", None)
    if not isinstance(system, (WaferSpec, GpuSystemSpec)):
        raise ConfigError("explore", "system", f"expected a system spec or preset name; got {type(system).__name__}")
    if not isinstance(model, ModelSpec):
        raise ConfigError("explore", "model", f"expected a model spec or preset name; got {type(model).__name__}")
    if method not in METHODS:
        raise ConfigError("explore", "method", f"expected one of {', '.join(METHODS)}; got {method!r}")
    budget = _number("budget", budget, 1, BUDGET_MOST)
    seed = _number("seed", seed, 0, SEED_MOST)
    top = _number("top", top, 1, TOP_MOST)
    goal = as_objective(objective)
    rules = tuple(constraint(c) for c in constraints)
    if isinstance(pareto, str) or len(pareto) != 2:
        raise ConfigError("explore", "pareto", f"expected two objectives; got {pareto!r}")
    front_goals = (as_objective(pareto[0]), as_objective(pareto[1]))
    if hw is None:
        for what, key in [("objective", goal.key), *(("pareto", o.key) for o in front_goals),
                          *(("constraint", c.key) for c in rules)]:
            if key in DESIGN_METRICS:
                raise ConfigError("explore", what, f"{key} is a design's figure; a search varies a design with "
                                                   "--hardware")
    _check_deployment(system, [("objective", goal.key), *(("pareto", o.key) for o in front_goals),
                               *(("constraint", c.key) for c in rules)])
    mapping = dict(mapping or {})
    if space is not None and not isinstance(space, Space):
        space = Space.of(space)
    # the fixed keys are checked at a point of the space (the first value of each axis): an axis may
    # supply what a fixed key needs (an acceptance rate for a fixed speculation, say)
    try:
        fixed = check_kind(kind, Scenario(**point_scenario(scenario, _first(space))))
    except TypeError as exc:
        raise ConfigError("explore", "", f"{exc}; scenario keys: {', '.join(Scenario.__dataclass_fields__)}") from None
    engines.DEFAULT.get(kind, fixed.fidelity)       # no engine for this kind at this fidelity: refused once, here
    if space is None:
        space = (hardware_space(hw) if hw is not None else default_space(system, model, scenario, mapping or None)
                 ).without([*scenario, *(f"mapping.{k}" for k in mapping), *(["batch"] if serve is not None else [])])
    _check_axes(kind, space, scenario, mapping, model, hw)
    serve = _check_serve(serve, space)

    evaluator = Evaluator(system, model, space, goal, rules, dict(scenario), mapping, keep=top,
                          progress=None if progress is None else lambda p: progress(p, min(budget, space.size)),
                          hardware=hw, serve=serve)
    front_cache: dict[int, list[tuple[int, ...]]] = {}

    def front_hook(trace: Trace) -> list[tuple[int, ...]]:
        n = len(trace.order)
        if n not in front_cache:
            front_cache.clear()
            front_cache[n] = [p.index for p in _front(list(evaluator.points.values()), front_goals)]
        return front_cache[n]

    trace = search(space, evaluator, budget=budget, seed=seed, method=method, extra=front_hook)
    points = tuple(evaluator.points[i] for i in trace.order)
    ranked = [p for p in evaluator.ranked() if p.status != "refused"]
    best = tuple(ranked[:top])
    found = next((p for p in points if best and best[0].ok and p.metrics.get(goal.key) == best[0].metrics.get(goal.key)
                  and p.ok), None)
    counts = {s: sum(1 for p in points if p.status == s) for s in ("ok", "violates", "refused")}
    cost = Cost(evaluated=len(points), ok=counts["ok"], violates=counts["violates"], refused=counts["refused"],
                space_size=space.size, budget=budget, method=method, seed=seed,
                best_at=None if found is None else found.order + 1, wall_s=time.perf_counter() - start)
    return Exploration(system=system.name, model=model.name, kind=kind, space=space, objective=goal,
                       constraints=rules, pareto=front_goals,
                       fixed={**{k: v for k, v in scenario.items() if v is not None},
                              **{f"mapping.{k}": v for k, v in mapping.items()},
                              **{f"serve.{k}": v for k, v in (serve or {}).items()}},
                       points=points, best=best, front=tuple(_front(points, front_goals)), cost=cost,
                       runs={p.index: evaluator.runs[p.index] for p in best if p.index in evaluator.runs},
                       design=None if hw is None else hw.source)
