"""Time the flow routing kernels against the naive reference.

1. A 64 x 64 mesh with 10^4 random transfers: kernel (after warm-up) vs the
   pure-Python reference in ``tests/naive.py``; the speed-up should be >= 50x.
2. The full WSE-3 mesh (756 x 1176) with 10^6 random transfers: kernel alone.

Transfers are 80 % unicast, 10 % row and 10 % column multicast with uniform
random endpoints.  Prints the figures and, with ``--write``, records them in
``benchmarks/results/flow_kernels.json``.  Run from the repository root:
``python benchmarks/bench_flow_kernels.py [--write]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wafersim import load_system  # noqa: E402
from wafersim.dataflow.transfers import COL_MULTICAST, ROW_MULTICAST, UNICAST, Transfers  # noqa: E402
from wafersim.engines.flow_routing import route_transfers, warm_up  # noqa: E402
from wafersim.hardware.mesh import PhysicalMesh  # noqa: E402
from wafersim.testing import naive  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_json  # noqa: E402

SEED = 2024
KIND_SHARES = {UNICAST: 0.8, ROW_MULTICAST: 0.1, COL_MULTICAST: 0.1}
SMALL = {"ny": 64, "nx": 64, "dies_y": 4, "dies_x": 4, "transfers": 10_000}
REPEATS = 5
RESULTS = ROOT / "benchmarks" / "results" / "flow_kernels.json"


def random_transfers(rng: np.random.Generator, ny: int, nx: int, n: int) -> Transfers:
    kind = rng.choice(list(KIND_SHARES), size=n, p=list(KIND_SHARES.values())).astype(np.int8)
    sy, sx = rng.integers(0, ny, n), rng.integers(0, nx, n)
    dy, dx = rng.integers(0, ny, n), rng.integers(0, nx, n)
    row, col = kind == ROW_MULTICAST, kind == COL_MULTICAST
    # Multicast spans: lo in dst_y, hi in dst_x, around the source.
    dy[row], dx[row] = rng.integers(0, sx[row] + 1), rng.integers(sx[row], nx)
    dy[col], dx[col] = rng.integers(0, sy[col] + 1), rng.integers(sy[col], ny)
    nbytes = rng.integers(1, 4097, n).astype(np.float64)
    return Transfers(sy, sx, dy, dx, nbytes, kind)


def mesh_of(ny: int, nx: int, dies_y: int, dies_x: int) -> PhysicalMesh:
    spec = load_system("wse3")
    m = dataclasses.replace(spec.mesh, cores_y=ny, cores_x=nx, dies_y=dies_y, dies_x=dies_x)
    m.check()
    return PhysicalMesh.from_spec(dataclasses.replace(spec, mesh=m))


def time_kernel(mesh: PhysicalMesh, transfers: Transfers) -> tuple[float, float, object]:
    """Best wall time over REPEATS runs and peak traced memory of one run (bytes)."""
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = route_transfers(mesh, transfers)
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    route_transfers(mesh, transfers)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, float(peak), result


def main(write: bool = False) -> dict:
    rng = np.random.Generator(np.random.PCG64(SEED))
    t0 = time.perf_counter()
    warm_up()
    warm_s = time.perf_counter() - t0

    mesh = mesh_of(SMALL["ny"], SMALL["nx"], SMALL["dies_y"], SMALL["dies_x"])
    transfers = random_transfers(rng, mesh.ny, mesh.nx, SMALL["transfers"])
    kernel_s, kernel_peak, result = time_kernel(mesh, transfers)
    t0 = time.perf_counter()
    ref = naive.route(mesh, transfers, 0.0)
    naive_s = time.perf_counter() - t0
    assert np.array_equal(result.hops, ref["hops"]), "kernel and naive disagree"
    small = {
        "mesh": [mesh.ny, mesh.nx], "transfers": len(transfers), "link_hops": int(result.hops.sum()),
        "kernel_s": kernel_s, "naive_s": naive_s, "speedup": naive_s / kernel_s,
        "kernel_transfers_per_s": len(transfers) / kernel_s, "naive_transfers_per_s": len(transfers) / naive_s,
        "kernel_peak_traced_bytes": kernel_peak,
    }

    spec = load_system("wse3")
    wse3 = PhysicalMesh.from_spec(spec)
    n_big = 1_000_000
    big_transfers = random_transfers(rng, wse3.ny, wse3.nx, n_big)
    big_s, big_peak, big_result = time_kernel(wse3, big_transfers)
    big = {
        "mesh": [wse3.ny, wse3.nx], "transfers": n_big, "link_hops": int(big_result.hops.sum()),
        "kernel_s": big_s, "kernel_transfers_per_s": n_big / big_s,
        "link_hops_per_s": float(big_result.hops.sum()) / big_s,
        "kernel_peak_traced_bytes": big_peak, "max_link_time_s": big_result.max_link_time_s,
    }
    figures = {
        "benchmark": "flow_kernels", "seed": SEED, "repeats": REPEATS, "kind_shares": {str(k): v for k, v in KIND_SHARES.items()},
        "warm_up_s": warm_s, "small": small, "wse3": big,
        "process_max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
        "machine": platform.machine(), "processor": platform.processor(),
    }
    print(f"warm-up (compile or cache load): {warm_s:.2f} s")
    print(f"64 x 64, {small['transfers']} transfers: kernel {kernel_s * 1e3:.2f} ms "
          f"({small['kernel_transfers_per_s']:.3g} transfers/s), naive {naive_s:.2f} s, "
          f"speed-up {small['speedup']:.0f}x, kernel peak traced memory {kernel_peak / 2**20:.2f} MiB")
    print(f"WSE-3 {wse3.ny} x {wse3.nx}, {n_big} transfers: kernel {big_s:.2f} s "
          f"({big['kernel_transfers_per_s']:.3g} transfers/s, {big['link_hops_per_s']:.3g} link hops/s), "
          f"peak traced memory {big_peak / 2**20:.1f} MiB, process max RSS {figures['process_max_rss_bytes'] / 2**20:.0f} MiB")
    if write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        write_json(RESULTS, figures)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return figures


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"record the figures in {RESULTS.relative_to(ROOT)}")
    main(ap.parse_args().write)
