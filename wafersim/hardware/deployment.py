"""What one unit of a system draws and costs: a node of a GPU system, one wafer's box (CS-2, CS-3).

Power here is the unit's wall power at full load (the whole node or box: CPUs,
NICs, fans, power supplies), not the chips' energy model, so that a per-kW
comparison charges both sides for what a data centre feeds them.  A unit costs
its rental price per hour when a preset gives one, else its list price spread
over ``amortisation_years`` plus its power at ``usd_per_kwh``.  Every value is
0 where unknown, and the metrics built on it are then left out of a result.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Spec, number, quantity

__all__ = ["DeploymentSpec", "HOURS_PER_YEAR"]

#: hours in a mean Gregorian year
HOURS_PER_YEAR = 365.2425 * 24


@dataclass(frozen=True, kw_only=True)
class DeploymentSpec(Spec):
    unit_power_w: float = quantity(
        "power", "wall power of one unit at full load: the whole node or box, not only its chips; 0 if unknown",
        default=0.0, allow_zero=True)
    unit_price_usd: float = number("list price of one unit in US dollars; 0 if unknown", default=0.0, allow_zero=True)
    unit_usd_per_hour: float = number("rental price of one unit per hour in US dollars; 0: amortise the list price",
                                      default=0.0, allow_zero=True)
    amortisation_years: float = number("years the list price is spread over", default=4.0)
    usd_per_kwh: float = number("electricity price in US dollars per kWh", default=0.10, allow_zero=True)

    def usd_per_hour(self) -> float:
        """What one unit costs per hour of use; 0 when neither a rate nor a price is known."""
        if self.unit_usd_per_hour > 0:
            return self.unit_usd_per_hour
        if self.unit_price_usd <= 0:
            return 0.0
        return (self.unit_price_usd / (self.amortisation_years * HOURS_PER_YEAR)
                + self.unit_power_w / 1e3 * self.usd_per_kwh)
