"""The public entry point: one system, one model, one scenario -> RunResult."""

from __future__ import annotations

import dataclasses
from typing import Any

from . import provenance
from .config import ConfigError, build, to_dict
from .hardware.gpu import GpuSystemSpec
from .hardware.wafer import WaferSpec
from .presets import load_model, load_system
from .results.run_result import RunResult
from .workload.model import ModelSpec
from .mapping.options import MappingOptions
from .workload.scenario import Scenario

__all__ = ["simulate"]


def simulate(system: WaferSpec | GpuSystemSpec | str, model: ModelSpec | str, *,
             mapping: MappingOptions | dict | None = None, **scenario: Any) -> RunResult:
    """Simulate ``model`` on ``system``.

    ``system`` and ``model`` are specs or preset names/paths.  Scenario keywords:
    ``batch`` (int or "max"), ``prompt_tokens``, ``output_tokens``, ``dtype``,
    ``kv_dtype``, ``wafers`` (int or "auto"), ``tp``, ``pp``, ``ep`` (expert-parallel ranks), ``layers``,
    ``fidelity``.  ``mapping`` sets wafer placement (``placement``, ``cores``).
    """
    if isinstance(system, str):
        system = load_system(system)
    if isinstance(model, str):
        model = load_model(model)
    try:
        sc = Scenario(**scenario).resolved(model)
    except TypeError as exc:
        raise ConfigError("simulate", "", f"{exc}; known scenario keys: "
                          f"{', '.join(f.name for f in dataclasses.fields(Scenario))}") from None
    if mapping is None:
        mapping = MappingOptions()
    elif isinstance(mapping, dict):
        mapping = build(MappingOptions, mapping, "mapping")
    if isinstance(system, WaferSpec):
        if sc.tp not in (1, "auto") or sc.pp != 1:
            raise ConfigError("scenario", "tp", "--tp and --pp apply to GPU systems; a wafer uses --wafers")
        if sc.ep != 1:
            raise ConfigError("scenario", "ep", "--ep applies to GPU systems; a wafer uses --wafers")
        result = _simulate_wafer(system, model, sc, mapping)
    elif isinstance(system, GpuSystemSpec):
        if sc.wafers not in (1, "auto"):
            raise ConfigError("scenario", "wafers", "--wafers applies to wafer systems; GPU systems use --tp/--pp/--ep")
        result = _simulate_gpu(system, model, sc)
    else:
        raise TypeError(f"system must be a WaferSpec or GpuSystemSpec, got {type(system).__name__}")
    result.config.update({"system": to_dict(system), "model": to_dict(model),
                          "provenance": {"system": provenance.record(system), "model": provenance.record(model)}})
    return result


def _simulate_wafer(system: WaferSpec, model: ModelSpec, sc: Scenario, mapping: MappingOptions) -> RunResult:
    if sc.fidelity == "flow":
        try:
            from .engines.flow import simulate as flow_simulate
        except ImportError:
            raise ConfigError("scenario", "fidelity", "the flow engine is not available in this build") from None
        return flow_simulate(system, model, sc, mapping)
    from .engines.analytic_wafer import simulate as wafer_simulate
    return wafer_simulate(system, model, sc, mapping)


def _simulate_gpu(system: GpuSystemSpec, model: ModelSpec, sc: Scenario) -> RunResult:
    from .engines.analytic_gpu import auto_tensor_parallel
    from .engines.analytic_gpu import simulate as gpu_simulate
    if sc.tp == "auto":
        sc = dataclasses.replace(sc, tp=auto_tensor_parallel(system, model, sc))
    return gpu_simulate(system, model, sc)
