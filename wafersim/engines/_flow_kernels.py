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
def _legs(sy, sx, a, b, k):
    """The two straight legs of a transfer from (sy, sx) with destination fields ``a, b``
    (``dst_y, dst_x``) and kind ``k``: ``(y, x, direction, steps)`` twice.  A unicast's row
    leg then its column leg (one path: latencies add up); a multicast's two arms from the
    source (the slower one counts)."""
    if k == UNICAST:
        return sy, sx, EAST if b >= sx else WEST, abs(b - sx), sy, b, SOUTH if a >= sy else NORTH, abs(a - sy)
    if k == ROW_MULTICAST:
        return sy, sx, WEST, sx - a, sy, sx, EAST, b - sx
    return sy, sx, NORTH, sy - a, sy, sx, SOUTH, b - sy


@njit(cache=True)
def _path_latency(k, lat_1, steps_1, lat_2, steps_2, router_s):
    """Latency of a transfer from its legs' link latencies: a unicast's legs in a row, a multicast's slower arm."""
    if k == UNICAST:
        return lat_1 + lat_2 + (steps_1 + steps_2) * router_s
    return max(lat_1 + steps_1 * router_s, lat_2 + steps_2 * router_s)


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
        b = nbytes[i]
        y1, x1, d1, s1, y2, x2, d2, s2 = _legs(src_y[i], src_x[i], dst_y[i], dst_x[i], kind[i])
        lat_1, cr_1 = _segment(y1, x1, d1, s1, b, pre, diff)
        lat_2, cr_2 = _segment(y2, x2, d2, s2, b, pre, diff)
        _touch(box, y1, x1, d1, s1)
        _touch(box, y2, x2, d2, s2)
        hops[i] = s1 + s2
        crossings[i] = cr_1 + cr_2
        path_latency[i] = _path_latency(kind[i], lat_1, s1, lat_2, s2, router_s)
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


# ---- one stage of many regions, by events along each line ------------------------------
#
# ``route_stage`` gives the same link loads as ``route_xy`` without whole-mesh arrays:
# every segment becomes two events (+bytes where it starts, -bytes one past its end) on its
# line (a row for east/west, a column for north/south); the events are sorted by line and
# position (stably, so that events at one position add up in transfer order, as they do in
# a difference array), and a running sum along each line gives the load of every run of
# links between two events.  Work is O(transfers + runs + lines) plus, where the per-link
# totals are kept, O(loaded links); nothing is done for links that carry nothing.

@njit(cache=True)
def _link_time(l, bandwidth):
    """Seconds a link of ``bandwidth`` needs for ``l`` bytes (0 for none; infinite without bandwidth)."""
    if l == 0.0:
        return 0.0
    if bandwidth > 0.0:
        return l / bandwidth
    return np.inf


@njit(cache=True)
def _event(n, key, pos, val, cnt, line_key, start, stop, nbytes):
    """Append a segment's two events (links ``start..stop-1`` of line ``line_key``); return the new count."""
    key[n] = line_key
    pos[n] = start
    val[n] = nbytes
    cnt[n] = 1
    key[n + 1] = line_key
    pos[n + 1] = stop
    val[n + 1] = -nbytes
    cnt[n + 1] = -1
    return n + 2


@njit(cache=True)
def _segment_events(y, x, direction, steps, nbytes, pre, epre, n, key, pos, val, cnt, lines):
    """Events of ``steps`` links from (y, x) in ``direction``; return (count, latency, crossings, energy sum).

    ``lines`` = max(ny, nx): the key of a line is ``direction * lines + row or column``.
    ``epre`` are the prefix sums of link energy per bit along rows and columns (as ``pre``)."""
    if steps == 0:
        return n, 0.0, 0, 0.0
    lat_x, cross_x, lat_y, cross_y = pre
    e_x, e_y = epre
    if direction == EAST or direction == WEST:
        lo = x if direction == EAST else x - steps + 1
        s = direction - EAST
        n = _event(n, key, pos, val, cnt, direction * lines + y, lo, lo + steps, nbytes)
        return (n, lat_x[y, lo + steps, s] - lat_x[y, lo, s], cross_x[y, lo + steps, s] - cross_x[y, lo, s],
                e_x[y, lo + steps, s] - e_x[y, lo, s])
    lo = y if direction == SOUTH else y - steps + 1
    s = direction - NORTH
    n = _event(n, key, pos, val, cnt, direction * lines + x, lo, lo + steps, nbytes)
    return (n, lat_y[lo + steps, x, s] - lat_y[lo, x, s], cross_y[lo + steps, x, s] - cross_y[lo, x, s],
            e_y[lo + steps, x, s] - e_y[lo, x, s])


