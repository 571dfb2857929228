"""``wafersim explore``: search layouts of a model on a system for the best objective under constraints."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import cli_args
from .config import ConfigError
from .presets import load_model, load_system

__all__ = ["add_parser", "cmd_explore"]

DESCRIPTION = """\
Search the layouts of MODEL on SYSTEM for the best objective among the points that
satisfy the constraints, and print the best layouts, the Pareto front of two
objectives and what the search cost (points evaluated, seconds).

The default space of a wafer system: wafers (1 to twice the fewest that hold one
sequence), placement, mapping.order (snake or raster), mapping.kv (local or pooled),
mapping.region (uncapped or 32x32 to 512x512), mapping.cores (all, three quarters or
half of each side) and batch (powers of two up to the largest that fits).  Of a GPU system: tp, pp, ep and batch.
--axis KEY=VALUES replaces the axis of KEY (a single value fixes it) or adds one: a
scenario key (batch, wafers, tp, pp, ep, gpus, dtype, kv_dtype, prompt_tokens,
output_tokens, speculative, acceptance, draft), replicas (data-parallel copies of the
whole system) or mapping.<field> (placement, cores, region, order, kv).  VALUES is
V1,V2,..., LO:HI or LO:HI:x2; an empty value is the default ('', which tables print
as uncapped for mapping.region and all for mapping.cores, and --axis takes too).

Objectives: tpot, per-user, per-device, per-kw, per-dollar, throughput, energy, ttft,
or max:KEY / min:KEY for any numeric summary key.  Points that the engine refuses
are recorded as refused; points that break a constraint as violates.

--hardware searches the wafer design too: SYSTEM names a design (designs/, see
`wafersim design`) and the axes are design variables, design.<variable>: by default
design.sram_per_core, design.simd_lanes and design.link_bytes_per_cycle at half, once
and twice the design's, design.clock at 0.75, 1 and 1.25 times, design.io_ports at half,
once and twice, design.die_cols (cores per die along x: three quarters of a die's columns,
or 0 = all) and batch max.  Any design variable may be an axis (design.dies_x,
design.die_rows, design.spare_cols_per_die, design.hbm_stacks for
HBM stacks at the edge, ...).  The design's figures join each point's
metrics for constraints and objectives: area_mm2, wafer_power_w, wafer_price_usd,
wafer_cost_usd, chip_power_w, wafer_yield, enabled_cores, physical_cores, die_cores,
sram_per_wafer_bytes, clock_hz, clock_derating, external_memory_bytes,
external_bandwidth_bytes_per_s.  The objective defaults to per-dollar and
the front to per-user,per-dollar; --write-design writes the best design as a system preset
that run and compare accept.

