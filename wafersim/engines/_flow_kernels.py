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

from ..dataflow.transfers import ROW_MULTICAST, UNICAST
from ..hardware.directions import EAST, NORTH, SOUTH, WEST

BITS_PER_BYTE = 8.0


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
def _integrate(diff, y0, x0, y1, x1, load):
    """Running sums of the difference arrays written to ``load`` (ny, nx, 4), then clear them.

    Only entries ``[y0..y1, x0..x1]`` of the difference arrays can be non-zero
    (the box the segments touched, ends included); outside it the running sums
    stay exactly 0, so the sums start at the box, every link of the box (within
    the mesh) is written and the rest of ``load`` is left untouched.  Every entry read is set back to 0, so the arrays are all zero
    again for the next call.  A link that no segment covers gets exactly 0 (no
    rounding residue).
    """
    load_x, count_x, load_y, count_y = diff
    ny, nx = load.shape[0], load.shape[1]
    xe = min(x1 + 1, nx)                # columns of links; column nx of load_x/count_x is an end only
    ye = min(y1 + 1, ny)
    # rows: east and west run side by side, each with its own running sum in column order
    for y in range(y0, ye):
        acc_e = 0.0
        acc_w = 0.0
        cov_e = 0
        cov_w = 0
        for x in range(x0, xe):
            acc_e += load_x[y, x, 0]
            acc_w += load_x[y, x, 1]
            cov_e += count_x[y, x, 0]
            cov_w += count_x[y, x, 1]
            load_x[y, x, 0] = 0.0
            load_x[y, x, 1] = 0.0
            count_x[y, x, 0] = 0
            count_x[y, x, 1] = 0
            load[y, x, EAST] = acc_e if cov_e > 0 else 0.0
            load[y, x, WEST] = acc_w if cov_w > 0 else 0.0
        for x in range(xe, x1 + 1):
            load_x[y, x, 0] = 0.0
            load_x[y, x, 1] = 0.0
            count_x[y, x, 0] = 0
            count_x[y, x, 1] = 0
    # columns: one running sum per column and direction, carried down the rows
    w = xe - x0
    acc = np.zeros((w, 2))
    cov = np.zeros((w, 2), dtype=np.int64)
    for y in range(y0, y1 + 1):
        for j in range(w):
            x = x0 + j
            for s in range(2):
                acc[j, s] += load_y[y, x, s]
                cov[j, s] += count_y[y, x, s]
                load_y[y, x, s] = 0.0
                count_y[y, x, s] = 0
        if y < ny:
            for j in range(w):
                x = x0 + j
                load[y, x, NORTH] = acc[j, 0] if cov[j, 0] > 0 else 0.0
                load[y, x, SOUTH] = acc[j, 1] if cov[j, 1] > 0 else 0.0


@njit(cache=True)
def _touch(box, y, x, direction, steps):
    """Grow ``box`` (y0, x0, y1, x1, inclusive) to the difference entries of a segment."""
    if steps == 0:
        return
    if direction == EAST or direction == WEST:
        lo = x if direction == EAST else x - steps + 1
        y_lo, y_hi, x_lo, x_hi = y, y, lo, lo + steps
    else:
        lo = y if direction == SOUTH else y - steps + 1
        y_lo, y_hi, x_lo, x_hi = lo, lo + steps, x, x
    box[0] = min(box[0], y_lo)
    box[1] = min(box[1], x_lo)
    box[2] = max(box[2], y_hi)
    box[3] = max(box[3], x_hi)


