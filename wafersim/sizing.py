"""Sizing a run: ``--batch max``, ``--wafers auto`` and ``--tp auto`` for any engine.

Sizing asks the engine's :class:`~wafersim.engines.capacity.Capacity` what fits
and never looks inside the engine:

* ``wafers = auto``: the fewest devices that hold the weights and the KV cache
  of the batch (one sequence when the batch is ``max``); when none does, the
  fewest that hold the weights;
* ``batch = max``: the largest batch that fits on the devices chosen;
* ``tp = auto`` (GPU systems): the tensor parallelism a latency-minded engineer
  would pick: powers of two within one node that divide the heads; the fastest
  decode step among those that hold the job (the fastest overall when none
  does); ties go to fewer GPUs.  Each candidate is sized and run; the chosen
  run is handed back so it is not run twice.
* ``gpus = auto`` (GPU systems): the fewest whole allocation units (a node, or
  ``deployment.unit_gpus`` GPUs of one, such as a GB200 NVL72 compute tray; up to
  ``interconnect.max_nodes`` nodes) on which some parallel layout holds the
  weights and the KV cache; ``gpus = N``: N GPUs.  The layout (tp within a node, pp,
  ep for mixture-of-experts models; whichever of them the scenario leaves at 1)
  is the fastest decode step among those that hold the job.  The run's system
  then has as many nodes as the job spans.  A ``tp x pp x ep`` beyond the
  preset's nodes grows the system the same way, up to ``max_nodes``.

Which scenario key counts a kind's devices, and which keys do not apply to a
kind, is declared here once (:data:`DEVICE_KEY`, :data:`FOREIGN_KEYS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from . import provenance
from .config import ConfigError
from .engines.capacity import Capacity
from .engines.registry import Engine
from .mapping.options import MappingOptions
from .results.run_result import RunResult
from .text import plural
from .workload.model import ModelSpec
from .workload.scenario import MAXIMUM as SCENARIO_MAXIMUM, Scenario

__all__ = ["Sized", "size", "check_kind", "fewest_devices", "tensor_parallel_options", "default_sizing",
           "held_layout", "DEVICE_KEY", "FOREIGN_KEYS", "SIZING_KEYS"]

#: the scenario key that counts a kind's devices when it may be "auto"
DEVICE_KEY = {"wafer": "wafers"}
#: scenario keys that do not apply to a kind: key -> (values allowed, why)
FOREIGN_KEYS: dict[str, dict[str, tuple[tuple[Any, ...], str]]] = {
    "wafer": {"gpus": ((None,), "--gpus applies to GPU systems; a wafer uses --wafers"),
              "tp": ((1, "auto"), "--tp and --pp apply to GPU systems; a wafer uses --wafers"),
              "pp": ((1,), "--tp and --pp apply to GPU systems; a wafer uses --wafers"),
              "ep": ((1,), "--ep applies to GPU systems; a wafer uses --wafers")},
    "gpu": {"wafers": ((1, "auto"), "--wafers applies to wafer systems; GPU systems use --gpus/--tp/--pp/--ep"),
            "query_tokens": ((1,), "query_tokens (a speculative verify pass) is set by the runner on GPU "
                                   "systems: use --speculative and --acceptance")},
}
#: what a sizing note adds when ``auto`` took more than one device: how to see the cliff
_FEWER = {"wafers": " (--wafers 1 runs on one wafer, to see the cliff)",
          "gpus": " (--gpus 1 runs on one GPU, to see the cliff)"}
#: the scenario keys that say how many devices a job runs on and how it is laid out over them
SIZING_KEYS = ("wafers", "gpus", "tp", "pp", "ep")
_TP_CHOICES = (1, 2, 4, 8, 16, 32, 64)
MAX_BATCH = SCENARIO_MAXIMUM["batch"]


@dataclass(frozen=True)
class Sized:
    """A scenario with every ``max`` and ``auto`` replaced by a number, the notes that say
    how, the run a search already made with exactly this scenario (if any), and the
    system to run on when sizing grew it (more GPU nodes)."""
    scenario: Scenario
    notes: tuple[str, ...] = ()
    result: RunResult | None = None
    system: Any = None


def default_sizing(kind: str, scenario: dict[str, Any]) -> dict[str, Any]:
    """The scenario keywords with the sizing a user left out filled in, the same for every
    command and for :func:`wafersim.simulate`: a system holds the job.

    A key left out or ``None`` is not given.  A wafer system gets ``wafers = "auto"`` (the
    fewest wafers that hold the job).  A GPU system with none of ``gpus``, ``tp``, ``pp``
    and ``ep`` given gets ``gpus = "auto"`` (the fewest whole units that hold the job, in
    the fastest layout); one with ``pp`` or ``ep`` but no ``tp`` gets ``tp = "auto"``.
    To see the cliff, ask for fewer devices (``wafers=1``, ``gpus=1`` or ``tp=1``).
    """
    out = {k: v for k, v in scenario.items() if not (k in SIZING_KEYS and v is None)}
    if kind == "wafer":
        out.setdefault("wafers", "auto")
    elif kind == "gpu":
        if not any(k in out for k in ("gpus", "tp", "pp", "ep")):
            out["gpus"] = "auto"
        elif "tp" not in out and "gpus" not in out:
            out["tp"] = "auto"
    return out


def held_layout(kind: str, summary: Any) -> dict[str, Any]:
    """The scenario keys that keep a sized run's hardware and layout (its devices, or its
    ``tp x pp x ep``) while something else about the job changes."""
    if kind == "wafer":
        return {"wafers": int(summary["devices"])}
    return {"tp": int(summary["tp"]), "pp": int(summary["pp"]), "ep": int(summary["ep"])}


def check_kind(kind: str, scenario: Scenario) -> Scenario:
    """Refuse scenario keys meant for another kind of system; return the scenario with
    those keys at their defaults (``tp = auto`` on a wafer means 1)."""
    for key, (allowed, why) in FOREIGN_KEYS.get(kind, {}).items():
        if getattr(scenario, key) not in allowed:
            raise ConfigError("scenario", key, why)
    defaults = {key: allowed[0] for key, (allowed, _) in FOREIGN_KEYS.get(kind, {}).items()}
    return replace(scenario, **defaults)


def fewest_devices(capacity: Capacity, batch: int) -> tuple[int, str]:
    """The fewest devices that hold ``batch``; else the fewest that hold the weights; else
    the most allowed.  Returns the count and which of the three it is, in words."""
    start, limit = capacity.device_range(batch)
    for n in range(start, limit + 1):
        if capacity.fits(batch, n):
            return n, "the fewest that hold the job"
    for n in range(1, limit + 1):
        if capacity.holds_weights(batch, n):
            return n, "the fewest that hold the weights (the KV cache spills)"
    return limit, "the most allowed (the weights spill)"


def tensor_parallel_options(system: Any, model: ModelSpec, scenario: Scenario) -> list[int]:
    """Powers of two within one node that divide the attention heads and the KV heads
    (or are multiples of them) and leave room for the scenario's pp x ep."""
    kvh = model.kv_cache_heads
    node = min(system.interconnect.gpus_per_node, system.num_gpus)
    return [t for t in _TP_CHOICES if t <= node and model.num_heads % t == 0 and (kvh % t == 0 or t % kvh == 0)
            and t * scenario.pp * scenario.ep <= system.num_gpus]


