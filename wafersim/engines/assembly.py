"""One place where an engine's numbers become a :class:`~wafersim.results.run_result.RunResult`.

Every engine hands over the same things: the two phase times, what fits and
what spilled, the energy of one decode step split by part, its own notes and
arrays.  Here they become the typed summary (throughput from the step time,
bottlenecks from the phase components, energy per generated token), the notes
every run carries (spill beyond the backing memory, what bounds each phase)
and the resolved configuration.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from ..config import InputError
from ..hardware.precision import precision_text
from ..mapping.options import MappingOptions
from ..results.phase import PhaseTime
from ..results.run_result import LayerArray, RunResult
from ..results.summary import Summary, problems
from ..text import layers_scope
from ..units import format_quantity
from ..workload.scenario import Scenario

__all__ = ["MemoryUse", "assemble", "capacity_note"]


@dataclass(frozen=True)
class MemoryUse:
    """What a run keeps on chip, and where the rest goes."""
    fits: bool
    weight_bytes: float
    kv_bytes: float
    spilled_bytes: float
    spill_capacity_bytes: float       # of the memory the spill goes to
    spill_memory: str                 # its name, for the notes ("external memory", "host memory")


def capacity_note(spilled_bytes: float, capacity_bytes: float, where: str) -> list[str]:
    """A warning when the spill would not fit in the memory it spills to."""
    if spilled_bytes <= capacity_bytes:
        return []
    return [f"the spill ({format_quantity(spilled_bytes, 'bytes')}) exceeds the "
            f"{format_quantity(capacity_bytes, 'bytes')} of {where}: this configuration cannot run as given"]


def deployment_units(system: Any, devices: int) -> int:
    """The allocation units a job on ``devices`` GPUs or wafers occupies and is charged for:
    whole units of ``system.unit_gpus`` GPUs (a node, or a GB200 NVL72 compute tray), or
    one wafer's system per wafer."""
    per_unit = getattr(system, "unit_gpus", 1)
    return -(-int(devices) // per_unit)


def deployment_metrics(deployment: Any, units: int, tokens_per_s: float) -> dict[str, float]:
    """Wall power, price and running cost of ``units`` units, throughput per kW and per
    dollar, and wall energy per token (from that power, not the chip's per-bit energies);
    a metric whose preset value is unknown (0) is left out."""
    out: dict[str, float] = {}
    if deployment.unit_power_w > 0:
        out["power_w"] = units * deployment.unit_power_w
        out["tokens_per_s_per_kw"] = tokens_per_s / (out["power_w"] / 1e3)
        out["wall_energy_per_token_j"] = out["power_w"] / tokens_per_s
    if deployment.unit_price_usd > 0:
        out["cost_usd"] = units * deployment.unit_price_usd
    if deployment.usd_per_hour() > 0:
        out["usd_per_hour"] = units * deployment.usd_per_hour()
        out["usd_per_million_tokens"] = out["usd_per_hour"] / (tokens_per_s * 3600.0) * 1e6
    return out


#: out-of-sample error per "kind/metric", written by ``wafersim validate --write-band``
ERROR_BAND = Path(__file__).resolve().parents[1] / "validation" / "error_band.json"


@functools.cache
def _error_band() -> dict[str, dict[str, float]]:
    try:
        return json.loads(ERROR_BAND.read_text())
    except (OSError, ValueError):
        return {}


def trust(kind: str, scenario: Scenario, model: Any, fits: bool, devices: int, nodes: int | None) -> dict[str, Any]:
    """The validation error a result of this kind carries, and the parts of it that no shipped
    measurement was fitted to or checks (whole models on wafers, spill, several wafers or nodes)."""
    out: dict[str, Any] = {}
    band = _error_band().get(f"{kind}/tokens_per_s_per_user")
    if band and band.get("rows"):
        out["validation_error"] = float(band["median_abs_error"])
        out["validation_rows"] = int(band["rows"])
    parts = []
    if kind == "wafer" and scenario.layers == model.num_layers:
        parts.append("whole model on wafers (only per-layer timings are calibrated)")
    if kind == "wafer" and devices > 1:
        parts.append("wafer-to-wafer links")
    if not fits:
        parts.append("spill to " + ("external" if kind == "wafer" else "host") + " memory")
    if nodes is not None and nodes > 1:
        parts.append("several nodes over InfiniBand")
    out["uncalibrated"] = "; ".join(parts)
    return out


def layers_note(layers: int, model_layers: int) -> list[str]:
    """What a run of the first ``layers`` of a model's ``model_layers`` decoder layers (``--layers``) covers."""
    if layers >= model_layers:
        return []
    return [f"{layers_scope(layers, model_layers)} (--layers {layers}): tokens/s, memory, energy and price "
            "are not the whole model's"]


def runtime_fields(system: Any) -> dict[str, str]:
    """The runtime profile a system was loaded with (none for a spec built in Python)."""
    prov = getattr(system, "provenance", None)
    runtime = getattr(prov, "runtime", None)
    if not runtime:
        return {}
    return {"runtime": runtime["name"], "runtime_class": runtime["class"]}


def _refuse(system: Any, model: Any, bad: list[str]) -> None:
    """Results are finite and physically signed, or the run fails here, before anything
    prints or writes them."""
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    raise InputError(f"{getattr(system, 'name', system)} running {getattr(model, 'name', model)} gives no "
                     f"physical result: {bad[0]}{more}; the inputs lie outside what the model can cost")


def assemble(*, system: Any, model: Any, kind: str, fidelity: str, scenario: Scenario, devices: int,
             prefill: PhaseTime, decode: PhaseTime, memory: MemoryUse, step_energy_j: Mapping[str, float],
             decode_layer_s: float, prefill_layer_s: float, details: Mapping[str, Any] | None = None,
             notes: list[str] | None = None, arrays: dict[str, LayerArray] | None = None,
             attachments: dict[str, str] | None = None, mapping: MappingOptions | None = None,
             units: int | None = None) -> RunResult:
    """The result of one run.  ``scenario`` is resolved (batch and devices are numbers);
    ``step_energy_j`` is the energy of one decode step of the whole batch by part;
    ``details`` are the engine's own summary fields (e.g. ``tp``, ``placement``);
    ``units`` counts the system's allocation units the job occupies (default:
    :func:`deployment_units` of ``devices``)."""
    batch = scenario.batch
    tpot = decode.time_s
    if not (tpot > 0 and tpot < float("inf")):    # also catches NaN, before 1 / tpot
        _refuse(system, model, [f"tpot_s = {tpot!r} is not a finite time > 0"])
    energy = {f"energy_{part}_j": joules / batch for part, joules in step_energy_j.items()}
    summary = Summary(
        system=system.name, model=model.name, kind=kind, fidelity=fidelity, batch=batch,
        prompt_tokens=scenario.prompt_tokens, output_tokens=scenario.output_tokens, layers=scenario.layers,
        devices=devices, ttft_s=prefill.time_s, tpot_s=tpot,
        tokens_per_s_per_user=1.0 / tpot, tokens_per_s=batch / tpot,
        fits_on_chip=bool(memory.fits), spilled_bytes=float(memory.spilled_bytes),
        weight_bytes=float(memory.weight_bytes), kv_bytes=float(memory.kv_bytes),
        bottleneck=decode.bottleneck, prefill_bottleneck=prefill.bottleneck, decode_bottleneck=decode.bottleneck,
        energy_per_token_j=sum(step_energy_j.values()) / batch,
        decode_layer_s=decode_layer_s, prefill_layer_s=prefill_layer_s,
        tokens_per_s_per_device=batch / tpot / devices,
        precision=precision_text(system, scenario),
        request_tokens_per_s=batch * scenario.output_tokens / (prefill.time_s + (scenario.output_tokens - 1) * tpot),
        **runtime_fields(system),
        **deployment_metrics(system.deployment, deployment_units(system, devices) if units is None else units,
                             batch / tpot),
        **trust(kind, scenario, model, memory.fits, devices, (details or {}).get("nodes")),
        model_layers=model.num_layers if scenario.layers < model.num_layers else None,
        **dict(details or {}), **energy)
    bad = problems(summary)
    if bad:
        _refuse(system, model, bad)
    all_notes = [*layers_note(scenario.layers, model.num_layers),
                 *capacity_note(memory.spilled_bytes, memory.spill_capacity_bytes, memory.spill_memory),
                 *(notes or []),
                 f"decode step bound by {decode.bottleneck}; prefill bound by {prefill.bottleneck}"]
    config: dict[str, Any] = {"scenario": scenario.as_dict()}
    if mapping is not None:
        config["mapping"] = asdict(mapping)
    return RunResult(summary, config, prefill, decode, dict(arrays or {}), all_notes, dict(attachments or {}))
