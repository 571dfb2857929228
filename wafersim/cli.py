"""The ``wafersim`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

from . import cli_args, cli_noc
from ._version import __version__
from .config import ERROR_TEXT_MAX, ConfigError, WafersimError
from .hardware.runtime import RUNTIME_CLASSES
from .presets import (DEFAULT_RUNTIME, DEFAULT_RUNTIME_CLASS, list_presets, load_model, load_runtime, load_system, runtime_for_class,
                      runtime_key_applies)
from .headtohead import SIZING_BASES, replicas_for, with_replicas, with_replicas_note
from . import compare_sides
from .compare_sides import compare_json
from .report import comparison_table, headline, lines, side_line, summary_table, verdict
from .provenance import describe
from .text import plural
from .engines import registry as engines
from .sweep.command import add_sweep_command


#: Largest integer a flag takes; the scenario sets tighter bounds per key (workload.scenario.MAXIMUM).
FLAG_MAX = cli_args.FLAG_MAX
_int_or = cli_args.int_or
_positive = cli_args.positive


_non_negative = cli_args.non_negative
#: the most samples compare --uncertainty takes
UNCERTAINTY_MAX = 10**6
_probability = cli_args.probability
_split_sets = cli_args.split_sets
_typed = cli_args.typed
_check_out = cli_args.check_out
_dumps = cli_args.dumps


def _scenario_args(p: argparse.ArgumentParser, compare: bool = False) -> None:
    g = p.add_argument_group("scenario")
    g.add_argument("--batch", type=_int_or("max"), default=1, help="sequences decoded together, or 'max' (default 1)")
    cli_args.workload_args(g, "engine (default analytic; `wafersim engines` lists them)"
                           + ("; a side without it runs its default" if compare else ""))
    cli_args.precision_args(p.add_argument_group("precision"), compare)
    cli_args.speculative_args(p.add_argument_group("speculative decoding"))
    w = p.add_argument_group("wafer systems")
    w.add_argument("--wafers", type=_int_or("auto"), default=None,
                   help="wafers used, or 'auto' for the fewest that hold the job (default auto; --wafers 1 shows "
                        "the cliff of one wafer)")
    w.add_argument("--placement", choices=("pipelined", "sequential", "streaming"), default=None,
                   help="layer placement (default pipelined)")
    w.add_argument("--cores", default=None, metavar="RxC", help="use only an R x C block of each wafer's cores")
    gp = p.add_argument_group("GPU systems")
    gp.add_argument("--gpus", type=_int_or("auto"), default=None,
                    help="GPUs used, or 'auto' for the fewest whole allocation units (nodes; GB200 NVL72: trays of 4) "
                         "that hold the job; the parallel layout (tp, pp, ep not given) is the fastest that holds "
                         "it (default auto unless --tp/--pp/--ep is given; --gpus 1 shows the cliff of one GPU)")
    gp.add_argument("--tp", type=_int_or("auto"), default=None,
                    help="tensor-parallel GPUs, or 'auto' for the fastest that holds the job (default: as --gpus "
                         "auto chooses; auto when only --pp/--ep is given)")
    gp.add_argument("--pp", type=_positive, default=None, help="pipeline-parallel stages (default 1)")
    gp.add_argument("--ep", type=_positive, default=None,
                    help="expert-parallel ranks for mixture-of-experts models (default 1); GPUs = tp x pp x ep")
    rt = p.add_argument_group("serving runtime")
    rt.add_argument("--runtime", default=None, metavar="NAME",
                    help="runtime profile (runtimes/; `wafersim presets` lists them); default: "
                         + ("the profiles of --runtime-class on both sides" if compare else
                            f"the {DEFAULT_RUNTIME_CLASS} class: {DEFAULT_RUNTIME['gpu']} on GPU systems, "
                            f"{DEFAULT_RUNTIME['wafer']} on wafers"))
    if compare:
        rt.add_argument("--runtime-class", choices=RUNTIME_CLASSES, default=None,
                        help=f"class of software both sides run (default {COMPARE_CLASS}): each side gets its "
                             "kind's profile of that class")
        rt.add_argument("--runtime-a", default=None, metavar="NAME", help="runtime profile of side A (may cross classes)")
        rt.add_argument("--runtime-b", default=None, metavar="NAME", help="runtime profile of side B (may cross classes)")
    o = p.add_argument_group("output")
    o.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset field: system.<key>, model.<key>, mapping.<key> or runtime.<key> "
                        "(a key of the runtime profile's table for the system's kind, e.g. runtime.efficiency.memory); "
                        "deployment.<key> is system.deployment.<key>"
                        + ("; a. or b. before any of these for one side (a.<key>: a system key)" if compare else ""))
    o.add_argument("-o", "--out", default=None, metavar="FILE.h5", help="write results to an HDF5 file")
    o.add_argument("--force", action="store_true", help="let -o replace an existing file, and run a --fidelity "
                   "cycle job whose estimated work is above the bound (README, Reliability)")
    o.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _scenario(ns: argparse.Namespace) -> dict[str, Any]:
    return {"batch": ns.batch, "prompt_tokens": ns.prompt, "output_tokens": ns.output, "dtype": ns.dtype,
            "kv_dtype": ns.kv_dtype, "wafers": ns.wafers, "tp": ns.tp, "pp": ns.pp, "ep": ns.ep, "gpus": ns.gpus,
            "layers": ns.layers, "fidelity": ns.fidelity, "speculative": ns.speculative,
            "acceptance": ns.acceptance, "draft": ns.draft, "request_rate": ns.request_rate,
            **cli_args.precision_keys(ns, getattr(ns, "side", None)), **getattr(ns, "parity", {})}


def _mapping(ns: argparse.Namespace, sets: dict[str, Any]) -> dict[str, Any]:
    mapping = dict(sets)
    if ns.placement:
        mapping["placement"] = ns.placement
    if ns.cores:
        mapping["cores"] = ns.cores
    return mapping


_WAFER_FLAGS = {"wafers": "--wafers", "placement": "--placement", "cores": "--cores"}
_GPU_FLAGS = {"gpus": "--gpus", "tp": "--tp", "pp": "--pp", "ep": "--ep"}


def _load_side(system_name: str, system_sets, typed, runtime: str | None, runtime_sets: dict[str, Any],
               compare: bool = False):
    """Load a system with its runtime profile; in ``compare`` a ``--set runtime.KEY`` reaches
    only the sides whose kind has that key."""
    if compare and runtime_sets:
        kind = load_system(system_name, system_sets, origin=typed).kind
        runtime_sets = {k: v for k, v in runtime_sets.items() if runtime_key_applies(kind, k)}
    return load_system(system_name, system_sets, origin=typed, runtime=runtime, runtime_overrides=runtime_sets or None)


def _run_one(system_name: str, model, ns, system_sets, mapping, compare: bool = False, typed=None,
             runtime: str | None = None, runtime_sets: dict[str, Any] | None = None):
    """Run one system.  ``run`` refuses flags meant for the other kind of system;
    ``compare`` applies each flag to the side it fits and runs a side whose kind has no
    engine at ``--fidelity`` with its kind's default engine."""
    system = _load_side(system_name, system_sets, typed, runtime, runtime_sets or {}, compare)
    scenario = _scenario(ns)
    wafer = system.kind == "wafer"
    foreign = _GPU_FLAGS if wafer else _WAFER_FLAGS
    given = [flag for key, flag in foreign.items() if getattr(ns, key) is not None]
    if not wafer and mapping and not given:
        given = ["--set mapping.*"]
    if given and not compare:
        kind, other = ("a wafer", "GPU systems") if wafer else ("a GPU system", "wafer systems")
        raise ConfigError("command line", given[0].lstrip("-"),
                          f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to {other}; "
                          f"{system.name} is {kind}")
    # every command sizes a system the same way (wafersim.sizing.default_sizing): what the
    # user left out is None, and a flag for the other kind is dropped (compare) or refused (run)
    for key in foreign:
        scenario.pop(key, None)
    if not wafer:
        mapping = None
    if compare:
        scenario["fidelity"] = engines.fidelity_or_default(system.kind, ns.fidelity)
    from .runner import simulate        # NumPy and the engines load only for commands that run
    return simulate(system, model, mapping=mapping, **scenario)


