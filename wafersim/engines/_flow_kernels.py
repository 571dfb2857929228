"""Numba kernels of the flow-level engine: XY routing and link statistics.

Private: call them through :mod:`wafersim.engines.flow_routing`, which checks
and prepares their inputs.  The kernels trust their inputs (coordinates in
range, spans containing their source) and run serially, so their results are
deterministic and bit-for-bit reproducible.

Transfer encoding (one entry per transfer, structure of arrays):

* ``UNICAST`` (0): from ``(src_y, src_x)`` to ``(dst_y, dst_x)`` by
  dimension-ordered routing: along the source row to ``dst_x`` first, then
  along column ``dst_x`` to ``dst_y``.
* ``ROW_MULTICAST`` (1): from ``(src_y, src_x)`` to every core of row ``src_y``
  in columns ``lo..hi``, with ``lo = dst_y`` and ``hi = dst_x`` and
  ``lo <= src_x <= hi``.  The path forks at the source: one arm runs west to
  ``lo``, the other east to ``hi``; each link on it carries the bytes once.
* ``COL_MULTICAST`` (2): likewise along column ``src_x`` over rows
  ``lo..hi`` (``lo = dst_y``, ``hi = dst_x``), one arm north, one south.

Per transfer the route kernel reports the links it occupies (``hops``), how
many of them cross a scribe line, and its latency: the sum of link latencies
along the path plus ``router_s`` per hop; for a multicast, the latency to the
farthest core (the slower arm).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..hardware.mesh import EAST, NORTH, SOUTH, WEST

UNICAST, ROW_MULTICAST, COL_MULTICAST = 0, 1, 2
BITS_PER_BYTE = 8.0


@njit(cache=True)
def _walk(y, x, direction, steps, nbytes, latency, scribe, load):
    """Add ``nbytes`` to ``steps`` consecutive links from (y, x) in ``direction``.

    Returns (latency sum, scribe crossings) of the walked links.
    """
    dy = 0
    dx = 0
    if direction == EAST:
        dx = 1
    elif direction == WEST:
        dx = -1
    elif direction == NORTH:
        dy = -1
    else:
        dy = 1
    lat = 0.0
    crossings = 0
    for _ in range(steps):
        load[y, x, direction] += nbytes
        lat += latency[y, x, direction]
        if scribe[y, x, direction]:
            crossings += 1
        y += dy
        x += dx
    return lat, crossings


@njit(cache=True)
def route_xy(src_y, src_x, dst_y, dst_x, nbytes, kind, latency, scribe, router_s,
             load, hops, crossings, path_latency):
    """Route every transfer; accumulate bytes onto ``load`` (ny, nx, 4).

    Fills ``hops`` (int32), ``crossings`` (int32) and ``path_latency``
    (float64) per transfer and returns the total of bytes x hops.
    """
    bytes_hops = 0.0
    for i in range(src_y.shape[0]):
        sy = src_y[i]
        sx = src_x[i]
        b = nbytes[i]
        k = kind[i]
        if k == UNICAST:
            ty = dst_y[i]
            tx = dst_x[i]
            if tx >= sx:
                lat_x, cr_x = _walk(sy, sx, EAST, tx - sx, b, latency, scribe, load)
            else:
                lat_x, cr_x = _walk(sy, sx, WEST, sx - tx, b, latency, scribe, load)
            if ty >= sy:
                lat_y, cr_y = _walk(sy, tx, SOUTH, ty - sy, b, latency, scribe, load)
            else:
                lat_y, cr_y = _walk(sy, tx, NORTH, sy - ty, b, latency, scribe, load)
            h = abs(tx - sx) + abs(ty - sy)
            hops[i] = h
            crossings[i] = cr_x + cr_y
            path_latency[i] = lat_x + lat_y + h * router_s
        else:
            lo = dst_y[i]
            hi = dst_x[i]
            if k == ROW_MULTICAST:
                down = sx - lo
                up = hi - sx
                lat_a, cr_a = _walk(sy, sx, WEST, down, b, latency, scribe, load)
                lat_b, cr_b = _walk(sy, sx, EAST, up, b, latency, scribe, load)
            else:
                down = sy - lo
                up = hi - sy
                lat_a, cr_a = _walk(sy, sx, NORTH, down, b, latency, scribe, load)
                lat_b, cr_b = _walk(sy, sx, SOUTH, up, b, latency, scribe, load)
            h = down + up
            hops[i] = h
            crossings[i] = cr_a + cr_b
            path_latency[i] = max(lat_a + down * router_s, lat_b + up * router_s)
        bytes_hops += b * hops[i]
    return bytes_hops


@njit(cache=True)
def link_stats(load, bandwidth, energy_per_bit, link_time):
    """Fill ``link_time = load / bandwidth``; return (max time, flat index of it, energy J).

    All arrays are flat and contiguous.  A loaded link without bandwidth takes
    an infinite time; ties go to the lowest index.
    """
    best = 0.0
    best_i = 0
    energy = 0.0
    for i in range(load.shape[0]):
        l = load[i]
        if l == 0.0:
            t = 0.0
        elif bandwidth[i] > 0.0:
            t = l / bandwidth[i]
        else:
            t = np.inf
        link_time[i] = t
        if t > best:
            best = t
            best_i = i
        energy += l * BITS_PER_BYTE * energy_per_bit[i]
    return best, best_i, energy
