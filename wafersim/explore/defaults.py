"""The space ``explore`` searches when none is given, per kind of system.

Wafers: ``wafers`` from 1 to twice the fewest that hold one sequence, every
``placement``, every ``order`` of the layer regions, the KV cache ``kv`` local or
pooled, each layer's ``region`` uncapped or capped at squares of 32 to 512
cores a side (those that fit the mesh), the ``cores`` used (all, or a centred
block of three quarters or half of each side) and ``batch`` in powers of two up to
the largest that fits on the most wafers of the axis, and that largest.

GPU systems: ``tp`` every power of two within one node that divides the heads, ``pp``
powers of two up to :data:`PP_MOST` stages (at most the layers), ``ep`` the powers of two
up to a node's GPUs that divide the experts (1 for a dense model), ``batch`` in powers of two up
to the largest that fits on the largest layout, and that largest.

A hardware search (``explore --hardware``): :func:`hardware_space`, the design's variables
scaled (:mod:`wafersim.explore.hardware`).

Each bound comes from one or two sizing runs of the same engine; ``replicas`` is not
searched by default, since it changes no per-user or per-unit figure.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..mapping.options import KV_PLACES, ORDERS, PLACEMENTS
from ..runner import simulate
from ..sizing import tensor_parallel_options
from ..workload.scenario import Scenario
from .hardware import DEFAULT_BATCH, DEFAULT_SCALES, DIE_SHARE, PREFIX, Hardware, scaled
from .space import Space

__all__ = ["default_space", "hardware_space", "BATCH_MOST", "PP_MOST", "REGION_SIDES", "CORE_SHARES"]

#: the largest batch a default axis reaches (powers of two up to the largest that fits)
BATCH_MOST = 4096
#: the most pipeline stages a default GPU axis reaches
PP_MOST = 8
#: cores a side of the capped regions of the default wafer axis
REGION_SIDES = (32, 64, 128, 256, 512)
#: share of each mesh side the default ``cores`` axis keeps (1: the whole wafer)
CORE_SHARES = (1.0, 0.75, 0.5)


def _powers(most: int) -> list[int]:
    out, v = [], 1
    while v <= most:
        out.append(v)
        v *= 2
    return out


def _batches(most: int) -> list[int]:
    """Powers of two up to ``most``, and ``most`` itself."""
    return sorted({*_powers(most), most})


def _largest_batch(system: Any, model: Any, fixed: dict[str, Any], mapping: dict[str, Any] | None,
                   **layout: Any) -> int:
    run = simulate(system, model, mapping=mapping, **{**fixed, **layout, "batch": "max"})
    return min(int(run.summary["batch"]), BATCH_MOST)


def default_space(system: Any, model: Any, fixed: dict[str, Any], mapping: dict[str, Any] | None = None) -> Space:
    """The default space of ``system`` running ``model``; ``fixed`` holds the scenario keys every
    point shares (prompt, output, formats, layers, fidelity)."""
    if system.kind == "wafer":
        fewest = simulate(system, model, mapping=mapping, **{**fixed, "wafers": "auto", "batch": 1}).summary["devices"]
        most = min(2 * fewest, system.interwafer.max_wafers, fixed.get("layers") or model.num_layers)
        rows, cols = system.mesh.program_shape
        regions = [""] + [f"{s}x{s}" for s in REGION_SIDES if s < min(rows, cols)]
        cores = ["" if share == 1.0 else f"{int(rows * share)}x{int(cols * share)}" for share in CORE_SHARES]
        return Space.of({"wafers": list(range(1, most + 1)), "mapping.placement": list(PLACEMENTS),
                         "mapping.order": list(ORDERS), "mapping.kv": list(KV_PLACES), "mapping.region": regions, "mapping.cores": cores,
                         "batch": _batches(_largest_batch(system, model, fixed, mapping, wafers=most))})
    sc = replace(Scenario(), layers=fixed.get("layers"))
    tps = tensor_parallel_options(system, model, sc) or [1]
    layers = fixed.get("layers") or model.num_layers
    gpn = system.interconnect.gpus_per_node
    most_gpus = system.max_nodes * gpn
    pps = _powers(min(PP_MOST, layers, most_gpus // max(tps)))
    eps = [e for e in _powers(gpn) if model.num_experts % e == 0]
    # the batch axis reaches what the largest dense layout holds (a corner of tp x pp x ep beyond
    # the system's nodes is a refused point, not a bound)
    biggest = _largest_batch(system, model, fixed, None, tp=max(tps), pp=max(pps), ep=1)
    return Space.of({"tp": tps, "pp": pps, "ep": eps, "batch": _batches(biggest)})


def hardware_space(hw: Hardware) -> Space:
    """The default space of a hardware search: :data:`DEFAULT_SCALES` of the design's variables,
    cores per die (``design.die_cols``: :data:`DIE_SHARE` of a die's columns, or all) and
    ``batch`` :data:`DEFAULT_BATCH`."""
    d, g = hw.design, hw.base.figures.geometry
    axes: dict[str, list[Any]] = {}
    for key, scales in DEFAULT_SCALES.items():
        values = [scaled(key, getattr(d, key), s) for s in scales]
        axes[PREFIX + key] = list(dict.fromkeys(values))
    axes[PREFIX + "die_cols"] = list(dict.fromkeys([max(1, math.floor(g.die_cols * DIE_SHARE)), 0]))
    axes["batch"] = [DEFAULT_BATCH]
    return Space.of(axes)
