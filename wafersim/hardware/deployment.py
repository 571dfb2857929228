"""What one allocation unit of a system draws and costs: a GPU node or a part of one
(a GB200 NVL72 compute tray), one wafer's system (a CS-2 or CS-3 with its share of
the support servers a deployment runs beside it).

Power here is the unit's wall power at full load (the whole node or box: CPUs,
NICs, fans, power supplies, and its share of the switches and servers it cannot
run without), not the chips' energy model, so that a per-kW comparison charges
both sides for what a data centre feeds them.  A job is charged for the units it
occupies: ``ceil(GPUs / unit_gpus)`` on a GPU system, one per wafer.  A unit costs
its rental price per hour when a preset gives one, else its list price spread
over ``amortisation_years`` plus its power at ``usd_per_kwh``.  Every value is 0
where unknown, and the metrics built on it are then left out of a result;
:func:`missing` names the key an objective that needs it must set.

Power and price each carry the range their sources give (``*_low`` .. ``*_high``,
both 0 where none is given): what the figures could be, for uncertainty.  A value
set outside its range (a user's own figure, ``--set``) is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, Spec, integer, number, quantity

__all__ = ["DeploymentSpec", "HOURS_PER_YEAR", "NEEDS", "missing"]

#: hours in a mean Gregorian year
HOURS_PER_YEAR = 365.2425 * 24

#: summary key -> the deployment figures it is built on (any one of them is enough)
NEEDS: dict[str, tuple[str, ...]] = {
    "power_w": ("unit_power_w",),
    "tokens_per_s_per_kw": ("unit_power_w",),
    "wall_energy_per_token_j": ("unit_power_w",),
    "cost_usd": ("unit_price_usd",),
    "usd_per_hour": ("unit_price_usd", "unit_usd_per_hour"),
    "usd_per_million_tokens": ("unit_price_usd", "unit_usd_per_hour"),
}

#: the figures that carry a range, and the kind of each
_RANGED = ("unit_power_w", "unit_price_usd")


@dataclass(frozen=True, kw_only=True)
class DeploymentSpec(Spec):
    unit_gpus: int = integer(
        "GPU systems: GPUs in one allocation unit, the smallest part of a node a job is given and charged "
        "for (a GB200 NVL72 compute tray: 4); must divide interconnect.gpus_per_node; 0: the whole node. "
        "A wafer system's unit is one wafer's system (keep 0)", default=0, minimum=0, maximum=2**16)
    unit_power_w: float = quantity(
        "power", "wall power of one unit at full load: the whole node or box, not only its chips, with its share "
        "of the switches and support servers it needs; 0 if unknown", default=0.0, allow_zero=True)
    unit_power_w_low: float = quantity(
        "power", "low end of unit_power_w's sourced range (e.g. the reported typical draw), at most the high end; "
        "0 (with the high end 0): no range",
        default=0.0, allow_zero=True)
    unit_power_w_high: float = quantity(
        "power", "high end of unit_power_w's sourced range (e.g. the rated maximum); 0: no range",
        default=0.0, allow_zero=True)
    unit_price_usd: float = number("list price of one unit in US dollars; 0 if unknown", default=0.0, allow_zero=True)
    unit_price_usd_low: float = number("low end of unit_price_usd's sourced range, at most the high end; 0 (with the "
                                       "high end 0): no range",
                                       default=0.0, allow_zero=True)
    unit_price_usd_high: float = number("high end of unit_price_usd's sourced range; 0: no range",
                                        default=0.0, allow_zero=True)
    unit_usd_per_hour: float = number("rental price of one unit per hour in US dollars; 0: amortise the list price",
                                      default=0.0, allow_zero=True)
    amortisation_years: float = number("years the list price is spread over", default=4.0)
    usd_per_kwh: float = number("electricity price in US dollars per kWh", default=0.10, allow_zero=True)

    def check(self) -> None:
        for key in _RANGED:
            low, high = getattr(self, f"{key}_low"), getattr(self, f"{key}_high")
            if (low > 0) != (high > 0):
                raise ConfigError("", f"{key}_low", f"a range needs both ends: {key}_low = {low:g} and "
                                  f"{key}_high = {high:g} (both 0: no range)")
            if low > high:
                raise ConfigError("", f"{key}_low", f"expected {key}_low <= {key}_high; got {low:g} > {high:g}")

    def figure_range(self, key: str) -> tuple[float, float] | None:
        """The sourced range of ``unit_power_w`` or ``unit_price_usd``; None where none is given."""
        low, high = getattr(self, f"{key}_low"), getattr(self, f"{key}_high")
        return (low, high) if high > 0 else None

    def usd_per_hour(self) -> float:
        """What one unit costs per hour of use; 0 when neither a rate nor a price is known."""
        if self.unit_usd_per_hour > 0:
            return self.unit_usd_per_hour
        if self.unit_price_usd <= 0:
            return 0.0
        return (self.unit_price_usd / (self.amortisation_years * HOURS_PER_YEAR)
                + self.unit_power_w / 1e3 * self.usd_per_kwh)


def missing(deployment: DeploymentSpec, key: str) -> str | None:
    """The deployment key to set for summary ``key`` to be known on a system with
    ``deployment``; None when ``key`` needs no deployment figure or has the one it needs."""
    needs = NEEDS.get(key)
    if not needs or any(getattr(deployment, k) > 0 for k in needs):
        return None
    return f"system.deployment.{needs[0]}"
