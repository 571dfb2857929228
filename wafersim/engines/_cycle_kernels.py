"""Numba kernel of the cycle-level mesh network.

Private: call it through :mod:`wafersim.engines.cycle_network`, which checks and
prepares the inputs.  The readable reference of the same rules is
:mod:`wafersim.testing.naive_cycle`; a test holds the two to identical results.

The network (one router per core, routers numbered ``r = y * nx + x`` inside the
simulated box):

* Input ports 0..3 take flits that travelled EAST, WEST, NORTH, SOUTH on the
  link into this router; input port 4 (``LOCAL``) is the core's injection port.
  Each input port has ``V`` virtual channels, each a FIFO of ``D`` flit slots.
* Output ports 0..3 are the links out of the router (the direction numbering of
  :mod:`wafersim.hardware.directions`), port 4 (``EJECT``) is the core's
  ejection port, one flit per cycle, always able to take it.
* A packet keeps the virtual channel ``pk_vc`` at every hop (a flow is bound to
  one channel, as a Cerebras colour is), so packets of one source-destination
  pair never overtake each other.
* Routing is dimension-ordered: along the row first, then the column.
* Wormhole: a head flit claims the output VC when that VC is free; body flits
  follow; the tail frees it.  A VC FIFO may hold the tail of one packet and the
  head of the next.
* Switch allocation is separable, input first: each input port offers one VC
  (round robin from the VC after the last one it sent), each output port takes
  one input port (round robin from the port after the last one it took).
  Output VCs are claimed by head flits in input-port order starting at port
  ``cycle % 5``.
* Credit flow control: a slot freed at cycle ``t`` is seen free upstream at
  ``t + latency of the link into it`` (``t + 1`` for the injection port), so a
  flit is only sent when a slot is known free.
* A link of latency ``L`` cycles delivers a flit sent at ``t`` ready at
  ``t + L``; a link moves a flit at most every ``period`` cycles (fractional:
  ``period = flit bytes / link bytes per cycle``).
* A packet's flits enter its injection VC one per cycle from the core's queue
  (packets in creation order); a packet is delivered the cycle after its tail
  is ejected.  Zero-load latency is so ``sum of link latencies + flits`` on
  links of period 1.

Only routers that hold flits or have packets to inject are visited in a cycle
(an active list), and the clock jumps over cycles where nothing happens, so the
cost follows the traffic, not the mesh area.
"""

from __future__ import annotations

import numpy as np
from numba import njit

LOCAL = 4
EJECT = 4
PORTS = 5
#: status codes of :func:`run`
DONE, CYCLE_LIMIT, STALLED, ERROR = 0, 1, 2, 3


@njit(cache=True)
def _xy_port(r, dst, nx):
    y, x = r // nx, r % nx
    ty, tx = dst // nx, dst % nx
    if tx > x:
        return 0            # EAST
    if tx < x:
        return 1            # WEST
    if ty < y:
        return 2            # NORTH
    if ty > y:
        return 3            # SOUTH
    return EJECT


@njit(cache=True)
def _neighbour(r, d, nx):
    if d == 0:
        return r + 1
    if d == 1:
        return r - 1
    if d == 2:
        return r - nx
    return r + nx


#: slots of the scalar state of :func:`advance`: the clock, the next packet by creation
#: cycle, packets delivered, flits in the network, the last cycle a flit moved, active routers
T, GP, DELIVERED, IN_NETWORK, LAST_MOVE, N_CUR = range(6)


@njit(cache=True)
def in_latency(lat, nx):
    """Per router and input port, the latency of the link into it (1 where there is none,
    and for the injection port): how long a freed slot takes to be seen upstream."""
    R = lat.shape[0]
    in_lat = np.ones((R, PORTS), np.int64)
    for r in range(R):
        for p in range(4):
            up = _neighbour(r, 1 - p if p < 2 else 5 - p, nx)  # the router the flit came from
            if 0 <= up < R and lat[up, p] > 0:
                in_lat[r, p] = lat[up, p]
    return in_lat