@njit(cache=True)
def _transfer_events(i, src_y, src_x, dst_y, dst_x, nbytes, kind, pre, epre, router_s, n, key, pos, val, cnt,
                     lines):
    """Events of transfer ``i``; return (count, latency, link energy per bit x bytes summed over its links)."""
    b = nbytes[i]
    y1, x1, d1, s1, y2, x2, d2, s2 = _legs(src_y[i], src_x[i], dst_y[i], dst_x[i], kind[i])
    n, lat_1, _, e_1 = _segment_events(y1, x1, d1, s1, b, pre, epre, n, key, pos, val, cnt, lines)
    n, lat_2, _, e_2 = _segment_events(y2, x2, d2, s2, b, pre, epre, n, key, pos, val, cnt, lines)
    return n, _path_latency(kind[i], lat_1, s1, lat_2, s2, router_s), b * (e_1 + e_2)


@njit(cache=True)
def _counting_pass(n, value, src, dst, n_values):
    """``dst[:n]``: the indices ``src[:n]`` ordered by ``value`` (0 .. n_values - 1), stably."""
    count = np.zeros(n_values + 1, dtype=np.int64)
    for j in range(n):
        count[value[src[j]] + 1] += 1
    for v in range(n_values):
        count[v + 1] += count[v]
    for j in range(n):
        i = src[j]
        dst[count[value[i]]] = i
        count[value[i]] += 1


@njit(cache=True)
def _sort_events(n, key, pos, order, tmp, n_keys, n_pos):
    """``order[:n]``: the events sorted by (key, position), stably (two counting sorts)."""
    for j in range(n):
        order[j] = j
    _counting_pass(n, pos, order, tmp, n_pos)
    _counting_pass(n, key, tmp, order, n_keys)


@njit(cache=True)
def _run(d, line, a, b, l, tables, mult, wafer, h_load, h_time, v_load, v_time,
         regions, n_regions, region_box, link_max):
    """Use a run of links ``a..b-1`` along ``line`` in direction ``d``, each carrying ``l`` bytes.

    ``tables`` = ``(h_bw, h_next, v_bw, v_next)``: per direction and line (east/west:
    (2, ny, nx); north/south: (2, nx, ny)), each link's bandwidth and the position of the
    next link along the line whose bandwidth differs.  For each region in
    ``regions[:n_regions]`` whose box holds part of the run: ``l`` over the least bandwidth
    there (division rounds monotonically, so this is the largest of the links' times)
    raises its ``link_max``.  With totals (``h_load`` not empty): ``mult`` x
    load and x time added per link, east/west into ``h_*`` (wafers, 2, ny, nx), north/south
    into ``v_*`` (wafers, 2, nx, ny): one plane per direction, each line in memory order.
    """
    horizontal = d == EAST or d == WEST
    h_bw, h_next, v_bw, v_next = tables
    if horizontal:
        bw = h_bw[d - EAST, line]
        nxt = h_next[d - EAST, line]
    else:
        bw = v_bw[d - NORTH, line]
        nxt = v_next[d - NORTH, line]
    for k in range(n_regions):
        r = regions[k]
        if horizontal:
            if line < region_box[r, 0] or line >= region_box[r, 2]:
                continue
            lo = max(a, region_box[r, 1])
            hi = min(b, region_box[r, 3])
        else:
            if line < region_box[r, 1] or line >= region_box[r, 3]:
                continue
            lo = max(a, region_box[r, 0])
            hi = min(b, region_box[r, 2])
        least = np.inf
        p = lo
        while p < hi:
            least = min(least, bw[p])
            p = nxt[p]
        if lo < hi:
            t = _link_time(l, least)
            if t > link_max[r]:
                link_max[r] = t
    if h_load.shape[0] == 0:
        return
    if horizontal:
        run_load, run_time = h_load[wafer, d - EAST, line], h_time[wafer, d - EAST, line]
    else:
        run_load, run_time = v_load[wafer, d - NORTH, line], v_time[wafer, d - NORTH, line]
    m = mult * l
    p = a
    while p < b:
        q = min(nxt[p], b)
        t = mult * _link_time(l, bw[p])
        for i in range(p, q):
            run_load[i] += m
            run_time[i] += t
        p = q


