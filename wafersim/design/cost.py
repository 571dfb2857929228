"""Cost: a good wafer, its packaging, and the box around it, each with its range.

``chip = (wafer + packaging) / wafer yield`` (a wafer whose logical mesh does not
form is thrown away after test) and ``system = chip + box + I/O ports``.  The price a
buyer pays is the system cost times the vendor's markup, which the design does not
know: :mod:`wafersim.design.system` takes it from the reference design's published
price, so a design moves the price by the cost its model derives.  HBM stacks at the edge
are bought and attached to a wafer that passed test: ``hbm = stacks x per-stack``, added
to the system, not divided by the yield.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError
from .spec import CostSpec, HbmSpec


@dataclass(frozen=True)
class Cost:
    wafer_usd: float                # per good wafer
    packaging_usd: float            # per good wafer
    system_usd: float
    io_usd: float
    hbm_usd: float
    low_usd: float
    high_usd: float

    @property
    def total_usd(self) -> float:
        return self.wafer_usd + self.packaging_usd + self.system_usd + self.io_usd + self.hbm_usd


def cost(spec: CostSpec, wafer_yield: float, io_ports: int, hbm: HbmSpec, stacks: int) -> Cost:
    if wafer_yield <= 0:
        raise ConfigError("", "spare_cols_per_die", "no wafer forms its whole logical mesh (yield 0); expected "
                                                    "more spare columns or a lower defect density")
    io = io_ports * spec.io_port_usd

    def total(suffix: str) -> float:
        get = lambda part: getattr(spec, f"{part}_usd{suffix}")   # noqa: E731
        hbm_usd = stacks * getattr(hbm, f"usd{suffix}")
        return (get("wafer") + get("packaging")) / wafer_yield + get("system") + io + hbm_usd
    return Cost(wafer_usd=spec.wafer_usd / wafer_yield, packaging_usd=spec.packaging_usd / wafer_yield,
                system_usd=spec.system_usd, io_usd=io, hbm_usd=stacks * hbm.usd,
                low_usd=total("_low"), high_usd=total("_high"))