@njit(cache=True)
def advance(ny, nx, lat, period, V, D, in_lat, slot, hd, cnt, route, owner, rr_in, rr_out, link_free, occ,
            inj_pkt, inj_flit, cur, nxt, stamp, sc, pk_src, pk_dst, pk_flits, pk_time, pk_vc, pk_got,
            src_start, src_next, src_order, time_order, max_cycles, watchdog, win_start, win_end,
            pk_head, pk_done, link_flits, stats):
    """Simulate until every packet is delivered, ``max_cycles`` pass or nothing moves for
    ``watchdog`` cycles while flits wait.

    The network's state (``slot`` .. ``stamp`` and the scalars ``sc``, see :data:`T` ..
    :data:`N_CUR`) is the caller's and is left as the run ends, so that a run stopped at
    ``max_cycles`` can go on with more packets (:mod:`wafersim.engines.cycle_network`
    builds it).  Inputs: ``lat`` int64 (R, 4) link latency in cycles; ``period`` float64
    (R, 4) cycles per flit; packets as arrays (source and destination router, flits,
    creation cycle, VC, flits delivered so far); ``src_start`` (R + 1) and ``src_order``
    list each router's packets not yet injecting by creation cycle, ``src_next`` the
    next of each; ``time_order`` the packets the run has not seen created yet, by
    creation cycle.  Outputs (filled in place): ``pk_head`` cycle each head flit entered
    the network, ``pk_done`` cycle each packet was delivered (-1 if not), ``link_flits``
    (R, 4) flits each link carried, ``stats`` int64: [cycles run, flits ejected in
    [win_start, win_end), flits ejected, packets delivered, router visits, order
    errors].  Returns the status code.
    """
    R = ny * nx
    P = pk_src.shape[0]
    G = time_order.shape[0]
    cand = np.empty(PORTS, np.int64)
    cur0 = cur
    t = sc[T]
    gp = sc[GP]
    delivered = sc[DELIVERED]
    in_network = sc[IN_NETWORK]
    last_move = sc[LAST_MOVE]
    n_cur = sc[N_CUR]
    status = DONE
    while True:
        if delivered == P:
            break
        if t >= max_cycles:
            status = CYCLE_LIMIT
            break
        if in_network > 0 and t - last_move > watchdog:
            status = STALLED
            break
        if n_cur == 0 and in_network == 0:
            if gp >= G:
                status = STALLED
                break
            nt = pk_time[time_order[gp]]
            if nt > t:
                t = min(nt, max_cycles)
                last_move = t
                continue
        while gp < G and pk_time[time_order[gp]] <= t:
            s = pk_src[time_order[gp]]
            if stamp[s] != t:
                stamp[s] = t
                cur[n_cur] = s
                n_cur += 1
            gp += 1
        n_nxt = 0
        cur[:n_cur].sort()                    # visit in memory order: neighbours share cache lines
        for i in range(n_cur):
            r = cur[i]
            stats[4] += 1
            # ---- injection: one flit a cycle from the core's queue into its VC ----
            if inj_pkt[r] < 0:
                k = src_next[r]
                if k < src_start[r + 1] and pk_time[src_order[k]] <= t:
                    inj_pkt[r] = src_order[k]
                    inj_flit[r] = 0
                    src_next[r] = k + 1
            if inj_pkt[r] >= 0:
                pkt = inj_pkt[r]
                q = (r * PORTS + LOCAL) * V + pk_vc[pkt]
                if cnt[q] < D:
                    s = (hd[q] + cnt[q]) % D
                    if slot[q, s, 3] <= t:
                        slot[q, s, 0] = pkt
                        slot[q, s, 1] = inj_flit[r]
                        slot[q, s, 2] = t
                        cnt[q] += 1
                        occ[r] += 1
                        in_network += 1
                        if inj_flit[r] == 0:
                            pk_head[pkt] = t
                        inj_flit[r] += 1
                        if inj_flit[r] == pk_flits[pkt]:
                            inj_pkt[r] = -1
            # ---- VC and switch allocation ----
            if occ[r] > 0:
                p0 = t % PORTS
                for pi in range(PORTS):
                    p = (p0 + pi) % PORTS
                    cand[p] = -1
                    base = (r * PORTS + p) * V
                    for j in range(V):
                        v = (rr_in[r * PORTS + p] + j) % V
                        q = base + v
                        if cnt[q] == 0:
                            continue
                        s = hd[q]
                        if slot[q, s, 2] > t:
                            continue
                        pkt = slot[q, s, 0]
                        o = route[q]
                        if o < 0:
                            o = _xy_port(r, pk_dst[pkt], nx)
                            route[q] = o
                        oi = (r * PORTS + o) * V + pk_vc[pkt]
                        if owner[oi] < 0 and slot[q, s, 1] == 0:
                            owner[oi] = p * V + v
                        if owner[oi] != p * V + v:
                            continue
                        if o != EJECT:
                            if link_free[r, o] > t:
                                continue
                            dq = (_neighbour(r, o, nx) * PORTS + o) * V + pk_vc[pkt]
                            if cnt[dq] >= D or slot[dq, (hd[dq] + cnt[dq]) % D, 3] > t:
                                continue
                        cand[p] = v
                        break
                for o in range(PORTS):
                    for j in range(PORTS):
                        p = (rr_out[r * PORTS + o] + j) % PORTS
                        v = cand[p]
                        if v < 0 or route[(r * PORTS + p) * V + v] != o:
                            continue
                        q = (r * PORTS + p) * V + v
                        s = hd[q]
                        pkt = slot[q, s, 0]
                        idx = slot[q, s, 1]
                        hd[q] = (s + 1) % D
                        cnt[q] -= 1
                        occ[r] -= 1
                        slot[q, s, 3] = t + in_lat[r, p]
                        tail = idx == pk_flits[pkt] - 1
                        vc = pk_vc[pkt]
                        if o == EJECT:
                            in_network -= 1
                            if idx != pk_got[pkt]:
                                stats[5] += 1
                            pk_got[pkt] += 1
                            stats[2] += 1
                            if win_start <= t < win_end:
                                stats[1] += 1
                            if tail:
                                pk_done[pkt] = t + 1
                                delivered += 1
                        else:
                            nb = _neighbour(r, o, nx)
                            dq = (nb * PORTS + o) * V + vc
                            ds = (hd[dq] + cnt[dq]) % D
                            slot[dq, ds, 0] = pkt
                            slot[dq, ds, 1] = idx
                            slot[dq, ds, 2] = t + lat[r, o]
                            cnt[dq] += 1
                            occ[nb] += 1
                            link_free[r, o] = max(link_free[r, o], t) + period[r, o]
                            link_flits[r, o] += 1
                            if stamp[nb] != t + 1:
                                stamp[nb] = t + 1
                                nxt[n_nxt] = nb
                                n_nxt += 1
                        if tail:
                            owner[(r * PORTS + o) * V + vc] = -1
                            route[q] = -1
                        rr_out[r * PORTS + o] = (p + 1) % PORTS
                        rr_in[r * PORTS + p] = (v + 1) % V
                        cand[p] = -1
                        last_move = t
                        break
            busy = occ[r] > 0 or inj_pkt[r] >= 0
            if not busy:
                k = src_next[r]
                busy = k < src_start[r + 1] and pk_time[src_order[k]] <= t + 1
            if busy and stamp[r] != t + 1:
                stamp[r] = t + 1
                nxt[n_nxt] = r
                n_nxt += 1
        cur, nxt = nxt, cur
        n_cur = n_nxt
        t += 1
    stats[0] = t
    stats[3] = delivered
    cur0[:n_cur] = cur[:n_cur]
    sc[T] = t
    sc[GP] = gp
    sc[DELIVERED] = delivered
    sc[IN_NETWORK] = in_network
    sc[LAST_MOVE] = last_move
    sc[N_CUR] = n_cur
    return status