def cmd_run(ns: argparse.Namespace) -> int:
    _check_out(ns)
    sets = _split_sets(ns.set, ["system"])
    model = load_model(ns.model, sets["model"], origin=_typed(sets, "model"))
    from .sweep.progress import Ticker
    with Ticker(f"{ns.system} running {model.name}"):     # a line on a terminal when a run takes a while
        result = _run_one(ns.system, model, ns, sets["system"], _mapping(ns, sets["mapping"]),
                          typed=_typed(sets, "system"), runtime=ns.runtime, runtime_sets=sets["runtime"])
    if ns.out:
        from .results.hdf5 import write_results
        write_results(ns.out, result)
    if ns.json:
        print(_dumps(result.to_json()))
    else:
        print(f"{result.summary['system']} running {result.summary['model']}")
        print(summary_table(result.summary))
        print(lines(result.notes))
        if ns.out:
            print(f"results written to {ns.out}")
    return 0


def cmd_compare(ns: argparse.Namespace) -> int:
    if ns.spill and not (ns.frontier or ns.at):
        raise ConfigError("command line", "spill", "applies with --frontier (points past the largest batch that "
                          "fits); add --frontier or leave --spill out")
    if ns.uncertainty and (ns.frontier or ns.at):
        raise ConfigError("command line", "uncertainty", "samples the deployments plain compare sizes; leave "
                          "--frontier and --at out, or --uncertainty")
    if ns.seed is not None and not ns.uncertainty:
        raise ConfigError("command line", "seed", "seeds --uncertainty N; add --uncertainty or leave --seed out")
    if ns.at and ns.frontier:
        raise ConfigError("command line", "at", "--at picks each side's best deployment from its envelope; "
                          "leave --frontier out (or --at, to see the whole frontier)")
    _check_out(ns)
    sets = _split_sets(ns.set, ["system", "a", "b"])
    model = load_model(ns.model, sets["model"], origin=_typed(sets, "model"))
    both = compare_sides.sides(ns, sets, model)
    runtimes, runtime_text = _compare_runtimes(ns, sets)
    if ns.frontier or ns.at:
        from . import cli_compare
        command = cli_compare.at_command if ns.at else cli_compare.frontier_command
        return command(ns, both, _compare_loaded(ns, both, runtimes), runtimes, runtime_text)
    from .sweep.progress import Ticker
    def side(name: str, key: str, copies: int = 1):
        # under load, each of a side's data-parallel copies takes its share of the requests
        one = both[key]
        side_ns = argparse.Namespace(**{**vars(ns), "request_rate": ns.request_rate / copies, "side": key,
                                        "parity": compare_sides.side_precision(ns, key, one.model)})
        with Ticker(f"{name} running {one.model.name}"):      # a line on a terminal when a side takes a while
            return _run_one(name, one.model, side_ns, one.system_sets, _mapping(ns, one.mapping_sets), compare=True,
                            typed=one.system_typed, runtime=runtimes[key], runtime_sets=one.runtime_sets)

    ra, rb = side(ns.system_a, "a"), side(ns.system_b, "b")
    if ns.request_rate:
        na, nb = replicas_for(ra.summary, rb.summary, ns.basis)
        ra = ra if na == 1 else side(ns.system_a, "a", na)
        rb = rb if nb == 1 else side(ns.system_b, "b", nb)
    labels = compare_sides.labels(both["a"], both["b"], ra.summary["system"], rb.summary["system"])
    na, nb = replicas_for(ra.summary, rb.summary, ns.basis)
    sa, sb = with_replicas(ra.summary, na), with_replicas(rb.summary, nb)
    ra, rb = with_replicas_note(ra, na), with_replicas_note(rb, nb)
    odds = _compare_odds(ns, both, runtimes, sa, sb) if ns.uncertainty else None
    if ns.out:
        from .results.hdf5 import write_results
        write_results(ns.out, [ra, rb], run_ids=["a", "b"])
    precision = compare_sides.parity(ns, ra.summary["precision"], rb.summary["precision"])
    if ns.json:
        data = {**compare_json(ra, rb, sa, sb, ns.basis, labels, both, runtimes, runtime_text), "precision": precision}
        print(_dumps(data if odds is None else {**data, "uncertainty": odds}))
        return 0
    print(f"{model.name}: A = {compare_sides.named(both['a'])}, B = {compare_sides.named(both['b'])}; basis {ns.basis}")
    print(side_line("A", sa))
    print(side_line("B", sb))
    print(runtime_text)
    print(precision["text"])
    print(comparison_table(sa, sb))
    print(verdict(sa, sb, labels))
    print(headline(sa, sb, labels))
    if odds is not None:
        from .uncertainty import text as odds_text
        print(odds_text(odds, labels))
    print("A:\n" + lines(ra.notes))
    print("B:\n" + lines(rb.notes))
    if ns.out:
        print(f"results written to {ns.out}")
    return 0


