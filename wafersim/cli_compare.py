"""``compare --frontier`` and ``compare --at``: each side's frontier (the envelope over its
deployments, or ``--frontier fixed``: the hardware sized for one sequence), the crossovers,
and each side's best deployment where a condition holds."""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import compare_sides
from .cli_args import dumps
from .headtohead import BASES, FRONTIER_KEYS, crossovers, frontier, frontier_table, labelled_frontiers, run_ids
from .report import envelope_line, fmt, frontier_rows, side_line
from .text import ratio

__all__ = ["FRONTIER_MODES", "frontiers", "frontier_command", "at_command", "at_json"]

#: compare --frontier MODE: envelope over deployments (the default), or the batch-1 sizing held
FRONTIER_MODES = ("envelope", "fixed")


def frontiers(ns: argparse.Namespace, loaded: dict[str, tuple[Any, Any, dict[str, Any]]], mode: str) -> dict[str, Any]:
    """Each side's frontier: ``loaded`` maps a side to (system, model, extra scenario keys)."""
    from .sweep.progress import Ticker
    common = {"prompt_tokens": ns.prompt, "output_tokens": ns.output, "dtype": ns.dtype, "kv_dtype": ns.kv_dtype,
              "layers": ns.layers}
    out = {}
    for label, (system, model, extra) in loaded.items():
        extra = {**common, **extra}          # a side's precision names its formats over --dtype/--kv-dtype
        if mode == "fixed":
            with Ticker(f"{system.name} sweeping the batch for {model.name}"):
                out[label] = frontier(system, model, spill=ns.spill, fidelity=ns.fidelity, **extra)
        else:
            from .envelope import envelope
            with Ticker(f"{system.name} searching its deployments for {model.name}"):
                out[label] = envelope(system, model, spill=ns.spill, fidelity=ns.fidelity, **extra)
    return out


def _point(r: Any, d: Any, rid: str) -> dict[str, Any]:
    return {**{k: r.summary.get(k) for k in FRONTIER_KEYS}, "deployment": d.to_json() if d else None, "run": rid}


def frontier_command(ns: argparse.Namespace, both: dict[str, Any], loaded: dict[str, tuple[Any, Any, dict[str, Any]]],
                     runtimes: dict[str, str], runtime_text: str) -> int:
    """``compare --frontier [envelope|fixed]``: print, write (``-o``) or ``--json`` both frontiers."""
    mode = ns.frontier
    sides = frontiers(ns, loaded, mode)
    fa, fb = sides["a"], sides["b"]
    model = both["a"].model
    names = compare_sides.labels(both["a"], both["b"], fa.system, fb.system)
    texts = {basis: crossovers(*labelled_frontiers(fa, fb, names), basis)[1] for basis in BASES}
    ids = {side: run_ids(f, side) for side, f in sides.items()}
    precision = compare_sides.parity(ns, fa.runs[0].summary["precision"], fb.runs[0].summary["precision"])
    if ns.out:
        from .results.hdf5 import write_results
        write_results(ns.out, [*fa.runs, *fb.runs], run_ids=[*ids["a"], *ids["b"]],
                      tables={"frontier/a": frontier_table(fa, "a"), "frontier/b": frontier_table(fb, "b")},
                      extra_attrs={"frontier-crossovers": json.dumps(texts, sort_keys=True)})
    if ns.json:
        print(dumps({side: {"system": f.system, "label": name, "changed": list(both[side].changed), "fixed": f.fixed,
                            "max_batch": f.max_batch, "mode": mode, "evaluated": len(f.evaluated) or len(f.runs),
                            "points": [_point(r, d, rid) for r, d, rid in
                                       zip(f.runs, f.deployments or [None] * len(f.runs), ids[side])]}
                     for side, f, name in (("a", fa, names[0]), ("b", fb, names[1]))}
                    | {"crossovers": texts, "runtime": {"a": runtimes["a"], "b": runtimes["b"], "text": runtime_text},
                       "precision": precision}))
        return 0
    if mode == "fixed":
        how = "each side sized to hold one sequence"
    else:
        searched = "; ".join(f"{label} ran {len(f.evaluated)} points of {len({d.tag() for _, d in f.evaluated})} "
                             "deployments that hold the job" for label, f in (("A", fa), ("B", fb)))
        how = ("each side's envelope over its deployments (devices from the fewest that hold one sequence to "
               f"twice as many, every layout, the batch up to the largest that fits; {searched})")
    print(f"{model.name}: throughput against interactivity, {how}; "
          f"A = {compare_sides.named(both['a'])}, B = {compare_sides.named(both['b'])}")
    print(runtime_text)
    print(precision["text"])
    for label, f in (("A", fa), ("B", fb)):
        if mode == "fixed":
            print(side_line(label, f.runs[0].summary) + f"; batch 1 to {f.max_batch}")
            print(frontier_rows(f.runs))
        else:
            print(envelope_line(label, f.system, len(f.runs)))
            print(frontier_rows(f.runs, [d.text() for d in f.deployments]))
    for text in texts.values():
        print(text)
    if ns.out:
        print(f"results written to {ns.out}; plot with: python tools/plot_frontier.py {ns.out}")
    return 0


