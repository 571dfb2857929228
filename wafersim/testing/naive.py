"""Slow, obvious reference implementations of the flow kernels, for tests and benchmarks.

Routes are walked hop by hop with named directions and plain Python lists and
dicts; nothing here is meant to be fast.
"""

from __future__ import annotations

from ..dataflow.transfers import Transfers
from ..hardware.directions import DIRECTIONS
from ..hardware.mesh import PhysicalMesh

STEP = {"E": (0, 1), "W": (0, -1), "N": (-1, 0), "S": (1, 0)}
INDEX = {name: i for i, name in enumerate(DIRECTIONS)}


def walk(y: int, x: int, direction: str, steps: int) -> list[tuple[int, int, str]]:
    """The links (y, x, direction) of ``steps`` hops from (y, x) going ``direction``."""
    links = []
    dy, dx = STEP[direction]
    for _ in range(steps):
        links.append((y, x, direction))
        y, x = y + dy, x + dx
    return links


def xy_path(sy: int, sx: int, ty: int, tx: int) -> list[tuple[int, int, str]]:
    """Dimension-ordered route: along the row to column tx, then along the column to row ty."""
    horizontal = walk(sy, sx, "E", tx - sx) if tx >= sx else walk(sy, sx, "W", sx - tx)
    vertical = walk(sy, tx, "S", ty - sy) if ty >= sy else walk(sy, tx, "N", sy - ty)
    return horizontal + vertical


def arms(kind: int, sy: int, sx: int, dy: int, dx: int) -> list[list[tuple[int, int, str]]]:
    """The path(s) of one transfer: one for a unicast, two arms for a multicast."""
    if kind == 0:
        return [xy_path(sy, sx, dy, dx)]
    lo, hi = dy, dx
    if kind == 1:
        return [walk(sy, sx, "W", sx - lo), walk(sy, sx, "E", hi - sx)]
    return [walk(sy, sx, "N", sy - lo), walk(sy, sx, "S", hi - sy)]


def route(mesh: PhysicalMesh, transfers: Transfers, router_s: float) -> dict:
    """Route every transfer; return loads (dict per link), hops, crossings, latency, bytes x hops."""
    load: dict[tuple[int, int, str], float] = {}
    hops, crossings, latency = [], [], []
    bytes_hops = 0.0
    for i in range(len(transfers)):
        sy, sx = int(transfers.src_y[i]), int(transfers.src_x[i])
        dy, dx = int(transfers.dst_y[i]), int(transfers.dst_x[i])
        b, kind = float(transfers.nbytes[i]), int(transfers.kind[i])
        arm_latencies, n_links, n_cross = [], 0, 0
        for path in arms(kind, sy, sx, dy, dx):
            t = 0.0
            for (y, x, d) in path:
                assert mesh.bandwidth_bytes_per_s[y, x, INDEX[d]] > 0, "route left the mesh"
                load[(y, x, d)] = load.get((y, x, d), 0.0) + b
                t += float(mesh.latency_s[y, x, INDEX[d]]) + router_s
                n_cross += bool(mesh.crosses_scribe[y, x, INDEX[d]])
            n_links += len(path)
            arm_latencies.append(t)
        hops.append(n_links)
        crossings.append(n_cross)
        latency.append(max(arm_latencies))
        bytes_hops += b * n_links
    return {"load": load, "hops": hops, "crossings": crossings, "latency": latency, "bytes_hops": bytes_hops}


def link_stats(mesh: PhysicalMesh, load: dict) -> tuple[float, tuple[int, int, int] | None, float]:
    """Busiest link (time, (y, x, direction index)) and energy of a load dict."""
    best, best_link, energy = 0.0, None, 0.0
    for (y, x, d), b in sorted(load.items(), key=lambda kv: (kv[0][0], kv[0][1], INDEX[kv[0][2]])):
        k = INDEX[d]
        t = b / float(mesh.bandwidth_bytes_per_s[y, x, k]) if b else 0.0
        if t > best:
            best, best_link = t, (y, x, k)
        energy += b * 8 * float(mesh.energy_j_per_bit[y, x, k])
    return best, best_link, energy


def prefix_sums(mesh: PhysicalMesh) -> tuple[list, list, list, list]:
    """Latency and scribe-crossing sums of links [y, 0..j-1, E/W] and [0..i-1, x, N/S], as nested lists."""
    ny, nx = mesh.shape
    lat_x = [[[0.0, 0.0] for _ in range(nx + 1)] for _ in range(ny)]
    cross_x = [[[0, 0] for _ in range(nx + 1)] for _ in range(ny)]
    lat_y = [[[0.0, 0.0] for _ in range(nx)] for _ in range(ny + 1)]
    cross_y = [[[0, 0] for _ in range(nx)] for _ in range(ny + 1)]
    for s, (horizontal, vertical) in enumerate((("E", "N"), ("W", "S"))):
        for y in range(ny):
            for x in range(nx):
                lat_x[y][x + 1][s] = lat_x[y][x][s] + float(mesh.latency_s[y, x, INDEX[horizontal]])
                cross_x[y][x + 1][s] = cross_x[y][x][s] + int(mesh.crosses_scribe[y, x, INDEX[horizontal]])
        for x in range(nx):
            for y in range(ny):
                lat_y[y + 1][x][s] = lat_y[y][x][s] + float(mesh.latency_s[y, x, INDEX[vertical]])
                cross_y[y + 1][x][s] = cross_y[y][x][s] + int(mesh.crosses_scribe[y, x, INDEX[vertical]])
    return lat_x, cross_x, lat_y, cross_y
