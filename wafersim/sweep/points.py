"""The points of a sweep: each one's system, model, scenario and mapping built exactly as
the run will build them, checked before anything runs, and the coordinates of each axis.

:func:`plan` refuses the sweep at the first invalid point, naming the spec file, the
axis and the value (and how many points are invalid); a valid plan holds every
point's job, plain values a worker process runs with
:func:`wafersim.sweep.records.run_point`, and a digest that names exactly those jobs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..config import ConfigError, WafersimError, build
from ..engines import registry as engines
from ..mapping.options import MappingOptions
from ..presets import load_model, load_runtime, load_system
from ..sizing import check_gpu_count, check_kind, default_sizing
from ..units import base_unit
from ..workload.scenario import Scenario
from .spec import GPU_ONLY, SCENARIO_KEYS, SERVE_KEYS, WAFER_ONLY, SweepSpec, _number, _short

__all__ = ["Coordinate", "SweepPlan", "plan", "job_for", "settings_of"]

_SCENARIO_UNITS = {"prompt_tokens": "tokens", "output_tokens": "tokens", "serve.rate": "1/s",
                   "serve.max_running": "", "serve.max_batched_tokens": "tokens", "serve.block_tokens": "tokens"}
#: quantity kinds counted in whole base units: an axis of them is stored as integers where
#: every value is whole (bytes of SRAM: 65536, not 65536.0)
WHOLE_UNITS = frozenset({"bytes"})


@dataclass(frozen=True)
class Coordinate:
    """The value one axis key takes along its axis, as stored: numbers in SI units or text."""
    key: str
    values: tuple[Any, ...]
    units: str
    written: tuple[Any, ...]


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: the spec, every point's job (plain JSON values a worker runs) and the
    coordinates of each axis key; ``digest`` names exactly this list of jobs."""
    spec: SweepSpec
    jobs: tuple[dict[str, Any], ...]
    coordinates: dict[str, tuple[Coordinate, ...]] = field(default_factory=dict)
    digest: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return self.spec.shape

    def __len__(self) -> int:
        return len(self.jobs)


def settings_of(spec: SweepSpec, index: tuple[int, ...]) -> dict[str, Any]:
    """Every setting of one point (canonical key -> value as written): the fixed ones, then
    each axis's value at ``index``."""
    out = dict(spec.fixed)
    for axis, i in zip(spec.axes, index):
        for key, vals in zip(axis.keys, axis.values):
            out[key] = vals[i]
    return out


def _resolve_preset(ref: str, folder: str) -> str:
    """A preset path relative to the spec's folder made absolute (workers may run elsewhere);
    a name stays a name."""
    if "/" in ref or ref.endswith(".toml"):
        p = Path(ref)
        if not p.is_absolute() and (Path(folder) / p).exists():
            return str((Path(folder) / p).resolve())
    return ref


def job_for(spec: SweepSpec, index: tuple[int, ...], cache: dict | None = None) -> tuple[dict[str, Any], Any, Any, Any]:
    """The job of one point (plain values) and its loaded system, model and mapping; a
    ConfigError (from the loaders, Scenario, the registry) when the point is invalid."""
    s = settings_of(spec, index)
    system_sets = {k[7:]: v for k, v in s.items() if k.startswith("system.")}
    model_sets = {k[6:]: v for k, v in s.items() if k.startswith("model.")}
    mapping_sets = {k[8:]: v for k, v in s.items() if k.startswith("mapping.")}
    system_ref = _resolve_preset(s["system"], spec.folder)
    model_ref = _resolve_preset(s["model"], spec.folder)
    cache = {} if cache is None else cache
    runtime = _runtime_for(s.get("runtime"), system_ref, system_sets, cache)
    system = _blamed("system", load_system, system_ref, system_sets, cache, runtime)
    model = _blamed("model", load_model, model_ref, model_sets, cache)
    scenario = {k: s[k] for k in SCENARIO_KEYS if k in s}
    wafer = system.kind == "wafer"
    # a key for the other kind of system is dropped (as in compare); what is left out is sized
    # as every command sizes it (wafersim.sizing.default_sizing)
    for key in (GPU_ONLY if wafer else WAFER_ONLY):
        scenario.pop(key, None)
    scenario = default_sizing(system.kind, scenario)
    if wafer:
        mapping = build(MappingOptions, mapping_sets, "mapping")
    else:
        mapping_sets, mapping = {}, None
    try:
        sc = Scenario(**scenario)
    except TypeError as exc:      # a key Scenario does not take (cannot come from a parsed spec)
        raise ConfigError("scenario", "", str(exc)) from None
    resolved = check_kind(system.kind, sc.resolved(model))
    if not wafer:
        _gpu_checks(system, model, resolved)
    if "fidelity" in scenario:      # as in compare: a kind without the engine asked for runs its default
        scenario["fidelity"] = engines.DEFAULT.fidelity_or_default(system.kind, sc.fidelity)
    job = {"system": system_ref, "model": model_ref, "runtime": runtime, "system_sets": system_sets, "model_sets": model_sets,
           "mapping": mapping_sets if wafer else None, "scenario": scenario}
    if spec.command == "serve":
        job["serve"] = _serve_settings(s)
    return job, system, model, mapping