def at_json(sides: dict[str, Any], names: tuple[str, str], condition: Any) -> dict[str, Any]:
    """Per basis, each side's best point where ``condition`` holds and which side wins."""
    from .envelope import best_at
    best = {side: best_at(f, condition) for side, f in sides.items()}
    out: dict[str, Any] = {"condition": condition.text(), "labels": {"a": names[0], "b": names[1]}, "bases": {}}
    for basis, (key, words, more) in BASES.items():
        row: dict[str, Any] = {"key": key, "words": words, "winner": None, "ratio": None}
        for side in ("a", "b"):
            hit = best[side][basis]
            row[side] = None if hit is None else {**_point(hit["run"], hit["deployment"], ""), "value": hit["value"]}
            if row[side]:
                del row[side]["run"]
        va, vb = (row[s]["value"] if row[s] else None for s in ("a", "b"))
        if va is not None and vb is not None:
            row["ratio"] = va / vb
            better_a = va > vb if more else va < vb
            row["winner"] = "a" if better_a else ("b" if va != vb else None)
        elif va is not None or vb is not None:
            row["winner"] = "a" if va is not None else "b"
        out["bases"][basis] = row
    return out


def _at_text(data: dict[str, Any]) -> str:
    names = data["labels"]
    out = [f"best deployment of each side where {data['condition']}:"]
    for basis, row in data["bases"].items():
        key, words = row["key"], row["words"]
        parts = []
        for side in ("a", "b"):
            p = row[side]
            if p is None:
                parts.append(f"  {side.upper()} {names[side]}: none (no deployment reaches it, or a price or power is missing)")
                continue
            unit = " per million tokens" if basis == "dollar" else ""
            parts.append(f"  {side.upper()} {names[side]}: {fmt(key, p['value'])}{unit} with {p['deployment']['text']} at "
                         f"batch {p['batch']}, {fmt('tokens_per_s_per_user', p['tokens_per_s_per_user'])} per user")
        if row["winner"] is None:
            verdict = "neither side qualifies" if row["a"] is None else "a tie"
        elif row["ratio"] is None:
            verdict = f"{names[row['winner']]} (the other side has no deployment there)"
        else:
            x = row["ratio"] if basis != "dollar" else 1 / row["ratio"]
            verdict = f"{names[row['winner']]} by {ratio(x if x >= 1 else 1 / x)}"
        out.append(f"{words}: {verdict}")
        out += parts
    return "\n".join(out)


def at_command(ns: argparse.Namespace, both: dict[str, Any], loaded: dict[str, tuple[Any, Any, dict[str, Any]]],
               runtimes: dict[str, str], runtime_text: str) -> int:
    """``compare --at CONDITION``: each side's best deployment on each basis from its envelope."""
    from .explore.goals import constraint
    condition = constraint(ns.at)
    sides = frontiers(ns, loaded, "envelope")
    names = compare_sides.labels(both["a"], both["b"], sides["a"].system, sides["b"].system)
    data = at_json(sides, names, condition)
    first = {side: f.runs[0].summary["precision"] for side, f in sides.items()}
    precision = compare_sides.parity(ns, first["a"], first["b"])
    if ns.json:
        print(dumps({**data, "runtime": {"a": runtimes["a"], "b": runtimes["b"], "text": runtime_text},
                     "precision": precision}))
        return 0
    print(f"{both['a'].model.name}: A = {compare_sides.named(both['a'])}, B = {compare_sides.named(both['b'])}")
    print(runtime_text)
    print(precision["text"])
    print(_at_text(data))
    return 0
