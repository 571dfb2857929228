"""Sweep the context and plot where each system falls off the on-chip memory cliff.

    python tools/plot_cliff.py MODEL --systems wse3 dgx-h100 [--batch N]
        [--contexts 1024,4096,... | --max-context N] [--output-tokens N]
        [--fidelity NAME] [-o PREFIX]

runs every (system, context) pair with :func:`wafersim.sweep_cliff.cliff_sweep`
(a context is prompt + output tokens; a wafer keeps one wafer, a GPU system
picks its tensor parallelism), prints a table and each system's cliff (the
first context that no longer fits on chip), and writes ``PREFIX-cliff.h5``
(every run, with ids such as ``wse3-ctx4096``) and ``PREFIX-cliff.png``.
Default contexts: powers of two from 1024 to the model's max_context (or to
``--max-context``).  PREFIX defaults to ``MODEL-bBATCH``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _parser() -> argparse.ArgumentParser:
    from wafersim.engines import registry as engines

    p = argparse.ArgumentParser(prog="plot_cliff.py", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="model preset name or TOML path")
    p.add_argument("--systems", nargs="+", required=True, metavar="SYSTEM", help="system presets to compare")
    p.add_argument("--batch", type=int, default=1, help="concurrent sequences (default 1)")
    ctx = p.add_mutually_exclusive_group()
    ctx.add_argument("--contexts", default=None, metavar="N,N,...",
                     help="comma-separated contexts in tokens (prompt + output)")
    ctx.add_argument("--max-context", type=int, default=None, metavar="N",
                     help="powers of two from 1024 up to N (default: the model's max_context)")
    p.add_argument("--output-tokens", type=int, default=128, help="output tokens per sequence (default 128)")
    p.add_argument("--fidelity", choices=engines.fidelities(), default="analytic",
                   help="engine (a system whose kind lacks it runs its default; default analytic)")
    p.add_argument("-o", "--output", default=None, metavar="PREFIX",
                   help="writes PREFIX-cliff.png and PREFIX-cliff.h5 (default MODEL-bBATCH)")
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import wafersim
    from wafersim.sweep_cliff import cliff_sweep, context_of, default_contexts, find_cliffs

    plt = None
    if not args.no_plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("error: plotting needs matplotlib; install it with: pip install 'wafersim[plot]' "
                  "(or pass --no-plot)", file=sys.stderr)
            return 2
    try:
        if args.batch < 1:
            raise ValueError(f"--batch must be a positive integer; got {args.batch}")
        model = wafersim.load_model(args.model)
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
        results = cliff_sweep(args.systems, model, contexts, batch=args.batch, output_tokens=args.output_tokens,
                              fidelity=args.fidelity, progress=not args.quiet)
    except (wafersim.ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    prefix = args.output if args.output is not None else f"{model.name}-b{args.batch}"
    ids = [f"{r.summary['system']}-ctx{context_of(r)}" for r in results]
    Path(f"{prefix}-cliff.h5").parent.mkdir(parents=True, exist_ok=True)    # the prefix may name a new folder
    h5 = wafersim.write_results(f"{prefix}-cliff.h5", results, run_ids=ids)
    print(f"{model.name}, batch {args.batch}, {args.output_tokens} output tokens (context = prompt + output)")
    print(_table(results))
    first, last = min(context_of(r) for r in results), max(context_of(r) for r in results)
    for name, cliff in find_cliffs(results).items():
        if cliff is None:
            print(f"{name} cliff: none up to {last} tokens")
        else:
            print(f"{name} cliff: {cliff} tokens" + (" (spills already at the smallest context swept)"
                                                      if cliff == first else ""))
    print(f"wrote {h5}")
    if plt is not None:
        from wafersim.plots import plot_cliff, save_png
        ax = plot_cliff(results)
        png = Path(f"{prefix}-cliff.png")
        save_png(ax.figure, png)
        plt.close(ax.figure)
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