@njit(cache=True)
def route_stage(src_y, src_x, dst_y, dst_x, nbytes, kind, region, group_start, group_wafer, group_mult,
                pre, epre, router_s, tables, region_box, h_load, h_time, v_load, v_time,
                link_max, lat_max, group_energy):
    """Route one stage of every region in one call and time it per region.

    Transfers come in groups (``group_start``, G + 1 offsets): group ``g`` runs on wafer
    ``group_wafer[g]``'s mesh, alone (its links free of the other groups' loads), and
    counts ``group_mult[g]`` times in the totals.  Per group: the load of every link (the
    same values, to the bit, as :func:`route_xy`), and for every region with a transfer in
    the group the busiest link time inside ``region_box`` (int64 (R, 4), ``y0, x0, y1, x1``
    ends exclusive) written to ``link_max`` (an earlier group's value replaced) and the
    longest path latency of its transfers folded into ``lat_max`` (maximum);
    ``group_energy[g]``, the link energy: bytes x the energy per bit summed along each
    path (from the prefix sums ``epre``), x 8.  The totals (empty to skip) get
    ``group_mult`` x each loaded link's load and time added; ``tables``: see :func:`_run`.
    """
    ny, nx = tables[0].shape[1], tables[0].shape[2]
    lines = max(ny, nx)
    R = link_max.shape[0]
    regions = np.empty(R, dtype=np.int64)
    seen = np.full(R, -1, dtype=np.int64)
    most = 0
    for g in range(group_start.shape[0] - 1):
        most = max(most, group_start[g + 1] - group_start[g])
    key = np.empty(4 * most, dtype=np.int64)
    pos = np.empty(4 * most, dtype=np.int64)
    val = np.empty(4 * most)
    cnt = np.empty(4 * most, dtype=np.int64)
    order = np.empty(4 * most, dtype=np.int64)
    tmp = np.empty(4 * most, dtype=np.int64)
    for g in range(group_start.shape[0] - 1):
        n = 0
        n_regions = 0
        energy = 0.0
        for i in range(group_start[g], group_start[g + 1]):
            n, lat, e = _transfer_events(i, src_y, src_x, dst_y, dst_x, nbytes, kind, pre, epre, router_s,
                                         n, key, pos, val, cnt, lines)
            energy += e
            r = region[i]
            if seen[r] != g:
                seen[r] = g
                regions[n_regions] = r
                n_regions += 1
                link_max[r] = 0.0
            if lat > lat_max[r]:
                lat_max[r] = lat
        group_energy[g] = energy * BITS_PER_BYTE
        _sort_events(n, key, pos, order, tmp, 4 * lines, lines + 1)
        j = 0
        while j < n:
            line_key = key[order[j]]
            d = line_key // lines
            line = line_key - d * lines
            acc = 0.0
            cov = 0
            while j < n and key[order[j]] == line_key:
                p = pos[order[j]]
                entry = 0.0
                c = 0
                while j < n and key[order[j]] == line_key and pos[order[j]] == p:
                    entry += val[order[j]]
                    c += cnt[order[j]]
                    j += 1
                acc += entry
                cov += c
                if cov > 0 and acc != 0.0 and j < n and key[order[j]] == line_key:
                    _run(d, line, p, pos[order[j]], acc, tables, group_mult[g], group_wafer[g],
                         h_load, h_time, v_load, v_time, regions, n_regions, region_box, link_max)


@njit(cache=True)
def busiest_link(h_time, v_time):
    """(largest time, its flat index in (wafers, ny, nx, 4) order) over the direction planes
    of :func:`route_stage`'s totals: east/west ``h_time`` (wafers, 2, ny, nx), north/south
    ``v_time`` (wafers, 2, nx, ny).  Ties go to the lowest index, as ``np.argmax``."""
    wafers, ny, nx = h_time.shape[0], h_time.shape[2], h_time.shape[3]
    best = -np.inf
    best_i = 0
    for w in range(wafers):
        for y in range(ny):
            for x in range(nx):
                base = ((w * ny + y) * nx + x) * 4
                for d in range(4):
                    t = h_time[w, d - EAST, y, x] if d <= WEST else v_time[w, d - NORTH, x, y]
                    if t > best:
                        best = t
                        best_i = base + d
    return best, best_i


@njit(cache=True)
def link_arrays(h_load, h_time, v_load, v_time, step_s, load32, share32):
    """Gather the direction planes into (wafers, ny, nx, 4) float32 arrays: ``load32`` the
    loads, ``share32`` the times over ``step_s`` (each rounded once, from float64)."""
    wafers, ny, nx = h_load.shape[0], h_load.shape[2], h_load.shape[3]
    for w in range(wafers):
        for y in range(ny):
            for x in range(nx):
                for d in range(4):
                    if d <= WEST:
                        l = h_load[w, d - EAST, y, x]
                        t = h_time[w, d - EAST, y, x]
                    else:
                        l = v_load[w, d - NORTH, x, y]
                        t = v_time[w, d - NORTH, x, y]
                    load32[w, y, x, d] = np.float32(l)
                    share32[w, y, x, d] = np.float32(t / step_s)