def _compare_odds(ns: argparse.Namespace, both: dict[str, compare_sides.Side], runtimes: dict[str, str],
                  sa: dict[str, Any], sb: dict[str, Any]) -> dict[str, Any]:
    """``compare --uncertainty N``: the ratios' intervals and win chances (wafersim.uncertainty)."""
    from .uncertainty import sample, side_ranges
    ranges = [side_ranges(_load_side(one.system, one.system_sets, one.system_typed, runtimes[key], one.runtime_sets,
                                     compare=True)) for key, one in both.items()]
    return sample(sa, ranges[0], sb, ranges[1], ns.uncertainty, 0 if ns.seed is None else ns.seed)


#: the class of software ``compare`` runs both sides in unless told otherwise: the class every
#: command runs (:data:`wafersim.presets.DEFAULT_RUNTIME_CLASS`)
COMPARE_CLASS = DEFAULT_RUNTIME_CLASS


def _compare_runtimes(ns: argparse.Namespace, sets: dict) -> tuple[dict[str, str], str]:
    """Each side's runtime profile, and the line that says which and of what class."""
    names: dict[str, str] = {}
    chosen = ns.runtime_class or COMPARE_CLASS
    for side, system_name in (("a", ns.system_a), ("b", ns.system_b)):
        explicit = getattr(ns, f"runtime_{side}") or ns.runtime
        if explicit:
            names[side] = explicit
        else:
            kind = load_system(system_name, {**sets["system"], **sets[side]}, origin=_typed(sets, "system", side)).kind
            names[side] = runtime_for_class(kind, chosen)
    classes = {side: load_runtime(name).runtime_class for side, name in names.items()}
    what = f"runtime: A {names['a']} ({classes['a']}), B {names['b']} ({classes['b']})"
    if classes["a"] != classes["b"]:
        return names, f"{what}; across classes, as asked (--runtime-a/--runtime-b)"
    how = "as asked" if ns.runtime_class or ns.runtime or ns.runtime_a or ns.runtime_b else "the default"
    return names, f"{what}; both sides {classes['a']} software ({how})"