def with_nodes(system: Any, nodes: int) -> Any:
    """``system`` with ``nodes`` nodes (same preset, same provenance)."""
    if nodes == system.interconnect.nodes:
        return system
    grown = replace(system, interconnect=replace(system.interconnect, nodes=nodes))
    return provenance.attach(grown, system.provenance) if system.provenance is not None else grown


def size(engine: Engine, system: Any, model: ModelSpec, scenario: Scenario, mapping: MappingOptions | None) -> Sized:
    """Resolve ``batch = max``, the kind's ``auto`` device count, ``gpus`` and ``tp = auto``."""
    if system.kind == "gpu" and scenario.gpus is not None:
        return _gpu_layout(engine, system, model, scenario, mapping)
    if system.kind == "gpu" and scenario.tp != "auto":
        needed = math.ceil(scenario.tp * scenario.pp * scenario.ep / system.interconnect.gpus_per_node)
        if system.interconnect.nodes < needed <= system.max_nodes:
            grown = size(engine, with_nodes(system, needed), model, scenario, mapping)
            return replace(grown, system=grown.system or with_nodes(system, needed))
    if scenario.tp == "auto":
        return _fastest_tensor_parallel(engine, system, model, scenario, mapping)
    capacity: Capacity = engine.capacity(system, model, scenario, mapping)
    key = DEVICE_KEY.get(system.kind)
    notes: list[str] = []
    asked = getattr(scenario, key) if key else None
    if asked == "auto":
        devices, why = fewest_devices(capacity, 1 if scenario.batch == "max" else scenario.batch)
        notes.append(f"--{key} auto: {devices}, {why}" + (_FEWER[key] if devices > 1 else ""))
    elif asked is not None:
        devices = asked
    else:
        devices = capacity.device_range(1)[0]
    capacity.check_devices(devices)
    batch = scenario.batch
    if batch == "max":
        batch = capacity.largest_batch(devices)
        if batch > MAX_BATCH:
            notes.append(f"--batch max: more than {MAX_BATCH} sequences fit; capped at {MAX_BATCH}, the most modelled")
            batch = MAX_BATCH
        elif batch == 1 and not capacity.fits(1, devices):
            notes.append(f"--batch max: not even one sequence of {scenario.max_context} tokens fits beside the "
                         "weights; ran batch 1")
        else:
            notes.append(f"--batch max: {plural(batch, 'sequence')} of {scenario.max_context} tokens fill the KV capacity")
    changes: dict[str, Any] = {"batch": batch}
    if key:
        changes[key] = devices
    sized = replace(scenario, **changes)
    sized.check_size(model)
    return Sized(sized, tuple(notes))


