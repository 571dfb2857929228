"""The public entry point: one system, one model, one scenario -> RunResult.

The runner loads what it is given by name, resolves the scenario against the
model, asks the engine registry for the engine of the system's kind at the
scenario's fidelity, has :mod:`wafersim.sizing` resolve every ``max`` and
``auto``, runs the engine and records where the specs came from.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

from . import provenance
from .config import ConfigError, build, to_dict
from .engines import registry as engines
from .engines import arrivals, speculative
from .hardware.gpu import GpuSystemSpec
from .hardware.precision import check_precision, unpack_notes
from .hardware.wafer import WaferSpec
from .mapping.options import MappingOptions
from .presets import load_model, load_system, with_runtime
from .results.run_result import RunResult
from .sizing import check_kind, default_sizing, size
from .workload.model import ModelSpec
from .workload.scenario import Scenario

__all__ = ["simulate", "prepare", "Prepared"]


#: spec -> (its dictionary, its provenance record), by identity: specs are frozen, so the
#: dictionaries are built once per spec however many runs use it (results of one spec share
#: them; treat ``result.config`` as read-only)
_RECORDS: dict[int, tuple[weakref.ref, tuple[dict[str, Any], dict[str, Any]]]] = {}


def _spec_record(spec: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    hit = _RECORDS.get(id(spec))
    if hit is not None and hit[0]() is spec:
        return hit[1]
    record = (to_dict(spec), provenance.record(spec))
    key = id(spec)
    _RECORDS[key] = (weakref.ref(spec, lambda _, key=key: _RECORDS.pop(key, None)), record)
    return record


def simulate(system: WaferSpec | GpuSystemSpec | str, model: ModelSpec | str, *,
             mapping: MappingOptions | dict | None = None, registry: engines.Registry = engines.DEFAULT,
             runtime: str | None = None, **scenario: Any) -> RunResult:
    """Simulate ``model`` on ``system``.

    ``system`` and ``model`` are specs or preset names/paths.  Scenario keywords:
    ``batch`` (int or "max"), ``prompt_tokens``, ``output_tokens``, ``dtype``,
    ``kv_dtype``, ``wafers`` (int or "auto"), ``gpus`` (int or "auto"), ``tp`` (int or
    "auto"), ``pp``, ``ep`` (expert-parallel ranks), ``layers``, ``fidelity`` (a name from
    :func:`wafersim.engines.registry.fidelities`), ``speculative`` (tokens proposed per
    step), ``acceptance`` (the probability one is accepted) and ``draft`` (the draft
    model's preset; none: self-speculation).  ``mapping`` sets wafer placement
    (``placement``, ``cores``, ``region``).  ``runtime`` names the serving-runtime profile
    (``runtimes/``); a system loaded by name gets its kind's default
    (:data:`wafersim.presets.DEFAULT_RUNTIME`), a spec keeps the one it was loaded with.

    Sizing left out is filled in as every command fills it
    (:func:`wafersim.sizing.default_sizing`): a wafer system takes the fewest wafers that
    hold the job, a GPU system the fewest whole allocation units (nodes, or parts of one
    such as a GB200 NVL72 compute tray) in their fastest layout.  Pass
    ``wafers=1`` or ``gpus=1`` (or ``tp=1``) to run on fewer and see the cliff.
    """
    prep = prepare(system, model, mapping=mapping, registry=registry, runtime=runtime, **scenario)
    engine, system, model, sc, mapping, sized = prep.engine, prep.system, prep.model, prep.asked, prep.mapping, prep.sized
    scenario = prep.keywords
    result = sized.result or engine.simulate(system, model, sized.scenario, mapping)
    if sc.speculative:
        result = _speculate(engine, system, model, sized.scenario, mapping, registry, result, scenario)
    if sc.request_rate:
        # one request alone on the same deployment, speculative as the batch is (its draft's prefill too)
        single = dataclasses.replace(sized.scenario, batch=1, request_rate=0.0)
        one = engine.simulate(system, model, single, mapping)
        if sc.speculative:
            one = _speculate(engine, system, model, single, mapping, registry, one, {**scenario, "batch": 1})
        result = arrivals.under_load(result, one, system, sc.request_rate)
    (system_dict, system_record), (model_dict, model_record) = _spec_record(system), _spec_record(model)
    config = {**result.config, "system": system_dict, "model": model_dict,
              "provenance": {"system": system_record, "model": model_record}}
    return dataclasses.replace(result, config=config, notes=[*sized.notes, *unpack_notes(system, sc), *result.notes])


def _speculate(engine: Any, system: Any, model: ModelSpec, scenario: Scenario, mapping: MappingOptions,
               registry: engines.Registry, target: RunResult, asked: dict[str, Any]) -> RunResult:
    """Replace the decode of ``target`` by speculative steps (:mod:`wafersim.engines.speculative`):
    the verify pass on the sized system, and the draft model's own decode on the same system
    (sized for it as the user asked, at the target's batch; every decoder layer of the draft)."""
    verify = engine.simulate(system, model, speculative.verify_scenario(scenario, system.kind), mapping)
    draft = None
    if scenario.draft is not None:
        draft_model = load_model(scenario.draft) if isinstance(scenario.draft, str) else scenario.draft
        plain = {k: v for k, v in asked.items()
                 if k not in ("speculative", "acceptance", "draft", "layers", "request_rate")}
        draft = simulate(system, draft_model, mapping=mapping, registry=registry,
                         **{**plain, "batch": scenario.batch})
    return speculative.combine(target, verify, draft, scenario, system)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A job sized as :func:`simulate` sizes it, before its run: the engine, the system to run
    on (grown where sizing took more nodes), the model, the scenario as asked (resolved
    against the model) and as sized, the mapping, and the keywords after default sizing."""
    engine: Any
    system: Any
    model: ModelSpec
    asked: Scenario
    sized: Any                      # wafersim.sizing.Sized: the scenario with numbers, notes, a run made
    mapping: MappingOptions
    keywords: dict[str, Any]


def prepare(system: WaferSpec | GpuSystemSpec | str, model: ModelSpec | str, *,
            mapping: MappingOptions | dict | None = None, registry: engines.Registry = engines.DEFAULT,
            runtime: str | None = None, **scenario: Any) -> Prepared:
    """Load, check and size a job as :func:`simulate` does, without running it (the request
    simulator asks the engine for many step times on one sized deployment)."""
    if isinstance(system, str):
        system = load_system(system, runtime=runtime)
    elif runtime is not None and isinstance(system, (WaferSpec, GpuSystemSpec)):
        system = with_runtime(system, runtime)
    elif not isinstance(system, (WaferSpec, GpuSystemSpec)):
        raise ConfigError("simulate", "system", "expected a WaferSpec, a GpuSystemSpec or a preset name or path; "
                          f"got {type(system).__name__}")
    if isinstance(model, str):
        model = load_model(model)
    elif not isinstance(model, ModelSpec):
        raise ConfigError("simulate", "model", f"expected a ModelSpec or a preset name or path; "
                          f"got {type(model).__name__}")
    scenario = default_sizing(getattr(system, "kind", None), scenario)
    try:
        sc = Scenario(**scenario).resolved(model)
    except TypeError as exc:
        raise ConfigError("simulate", "", f"{exc}; known scenario keys: "
                          f"{', '.join(f.name for f in dataclasses.fields(Scenario))}") from None
    if mapping is None:
        mapping = MappingOptions()
    elif isinstance(mapping, dict):
        mapping = build(MappingOptions, mapping, "mapping")
    elif not isinstance(mapping, MappingOptions):
        raise ConfigError("simulate", "mapping", f"expected MappingOptions, a dict or None; got {type(mapping).__name__}")
    kind = getattr(system, "kind", None)
    if kind not in registry.kinds():
        raise ConfigError("simulate", "system", f"expected a spec of a kind with an engine "
                          f"({', '.join(registry.kinds())}); got {type(system).__name__}")
    sc = check_kind(kind, sc)
    check_precision(system, sc)
    engine = registry.get(kind, sc.fidelity).engine()
    sized = size(engine, system, model, sc, mapping)
    return Prepared(engine, sized.system or system, model, sc, sized, mapping, scenario)
