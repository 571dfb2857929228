"""``wafersim serve``: requests arriving over time on one deployment (wafersim.serving)."""

from __future__ import annotations

import argparse
from typing import Any

from . import cli_args
from .config import ConfigError

__all__ = ["add_parser", "cmd_serve"]

DESCRIPTION = """\
Simulate requests arriving at MODEL on SYSTEM, one by one: a continuous-batching
scheduler admits them, prefills their prompts in chunks mixed into the decode steps and
decodes them, each step as long as the engine says for the batch and context it has.
Prints P50/P90/P99 of time to first token (TTFT), time per output token (TPOT) and
end-to-end latency, throughput, goodput under --slo and tokens/s per user
(1000 / P90 TPOT in ms, as MLPerf reports it).

The system is sized for the longest request as every command sizes one (--wafers auto,
--gpus auto); the scheduler's limits come from the runtime profile (--runtime) where it
sets them and from vLLM's defaults otherwise; the flags below win over both.

Disaggregated: --prefill SYSTEM:N --decode SYSTEM:M run prefill on N copies of one sized
deployment and decode on M copies of another (any mix of wafer and GPU presets; SYSTEM
may then be left out, or named once and the pools given as counts: --prefill 1
--decode 3).  Each request's KV moves between them over the slower end's link (a GPU
system's scale-out NICs, a wafer's edge I/O), while the decode pool goes on decoding
(--kv-transfer async) or stalling the step that receives it (blocking); the report shows
the transfer and the same requests on aggregated deployments of equal devices, power
and cost.

Arrivals: poisson:RATE, gamma:RATE:cvC (bursty for C > 1) or trace:FILE (CSV or JSONL
with an arrival time, prompt tokens and output tokens per row; :ms after the name reads
milliseconds).  Lengths (--prompt, --output): N, uniform:LO:HI, lognormal:MEDIAN:SIGMA or
empirical:N1,N2,...
"""