Search: local (default) draws a stratified random sample of a quarter of the budget,
then refines the best points over their neighbours (one step on one axis), then the
Pareto front, then fresh random points; grid runs an evenly thinned grid; random a
random sample.  A budget at least the size of the space runs every point.  The same
--seed gives the same points and answer.
"""

EPILOG = """\
examples:
  wafersim explore wse3 llama-3.1-70b --budget 200 -o layouts.h5
  wafersim explore dgx-h100 llama-3.1-70b --objective per-kw --max-ttft "1 s"
  wafersim explore wse3 llama-3.1-8b --axis wafers=1 --axis mapping.region=,64x64,128x128 --axis batch=1:64:x2
  wafersim explore wse3 llama-3.1-70b --hardware --max-power "80 kW" --constraint "area_mm2<=46000"
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``explore`` to the subcommands of the ``wafersim`` parser."""
    from .explore.goals import DEFAULT_PARETO, OBJECTIVES
    from .explore.methods import DEFAULT_BUDGET, METHODS

    e = sub.add_parser("explore", help="search wafer mappings or GPU parallel layouts for the best objective",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("system", help="hardware preset name or path (see `wafersim presets`)")
    e.add_argument("model", help="model preset name or path")
    s = e.add_argument_group("space and search")
    s.add_argument("--axis", action="append", default=[], metavar="KEY=VALUES",
                   help="replace or add an axis, e.g. batch=1:256:x2, mapping.region=,64x64, tp=4,8")
    s.add_argument("--budget", type=cli_args.positive, default=DEFAULT_BUDGET,
                   help=f"most points evaluated (default {DEFAULT_BUDGET})")
    s.add_argument("--seed", type=int, default=0, help="random seed of the search (default 0)")
    s.add_argument("--method", choices=METHODS, default="local", help="search method (default local)")
    s.add_argument("--top", type=cli_args.positive, default=5, help="best layouts reported and written (default 5)")
    g = e.add_argument_group("objective and constraints")
    s.add_argument("--hardware", action="store_true",
                   help="SYSTEM is a wafer design (designs/); search its design variables (design.* axes) too")
    g.add_argument("--objective", default=None,
                   help=f"what to optimise: {', '.join(OBJECTIVES)}, or max:KEY / min:KEY (default per-device; "
                        f"per-dollar with --hardware)")
    g.add_argument("--pareto", default=None, metavar="X,Y",
                   help=f"the two objectives of the Pareto front (default {','.join(DEFAULT_PARETO)}; "
                        "per-user,per-dollar with --hardware)")
    g.add_argument("--constraint", action="append", default=[], metavar="RULE",
                   help="KEY<=VALUE or KEY>=VALUE on a summary key, units allowed: 'ttft_s<=2 s', "
                        "'tokens_per_s_per_user>=50'")
    g.add_argument("--max-devices", type=cli_args.positive, default=None, help="at most this many wafers or GPUs")
    g.add_argument("--max-power", default=None, metavar="P", help="at most this wall power, e.g. '40 kW'")
    g.add_argument("--max-ttft", default=None, metavar="T", help="at most this time to first token, e.g. '2 s'")
    g.add_argument("--allow-spill", action="store_true",
                   help="accept points whose weights or KV cache spill off chip (default: they break fits_on_chip)")
    w = e.add_argument_group("workload (shared by every point)")
    cli_args.workload_args(w, "engine of every point (default analytic, about a millisecond a point; flow routes every "
                           "transfer on the mesh and takes seconds a point)")
    cli_args.speculative_args(e.add_argument_group("speculative decoding (shared by every point)"))
    w.add_argument("--serve", action="append", default=[], metavar="KEY=VALUE",
                   help="make every point a serving simulation with this `wafersim serve` setting (rate, requests, "
                        "prompt, output, slo, seed, max_running, ...; e.g. --serve rate=4 --serve slo=ttft=2s,tpot=50ms); "
                        "--objective goodput ranks by requests/s meeting the SLOs, --axis serve.KEY=... varies one")
    w.add_argument("--runtime", default=None, metavar="NAME",
                   help="serving-runtime profile of every point (runtimes/; default: the system kind's)")
    w.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset field for every point: system.<key>, model.<key>, mapping.<key> or "
                        "runtime.<key>")
    o = e.add_argument_group("output")
    o.add_argument("-o", "--out", default=None, metavar="FILE.h5",
                   help="write the points, best layouts (with their full runs) and Pareto front to HDF5")
    o.add_argument("--write-design", default=None, metavar="FILE.toml",
                   help="with --hardware: write the best design as a system preset (run and compare accept it)")
    o.add_argument("--force", action="store_true",
                   help="replace an existing -o file, and run --fidelity cycle points above the work bound")
    o.add_argument("--json", action="store_true", help="print JSON instead of the text report")
    e.set_defaults(func=cmd_explore)
    return e


def _constraints(ns: argparse.Namespace) -> list[str]:
    rules = [] if ns.allow_spill else ["fits_on_chip"]
    if ns.max_devices is not None:
        rules.append(f"devices<={ns.max_devices}")
    if ns.max_power is not None:
        rules.append(f"power_w<={ns.max_power}")
    if ns.max_ttft is not None:
        rules.append(f"ttft_s<={ns.max_ttft}")
    return rules + list(ns.constraint)


def _serve_settings(items: list[str]) -> dict[str, Any]:
    """``--serve KEY=VALUE`` settings: a whole number, a number, or text as written."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--serve", item[:40], "expected KEY=VALUE, such as rate=4 or slo=ttft=2s,tpot=50ms")
        text = value.strip()
        for kind in (int, float):
            try:
                out[key.strip()] = kind(text)
                break
            except ValueError:
                continue
        else:
            out[key.strip()] = text
    return out


