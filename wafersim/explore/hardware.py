"""Exploring the hardware: a wafer design's variables as axes (``explore --hardware``).

A point of a hardware space sets ``design.<variable>`` keys (any top-level design variable
of :class:`~wafersim.design.WaferDesign`: ``design.sram_per_core``, ``design.simd_lanes``,
``design.clock``, ``design.hbm_stacks``, ...) beside the usual scenario and mapping keys.  The design named on the
command line, with the point's variables laid over it as ``--set`` would, gives a system
(:func:`wafersim.design.to_system`) that the point's run uses; the design's own figures
(:data:`DESIGN_METRICS`: chip area, wafer power and price, yield, cores, clock) join the
run's summary, so constraints and objectives may name them (``area_mm2<=46000``,
``wafer_power_w<=25 kW``).  A design the model cannot build (cores that do not fit a die, a
mesh no wafer forms) is a refused point.

The default space (:func:`wafersim.explore.defaults.hardware_space`) scales the design's own values by
:data:`DEFAULT_SCALES` and serves the largest batch that fits (:data:`DEFAULT_BATCH`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from ..config import ConfigError, parse_override
from ..units import format_quantity

__all__ = ["PREFIX", "OBJECTIVE", "PARETO", "SHOWN", "DESIGN_METRICS", "variable_doc", "design_command", "DEFAULT_SCALES", "DEFAULT_BATCH", "DIE_SHARE", "Hardware",
           "design_keys", "int_keys", "scaled", "metric_info", "metric_kind", "metric_cell", "axis_value", "check_values",
           "figures"]

#: what an axis key of a design variable starts with
PREFIX = "design."
#: the fields of a design that are no design variable (its identity and its technology tables)
_NOT_VARIABLES = frozenset({"kind", "name", "description", "system", "provenance"})
#: the default axes: each design variable at these multiples of the design's own value
DEFAULT_SCALES: dict[str, tuple[float, ...]] = {
    "sram_per_core": (0.5, 1.0, 2.0),
    "simd_lanes": (0.5, 1.0, 2.0),
    "clock": (0.75, 1.0, 1.25),
    "link_bytes_per_cycle": (0.5, 1.0, 2.0),
    "io_ports": (0.5, 1.0, 2.0),
}
#: the default cores-per-die axis: this share of the columns a die of the design holds, and all of them (0)
DIE_SHARE = 0.75
#: the batch every point of the default hardware space serves: the largest that fits
DEFAULT_BATCH = "max"
#: what a hardware search optimises, and the two objectives of its front, unless told otherwise
OBJECTIVE = "per-dollar"
PARETO = ("per-user", "per-dollar")
#: the design's figures the text tables show (JSON and the HDF5 file hold every one)
SHOWN = ("area_mm2", "wafer_power_w", "wafer_price_usd", "wafer_yield")
#: bytes per KiB, hertz per MHz: how the default axes write their values
KIB, MHZ = 2**10, 1e6

#: a design's figures a point reports beside its run: key -> (units, description)
DESIGN_METRICS: dict[str, tuple[str, str]] = {
    "area_mm2": ("mm2", "area of one wafer's chip: its dies and scribe lines"),
    "physical_cores": ("cores", "cores built on one wafer, spares included"),
    "enabled_cores": ("cores", "cores of one wafer given to software"),
    "die_cores": ("cores", "cores built on one die"),
    "sram_per_wafer_bytes": ("B", "SRAM of one wafer's enabled cores"),
    "wafer_yield": ("", "chance a wafer forms its whole logical mesh"),
    "clock_hz": ("Hz", "the clock the power envelope allows"),
    "clock_derating": ("", "clock given over clock asked (1: the envelope does not bind)"),
    "chip_power_w": ("W", "one chip's power at the design's activity"),
    "wafer_power_w": ("W", "wall power of one wafer's system (the preset's unit power)"),
    "wafer_price_usd": ("USD", "price of one wafer's system (the preset's unit price)"),
    "wafer_cost_usd": ("USD", "modelled cost of one wafer's system: good wafer, packaging, box, I/O, HBM"),
    "external_memory_bytes": ("B", "external memory of one wafer: the system preset's and the HBM stacks'"),
    "external_bandwidth_bytes_per_s": ("B/s", "bandwidth a spill reads at: edge I/O ports and HBM stacks"),
}
#: units of the design metrics -> the quantity kind a value is read and printed as
_KIND = {"W": "power", "B": "bytes", "B/s": "bandwidth", "Hz": "frequency"}


def design_keys() -> tuple[str, ...]:
    """Every ``design.<variable>`` key an axis may set."""
    from ..design import WaferDesign
    return tuple(PREFIX + f.name for f in dataclasses.fields(WaferDesign)
                 if f.name not in _NOT_VARIABLES and f.type in ("float", "int", float, int))


def variable_doc(key: str) -> str:
    """What a ``design.<variable>`` axis sets, as the design's schema says."""
    from ..design import WaferDesign
    f = WaferDesign.__dataclass_fields__.get(key.removeprefix(PREFIX))
    return f"design variable {key.removeprefix(PREFIX)}" + (f": {f.metadata['doc']}" if f and f.metadata.get("doc")
                                                           else "")


