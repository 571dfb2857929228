"""A slow, readable reference of the cycle-level mesh network, for tests.

The same rules as :mod:`wafersim.engines._cycle_kernels` (see its docs), written
with named directions, deques and plain objects, visiting every router every
cycle.  It returns what the kernel returns for the same packets, so a test can
hold the two to identical delivery cycles and link counts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

STEP = {"E": (0, 1), "W": (0, -1), "N": (-1, 0), "S": (1, 0)}
NAMES = ("E", "W", "N", "S")
LOCAL = "local"          # the injection input port
EJECT = "eject"          # the ejection output port
PORTS = (*NAMES, LOCAL)  # input ports; output ports are NAMES + EJECT in the same positions
OUT_PORTS = (*NAMES, EJECT)


@dataclass
class Flit:
    packet: int
    number: int
    ready: int           # first cycle it may leave the buffer it sits in


@dataclass
class VirtualChannel:
    slots: int
    flits: deque = field(default_factory=deque)
    freed: deque = field(default_factory=deque)  # per free slot, oldest first: cycle upstream sees it free
    route: str | None = None                     # output port of the packet at the front

    def __post_init__(self):
        self.freed = deque([0] * self.slots)

    def can_take(self, cycle: int) -> bool:
        """A credit: a slot is free and upstream knows it."""
        return len(self.flits) < self.slots and self.freed[0] <= cycle

    def put(self, flit: Flit) -> None:
        self.freed.popleft()
        self.flits.append(flit)

    def take(self, free_seen_at: int) -> Flit:
        self.freed.append(free_seen_at)
        return self.flits.popleft()


def xy_next(y: int, x: int, ty: int, tx: int) -> str:
    """Dimension-ordered routing: along the row first, then along the column."""
    if tx > x:
        return "E"
    if tx < x:
        return "W"
    if ty < y:
        return "N"
    if ty > y:
        return "S"
    return EJECT


def simulate(ny, nx, latency, period, vcs, slots, packets, max_cycles=10**6):
    """``latency[y][x][d]`` (cycles) and ``period[y][x][d]`` (cycles per flit) per link, d in
    E, W, N, S order; ``packets`` a list of (src_y, src_x, dst_y, dst_x, flits, created, vc).
    Returns (delivered cycle per packet (-1 if not), head cycle per packet,
    {(y, x, d): flits}, flits delivered out of order)."""
    routers = {(y, x): {p: [VirtualChannel(slots) for _ in range(vcs)] for p in PORTS}
               for y in range(ny) for x in range(nx)}
    owner = {}                                      # (y, x, out port, vc) -> (in port, vc)
    rr_in = {(y, x, p): 0 for y in range(ny) for x in range(nx) for p in PORTS}
    rr_out = {(y, x, o): 0 for y in range(ny) for x in range(nx) for o in OUT_PORTS}
    link_free = {}
    link_flits = {}
    queue = {(y, x): deque() for y in range(ny) for x in range(nx)}
    for i in sorted(range(len(packets)), key=lambda i: (packets[i][5], i)):
        queue[packets[i][0], packets[i][1]].append(i)
    injecting = {}                                  # router -> [packet, next flit number]
    done = [-1] * len(packets)
    head = [-1] * len(packets)
    got = [0] * len(packets)
    disorder = 0

    for cycle in range(max_cycles):
        if all(d >= 0 for d in done):
            break
        for y in range(ny):
            for x in range(nx):
                here = routers[y, x]
                # injection, one flit a cycle
                if (y, x) not in injecting and queue[y, x] and packets[queue[y, x][0]][5] <= cycle:
                    injecting[y, x] = [queue[y, x].popleft(), 0]
                if (y, x) in injecting:
                    pkt, n = injecting[y, x]
                    vc = here[LOCAL][packets[pkt][6]]
                    if vc.can_take(cycle):
                        vc.put(Flit(pkt, n, cycle))
                        if n == 0:
                            head[pkt] = cycle
                        injecting[y, x][1] += 1
                        if n + 1 == packets[pkt][4]:
                            del injecting[y, x]
                # each input port offers one VC (round robin); head flits claim output VCs
                offer = {}
                first = cycle % 5
                for p in (PORTS[(first + k) % 5] for k in range(5)):
                    for j in range(vcs):
                        v = (rr_in[y, x, p] + j) % vcs
                        vc = here[p][v]
                        if not vc.flits or vc.flits[0].ready > cycle:
                            continue
                        flit = vc.flits[0]
                        sy, sx, ty, tx, flits, _, pvc = packets[flit.packet]
                        if vc.route is None:
                            vc.route = xy_next(y, x, ty, tx)
                        o = vc.route
                        if (y, x, o, pvc) not in owner and flit.number == 0:
                            owner[y, x, o, pvc] = (p, v)
                        if owner.get((y, x, o, pvc)) != (p, v):
                            continue
                        if o != EJECT:
                            if link_free.get((y, x, o), 0.0) > cycle:
                                continue
                            dy, dx = STEP[o]
                            if not routers[y + dy, x + dx][o][pvc].can_take(cycle):
                                continue
                        offer[p] = v
                        break
                # each output port takes one input port (round robin)
                for oi, o in enumerate(OUT_PORTS):
                    for k in range(5):
                        pi = (rr_out[y, x, o] + k) % 5
                        p = PORTS[pi]
                        if p not in offer or here[p][offer[p]].route != o:
                            continue
                        v = offer.pop(p)
                        vc = here[p][v]
                        if p == LOCAL:
                            seen = cycle + 1
                        else:
                            uy, ux = y - STEP[p][0], x - STEP[p][1]
                            seen = cycle + latency[uy][ux][NAMES.index(p)]
                        flit = vc.take(seen)
                        pkt = packets[flit.packet]
                        tail = flit.number == pkt[4] - 1
                        if o == EJECT:
                            if flit.number != got[flit.packet]:
                                disorder += 1
                            got[flit.packet] += 1
                            if tail:
                                done[flit.packet] = cycle + 1
                        else:
                            d = NAMES.index(o)
                            dy, dx = STEP[o]
                            routers[y + dy, x + dx][o][pkt[6]].put(Flit(flit.packet, flit.number,
                                                                         cycle + latency[y][x][d]))
                            link_free[y, x, o] = max(link_free.get((y, x, o), 0.0), cycle) + period[y][x][d]
                            link_flits[y, x, d] = link_flits.get((y, x, d), 0) + 1
                        if tail:
                            del owner[y, x, o, pkt[6]]
                            vc.route = None
                        rr_out[y, x, o] = (pi + 1) % 5
                        rr_in[y, x, p] = (v + 1) % vcs
                        break
    return done, head, link_flits, disorder