def _compare_loaded(ns: argparse.Namespace, both: dict[str, compare_sides.Side],
                    runtimes: dict[str, str]) -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """Each side's system (with its runtime), model and mapping, for the frontier searches."""
    out = {}
    for label, one in both.items():
        system = _load_side(one.system, one.system_sets, one.system_typed, runtimes[label], one.runtime_sets,
                            compare=True)
        mapping = _mapping(ns, one.mapping_sets)
        out[label] = (system, one.model, {**({"mapping": mapping} if system.kind == "wafer" and mapping else {}),
                                          **compare_sides.side_precision(ns, label, one.model)})
    return out


def cmd_presets(ns: argparse.Namespace) -> int:
    """List the presets; one that does not load is listed with its error (and the exit status is 2)."""
    from .design import load_design

    broken = 0
    loaders = {"meshes": load_system, "workloads": load_model, "runtimes": load_runtime, "designs": load_design}
    for folder, title in (("meshes", "systems (meshes/)"), ("workloads", "models (workloads/)"),
                          ("runtimes", "serving runtimes (runtimes/)"),
                          ("designs", "wafer designs (designs/; `wafersim design`, `explore --hardware`)")):
        print(title)
        for name in list_presets(folder):
            try:
                spec = loaders[folder](name)
            except WafersimError as exc:
                broken += 1
                print(f"  {name:<16} (cannot be loaded: {exc})")
                continue
            desc = spec.description or ""
            if folder == "runtimes":
                kinds = "/".join(k for k in ("gpu", "wafer") if spec.applies_to(k))
                desc = f"[{spec.runtime_class}; {kinds}] {desc}"
            print(f"  {name:<16} {desc}")
    if broken:
        print(f"wafersim: error: {plural(broken, 'preset')} cannot be loaded", file=sys.stderr)
        return 2
    return 0