def design_command(design: str, params: Mapping[str, Any]) -> str:
    """The ``wafersim design`` command that gives the design of a point's values."""
    import shlex
    sets = [f"--set {shlex.quote(f'{k.removeprefix(PREFIX)}={_toml(v)}')}" for k, v in params.items()
            if k.startswith(PREFIX)]
    return " ".join(["wafersim design", shlex.quote(design), *sets])


def _toml(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def metric_info(key: str) -> tuple[str, str]:
    """(units, description) of a design metric; ("", "") for another key."""
    return DESIGN_METRICS.get(key, ("", ""))


def metric_kind(key: str) -> str | None:
    """The quantity kind (``power``, ``bytes``, ``frequency``) a design metric's value is read as."""
    return _KIND.get(metric_info(key)[0])


def metric_cell(key: str, value: Any) -> str:
    """A design metric as tables print it."""
    units = metric_info(key)[0]
    if units == "USD":
        return f"${value:,.0f}"
    if metric_kind(key):
        return format_quantity(value, metric_kind(key), 4)
    if units in ("mm2", "cores"):
        return f"{value:,.0f}"
    return f"{value:.4g}"


def axis_value(key: str, text: str) -> Any:
    """One value of a ``design.*`` axis as ``--set`` reads it: 8 an integer, 1.5 a number, 48 KiB a text."""
    return parse_override(f"{key}={text}")[1]


class Hardware:
    """The design a hardware search starts from, and the system each point's variables give."""

    def __init__(self, design: str | Path):
        from ..design import load_design, to_system
        self.source = str(design)
        self.design = load_design(design)
        self.base = to_system(self.design)
        self._built: dict[tuple[tuple[str, str], ...], tuple[Any, dict[str, Any]]] = {}

    @property
    def system(self) -> Any:
        return self.base.system

    def design_of(self, params: Mapping[str, Any]) -> Any:
        """The design with a point's ``design.*`` values laid over it, checked as ``--set`` is."""
        from ..design import load_design
        overrides = {k.removeprefix(PREFIX): v for k, v in params.items() if k.startswith(PREFIX)}
        origin = {k: f"{k}={v}" for k, v in overrides.items()}
        return load_design(self.source, overrides or None, origin=origin or None)

    def designed(self, params: Mapping[str, Any], name: str | None = None) -> Any:
        """The :class:`~wafersim.design.DesignedSystem` of a point's ``design.*`` values."""
        from ..design import to_system
        overrides = {k.removeprefix(PREFIX): v for k, v in params.items() if k.startswith(PREFIX)}
        return to_system(self.design_of(params), name=name or _point_name(self.design.name, overrides))

    def __call__(self, params: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """(system, design metrics) of a point, built once per set of design values."""
        key = tuple(sorted((k, repr(v)) for k, v in params.items() if k.startswith(PREFIX)))
        if key not in self._built:
            ds = self.designed(params)
            self._built[key] = (ds.system, figures(ds))
        return self._built[key]


def _point_name(name: str, overrides: Mapping[str, Any]) -> str:
    if not overrides:
        return name
    return name + "-" + "-".join(f"{k}={v}".replace(" ", "") for k, v in overrides.items())


def figures(ds: Any) -> dict[str, Any]:
    """The :data:`DESIGN_METRICS` of a designed system."""
    f = ds.figures
    g, p = f.geometry, f.power
    dep = ds.system.deployment
    return {"area_mm2": g.chip_mm2, "physical_cores": g.physical_cores, "enabled_cores": g.enabled_cores,
            "die_cores": g.die_cols * g.die_rows, "sram_per_wafer_bytes": f.sram_bytes,
            "wafer_yield": f.defects.wafer_yield, "clock_hz": p.clock_hz, "clock_derating": p.derating,
            "chip_power_w": p.chip_w, "wafer_power_w": dep.unit_power_w, "wafer_price_usd": dep.unit_price_usd,
            "wafer_cost_usd": f.cost.total_usd, "external_memory_bytes": ds.system.external_memory.capacity_bytes,
            "external_bandwidth_bytes_per_s": ds.system.external_memory.io_bandwidth_bytes_per_s}


def scaled(key: str, value: float, scale: float) -> Any:
    """``value`` times ``scale`` as the axis writes it: whole KiB, whole MHz, at least 1 of a count."""
    v = value * scale
    if key == "sram_per_core":
        return f"{max(1, round(v / KIB))} KiB"
    if key == "clock":
        return f"{round(v / MHZ)} MHz"
    if isinstance(value, int):
        return max(1, int(round(v)))
    return int(v) if float(v).is_integer() else v


def check_values(hw: Hardware, space: Any) -> None:
    """Refuse a ``design.*`` axis value no design could take (a word where a size belongs, a
    negative count), checked at the first values of the other axes: one line naming ``--axis``.
    A value the file format takes but the model cannot build at that point (cores that do not
    fit a die) is left to the search, where it is a refused point."""
    first = {a.key: a.values[0] for a in space.axes if a.key.startswith(PREFIX)}
    for axis in space.axes:
        if not axis.key.startswith(PREFIX):
            continue
        for value in axis.values:
            try:
                hw.design_of({**first, axis.key: value})
            except ConfigError as exc:
                raise ConfigError("--axis", axis.key, f"{value!r}: {exc.message}") from None


def int_keys() -> frozenset[str]:
    """The ``design.*`` keys whose values are integers (counts: lanes, dies, cores, ports)."""
    from ..design import WaferDesign
    return frozenset(PREFIX + f.name for f in dataclasses.fields(WaferDesign) if f.type in ("int", int))
