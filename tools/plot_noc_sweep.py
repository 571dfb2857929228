"""Plot a latency-throughput curve written by ``wafersim noc-sweep -o FILE.h5``.

    python tools/plot_noc_sweep.py sweep.h5 [-o sweep.png] [--bound]

Left: mean and 99th-percentile packet latency (cycles) against accepted
throughput (flits/node/cycle); right: accepted against offered load.  With
``--bound`` a dashed line marks the bisection bound 4/k of uniform traffic on a
k x k mesh (k the larger side).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])      # run from a checkout without installing
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _draw(args) -> list:
    from wafersim.plotting.tool import pyplot
    from wafersim.results.hdf5 import read_noc_sweep

    plt = pyplot()
    d = read_noc_sweep(args.sweep)
    cfg = d["config"]
    k = max(cfg["mesh"]["cores_y"], cfg["mesh"]["cores_x"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="tight")
    ax1.plot(d["accepted"], d["latency_mean"], "o-", label="mean")
    ax1.plot(d["accepted"], d["latency_p99"], "s--", label="99th percentile")
    ax1.set_xlabel("accepted throughput (flits/node/cycle)")
    ax1.set_ylabel("packet latency (cycles)")
    ax1.set_yscale("log")
    ax2.plot(d["offered"], d["accepted"], "o-", label="accepted")
    ax2.plot(d["offered"], d["offered"], ":", color="grey", label="offered")
    ax2.set_xlabel("offered load (flits/node/cycle)")
    ax2.set_ylabel("accepted throughput (flits/node/cycle)")
    if args.bound:
        for ax in (ax1,):
            ax.axvline(4.0 / k, ls="--", color="k", label=f"bisection bound 4/k = {4.0 / k:.3g}")
        ax2.axhline(4.0 / k, ls="--", color="k", label="bisection bound")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"{cfg['pattern']} traffic, {cfg['mesh']['cores_y']} x {cfg['mesh']['cores_x']} mesh, "
                 f"{cfg['packet_flits']}-flit packets, {cfg['router']['vcs']} VCs x {cfg['router']['buffer_flits']} flits")
    return [(fig, Path(args.output) if args.output else Path(args.sweep).with_suffix(".png"))]


def main(argv: list[str] | None = None) -> int:
    from wafersim.plotting.tool import run_tool, tool_parser
    p = tool_parser("plot_noc_sweep.py", __doc__, "PNG path (default: the input path with .png)")
    p.add_argument("sweep", help="HDF5 file written by `wafersim noc-sweep -o`")
    p.add_argument("--bound", action="store_true", help="mark the uniform-traffic bisection bound 4/k")
    return run_tool(p.parse_args(argv), _draw)


if __name__ == "__main__":
    sys.exit(main())