def cmd_engines(ns: argparse.Namespace) -> int:
    for entry in engines.DEFAULT.entries():
        print(f"  {entry.kind:<6} {entry.fidelity:<10} {entry.description}")
    return 0


def cmd_validate(ns: argparse.Namespace) -> int:
    from .validation import MEASUREMENTS, error_stats, kind_metric_stats, load_measurements, report_groups, table_columns, validate
    from .validation.fit import leave_one_source_out

    _check_out(ns)
    table = ns.table or MEASUREMENTS
    comps = validate(table, runtime=ns.runtime)
    # leave-one-source-out reruns the shipped fit, so it says nothing under another runtime
    loso = leave_one_source_out(load_measurements(table), comps) if ns.runtime is None else None
    per_kind = kind_metric_stats(comps, loso)
    if ns.write_band:
        from .atomic import atomic_path
        from .validation import ERROR_BAND, error_band
        with atomic_path(ERROR_BAND) as tmp:
            tmp.write_text(json.dumps(error_band(comps), indent=2, sort_keys=True) + "\n")
        print(f"error band written to {ERROR_BAND}")
    if ns.out:
        stats = {name: error_stats(group) for name, group in report_groups(comps).items()}
        from .results.hdf5 import write_results
        write_results(ns.out, [c.result for c in comps], run_ids=[c.row.id for c in comps],
                      extra_attrs={"validation-error-stats": json.dumps(stats, sort_keys=True),
                                   "validation-kind-metric-stats": json.dumps(per_kind, sort_keys=True)},
                      tables={"validation": table_columns(comps, loso)})
    groups = report_groups(comps)
    if ns.json:
        print(_dumps({"rows": [{"id": c.row.id, "system": c.row.system, "model": c.row.model,
                                    "metric": c.row.metric, "predicted": c.predicted, "measured": c.row.value,
                                    "relative_error": c.error, "calibration": c.row.calibration,
                                    "source": c.row.source, "group": c.row.group,
                                    "runtime": c.result.summary.get("runtime"),
                                    "loso_predicted": loso.get(c.row.id) if loso else None} for c in comps],
                      "stats": {k: error_stats(v) for k, v in groups.items()},
                      "by_kind_and_metric": per_kind}))
        return 0
    from .validation.report import rows_text, stats_text
    print(rows_text([{"id": c.row.id, "metric": c.row.metric, "predicted": c.predicted, "measured": c.row.value,
                      "error": c.error, "runtime": c.result.summary.get("runtime"), "calibration": c.row.calibration}
                     for c in comps]))
    print(stats_text({name: error_stats(group) for name, group in groups.items()}, per_kind, len(comps),
                     sorted({c.row.group for c in comps}), bool(loso)))
    if ns.out:
        print(f"results written to {ns.out}; plot with: python tools/plot_validation.py {ns.out}")
    return 0


