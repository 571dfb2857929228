"""``wafersim design``: a wafer design's area, yield, power and cost, and the system preset it gives."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from . import cli_args
from .atomic import atomic_path, check_output_path
from .config import parse_override

__all__ = ["add_parser", "cmd_design"]

#: widest value column of the report; a longer value pushes its note along
VALUE_WIDTH = 34

DESCRIPTION = """\
Derive a wafer design (designs/): the core's area from its parts at the process node,
the dies the reticle allows in the wafer's round, the cores defects leave and the
logical mesh the spares keep, the power at an activity with the clock the power
envelope allows, and the cost of a good wafer and its system.  Each figure is shown
beside the published one, each input with its source.  -o writes the design as a
system preset (it builds on the design's system preset) that run, compare and
explore accept.
"""

EPILOG = """\
examples:
  wafersim design wse3
  wafersim design wse3 --set sram_per_core="96 KiB" -o wse3-96k.toml
  wafersim compare wse3 wse3-96k.toml llama-3.1-70b
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("design", help="a wafer design's area, yield, power and cost, and the system it gives",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("design", help="design name (designs/) or path")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a design variable or input, e.g. sram_per_core=\"96 KiB\", simd_lanes=16, "
                        "clock=\"1.3 GHz\", dies_x=14, power.envelope_w=\"20 kW\"")
    p.add_argument("--name", default=None, help="name of the system written by -o (default: the file's stem)")
    p.add_argument("-o", "--out", default=None, metavar="FILE.toml", help="write the design as a system preset")
    p.add_argument("--force", action="store_true", help="let -o replace an existing file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a report")
    p.set_defaults(func=cmd_design)
    return p


def cmd_design(ns: argparse.Namespace) -> int:
    from .design import load_design, preset_text, to_system, value_sources
    from .design.report import report_json, report_sections

    if ns.out is not None:
        check_output_path(ns.out, overwrite=ns.force)
    overrides, origin = {}, {}
    for item in ns.set:
        key, value = parse_override(item)
        overrides[key], origin[key] = value, item
    design = load_design(ns.design, overrides or None, origin=origin or None)
    name = ns.name or (Path(ns.out).stem if ns.out is not None else None)
    designed = to_system(design, name=name)
    if ns.json:
        print(cli_args.dumps(report_json(designed)))
    else:
        prov = design.provenance
        print(f"{design.name}: {design.description} ({prov.path if prov else 'built in Python'}; "
              f"system preset {design.system})")
        for typed in (prov.set if prov else ()):
            print(f"  --set {typed}")
        for title, rows in report_sections(designed, value_sources(ns.design)):
            print(f"\n{title}")
            width = max(len(r[0]) for r in rows)
            wide = min(max(len(r[1]) for r in rows), VALUE_WIDTH)
            for label, value, note in rows:
                print(f"  {label:<{width}}  {value:<{wide}}  {note}".rstrip())
    if ns.out is not None:
        command = " ".join(["wafersim design", shlex.quote(ns.design), *(f"--set {shlex.quote(s)}" for s in ns.set)])
        with atomic_path(ns.out) as tmp:
            tmp.write_text(preset_text(designed, command), encoding="utf-8")
        if not ns.json:
            print(f"\nsystem preset written to {ns.out}")
    return 0
