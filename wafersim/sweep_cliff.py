"""Context sweep to find where a system falls off the on-chip memory cliff.

``context`` here is the whole sequence a user holds at its last decode step,
prompt + output (what :attr:`Scenario.max_context` counts and what the KV
cache is sized for): a point at context C runs ``prompt_tokens = C -
output_tokens``.  A context of the model's ``max_context`` is therefore
allowed; anything larger is refused before any point runs.

Each system is sized as every command sizes it (:func:`wafersim.sizing.default_sizing`:
the fewest wafers, or whole GPU nodes in their fastest layout, that hold the job) at
the smallest context swept, and keeps that hardware and layout at every larger
context, so that the cliff shows instead of being hidden by devices added as the
context grows.  A ``wafers``, ``gpus``, ``tp``, ``pp`` or ``ep`` the caller gives
is used as given at every context (``wafers=1`` for the cliff of one wafer;
``wafers="auto"`` sizes each point anew).  As in ``wafersim compare``, each
scenario key goes to the side it fits (``wafers`` and ``mapping`` to wafers;
``gpus``, ``tp``, ``pp``, ``ep`` to GPU systems) and a system whose kind has no
engine at ``fidelity`` runs its kind's default engine::

    from wafersim.sweep_cliff import cliff_sweep, find_cliff
    results = cliff_sweep(["wse3", "dgx-h100"], "llama-3.1-8b", [2048, 16384, 65536], batch=4)
    find_cliff(results, "wse3")        # -> 65536
    results = cliff_sweep(["wse3"], "llama-3.1-8b", [2048, 16384, 65536], batch=4, refine=1024)
    find_cliff(results, "wse3")        # the first spilling multiple of 1024 above 16384

``refine`` bisects between each system's last fitting context and its first
spilling one until they are ``refine`` tokens apart (whether weights and KV
cache fit falls monotonically with context: the KV cache only grows), so a
coarse grid costs a handful of extra runs, not a fine grid's.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable

from .engines import registry as engines
from .presets import load_model, load_system
from .results.run_result import RunResult
from .runner import simulate
from .sizing import SIZING_KEYS, held_layout

__all__ = ["cliff_sweep", "find_cliff", "find_cliffs", "context_of", "default_contexts", "bisect_cliff"]



def default_contexts(max_context: int, start: int = 1024) -> list[int]:
    """Powers of two from ``start`` up to ``max_context`` (inclusive)."""
    out, c = [], start
    while c <= max_context:
        out.append(c)
        c *= 2
    return out


def context_of(result: RunResult) -> int:
    """The context (prompt + output tokens) a run was made at."""
    s = result.summary
    return int(s["prompt_tokens"]) + int(s["output_tokens"])


def _check_contexts(contexts: list[int], output_tokens: int, model) -> list[int]:
    if not contexts:
        raise ValueError("no contexts to sweep")
    bad = [c for c in contexts if isinstance(c, bool) or not isinstance(c, int)]
    if bad:
        raise ValueError(f"contexts must be integers; got {bad}")
    short = [c for c in contexts if c <= output_tokens]
    if short:
        raise ValueError(f"contexts {short} leave no prompt: a context is prompt + output tokens and must exceed "
                         f"output_tokens={output_tokens}")
    long = [c for c in contexts if c > model.max_context]
    if long:
        raise ValueError(f"contexts {long} exceed the {model.max_context}-token limit (max_context) of {model.name}")
    return sorted(set(contexts))


def bisect_cliff(run, fits_at: int, spills_at: int, resolution: int) -> list[RunResult]:
    """Runs between a context that fits (``fits_at``) and one that spills (``spills_at``),
    halving the gap until it is at most ``resolution`` tokens; ``run(context)`` makes one run.
    Every context tried is ``fits_at`` plus a multiple of ``resolution``, so the smallest
    spilling one found is the first spilling context on that grid."""
    if resolution < 1:
        raise ValueError(f"the refinement resolution must be a positive number of tokens; got {resolution}")
    lo, hi, out = fits_at, spills_at, []
    while hi - lo > resolution:
        steps = (hi - lo + resolution - 1) // resolution
        mid = lo + max(1, steps // 2) * resolution
        if mid >= hi:
            break
        r = run(mid)
        out.append(r)
        if r.summary["fits_on_chip"]:
            lo = mid
        else:
            hi = mid
    return out


def cliff_sweep(systems: list[str], model: str, contexts: list[int], batch: int | str = 1, output_tokens: int = 128,
                fidelity: str = "analytic", *, progress: bool = False, refine: int | None = None,
                **scenario: Any) -> list[RunResult]:
    """Run every (system, context) pair; results are ordered by system, then ascending context.
    With ``refine`` (tokens), each system's cliff is then narrowed by :func:`bisect_cliff`
    between its last fitting and first spilling context, and those runs join the results.

    ``systems`` and ``model`` are preset names, paths or specs.  Extra keywords
    (``dtype``, ``kv_dtype``, ``wafers``, ``tp``, ``pp``, ``ep``, ``layers``,
    ``mapping``, ...) pass to :func:`wafersim.simulate`, each to the kind of
    system it applies to.  Raises :class:`ValueError` for a context beyond the
    model's ``max_context`` (or not above ``output_tokens``) and
    :class:`wafersim.ConfigError` for an unknown preset or bad scenario value.
    With ``progress=True`` one line per point goes to stderr.
    """
    model_spec = load_model(model) if isinstance(model, str) else model
    contexts = _check_contexts(list(contexts), output_tokens, model_spec)
    specs = [load_system(s) if isinstance(s, str) else s for s in systems]
    if not specs:
        raise ValueError("no systems to sweep")
    mapping = scenario.pop("mapping", None)
    sizing = {k: scenario.pop(k) for k in SIZING_KEYS if scenario.get(k) is not None}
    scenario = {k: v for k, v in scenario.items() if k not in SIZING_KEYS}
    total, results = len(specs) * len(contexts), []
    for spec in specs:
        side = engines.fidelity_or_default(spec.kind, fidelity)
        mine = {k: v for k, v in sizing.items() if (k == "wafers") == (spec.kind == "wafer")}
        kind_kw = dict(fidelity=side, **({"mapping": mapping} if spec.kind == "wafer" else {}))
        if not mine:
            # sized to hold the job at the smallest context, then held there as the context grows
            first = simulate(spec, model_spec, batch=batch, prompt_tokens=contexts[0] - output_tokens,
                             output_tokens=output_tokens, **kind_kw, **scenario)
            mine = held_layout(spec.kind, first.summary)
        kind_kw.update(mine)

        def run(ctx: int, spec=spec, kind_kw=kind_kw) -> RunResult:
            r = simulate(spec, model_spec, batch=batch, prompt_tokens=ctx - output_tokens,
                         output_tokens=output_tokens, **kind_kw, **scenario)
            if progress:
                s = r.summary
                print(f"[{len(results) + 1}/{total}] {spec.name} context {ctx}: "
                      f"{s['tokens_per_s_per_user']:.4g} tokens/s per user, "
                      f"{'fits' if s['fits_on_chip'] else 'spills'}, {s['bottleneck']}", file=sys.stderr, flush=True)
            return r

        mine = []
        for ctx in contexts:
            mine.append(run(ctx))
            results.append(mine[-1])
        spilling = [context_of(r) for r in mine if not r.summary["fits_on_chip"]]
        if refine is not None and spilling:
            first = min(spilling)
            below = [context_of(r) for r in mine if r.summary["fits_on_chip"] and context_of(r) < first]
            if below:
                extra = bisect_cliff(run, max(below), first, refine)
                total += len(extra)
                results[len(results) - len(mine):] = sorted(mine + extra, key=context_of)
    return results


def _systems(results: Iterable[RunResult]) -> list[str]:
    names: list[str] = []
    for r in results:
        if r.summary["system"] not in names:
            names.append(r.summary["system"])
    return names


def find_cliff(results: Iterable[RunResult], system: str | None = None) -> int | None:
    """The smallest context at which ``system`` no longer fits on chip; None if it fits at every context swept.

    ``system`` may be left out when the results hold one system only.  If the
    smallest context swept already spills, that context is returned (the cliff
    lies at or below it).
    """
    results = list(results)
    names = _systems(results)
    if system is None:
        if len(names) != 1:
            raise ValueError(f"results hold {len(names)} systems ({', '.join(names)}); name one")
        system = names[0]
    elif system not in names:
        raise ValueError(f"no results for system {system!r}; have {', '.join(names)}")
    spilled = [context_of(r) for r in results if r.summary["system"] == system and not r.summary["fits_on_chip"]]
    return min(spilled) if spilled else None


def find_cliffs(results: Iterable[RunResult]) -> dict[str, int | None]:
    """:func:`find_cliff` for every system in ``results``, in order of first appearance."""
    results = list(results)
    return {name: find_cliff(results, name) for name in _systems(results)}