def _fastest_tensor_parallel(engine: Engine, system: Any, model: ModelSpec, scenario: Scenario,
                             mapping: MappingOptions | None) -> Sized:
    options = tensor_parallel_options(system, model, scenario)
    if len(options) <= 1:
        return size(engine, system, model, replace(scenario, tp=options[0] if options else 1), mapping)
    runs = []
    for tp in options:
        sized = size(engine, system, model, replace(scenario, tp=tp), mapping)
        runs.append((tp, sized, engine.simulate(system, model, sized.scenario, mapping)))
    fitting = [run for run in runs if run[2].summary["fits_on_chip"]] or runs
    tp, sized, result = min(fitting, key=lambda run: (run[2].summary["tpot_s"], run[0]))
    why = "that hold the job" if result.summary["fits_on_chip"] else "(none holds the job)"
    note = f"--tp auto: tp = {tp}, the fastest decode step among tp = {', '.join(map(str, options))} {why}"
    return Sized(sized.scenario, (*sized.notes, note), result)


def gpu_layouts(system: Any, model: ModelSpec, scenario: Scenario, gpus: int) -> list[tuple[int, int, int]]:
    """Every (tp, pp, ep) with tp x pp x ep = ``gpus``: tp a power of two within one node that
    divides the heads (and the KV heads, or is a multiple of them), ep a power of two that
    divides the experts, pp at most the layers.  A tp, pp or ep the scenario sets (other
    than 1) is kept."""
    tps = ([scenario.tp] if scenario.tp not in (1, "auto") else tensor_parallel_options(
        system, model, replace(scenario, pp=1, ep=1)))
    eps = [scenario.ep] if scenario.ep != 1 else [e for e in _TP_CHOICES if model.num_experts % e == 0]
    out = []
    for tp in tps:
        for ep in eps:
            if gpus % (tp * ep):
                continue
            pp = gpus // (tp * ep)
            if (scenario.pp == 1 or pp == scenario.pp) and pp <= (scenario.layers or model.num_layers):
                out.append((tp, pp, ep))
    return out


