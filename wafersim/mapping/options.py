"""How a model is laid out on a wafer: ``--placement``, ``--cores`` and ``mapping.*``."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, Spec, choice, text

__all__ = ["MappingOptions", "parse_cores", "PLACEMENTS", "ORDERS", "KV_PLACES"]

PLACEMENTS = ("pipelined", "sequential", "streaming")
#: orders in which a pipelined placement lays its layer regions along the bands of a block
ORDERS = ("snake", "raster")
#: where a pipelined placement keeps each layer's KV cache
KV_PLACES = ("local", "pooled")


def parse_cores(value: str) -> tuple[int, int]:
    """'420x420' -> (rows, cols); '' -> (0, 0) meaning the whole wafer."""
    if value in ("", "all"):
        return (0, 0)
    try:
        r, c = value.lower().split("x")
        if not (r.isascii() and r.isdigit() and c.isascii() and c.isdigit() and len(r) <= 9 and len(c) <= 9):
            raise ValueError
        rows, cols = int(r), int(c)
    except (ValueError, AttributeError):
        raise ConfigError("mapping", "cores", f"expected ROWSxCOLS such as '420x420'; got {str(value)[:40]!r}") from None
    if rows < 1 or cols < 1:
        raise ConfigError("mapping", "cores", f"expected positive ROWSxCOLS; got {value!r}")
    return rows, cols


@dataclass(frozen=True, kw_only=True)
class MappingOptions(Spec):
    """How a model is laid out on a wafer (``--placement``, ``--cores``, ``mapping.*``)."""
    placement: str = choice(
        PLACEMENTS,
        "pipelined: each layer on its own region, in mapping.order; sequential: every layer over the "
        "whole block of cores, run one after another; streaming: weights stay in external memory",
        default="pipelined")
    cores: str = text("restrict the mapping to a ROWSxCOLS block of each wafer ('' = all cores)", default="")
    region: str = text("pipelined placement: cap each layer's region at ROWSxCOLS cores ('' = share the "
                       "block evenly); smaller regions mean shorter mesh paths and less SRAM per layer",
                       default="")
    order: str = choice(
        ORDERS,
        "pipelined placement: the order of the layer regions along the bands of the block; snake: left to "
        "right, then right to left on the next band, so consecutive layers always share an edge; raster: "
        "every band left to right, so the hand-off from the end of a band to the start of the next crosses "
        "the block",
        default="snake")
    kv: str = choice(
        KV_PLACES,
        "pipelined placement: where the KV cache lives; local: each layer's on its own region, after its "
        "weights; pooled: every layer's spread over every core of the block with SRAM free after the "
        "weights (the cores between capped regions too), so a region full of weights still keeps its KV "
        "on chip, at the cost of moving each layer's KV from the pool to its region every decode step "
        "(sequential and streaming placements already share the whole block: no change)",
        default="local")

    def check(self) -> None:
        parse_cores(self.cores)
        try:
            parse_cores(self.region)
        except ConfigError as exc:
            raise ConfigError("mapping", "region", exc.message.replace("'420x420'", "'128x128'")) from None

    @property
    def region_cap(self) -> tuple[int, int]:
        """(rows, cols) each layer region is capped at; (0, 0) for none."""
        return parse_cores(self.region)

    @property
    def block(self) -> tuple[int, int]:
        return parse_cores(self.cores)

