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
def _prefix(latency, scribe):
    """Prefix sums of link latency and scribe crossings along rows (E, W) and columns (N, S).

    ``lat_x[y, j, d]`` is the latency sum of links ``[y, 0..j-1, d]`` for d in
    (EAST, WEST); ``lat_y[i, x, d - NORTH]`` of links ``[0..i-1, x, d]`` for d in
    (NORTH, SOUTH); ``cross_x`` and ``cross_y`` count scribe links likewise.
    """
    ny, nx = latency.shape[0], latency.shape[1]
    lat_x = np.zeros((ny, nx + 1, 2))
    cross_x = np.zeros((ny, nx + 1, 2), dtype=np.int32)
    lat_y = np.zeros((ny + 1, nx, 2))
    cross_y = np.zeros((ny + 1, nx, 2), dtype=np.int32)
    for y in range(ny):
        for x in range(nx):
            for s in range(2):
                lat_x[y, x + 1, s] = lat_x[y, x, s] + latency[y, x, EAST + s]
                cross_x[y, x + 1, s] = cross_x[y, x, s] + scribe[y, x, EAST + s]
                lat_y[y + 1, x, s] = lat_y[y, x, s] + latency[y, x, NORTH + s]
                cross_y[y + 1, x, s] = cross_y[y, x, s] + scribe[y, x, NORTH + s]
    return lat_x, cross_x, lat_y, cross_y


@njit(cache=True)
def _segment(y, x, direction, steps, nbytes, pre, diff):
    """Put ``nbytes`` on ``steps`` consecutive links from (y, x) in ``direction``.

    Records the segment as +nbytes / -nbytes (and +1 / -1 in the coverage
    count) at its two ends in the difference arrays; returns the segment's
    (latency sum, scribe crossings) from the prefix sums.
    """
    lat_x, cross_x, lat_y, cross_y = pre
    load_x, count_x, load_y, count_y = diff
    if steps == 0:
        return 0.0, 0
    if direction == EAST or direction == WEST:
        lo = x if direction == EAST else x - steps + 1
        s = direction - EAST
        load_x[y, lo, s] += nbytes
        load_x[y, lo + steps, s] -= nbytes
        count_x[y, lo, s] += 1
        count_x[y, lo + steps, s] -= 1
        return lat_x[y, lo + steps, s] - lat_x[y, lo, s], cross_x[y, lo + steps, s] - cross_x[y, lo, s]
    lo = y if direction == SOUTH else y - steps + 1
    s = direction - NORTH
    load_y[lo, x, s] += nbytes
    load_y[lo + steps, x, s] -= nbytes
    count_y[lo, x, s] += 1
    count_y[lo + steps, x, s] -= 1
    return lat_y[lo + steps, x, s] - lat_y[lo, x, s], cross_y[lo + steps, x, s] - cross_y[lo, x, s]


@njit(cache=True)
def _integrate(diff, load):
    """Running sums of the difference arrays into ``load`` (ny, nx, 4).

    A link that no segment covers gets exactly 0 (no rounding residue).
    """
    load_x, count_x, load_y, count_y = diff
    ny, nx = load.shape[0], load.shape[1]
    for y in range(ny):
        for s in range(2):
            acc = 0.0
            cov = 0
            for x in range(nx):
                acc += load_x[y, x, s]
                cov += count_x[y, x, s]
                load[y, x, EAST + s] += acc if cov > 0 else 0.0
    for s in range(2):
        acc_row = np.zeros(nx)
        cov_row = np.zeros(nx, dtype=np.int64)
        for y in range(ny):
            for x in range(nx):
                acc_row[x] += load_y[y, x, s]
                cov_row[x] += count_y[y, x, s]
                load[y, x, NORTH + s] += acc_row[x] if cov_row[x] > 0 else 0.0


@njit(cache=True)
def route_xy(src_y, src_x, dst_y, dst_x, nbytes, kind, latency, scribe, router_s,
             load, hops, crossings, path_latency):
    """Route every transfer; accumulate bytes onto ``load`` (ny, nx, 4).

    Fills ``hops`` (int32), ``crossings`` (int32) and ``path_latency``
    (float64) per transfer and returns the total of bytes x hops.

    Each route is at most two straight segments (or two arms), so the kernel
    records segments in difference arrays and integrates them once at the end:
    O(transfers + links) work instead of O(total hops).  Loads are exact for
    whole byte counts below 2**53; otherwise they differ from a hop-by-hop sum
    by rounding only.
    """
    ny, nx = latency.shape[0], latency.shape[1]
    pre = _prefix(latency, scribe)
    diff = (np.zeros((ny, nx + 1, 2)), np.zeros((ny, nx + 1, 2), dtype=np.int32),
            np.zeros((ny + 1, nx, 2)), np.zeros((ny + 1, nx, 2), dtype=np.int32))
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
                lat_x, cr_x = _segment(sy, sx, EAST, tx - sx, b, pre, diff)
            else:
                lat_x, cr_x = _segment(sy, sx, WEST, sx - tx, b, pre, diff)
            if ty >= sy:
                lat_y, cr_y = _segment(sy, tx, SOUTH, ty - sy, b, pre, diff)
            else:
                lat_y, cr_y = _segment(sy, tx, NORTH, sy - ty, b, pre, diff)
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
                lat_a, cr_a = _segment(sy, sx, WEST, down, b, pre, diff)
                lat_b, cr_b = _segment(sy, sx, EAST, up, b, pre, diff)
            else:
                down = sy - lo
                up = hi - sy
                lat_a, cr_a = _segment(sy, sx, NORTH, down, b, pre, diff)
                lat_b, cr_b = _segment(sy, sx, SOUTH, up, b, pre, diff)
            h = down + up
            hops[i] = h
            crossings[i] = cr_a + cr_b
            path_latency[i] = max(lat_a + down * router_s, lat_b + up * router_s)
        bytes_hops += b * hops[i]
    _integrate(diff, load)
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