def _gpu_layout(engine: Engine, system: Any, model: ModelSpec, scenario: Scenario,
                mapping: MappingOptions | None) -> Sized:
    gpn, unit = system.interconnect.gpus_per_node, system.unit_gpus
    if scenario.gpus == "auto":
        counts = [n * unit for n in range(1, system.max_nodes * gpn // unit + 1)]
    else:
        counts = [scenario.gpus]
        check_gpu_count(system, scenario.gpus)
    fit_batch = 1 if scenario.batch == "max" else scenario.batch
    tried: list[tuple[Any, int, list[Scenario]]] = []
    for gpus in counts:
        grown = with_nodes(system, math.ceil(gpus / gpn))
        layouts = [replace(scenario, gpus=gpus, tp=tp, pp=pp, ep=ep)
                   for tp, pp, ep in gpu_layouts(grown, model, scenario, gpus)]
        if not layouts:
            continue
        fitting = [sc for sc in layouts if engine.capacity(grown, model, sc, mapping).fits(fit_batch, gpus)]
        tried.append((grown, gpus, fitting or layouts))
        if fitting:
            break
    if not tried:
        raise ConfigError("scenario", "gpus", f"no tp x pp x ep layout of {model.name} fills "
                          f"{' or '.join(map(str, counts[:3]))}{' ...' if len(counts) > 3 else ''} GPUs of {system.name}")
    grown, gpus, candidates = tried[-1]
    runs = []
    for sc in candidates:
        sized = size(engine, grown, model, replace(sc, gpus=None), mapping)
        sized = replace(sized, scenario=replace(sized.scenario, gpus=gpus))
        runs.append((sized, engine.simulate(grown, model, sized.scenario, mapping)))
    fitting_runs = [run for run in runs if run[1].summary["fits_on_chip"]] or runs
    sized, result = min(fitting_runs, key=lambda run: (run[1].summary["tpot_s"], run[0].scenario.pp,
                                                       run[0].scenario.tp))
    s = sized.scenario
    held = "hold the job" if result.summary["fits_on_chip"] else "were tried; none holds the job"
    what = (plural(math.ceil(gpus / gpn), "node") if unit == gpn
            else f"{plural(gpus // unit, 'unit')} of {unit} in {plural(math.ceil(gpus / gpn), 'node')}")
    how = (f"--gpus auto: {gpus} GPUs ({what}), the fewest whole {'nodes' if unit == gpn else 'units'} that {held}"
           if scenario.gpus == "auto" else f"--gpus {gpus}")
    note = (f"{how}; layout tp {s.tp} x pp {s.pp} x ep {s.ep}, the fastest decode step of "
            f"{plural(len(candidates), 'layout')}" + (_FEWER["gpus"] if scenario.gpus == "auto" and gpus > 1 else ""))
    return Sized(s, (*sized.notes, note), result, grown)


def check_gpu_count(system: Any, gpus: int) -> None:
    """Refuse a GPU count that needs more nodes than the system may span."""
    gpn = system.interconnect.gpus_per_node
    if math.ceil(gpus / gpn) > system.max_nodes:
        raise ConfigError("scenario", "gpus", f"{gpus} GPUs need {math.ceil(gpus / gpn)} nodes "
                          f"of {gpn}; {system.name} may span at most {system.max_nodes} "
                          "(interconnect.max_nodes)")
