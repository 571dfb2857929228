"""Edge I/O: where spilled bytes enter a wafer, and which port carries them.

A wafer has ``external_memory.io_ports`` ports spread evenly over the edges that
``external_memory.io_edges`` names (``west``, ``west_east``, ``all``; ``auto``
is ``west_east`` with two or more ports, else ``west``).  A region's spilled
bytes enter in equal shares through each of those edges: through the west and
east edges one flow per region row (to the region's west or east column), through
the north and south edges one flow per region column (to its top or bottom row).
Each port has an equal share of the wafer's I/O bandwidth and serves an equal
stretch of its edge; an edge takes a share of the bytes in proportion to its ports,
so every port is equally loaded when the spill is spread evenly.
"""

from __future__ import annotations

import numpy as np

from ..hardware.directions import EAST, NORTH, SOUTH, WEST
from ..hardware.wafer import WaferSpec
from .transfers import UNICAST

_SETS = {"west": (WEST,), "west_east": (WEST, EAST), "all": (WEST, EAST, NORTH, SOUTH)}


def io_edges(system: WaferSpec) -> tuple[int, ...]:
    ext = system.external_memory
    name = ext.io_edges if ext.io_edges != "auto" else ("west_east" if ext.io_ports >= 2 else "west")
    return _SETS[name]


def ports_per_edge(ports: int, edges: tuple[int, ...]) -> list[int]:
    """Ports on each of ``edges``, spread as evenly as the count allows (earlier edges first)."""
    return [ports // len(edges) + (1 if k < ports % len(edges) else 0) for k in range(len(edges))]


def region_flows(y0: int, x0: int, rows: int, cols: int, nbytes: float, shape: tuple[int, int],
                 edges: tuple[int, ...], ports: int | None = None
                 ) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Transfers (src_y, src_x, dst_y, dst_x, bytes, kind) bringing ``nbytes`` into a region,
    with each transfer's edge and its position along that edge.  Each edge carries a share
    in proportion to its ports (``ports`` total; equal shares when not given)."""
    ny, nx = shape
    counts = ports_per_edge(ports, edges) if ports else [1] * len(edges)
    ys, xs = np.arange(y0, y0 + rows), np.arange(x0, x0 + cols)
    parts = []
    for e, count in zip(edges, counts):
        share = nbytes * count / sum(counts)
        if e in (WEST, EAST):
            src_x = np.full(rows, 0 if e == WEST else nx - 1)
            dst_x = np.full(rows, x0 if e == WEST else x0 + cols - 1)
            parts.append((ys, src_x, ys, dst_x, np.full(rows, share / rows), np.full(rows, e), ys))
        else:
            src_y = np.full(cols, 0 if e == NORTH else ny - 1)
            dst_y = np.full(cols, y0 if e == NORTH else y0 + rows - 1)
            parts.append((src_y, xs, dst_y, xs, np.full(cols, share / cols), np.full(cols, e), xs))
    cat = [np.concatenate([p[k] for p in parts]) for k in range(7)]
    transfer = (cat[0], cat[1], cat[2], cat[3], cat[4], np.full(len(cat[0]), UNICAST))
    return transfer, cat[5].astype(np.int8), cat[6].astype(np.int64)


def port_time(system: WaferSpec, wafers: int, wafer: np.ndarray, edge: np.ndarray, position: np.ndarray,
              nbytes: np.ndarray) -> float:
    """Seconds the busiest port needs for bytes entering at ``edge`` / ``position``."""
    ext = system.external_memory
    used = io_edges(system)
    ports = ext.io_ports
    per_edge = ports_per_edge(ports, used)
    offset = np.zeros(4, dtype=np.int64)
    count = np.zeros(4, dtype=np.int64)
    length = np.array([system.mesh.cores_y, system.mesh.cores_y, system.mesh.cores_x, system.mesh.cores_x])
    start = 0
    for k, e in enumerate(used):
        offset[e], count[e] = start, per_edge[k]
        start += per_edge[k]
    edge = np.asarray(edge, dtype=np.int64)
    if len(edge) and (count[edge] == 0).any():
        raise ValueError("bytes enter through an edge with no I/O port")
    port = offset[edge] + np.asarray(position, dtype=np.int64) * count[edge] // length[edge]
    per_port = np.bincount(np.asarray(wafer, dtype=np.int64) * ports + port, weights=nbytes,
                           minlength=wafers * ports)
    return float(per_port.max()) / (ext.io_bandwidth_bytes_per_s / ports)