def cmd_show(ns: argparse.Namespace) -> int:
    from .show import show
    print(show(ns.file))
    return 0


NOC_PATTERNS = cli_noc.NOC_PATTERNS


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error every other mistake gets: ``wafersim: error: ...``, status 2."""

    def error(self, message: str):
        self.exit(2, f"wafersim: error: {_one_line(message, BRIEF_ERROR_MAX)} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="wafersim", description="Wafer-scale chips against multi-GPU systems for LLM inference.")
    p.add_argument("--version", action="version", version=f"wafersim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser("run", help="simulate one model on one system")
    r.add_argument("system", help="hardware preset name or path (see `wafersim presets`)")
    r.add_argument("model", help="model preset name or path")
    _scenario_args(r)
    r.set_defaults(func=cmd_run)
    c = sub.add_parser("compare", help="simulate one model on two systems, side by side")
    c.add_argument("system_a", metavar="SYSTEM_A")
    c.add_argument("system_b", metavar="SYSTEM_B")
    c.add_argument("model")
    _scenario_args(c, compare=True)
    h = c.add_argument_group("head to head")
    h.add_argument("--basis", choices=tuple(SIZING_BASES), default="fit",
                   help="fit: each side sized to hold the job (default); equal-devices, equal-power, equal-cost: "
                        "the smaller side replicated (data parallel) to match the other")
    h.add_argument("--frontier", nargs="?", const="envelope", default=None, choices=("envelope", "fixed"),
                   help="each side's throughput-interactivity frontier and the crossover per device, per kW and per "
                        "dollar: envelope (the default) is the best of every deployment (devices from the fewest that "
                        "hold one sequence to twice as many, every tp x pp x ep, copies packed into a unit, the batch "
                        "up to the largest that fits), each point naming its deployment; fixed keeps the hardware "
                        "sized for one sequence and sweeps only the batch (before 0.2.0's envelopes)")
    h.add_argument("--at", default=None, metavar="CONDITION",
                   help="each side's best deployment on each basis (per device, kW, dollar) among its envelope's "
                        "points where CONDITION holds, and which side wins: KEY>=VALUE or KEY<=VALUE of a summary "
                        "key, e.g. 'tokens_per_s_per_user>=50', 'ttft_s<=2 s'")
    h.add_argument("--uncertainty", type=cli_args.int_in(1, UNCERTAINTY_MAX, "a number of samples"), default=None, metavar="N",
                   help="sample what is uncertain N times (each unit's power and price over its sourced range, each "
                        "side's speed within its kind's error band) and print each ratio's median and 90 %% interval "
                        "and how often each side wins on each basis (--json: 'uncertainty')")
    h.add_argument("--seed", type=_non_negative, default=None, help="with --uncertainty: the seed (default 0); "
                   "the same seed gives the same answer bit for bit")
    h.add_argument("--spill", action="store_true", help="with --frontier: two points past the largest batch that fits")
    c.set_defaults(func=cmd_compare)
    pr = sub.add_parser("presets", help="list the bundled presets")
    pr.set_defaults(func=cmd_presets)
    en = sub.add_parser("engines", help="list the engines: system kind and fidelity")
    en.set_defaults(func=cmd_engines)
    v = sub.add_parser("validate", help="compare predictions with published measurements")
    v.add_argument("--table", default=None, help="a measurements TOML file (default: the bundled table)")
    v.add_argument("-o", "--out", default=None, metavar="FILE.h5", help="write every row's run to an HDF5 file")
    v.add_argument("--force", action="store_true", help="let -o replace an existing file")
    v.add_argument("--json", action="store_true", help="print JSON instead of a table")
    v.add_argument("--runtime", default=None, metavar="NAME",
                   help="run every row whose kind of system the profile applies to with this runtime profile "
                        "instead of its own (no leave-one-source-out then)")
    v.add_argument("--write-band", action="store_true",
                   help="store the out-of-sample error per kind and metric that every result carries "
                        "(wafersim/validation/error_band.json); run after changing a model or the table")
    v.set_defaults(func=cmd_validate)
    cli_noc.add_parser(sub)
    add_sweep_command(sub)
    from .cli_explore import add_parser as add_explore_parser
    add_explore_parser(sub)
    from .cli_design import add_parser as add_design_parser
    add_design_parser(sub)
    from .cli_serve import add_parser as add_serve_parser
    add_serve_parser(sub)
    s = sub.add_parser("show", help="print what a file wafersim wrote holds: runs, a validation table, a frontier, "
                                    "an exploration, a network or design-space sweep",
                       description="Print what a file wafersim wrote holds, by its kind: each run's summary, notes "
                                   "and provenance (run -o, compare -o); the validation table and error statistics "
                                   "(validate -o); each side's frontier and the crossovers (compare --frontier -o); "
                                   "the search, best layouts and Pareto front (explore -o); the latency-throughput "
                                   "curve (noc-sweep -o); the axes, points and metric ranges (sweep -o).")
    s.add_argument("file", help="an HDF5 file written by wafersim")
    s.set_defaults(func=cmd_show)
    return p


#: Exit status of an internal error (a bug, not bad input): EX_SOFTWARE.
EXIT_INTERNAL = 70


#: Most characters of an argparse message or an internal error's text printed: both echo what
#: was typed or raised, and a usage mistake or a bug report reads best as a short line.
BRIEF_ERROR_MAX = 500


def _one_line(text: str, limit: int = ERROR_TEXT_MAX) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


#: commands that report a long run's estimated work and progress on stderr (the others run
#: many points, each bounded, and show their own progress)
_REPORTED = ("run", "compare")
#: commands whose --force also lifts the bound (a sweep's points run in worker processes,
#: each under the bound; its --force only replaces the output)
_FORCED = ("run", "compare", "explore")


def _work_budget(ns: argparse.Namespace):
    """The bound on a long simulation's work for this command (engines/cost.py): lifted by
    ``--force``; ``run`` and ``compare`` print the estimate and a progress meter on stderr."""
    from .engines import cost
    force = ns.command in _FORCED and bool(getattr(ns, "force", False))
    if ns.command not in _REPORTED:
        return cost.budget(force=force)
    from .sweep.progress import WorkMeter

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
    return cost.budget(force=force, report=report,
                       progress=lambda label, total: WorkMeter(label, total))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.  Every error in the input is one line, ``wafersim: error:
    ...``, and exit status 2; Ctrl-C is 130; a bug is one line ``wafersim: internal
    error: ...`` and status 70 (``WAFERSIM_DEBUG=1`` shows its traceback)."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        with _work_budget(ns):
            return ns.func(ns)
    except WafersimError as exc:
        print(f"wafersim: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("wafersim: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("wafersim: error: out of memory; the job is too large for this machine", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("WAFERSIM_DEBUG"):
            raise
        print(f"wafersim: internal error: {type(exc).__name__}: {_one_line(exc, BRIEF_ERROR_MAX)} "
              "(a bug in wafersim; WAFERSIM_DEBUG=1 shows where)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