def _serve_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A serving point's settings, checked (an error names the ``serve.<key>`` it is in)."""
    from ..serving.points import check
    out = {k[6:]: v for k, v in settings.items() if k.startswith("serve.")}
    try:
        check(out)
    except ConfigError as exc:
        named = [k for k in (exc.key, exc.source) if k in SERVE_KEYS]
        exc.sweep_key = f"serve.{named[0]}" if named else "serve"
        raise
    return out


def _gpu_checks(system: Any, model: Any, sc: Scenario) -> None:
    """The checks a GPU point meets at run time that need no sizing: the GPU count against the
    nodes the system may span, and a fixed layout (tp, pp, ep) against the system and model."""
    if isinstance(sc.gpus, int):
        check_gpu_count(system, sc.gpus)
    if sc.gpus is None and all(isinstance(v, int) for v in (sc.tp, sc.pp, sc.ep)):
        from ..engines.gpu_memory import GpuMemory
        GpuMemory(system, model, sc)


def _blamed(target: str, load: Any, ref: str, sets: Mapping[str, Any], cache: dict, runtime: str | None = None) -> Any:
    """Load a preset (once per plan for each preset, overrides and runtime: specs are frozen); an
    error that is not in an override is the preset's (the ``system`` or ``model`` key)."""
    key = (target, ref, json.dumps(sets, sort_keys=True), runtime)
    try:
        if key not in cache:
            extra = {"runtime": runtime} if runtime is not None else {}
            cache[key] = load(ref, sets, origin=_origin(target, sets), **extra)
        return cache[key]
    except ConfigError as exc:
        if not exc.source.startswith("--set "):
            exc.sweep_key = target
        raise


def _runtime_for(name: str | None, system_ref: str, system_sets: Mapping[str, Any], cache: dict) -> str | None:
    """The runtime profile a point's system runs: the spec's ``runtime`` where the profile has
    settings for the system's kind, else (as a flag for the other kind of system) the kind's
    default; an unknown profile is an error on the ``runtime`` key."""
    if name is None:
        return None
    try:
        profile = load_runtime(name)
    except ConfigError as exc:
        exc.sweep_key = "runtime"
        raise
    kind = _blamed("system", load_system, system_ref, system_sets, cache).kind
    return name if profile.applies_to(kind) else None


def _origin(target: str, sets: Mapping[str, Any]) -> dict[str, str]:
    return {k: f"{target}.{k}={_typed(v)} (sweep)" for k, v in sets.items()}


