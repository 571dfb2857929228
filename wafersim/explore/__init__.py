"""Layout exploration: the best way to lay a model out on a system, under constraints.

:func:`explore` searches a discrete :class:`~wafersim.explore.space.Space` of wafer
mapping parameters (wafers, placement, region cap, cores used, batch) or GPU parallel
layouts (tp, pp, ep, replicas, batch) for the best value of one objective (time per
output token, tokens/s per device, per kW, per dollar, ...) among the points that
satisfy the constraints (devices, power, TTFT, fits on chip, ...), and reports the best
layouts, the Pareto front of two objectives among the feasible points, and what the
search cost.  ``wafersim explore`` is its command line.

Every point is one ``simulate`` run with the engine of ``fidelity``; a layout the engine
refuses is recorded as refused, not raised.  The search (:mod:`.methods`) is random
sampling plus best-first refinement over the discrete neighbours; for a given seed the
points evaluated and the answer are the same on every run.

The names below load on first use (:mod:`.api`), so that importing the package, as the
command line does to describe its flags, does not load the engines.
"""

from typing import Any

__all__ = ["explore", "Exploration", "Cost", "Space", "Axis", "Point", "parse_axis", "DEFAULT_BUDGET",
           "DEFAULT_CONSTRAINTS", "DEFAULT_PARETO", "METHODS"]

#: name -> the module that defines it
_WHERE = {"explore": "api", "Exploration": "api", "Cost": "api", "Point": "evaluate", "Space": "space",
          "Axis": "space", "parse_axis": "space", "DEFAULT_BUDGET": "methods", "METHODS": "methods",
          "DEFAULT_CONSTRAINTS": "goals", "DEFAULT_PARETO": "goals"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'wafersim.explore' has no attribute {name!r}")
