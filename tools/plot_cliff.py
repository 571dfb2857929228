"""Sweep the context and plot where each system falls off the on-chip memory cliff.

    python tools/plot_cliff.py MODEL --systems wse3 dgx-h100 [--batch N|max]
        [--contexts 1024,4096,... | --max-context N] [--output-tokens N]
        [--wafers N|auto] [--tp N|auto] [--pp N] [--ep N] [--dtype D] [--kv-dtype D]
        [--set KEY=VALUE ...] [--resolution N | --no-refine] [--fidelity NAME] [-o PREFIX] [--dpi N]

runs every (system, context) pair with :func:`wafersim.sweep_cliff.cliff_sweep`
(a context is prompt + output tokens; a wafer keeps one wafer unless
``--wafers`` says otherwise, a GPU system picks its tensor parallelism unless
``--tp`` does), then narrows each cliff by bisection between the last context
that fits and the first that spills, down to ``--resolution`` tokens (1024),
prints a table and each system's cliff (the first context that no longer fits
on chip), and writes ``PREFIX-cliff.h5`` (every run, with ids such as
``wse3-ctx4096``) and ``PREFIX-cliff.png``.  The system flags are those of
``wafersim run``; each goes to the kind of system it describes.  Default
contexts: powers of two from 1024 to the model's max_context (or to
``--max-context``).  PREFIX defaults to ``MODEL-bBATCH``.  The figure's
title names the model, each system with its runtime profile and class, and the
precision; every context run has a tick, labelled where the label has room
(the bisection crowds them near a cliff).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])      # run from a checkout without installing
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _parser() -> argparse.ArgumentParser:
    from wafersim.engines import registry as engines
    from wafersim.plotting.tool import tool_parser

    p = tool_parser("plot_cliff.py", __doc__, "writes PREFIX-cliff.png and PREFIX-cliff.h5 (default MODEL-bBATCH)",
                    metavar="PREFIX")
    p.add_argument("model", help="model preset name or TOML path")
    p.add_argument("--systems", nargs="+", required=True, metavar="SYSTEM", help="system presets to compare")
    p.add_argument("--batch", default="1", help="concurrent sequences, or 'max' (default 1)")
    ctx = p.add_mutually_exclusive_group()
    ctx.add_argument("--contexts", default=None, metavar="N,N,...",
                     help="comma-separated contexts in tokens (prompt + output)")
    ctx.add_argument("--max-context", type=int, default=None, metavar="N",
                     help="powers of two from 1024 up to N (default: the model's max_context)")
    p.add_argument("--output-tokens", type=int, default=128, help="output tokens per sequence (default 128)")
    p.add_argument("--fidelity", choices=engines.fidelities(), default="analytic",
                   help="engine (a system whose kind lacks it runs its default; default analytic)")
    s = p.add_argument_group("systems (as `wafersim run`; each flag goes to the kind it describes)")
    s.add_argument("--wafers", default=None, help="wafers used, or 'auto' (default 1: auto would hide the cliff)")
    s.add_argument("--tp", default=None, help="tensor-parallel GPUs, or 'auto' (default auto)")
    s.add_argument("--pp", type=int, default=None, help="pipeline stages (default 1)")
    s.add_argument("--ep", type=int, default=None, help="expert-parallel ranks (default 1)")
    s.add_argument("--dtype", default=None, help="weight format (default: the model's)")
    s.add_argument("--kv-dtype", default=None, help="KV-cache format (default: as --dtype)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset field: system.<key>, model.<key> or mapping.<key>")
    r = p.add_mutually_exclusive_group()
    r.add_argument("--resolution", type=int, default=1024, metavar="TOKENS",
                   help="narrow each cliff by bisection to this many tokens (default 1024)")
    r.add_argument("--no-refine", action="store_true", help="only the contexts of the grid")
    p.add_argument("--no-plot", action="store_true", help="write only the .h5 and the table")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _contexts(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise ValueError(f"--contexts expects comma-separated integers such as 1024,4096; got {text!r}") from None
    if not values:
        raise ValueError("--contexts is empty")
    return values


def _count_or(text: str | None, word: str, flag: str):
    if text is None or text == word:
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{flag} expects a positive integer or '{word}'; got {text!r}")
    return value


def _sets(items: list[str]) -> dict[str, dict]:
    from wafersim.config import parse_override
    out: dict[str, dict] = {"system": {}, "model": {}, "mapping": {}}
    for item in items:
        key, value = parse_override(item)
        head, _, rest = key.partition(".")
        if head not in out or not rest:
            raise ValueError(f"--set {item!r}: expected system.<key>, model.<key> or mapping.<key>")
        out[head][rest] = value
    return out


def _table(results) -> str:
    from wafersim.sweep_cliff import context_of
    rows = [(r.summary["system"], str(context_of(r)), f"{r.summary['tokens_per_s_per_user']:.4g}",
             "yes" if r.summary["fits_on_chip"] else "no", str(r.summary["bottleneck"])) for r in results]
    head = ("system", "context", "tokens/s/user", "fits", "bottleneck")
    w = [max(len(x) for x in col) for col in zip(head, *rows)]
    right = (False, True, True, False, False)

    def fmt(row) -> str:
        return "  ".join(v.rjust(n) if r else v.ljust(n) for v, n, r in zip(row, w, right)).rstrip()
    return "\n".join([fmt(head), fmt(tuple("-" * n for n in w))] + [fmt(r) for r in rows])


def _run(args) -> list:
    """Sweep, write the .h5, print the table and the cliffs; the figure to write, if any."""
    import wafersim
    from wafersim.sweep_cliff import cliff_sweep, context_of, default_contexts, find_cliffs

    batch = _count_or(args.batch, "max", "--batch")
    sets = _sets(args.set)
    scenario = {k: v for k, v in (("wafers", _count_or(args.wafers, "auto", "--wafers")),
                                  ("tp", _count_or(args.tp, "auto", "--tp")), ("pp", args.pp), ("ep", args.ep),
                                  ("dtype", args.dtype), ("kv_dtype", args.kv_dtype)) if v is not None}
    if sets["mapping"]:
        scenario["mapping"] = sets["mapping"]
    model = wafersim.load_model(args.model, sets["model"])
    if args.contexts is not None:
        contexts = _contexts(args.contexts)
    else:
        top = args.max_context if args.max_context is not None else model.max_context
        if top > model.max_context:
            raise ValueError(f"--max-context {top} exceeds the {model.max_context}-token limit (max_context) "
                             f"of {model.name}")
        contexts = default_contexts(top)
        if not contexts:
            raise ValueError(f"--max-context {top} is below 1024, the first default context; "
                             "give --contexts instead")
    systems = [wafersim.load_system(name, sets["system"]) for name in args.systems]
    results = cliff_sweep(systems, model, contexts, batch=batch, output_tokens=args.output_tokens,
                          fidelity=args.fidelity, progress=not args.quiet,
                          refine=None if args.no_refine else args.resolution, **scenario)

    prefix = args.output if args.output is not None else f"{model.name}-b{args.batch}"
    ids = [f"{r.summary['system']}-ctx{context_of(r)}" for r in results]
    Path(f"{prefix}-cliff.h5").parent.mkdir(parents=True, exist_ok=True)    # the prefix may name a new folder
    h5 = wafersim.write_results(f"{prefix}-cliff.h5", results, run_ids=ids)
    print(f"{model.name}, batch {batch}, {args.output_tokens} output tokens (context = prompt + output)")
    print(_table(results))
    first, last = min(context_of(r) for r in results), max(context_of(r) for r in results)
    for name, cliff in find_cliffs(results).items():
        if cliff is None:
            print(f"{name} cliff: none up to {last} tokens")
        else:
            sharp = "" if args.no_refine else f" (to {args.resolution} tokens)"
            print(f"{name} cliff: {cliff} tokens" + (" (spills already at the smallest context swept)"
                                                      if cliff == first else sharp))
    print(f"wrote {h5}")
    if args.no_plot:
        return []
    from wafersim.plots import plot_cliff
    return [(plot_cliff(results).figure, Path(f"{prefix}-cliff.png"))]


def main(argv: list[str] | None = None) -> int:
    from wafersim.plotting.tool import run_tool
    args = _parser().parse_args(argv)
    return run_tool(args, _run, plot=not args.no_plot, instead="or pass --no-plot")


if __name__ == "__main__":
    sys.exit(main())