def _typed(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _error_keys(error: ConfigError) -> set[str]:
    """Canonical spec keys an error may come from: the override a loader names, or the
    scenario or mapping key."""
    src, key = error.source or "", error.key or ""
    out = set()
    if src.startswith("--set "):
        out.add(src[6:].split("=", 1)[0])
    if src == "scenario" and key:
        out.add(key)
    if src == "mapping" and key:
        out.add(f"mapping.{key}")
    if getattr(error, "sweep_key", None):
        out.add(error.sweep_key)
    return out


def _blame(spec: SweepSpec, index: tuple[int, ...], error: ConfigError) -> str:
    """"spec.toml, axis 'batch' = 64" for the axis (or fixed key) an error comes from, else
    every axis value of the point."""
    keys = _error_keys(error)
    for axis, i in zip(spec.axes, index):
        for key, vals in zip(axis.keys, axis.values):
            if key in keys:
                return f"{spec.source}, axis '{axis.name}' = {_short(vals[i])}"
    for key in sorted(keys):
        if key in spec.fixed:
            return f"{spec.source}, {key} = {_short(spec.fixed[key])}"
    where = ", ".join(f"{a.name} = {_short(a.values[0][i])}" for a, i in zip(spec.axes, index))
    return f"{spec.source}, point ({where})" if where else spec.source


def plan(spec: SweepSpec) -> SweepPlan:
    """Build and check every point of ``spec``.  Raises a :class:`ConfigError` naming the
    spec file, the axis and its value at the first invalid point (and how many are invalid)."""
    indices = list(itertools.product(*(range(n) for n in spec.shape)))
    kinds = _kinds(spec)
    _check_kind_keys(spec, kinds)
    _check_fidelities(spec)
    jobs, problems, loaded, cache = [], [], [], {}
    for index in indices:
        try:
            job, system, model, mapping = job_for(spec, index, cache)
        except WafersimError as exc:
            err = exc if isinstance(exc, ConfigError) else ConfigError("", "", str(exc))
            blamed = ConfigError(_blame(spec, index, err), err.key, err.message)
            if getattr(err, "sweep_key", None) and err.source:       # which file the preset error is in
                blamed = ConfigError(_blame(spec, index, err), "", f"{err}")
            problems.append(blamed)
            continue
        job["index"] = len(jobs) + len(problems)
        job["coords"] = {a.name: list(index)[n] for n, a in enumerate(spec.axes)}
        jobs.append(job)
        loaded.append((system, model, mapping))
    if problems:
        first = problems[0]
        more = f" ({len(problems)} of {len(indices)} points are invalid)" if len(problems) > 1 else ""
        raise ConfigError(first.source, first.key, first.message + more)
    coordinates = _coordinates(spec, loaded, indices)
    digest = hashlib.sha256(json.dumps([spec.shape, [a.name for a in spec.axes], jobs], sort_keys=True,
                                       default=str).encode()).hexdigest()
    return SweepPlan(spec, tuple(jobs), coordinates, digest)


def _kinds(spec: SweepSpec) -> set[str]:
    refs = [spec.fixed["system"]] if "system" in spec.fixed else \
        [v for a in spec.axes for k, vals in zip(a.keys, a.values) if k == "system" for v in vals]
    kinds = set()
    for ref in refs:
        try:
            kinds.add(load_system(_resolve_preset(ref, spec.folder)).kind)
        except WafersimError:
            pass      # reported with its axis when the point is built
    return kinds


def _check_kind_keys(spec: SweepSpec, kinds: set[str]) -> None:
    """A key for one kind of system needs a system of that kind in the sweep."""
    if not kinds:
        return
    keys = [*spec.fixed, *(k for a in spec.axes for k in a.keys)]
    for key in keys:
        wafer_key = key in WAFER_ONLY or key.startswith("mapping.")
        if wafer_key and "wafer" not in kinds:
            raise ConfigError(spec.source, key, "applies to wafer systems; this sweep has none")
        if key in GPU_ONLY and "gpu" not in kinds:
            raise ConfigError(spec.source, key, "applies to GPU systems; this sweep has none")


def _check_fidelities(spec: SweepSpec) -> None:
    """A fidelity no kind of system has is an error, not a silent default."""
    known = engines.DEFAULT.fidelities()
    for axis in spec.axes:
        for key, vals in zip(axis.keys, axis.values):
            if key == "fidelity":
                for v in vals:
                    if v not in known:
                        raise ConfigError(f"{spec.source}, axis '{axis.name}' = {_short(v)}", "fidelity",
                                          f"expected one of {', '.join(known)}")
    v = spec.fixed.get("fidelity")
    if v is not None and v not in known:
        raise ConfigError(spec.source, "scenario.fidelity", f"expected one of {', '.join(known)}; got {_short(v)}")


def _coordinates(spec: SweepSpec, loaded: list, indices: list[tuple[int, ...]]) -> dict[str, tuple[Coordinate, ...]]:
    """Per axis, each key's coordinate: SI values of configuration keys (read back from the
    built specs), preset names for system and model, scenario values as written."""
    out: dict[str, tuple[Coordinate, ...]] = {}
    for n, axis in enumerate(spec.axes):
        coords = []
        for key, written in zip(axis.keys, axis.values):
            firsts = {}
            for (system, model, mapping), index in zip(loaded, indices):
                firsts.setdefault(index[n], (system, model, mapping))
            vals, units = [], ""
            for i in range(axis.size):
                system, model, mapping = firsts[i]
                v, units_i = _coordinate(key, written[i], system, model, mapping)
                vals.append(v)
                units = units or units_i
            vals = _uniform(vals)
            if not axis.zipped and len(set(vals)) != len(vals):
                dup = next(v for v in vals if vals.count(v) > 1)
                raise ConfigError(spec.source, f"axes.{axis.name}", f"two values are the same ({_short(dup)}) "
                                                                  "once read; each value of an axis must differ")
            coords.append(Coordinate(key, tuple(vals), units, tuple(written)))
        out[axis.name] = tuple(coords)
    return out


def _coordinate(key: str, written: Any, system: Any, model: Any, mapping: Any) -> tuple[Any, str]:
    if key == "system":
        return system.name, ""
    if key == "model":
        return model.name, ""
    head, _, rest = key.partition(".")
    target = {"system": system, "model": model, "mapping": mapping}.get(head) if rest else None
    if target is not None:
        value, md = _lookup(target, rest)
        if md is not None:
            if md.get("kind") != "quantity":
                return value, ""
            if md["unit"] in WHOLE_UNITS and float(value).is_integer():
                value = int(value)          # "48 KiB" is 49152 bytes, a whole number, stored as one
            return value, base_unit(md["unit"])
    return written, _SCENARIO_UNITS.get(key, "")


def _lookup(spec: Any, dotted: str) -> tuple[Any, Mapping[str, Any] | None]:
    node, md = spec, None
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(node):
            return None, None
        fields = {f.name: f for f in dataclasses.fields(node)}
        if part not in fields:
            return None, None
        md = fields[part].metadata
        node = getattr(node, part)
    return node, md


def _uniform(vals: list[Any]) -> list[Any]:
    """All booleans, all integers, all numbers (as floats) or else all text."""
    if all(isinstance(v, bool) for v in vals):
        return vals
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return vals
    if all(_number(v) for v in vals):
        return [float(v) for v in vals]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in vals]