@njit(cache=True)
def route_xy(src_y, src_x, dst_y, dst_x, nbytes, kind, pre, router_s, diff,
             load, hops, crossings, path_latency, box):
    """Route every transfer; write the bytes each link carries to ``load`` (ny, nx, 4) inside ``box``.

    ``pre`` holds the mesh's prefix sums ``(lat_x, cross_x, lat_y, cross_y)``
    (see ``PhysicalMesh.link_prefix_sums``); ``diff`` four all-zero scratch
    arrays shaped like them, float64, int32, float64, int32, which are all zero
    again on return.  Fills ``hops`` (int32), ``crossings`` (int32) and
    ``path_latency`` (float64) per transfer and ``box`` (int64, 4) with the
    links the transfers load, ``(y0, x0, y1, x1)`` with ``y1, x1`` exclusive
    (``(0, 0, 0, 0)`` when none): every link inside it is written (0 where
    nothing passes), none outside it, so the caller must see that ``load`` is 0
    outside the box.  Returns the total of bytes x hops.

    Each route is at most two straight segments (or two arms), so the kernel
    records segments in difference arrays and integrates them once at the end,
    over the box the segments touch only: O(transfers + box) work instead of
    O(total hops).  Loads are exact for whole byte counts below 2**53;
    otherwise they differ from a hop-by-hop sum by rounding only.
    """
    ny, nx = load.shape[0], load.shape[1]
    # inclusive box of difference entries touched: rows up to ny, columns up to nx
    box[0] = ny + 1
    box[1] = nx + 1
    box[2] = -1
    box[3] = -1
    bytes_hops = 0.0
    for i in range(src_y.shape[0]):
        sy = src_y[i]
        sx = src_x[i]
        b = nbytes[i]
        k = kind[i]
        if k == UNICAST:
            ty = dst_y[i]
            tx = dst_x[i]
            dx = EAST if tx >= sx else WEST
            dy = SOUTH if ty >= sy else NORTH
            lat_x, cr_x = _segment(sy, sx, dx, abs(tx - sx), b, pre, diff)
            lat_y, cr_y = _segment(sy, tx, dy, abs(ty - sy), b, pre, diff)
            _touch(box, sy, sx, dx, abs(tx - sx))
            _touch(box, sy, tx, dy, abs(ty - sy))
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
                d_a, d_b = WEST, EAST
            else:
                down = sy - lo
                up = hi - sy
                d_a, d_b = NORTH, SOUTH
            lat_a, cr_a = _segment(sy, sx, d_a, down, b, pre, diff)
            lat_b, cr_b = _segment(sy, sx, d_b, up, b, pre, diff)
            _touch(box, sy, sx, d_a, down)
            _touch(box, sy, sx, d_b, up)
            h = down + up
            hops[i] = h
            crossings[i] = cr_a + cr_b
            path_latency[i] = max(lat_a + down * router_s, lat_b + up * router_s)
        bytes_hops += b * hops[i]
    if box[2] < 0:
        box[0] = 0
        box[1] = 0
        box[2] = 0
        box[3] = 0
        return bytes_hops
    _integrate(diff, box[0], box[1], box[2], box[3], load)
    box[2] = min(box[2] + 1, ny)
    box[3] = min(box[3] + 1, nx)
    return bytes_hops


@njit(cache=True)
def link_stats(load, bandwidth, energy_per_bit, link_time, y0, x0, y1, x1):
    """Fill ``link_time = load / bandwidth`` inside the box; return (max time, flat index of it, energy J).

    Arrays are (ny, nx, 4) and contiguous; only links ``[y0:y1, x0:x1]`` are
    read and written (outside the box ``load`` must be 0, so ``link_time`` is
    0 there too).  The flat index is into the whole (ny, nx, 4) array.  A
    loaded link without bandwidth takes an infinite time; ties go to the lowest
    index, and with no load at all the index is 0.
    """
    nx, nd = load.shape[1], load.shape[2]
    best = 0.0
    best_i = 0
    energy = 0.0
    for y in range(y0, y1):
        for x in range(x0, x1):
            for d in range(nd):
                l = load[y, x, d]
                if l == 0.0:
                    t = 0.0
                elif bandwidth[y, x, d] > 0.0:
                    t = l / bandwidth[y, x, d]
                else:
                    t = np.inf
                link_time[y, x, d] = t
                if t > best:
                    best = t
                    best_i = (y * nx + x) * nd + d
                energy += l * BITS_PER_BYTE * energy_per_bit[y, x, d]
    return best, best_i, energy
