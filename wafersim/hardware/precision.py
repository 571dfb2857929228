"""What a system computes in which format: native tensor rates, unpacked weights, refusals.

A run's precision is three formats: the weights' (per tensor group: a checkpoint may
store its experts in MXFP4 and the rest in bf16), the format the matmuls multiply in (the
activations') and the KV cache's.  A system multiplies natively in the formats its
hardware has a rate for (GPUs: ``bf16_flops_per_s``, ``fp8_flops_per_s``,
``fp4_flops_per_s``; wafer cores: ``flops_per_cycle_16bit`` and ``flops_per_cycle_8bit``).
Weights stored in a format the system does not multiply are unpacked to the compute
format at a stated cost (GPUs: in the GEMM's loads, no time of their own; wafer cores:
``unpack_elements_per_cycle``).  A compute format the system has no rate for is refused.
"""

from __future__ import annotations

from typing import Any

from ..config import ConfigError
from ..workload.dtypes import WeightFormats, compute_class, dtype_format

__all__ = ["native", "check_precision", "precision_text", "unpack_notes", "layer_flops_per_cycle"]

#: what each rate class is called where a system lacks it
CLASS_WORDS = {"8bit": "FP8", "4bit": "FP4"}


def _unit(system: Any) -> Any:
    return system.gpu if system.kind == "gpu" else system.core


def _chip(system: Any) -> str:
    return system.gpu.model.split()[0] if system.kind == "gpu" else system.name


def native(system: Any, dtype: str) -> bool:
    """Whether ``system`` multiplies operands in ``dtype`` natively."""
    return _unit(system).computes(dtype)


def check_precision(system: Any, scenario: Any) -> None:
    """Refuse a compute format (``scenario.compute_dtype``) the system has no rate for, and
    weights wider than the format they are multiplied in."""
    c = scenario.compute_dtype
    if c is None:
        return
    if not native(system, c):
        what = "tensor cores" if system.kind == "gpu" else "arithmetic in its cores (FP16/BF16 SIMD only)"
        raise ConfigError("scenario", "compute_dtype",
                          f"{_chip(system)} has no {CLASS_WORDS.get(compute_class(c), c)} {what}; multiply in a "
                          f"format it has (--precision bf16), or store the weights in {c} and multiply in bf16 "
                          f"(--precision {c}/bf16/{scenario.kv_dtype or c}: weights unpacked as they are read)")
    for fmt in scenario.weights.formats:
        if dtype_format(fmt).bits > dtype_format(c).bits and compute_class(fmt) != compute_class(c):
            raise ConfigError("scenario", "dtype", f"weights in {fmt} are wider than the {c} they are multiplied "
                              f"in; store them in {c} too (--precision {c})")


def compute_format(system: Any, weight: str, compute: str | None) -> str:
    """The format a matmul with weights in ``weight`` multiplies in: ``compute`` when given, else
    the weights' own where the system has it, else bf16."""
    return compute or (weight if native(system, weight) else "bf16")


def precision_text(system: Any, scenario: Any) -> str:
    """'weights bf16 (experts mxfp4), compute bf16, KV bf16': what a run stores and multiplies in."""
    f = scenario.weights
    computes = dict.fromkeys(compute_format(system, w, scenario.compute_dtype) for w in f.formats)
    return f"weights {f.text()}, compute {'/'.join(computes)}, KV {scenario.kv_dtype or f.default}"


def unpack_notes(system: Any, scenario: Any) -> list[str]:
    """A note per weight format the system unpacks before it multiplies, with its cost."""
    out = []
    for w in scenario.weights.formats:
        c = compute_format(system, w, scenario.compute_dtype)
        if dtype_format(w).compute == compute_class(c):
            continue
        if system.kind == "gpu":
            cost = ("in the GEMM's loads (mixed-input kernels, as Marlin): no time of its own beyond the "
                    f"{c} rate and the {w} bytes read")
        else:
            rate = system.core.unpack_rate
            cost = (f"by the cores as they are used, {rate:g} elements a cycle (core.unpack_elements_per_cycle): "
                    f"matmuls at {system.core.flops_per_cycle(w, c) / system.core.flops_per_cycle('bf16', c):.2g} "
                    f"of the {c} rate")
        out.append(f"weights stored in {w} are unpacked to {c} {cost}")
    return out


def layer_flops_per_cycle(core: Any, model: Any, scenario: Any) -> float:
    """A wafer core's matmul FLOP per cycle over one layer: each tensor group's rate
    (:meth:`~wafersim.hardware.wafer.CoreSpec.flops_per_cycle`) weighted by the parameters a
    token runs through it (times add, so the mean is harmonic)."""
    f: WeightFormats = scenario.weights
    c = scenario.compute_dtype
    if f.uniform:
        return core.flops_per_cycle(f.default, c)
    groups = {"attention": model.attention_params, "": model.norm_params_per_layer + model.router_params,
              "mlp": model.fixed_mlp_width and model._fixed_mlp_params_total / model.num_layers,
              "experts": model.routed_active_params_per_layer}
    total = sum(groups.values())
    return total / sum(p / core.flops_per_cycle(f.of(g), c) for g, p in groups.items() if p)
