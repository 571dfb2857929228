"""The outcome of one simulated run, in a form both people and scripts read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .phase import PhaseTime

# summary key -> (unit, meaning); the order is the order `show` and `--json` use.
SUMMARY_FIELDS: dict[str, tuple[str, str]] = {
    "system": ("", "hardware preset"),
    "model": ("", "model preset"),
    "kind": ("", "wafer or gpu"),
    "fidelity": ("", "engine that produced the numbers"),
    "batch": ("", "sequences decoded together"),
    "prompt_tokens": ("tokens", "prompt length per sequence"),
    "output_tokens": ("tokens", "generated tokens per sequence"),
    "layers": ("", "decoder layers simulated"),
    "devices": ("", "wafers or GPUs used"),
    "ttft_s": ("s", "time to first token (prefill)"),
    "tpot_s": ("s", "time per output token (mean decode step)"),
    "tokens_per_s_per_user": ("tokens/s", "decode speed one sequence sees"),
    "tokens_per_s": ("tokens/s", "decode throughput of the whole batch"),
    "fits_on_chip": ("", "weights and KV cache fit in on-chip memory (SRAM or HBM)"),
    "spilled_bytes": ("B", "bytes held in external / host memory"),
    "weight_bytes": ("B", "weight bytes of the simulated layers"),
    "kv_bytes": ("B", "KV-cache bytes at the longest context"),
    "bottleneck": ("", "resource that bounds a decode step"),
    "prefill_bottleneck": ("", "resource that bounds prefill"),
    "decode_bottleneck": ("", "resource that bounds a decode step"),
    "energy_per_token_j": ("J", "energy per generated token, static power included"),
    "decode_layer_s": ("s", "mean time of one decoder layer in a decode step"),
    "prefill_layer_s": ("s", "mean time of one decoder layer in prefill"),
}


# scalars some engines add, with their units
EXTRA_FIELDS: dict[str, tuple[str, str]] = {
    "placement": ("", "wafer layout strategy"),
    "cores_per_wafer": ("cores", "cores of each wafer the mapping uses"),
    "sram_capacity_bytes": ("B", "usable SRAM of the wafers used"),
    "micro_batches": ("", "micro-batches in flight through the layer pipeline"),
    "max_link_utilisation": ("", "share of a decode step the busiest mesh link is busy"),
    "tp": ("", "tensor-parallel GPUs"), "pp": ("", "pipeline stages"), "ep": ("", "expert-parallel ranks"),
    "max_batch": ("", "largest batch whose KV cache fits in HBM"),
    "kv_capacity_per_gpu_bytes": ("B", "HBM left for KV cache per GPU"),
    "allreduce_algorithm": ("", "all-reduce algorithm chosen on the topology"),
    "alltoall_algorithm": ("", "all-to-all algorithm chosen on the topology"),
    "p2p_algorithm": ("", "point-to-point algorithm chosen on the topology"),
    "measured": ("", "published value of the metric (validate)"),
    "predicted": ("", "predicted value of the metric (validate)"),
    "metric": ("", "summary key compared (validate)"),
    "relative_error": ("", "(predicted - measured) / measured (validate)"),
    "calibration": ("", "a preset field was fitted to this row (validate)"),
    "source": ("", "where the measurement was published (validate)"),
}


def capacity_note(spilled_bytes: float, capacity_bytes: float, where: str) -> list[str]:
    """A warning when the spill would not fit in the memory it spills to."""
    if spilled_bytes <= capacity_bytes:
        return []
    return [f"the spill ({spilled_bytes / 1e12:.3g} TB) exceeds the {capacity_bytes / 1e12:.3g} TB of {where}: "
            "this configuration cannot run as given"]


def field_info(key: str) -> tuple[str, str]:
    """(units, description) of a summary key."""
    if key in SUMMARY_FIELDS:
        return SUMMARY_FIELDS[key]
    if key in EXTRA_FIELDS:
        return EXTRA_FIELDS[key]
    if key.startswith("energy_") and key.endswith("_j"):
        return "J", f"energy per generated token: {key[7:-2]}"
    return "", ""


@dataclass(frozen=True)
class LayerArray:
    """An array for the results file, with named dimensions and units."""
    data: np.ndarray
    dims: tuple[str, ...]
    units: str
    description: str
    labels: dict[str, tuple[str, ...]] | None = None   # names along a dimension, e.g. directions


@dataclass
class RunResult:
    """Summary scalars, phase breakdowns, per-layer arrays and the resolved configuration."""
    summary: dict[str, Any]
    config: dict[str, Any]
    prefill: PhaseTime
    decode: PhaseTime
    arrays: dict[str, LayerArray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    attachments: dict[str, str] = field(default_factory=dict)  # e.g. a GraphML topology

    def __post_init__(self) -> None:
        missing = [k for k in SUMMARY_FIELDS if k not in self.summary]
        if missing:
            raise ValueError(f"RunResult summary lacks {missing}")

    def to_json(self) -> dict[str, Any]:
        out = {k: _plain(self.summary[k]) for k in SUMMARY_FIELDS}
        out.update({k: _plain(v) for k, v in self.summary.items() if k not in out})
        out["prefill_components_s"] = dict(sorted(self.prefill.components.items()))
        out["decode_components_s"] = dict(sorted(self.decode.components.items()))
        out["notes"] = list(self.notes)
        return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def make_summary(*, system: str, model: str, kind: str, fidelity: str, scenario: Any, batch: int,
                 devices: int, prefill: PhaseTime, decode: PhaseTime, fits: bool, spilled_bytes: float,
                 weight_bytes: float, kv_bytes: float, energy_per_token_j: float, decode_layer_s: float,
                 prefill_layer_s: float, **extra: Any) -> dict[str, Any]:
    """The summary every engine reports, derived in one place (tokens/s from the step time)."""
    tpot = decode.time_s
    out = {
        "system": system, "model": model, "kind": kind, "fidelity": fidelity, "batch": batch,
        "prompt_tokens": scenario.prompt_tokens, "output_tokens": scenario.output_tokens,
        "layers": scenario.layers, "devices": devices, "ttft_s": prefill.time_s, "tpot_s": tpot,
        "tokens_per_s_per_user": 1.0 / tpot, "tokens_per_s": batch / tpot,
        "fits_on_chip": bool(fits), "spilled_bytes": float(spilled_bytes),
        "weight_bytes": float(weight_bytes), "kv_bytes": float(kv_bytes),
        "bottleneck": decode.bottleneck, "prefill_bottleneck": prefill.bottleneck,
        "decode_bottleneck": decode.bottleneck, "energy_per_token_j": energy_per_token_j,
        "decode_layer_s": decode_layer_s, "prefill_layer_s": prefill_layer_s,
    }
    out.update(extra)
    return out