def cmd_explore(ns: argparse.Namespace) -> int:
    from .explore.api import explore
    from .explore.defaults import default_space
    from .explore.evaluate import point_scenario
    from .explore.output import report, to_json, write
    from .explore.space import parse_axis
    from .sweep.progress import Progress

    cli_args.check_out(ns)
    sets = cli_args.split_sets(ns.set, ["system"])
    hw = _hardware(ns, sets)
    system = hw.system if hw is not None else load_system(ns.system, sets["system"], runtime=ns.runtime,
                                                          runtime_overrides=sets["runtime"] or None)
    model = load_model(ns.model, sets["model"])
    scenario = {"prompt_tokens": ns.prompt, "output_tokens": ns.output, "dtype": ns.dtype,
                "kv_dtype": ns.kv_dtype, "layers": ns.layers, "fidelity": ns.fidelity,
                "speculative": ns.speculative, "acceptance": ns.acceptance, "draft": ns.draft,
                "request_rate": ns.request_rate}
    axes = [parse_axis(text) for text in ns.axis]
    scenario = {k: v for k, v in scenario.items() if k not in {a.key for a in axes}}   # an axis wins over a flag
    mapping = sets["mapping"] or None
    probe = point_scenario(scenario, {a.key: a.values[0] for a in axes if not a.key.startswith("mapping.")})
    serve = _serve_settings(ns.serve) if ns.serve else None
    if hw is not None:
        from .explore.defaults import hardware_space
        space = hardware_space(hw)
    else:
        space = default_space(system, model, probe, mapping if system.kind == "wafer" else None)
    space = space.without([f"mapping.{k}" for k in sets["mapping"]] + (["batch"] if serve else [])).with_axes(axes)
    scenario = {k: v for k, v in scenario.items() if k not in space.keys}
    objective, pareto = _goals(ns)
    bar: list[Any] = []

    def progress(point: Any, total: int) -> None:        # points done, refused, left, rate (a terminal only)
        if not bar:
            bar.append(Progress(total))
        bar[0].update(point.status != "refused")

    result = explore(ns.system if hw is not None else system, model, space=space, objective=objective,
                     constraints=_constraints(ns), pareto=pareto, budget=ns.budget, seed=ns.seed, method=ns.method,
                     top=max(ns.top, 1), mapping=mapping, progress=progress, hardware=hw is not None, serve=serve,
                     **scenario)
    if bar:
        bar[0].close()
    if ns.out:
        write(ns.out, result)
    print(cli_args.dumps(to_json(result)) if ns.json else report(result))
    if result.points and result.cost.refused == result.cost.evaluated:     # the report says why; the status too
        from .config import ConfigError
        raise ConfigError("explore", "", f"every one of the {result.cost.evaluated} points evaluated was refused "
                          f"(first: {result.points[0].message}); change the axes or flags that fix them")
    if ns.out and not ns.json:
        print(f"results written to {Path(ns.out)}")
    if ns.write_design:
        _write_design(ns.write_design, result, quiet=ns.json)
    return 0


def _hardware(ns: argparse.Namespace, sets: dict[str, Any]) -> Any:
    """The design a ``--hardware`` search starts from (None without the flag); the flags
    that only make sense with it, or without it, refused before anything runs."""
    from .atomic import check_output_path
    from .config import ConfigError

    if not ns.hardware:
        if ns.write_design is not None:
            raise ConfigError("--write-design", "", "writes the best design of a hardware search; add --hardware")
        return None
    if sets["system"] or ns.runtime is not None or sets["runtime"]:
        raise ConfigError("--hardware", "", "each point's system comes from the design: vary it with "
                                            "--axis design.KEY=VALUES (or one value to fix it), not --set system.* "
                                            "or --runtime")
    if ns.write_design is not None:
        check_output_path(ns.write_design, "--write-design", overwrite=ns.force)
    from .explore.hardware import Hardware
    return Hardware(ns.system)


def _goals(ns: argparse.Namespace) -> tuple[str, list[str]]:
    """The objective and the two objectives of the front: the flags, or the defaults of the search's kind."""
    from .explore.goals import DEFAULT_PARETO
    from .explore.hardware import OBJECTIVE, PARETO

    objective = ns.objective or (OBJECTIVE if ns.hardware else "per-device")
    pareto = ns.pareto.split(",") if ns.pareto else list(PARETO if ns.hardware else DEFAULT_PARETO)
    return objective, [p.strip() for p in pareto]


def _write_design(path: str, result: Any, quiet: bool) -> None:
    from .atomic import atomic_path
    from .design import preset_text
    from .explore.hardware import design_command

    designed = result.best_design(name=Path(path).stem)
    command = design_command(result.design, result.best[0].params)
    with atomic_path(path) as tmp:
        tmp.write_text(preset_text(designed, command), encoding="utf-8")
    if not quiet:
        print(f"best design written to {path} (the same as: {command} -o {path})")