EPILOG = """\
examples:
  wafersim serve dgx-h100 llama-3.1-70b --arrivals poisson:4 --requests 2000 --slo ttft=2s,tpot=50ms -o s.h5
  wafersim serve wse3 llama-3.1-70b --arrivals gamma:2:cv3 --prompt lognormal:2048:0.5 --output uniform:64:256
  wafersim serve dgx-h100 llama-3.1-8b --arrivals trace:wafersim/serving/data/example-trace.csv
  wafersim serve dgx-h100 llama-3.1-8b --find-rate --slo ttft=1s,tpot=40ms --requests 500
  wafersim serve --prefill dgx-h100:1 --decode wse3:4 llama-3.1-70b --arrivals poisson:4 --slo ttft=2s,tpot=50ms
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to the subcommands of the ``wafersim`` parser."""
    from .serving.settings import DEFAULTS, KV_TRANSFERS, MIXED_STEPS, POLICIES

    e = sub.add_parser("serve", help="simulate requests arriving over time: latency percentiles, goodput under SLOs",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("system", nargs="?", default=None,
                   help="hardware preset name or path (see `wafersim presets`); may be left out when --prefill and "
                        "--decode name their systems")
    e.add_argument("model", help="model preset name or path")
    w = e.add_argument_group("requests")
    w.add_argument("--arrivals", default="poisson:1", metavar="SPEC",
                   help="poisson:RATE, gamma:RATE:cvC or trace:FILE (default poisson:1)")
    w.add_argument("--requests", type=cli_args.positive, default=None, metavar="N",
                   help="requests drawn (default 1000), or the first N of a trace (default all)")
    w.add_argument("--prompt", default="2048", metavar="DIST", help="prompt tokens: N, uniform:LO:HI, "
                   "lognormal:MEDIAN:SIGMA or empirical:N1,N2,... (default 2048)")
    w.add_argument("--output", default="128", metavar="DIST", help="output tokens, as --prompt (default 128)")
    w.add_argument("--seed", type=int, default=0, help="seed of the arrivals and lengths (default 0)")
    g = e.add_argument_group("service level")
    g.add_argument("--slo", default=None, metavar="LIMITS", help="ttft=2s,tpot=50ms (any of ttft, tpot, e2e)")
    g.add_argument("--find-rate", action="store_true",
                   help="search the highest Poisson rate at which --attainment of the requests meet --slo")
    g.add_argument("--attainment", type=cli_args.float_in(1e-6, 1.0, "a share from 0 to 1"), default=0.9,
                   help="share of requests that must meet the SLOs for --find-rate (default 0.9)")
    s = e.add_argument_group("scheduler (default: the runtime profile's, else vLLM's)")
    s.add_argument("--max-running", type=cli_args.positive, default=None, metavar="N",
                   help=f"most requests running at once (default {DEFAULTS['max_running']})")
    s.add_argument("--max-batched-tokens", type=cli_args.positive, default=None, metavar="N",
                   help=f"most tokens a step computes, decode and prefill chunks together "
                        f"(default {DEFAULTS['max_batched_tokens']})")
    s.add_argument("--block-tokens", type=cli_args.positive, default=None, metavar="N",
                   help=f"tokens per KV block (default {DEFAULTS['block_tokens']})")
    s.add_argument("--scheduler-steps", type=cli_args.positive, default=None, metavar="K",
                   help="decode steps per scheduling round (default 1)")
    s.add_argument("--policy", choices=POLICIES, default=None, help="queue order (default fcfs)")
    s.add_argument("--mixed-step", choices=MIXED_STEPS, default=None,
                   help="a step with decode and prefill lasts the larger of the two (max, default) or their sum")
    p = e.add_argument_group("disaggregated prefill and decode")
    p.add_argument("--prefill", default=None, metavar="SYSTEM:N",
                   help="prefill on N copies of SYSTEM sized for the requests (N alone: of the positional SYSTEM)")
    p.add_argument("--decode", default=None, metavar="SYSTEM:M", help="decode on M copies of SYSTEM, as --prefill")
    p.add_argument("--kv-transfer", choices=KV_TRANSFERS, default=None,
                   help="the decode pool receives KV while decoding (async, default) or in the step that admits "
                        "the request, which stalls for it (blocking)")
    p.add_argument("--no-compare", action="store_true",
                   help="leave out the aggregated deployments of equal devices, power and cost")
    d = e.add_argument_group("deployment")
    d.add_argument("--runtime", default=None, metavar="NAME",
                   help="serving-runtime profile (runtimes/; default: the system kind's)")
    d.add_argument("--wafers", type=cli_args.int_or("auto"), default=None, help="wafers (default auto)")
    d.add_argument("--gpus", type=cli_args.int_or("auto"), default=None, help="GPUs (default auto)")
    d.add_argument("--tp", type=cli_args.int_or("auto"), default=None, help="tensor parallelism (GPU systems)")
    d.add_argument("--pp", type=cli_args.positive, default=None, help="pipeline stages (GPU systems)")
    d.add_argument("--ep", type=cli_args.positive, default=None, help="expert-parallel ranks (GPU systems)")
    d.add_argument("--dtype", default=None, help="weight format (default: the model's)")
    d.add_argument("--kv-dtype", default=None, help="KV-cache format (default: same as --dtype)")
    o = e.add_argument_group("output")
    o.add_argument("-o", "--out", default=None, metavar="FILE.h5",
                   help="write the per-request table, the figures and the deployment's run to HDF5")
    o.add_argument("--force", action="store_true", help="let -o replace an existing file")
    o.add_argument("--json", action="store_true", help="print JSON instead of the text report")
    e.set_defaults(func=cmd_serve)
    return e


def cmd_serve(ns: argparse.Namespace) -> int:
    from .serving.api import find_rate, serve
    from .serving.output import found_figures, report, to_json, write

    cli_args.check_out(ns)
    sizing = {k: getattr(ns, k) for k in ("wafers", "gpus", "tp", "pp", "ep", "dtype", "kv_dtype")
              if getattr(ns, k) is not None}
    scheduler = {"max_running": ns.max_running, "max_batched_tokens": ns.max_batched_tokens,
                 "block_tokens": ns.block_tokens, "round_steps": ns.scheduler_steps, "policy": ns.policy,
                 "mixed_step": ns.mixed_step}
    if ns.prefill is not None or ns.decode is not None:
        return _disaggregated(ns, sizing, scheduler)
    for flag in ("kv_transfer", "no_compare"):
        if getattr(ns, flag):
            raise ConfigError(f"--{flag.replace('_', '-')}", "", "applies to disaggregated serving: give --prefill "
                              "and --decode")
    if ns.system is None:
        raise ConfigError("serve", "SYSTEM", "expected SYSTEM MODEL, or MODEL with --prefill SYSTEM:N --decode "
                          "SYSTEM:M")
    found = None
    if ns.find_rate:
        rate, result, tried = find_rate(ns.system, ns.model, slo=ns.slo, attainment=ns.attainment,
                                        requests=ns.requests, prompt=ns.prompt, output=ns.output, seed=ns.seed,
                                        runtime=ns.runtime, scheduler=scheduler, **sizing)
        found = found_figures(rate, result, ns.attainment, tried)
    else:
        result = serve(ns.system, ns.model, arrivals=ns.arrivals, requests=ns.requests, prompt=ns.prompt,
                       output=ns.output, slo=ns.slo, seed=ns.seed, runtime=ns.runtime, scheduler=scheduler, **sizing)
    if ns.out:
        write(ns.out, result, found)
    print(cli_args.dumps(to_json(result, found)) if ns.json else report(result, found))
    if ns.out and not ns.json:
        print(f"results written to {ns.out}")
    return 0


def _disaggregated(ns: argparse.Namespace, sizing: dict[str, Any], scheduler: dict[str, Any]) -> int:
    from .serving.disagg import parse_pool, serve_disaggregated
    from .serving.disagg_output import report, to_json, write

    if ns.prefill is None or ns.decode is None:
        raise ConfigError("--prefill" if ns.prefill is None else "--decode", "",
                          "disaggregated serving needs both --prefill SYSTEM:N and --decode SYSTEM:M")
    if ns.find_rate:
        raise ConfigError("--find-rate", "", "searches the rate of one deployment; leave out --prefill/--decode "
                          "(or sweep --arrivals over the disaggregated one)")
    pools = [parse_pool(text, flag, ns.system) for flag, text in (("--prefill", ns.prefill), ("--decode", ns.decode))]
    if ns.system is not None and all(name != ns.system for name, _ in pools):
        raise ConfigError("serve", "SYSTEM", f"{ns.system!r} is neither pool's system: leave it out when --prefill "
                          "and --decode name theirs, or give the pools as counts")
    result = serve_disaggregated(pools[0], pools[1], ns.model, arrivals=ns.arrivals, requests=ns.requests,
                                 prompt=ns.prompt, output=ns.output, slo=ns.slo, seed=ns.seed, runtime=ns.runtime,
                                 scheduler=scheduler, kv_transfer=ns.kv_transfer or "async",
                                 compare=not ns.no_compare, **sizing)
    if ns.out:
        write(ns.out, result)
    print(cli_args.dumps(to_json(result)) if ns.json else report(result))
    if ns.out and not ns.json:
        print(f"results written to {ns.out}")
    return 0
