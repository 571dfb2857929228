"""Mutation score of the model code: how many small planted bugs the tests catch, per file.

Run: ``python benchmarks/mutation_score.py [-j 2] [--files PATTERN ...] [--only ID ...]
[--list] [--write]``; prints a per-file table and the surviving mutants, and with
``--write`` records the figures in ``benchmarks/results/mutation.json`` (like a speed
figure: rerun it after a change to the model or its tests).

Why our own small harness and not mutmut or cosmic-ray: those rewrite every module
they mutate through an import hook or trampolines, which Numba kernels (``@njit(cache=True)``)
do not survive, and they run thousands of mutants, which a 2-core machine cannot afford.
This one is a few hundred lines of ``ast`` and ``subprocess``:

* It never touches the working tree.  Each worker copies the repository's files
  (``git ls-files -co --exclude-standard``) into a temporary folder once, writes a
  mutant into its copy, runs the tests there (``PYTHONPATH`` = the copy), then puts
  the original file back and drops its cached bytecode (and Numba cache).
* **Planted mutants** (``PLANTED``) are named bugs found by hand or listed in issues:
  an exact source snippet and its replacement, so they survive line moves.  A snippet
  that is no longer in the file (the code moved on) is reported as an error for that
  mutant, not a crash: update the table.
* **Generated mutants** come from the AST of every model file, deterministically:
  arithmetic operator swaps (+ -, * /, // /, ** *), a term or factor dropped from a
  sum or product (``n - 1`` -> ``n``), comparison flips (< <=, == !=, in / not in),
  ``min`` <-> ``max`` (also ``np.minimum``/``np.maximum`` and ``.min()``/``.max()``),
  an argument dropped from a two-argument ``min``/``max``, ``and`` <-> ``or``, ``not``
  dropped, integer constants + 1, float constants x 2 (0.0 -> 1.0), booleans flipped,
  augmented assignments swapped (+= -=, *= /=).  Nothing inside f-strings, string
  constants, docstrings, ``raise`` statements, decorators, annotations,
  ``notes``/``warnings`` messages or ``warm_up`` (it compiles the kernels on a
  throw-away mesh) is mutated.  Per file, ``--cap`` of them are drawn
  with ``random.Random(f"{seed}:{file}")``; their ids hash the mutated line's text, the
  change and its occurrence, so an id stays put while unrelated code moves.
* ``EQUIVALENT`` names mutants that no output can tell apart from the original, each
  with its reason; they are run only on ``--only`` and never scored.
* Each mutant runs its test subset (``TEST_SIDES``: wafer-side files skip GPU-only
  test files and vice versa; shared code runs everything) with ``pytest -x -q --slow``,
  tests whose file name shares the mutated module's name first.  The regression pins
  (``tests/engines/test_flow_regression.py``) are always left out: a mutant that only
  they catch counts as a survivor, since they pin values rather than check a model.
  A mutant whose run exceeds the timeout (2 x the unmutated run + 30 s) counts as
  killed and is listed as a timeout.
* Kill rate = killed / (killed + survived); equivalents and errors are not scored.

Cost: about 200 mutants with the default ``--cap 12``.  A killed mutant takes 5-50 s (the
closed-form tests run first), a survivor the whole test subset (45-200 s on a loaded
machine).  On the 2-core machine shared with three other test runs, 169 mutants took
51 minutes with ``-j 2``; on an idle machine expect about half.  For a quicker look use
``--files`` or a smaller ``--cap``; ``--only ID --timeout 300`` checks a few mutants in a
minute, without the unmutated run first.

The Numba kernel files ``wafersim/engines/_flow_kernels.py`` and ``_cycle_kernels.py``
are left out by default (each mutant there costs a recompile and the kernels have
their own naive-reference tests); pass ``--files`` with them to score them.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import dataclasses
import datetime
import fnmatch
import hashlib
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "mutation.json"

# The model code that is scored (globs relative to the repository root).
MODEL_FILES = ("wafersim/engines/*.py", "wafersim/mapping/*.py", "wafersim/dataflow/*.py",
               "wafersim/workload/*.py", "wafersim/units.py", "wafersim/sizing.py")
EXCLUDED_FILES = ("*/__init__.py", "wafersim/engines/_flow_kernels.py", "wafersim/engines/_cycle_kernels.py")

# Kills by these do not count: they pin recorded values, not the model's reasons.
PINS = ("tests/engines/test_flow_regression.py",
        "tests/test_validation.py::test_error_band_is_current")

# Which tests run for a mutated file: the first prefix that matches gives its side.
# "wafer" runs every test file but the GPU-only ones, "gpu" every one but the
# wafer-only ones, "all" everything.  New test files join a side by their name.
TEST_SIDES = (
    ("wafersim/engines/analytic_gpu.py", "gpu"),
    ("wafersim/engines/gpu_memory.py", "gpu"),
    ("wafersim/engines/collectives.py", "gpu"),
    ("wafersim/engines/gpu_collectives.py", "gpu"),
    ("wafersim/engines/routing.py", "gpu"),
    ("wafersim/engines/analytic_wafer.py", "wafer"),
    ("wafersim/engines/wafer_memory.py", "wafer"),
    ("wafersim/engines/flow", "wafer"),
    ("wafersim/engines/_flow_kernels.py", "wafer"),
    ("wafersim/mapping/", "wafer"),
    ("wafersim/dataflow/", "wafer"),
    ("", "all"),
)
# Tests written for a module, run first for its mutants (with -x a kill then costs seconds, not
# the whole side's run); every other test still runs for a mutant they do not kill.
FIRST_TESTS = {
    "wafersim/engines/assembly.py": ("tests/test_deployment.py", "tests/engines/test_registry.py",
                                     "tests/results/test_summary.py", "tests/test_validation.py"),
    "wafersim/sizing.py": ("tests/test_sizing.py", "tests/test_deployment.py", "tests/engines/test_registry.py"),
    "wafersim/engines/capacity.py": ("tests/test_sizing.py",),
    "wafersim/engines/registry.py": ("tests/engines/test_registry.py",),
    "wafersim/engines/wafer_memory.py": ("tests/engines/test_analytic_wafer*.py", "tests/mapping/*"),
    "wafersim/engines/gpu_memory.py": ("tests/engines/test_analytic_gpu*.py", "tests/engines/test_expert_parallel.py"),
}
GPU_ONLY_TESTS = ("*gpu*", "*collectives*", "*expert*", "*multi_node*", "*topology*")
WAFER_ONLY_TESTS = ("*wafer*", "*flow*", "*placement*", "*test_mesh*", "tests/dataflow/*", "tests/mapping/*",
                    "*cliff*", "*lower*")


@dataclasses.dataclass(frozen=True)
class Planted:
    id: str
    file: str           # relative to the repository root
    snippet: str        # exact source text; must occur exactly once
    replacement: str
    description: str


# Named bugs.  The first eighteen are the survivors listed in issue 14 (at c155fcc).
PLANTED = (
    Planted("aw-scribe-latency", "wafersim/engines/analytic_wafer.py",
            "cycles_hops = hops * w.mesh.hop_latency_cycles + crossings * w.scribe.extra_latency_cycles",
            "cycles_hops = hops * w.mesh.hop_latency_cycles",
            "scribe-crossing latency dropped (tpot -2 %)"),
    Planted("aw-scribe-bandwidth-max", "wafersim/engines/analytic_wafer.py",
            "return min(w.link_bytes_per_s, w.scribe.link_bytes_per_cycle * w.core.clock_hz)",
            "return max(w.link_bytes_per_s, w.scribe.link_bytes_per_cycle * w.core.clock_hz)",
            "min -> max of mesh/scribe bandwidth (ttft -10 %)"),
    Planted("aw-interwafer-crossings", "wafersim/engines/pipeline.py",
            "return wafers if wafers > 1 else 0", "return wafers",
            "decode crossings = wafers even on one wafer (one wafer pays inter-wafer time)"),
    Planted("aw-static-per-wafer", "wafersim/engines/analytic_wafer.py",
            '"static": en.static_power_w * wafers * tpot', '"static": en.static_power_w * tpot',
            "static energy without x wafers (energy per token -74 % on 4 wafers)"),
    Planted("aw-causal-half", "wafersim/engines/analytic_wafer.py",
            "eng.layer_time(block, s.prompt_tokens / 2.0, wafers", "eng.layer_time(block, s.prompt_tokens, wafers",
            "causal prefill attention context not halved (ttft +2..+13 %)"),
    Planted("aw-link-overlapped", "wafersim/engines/analytic_wafer.py",
            'max(t_compute, t_sram) + comps["mesh_latency"] + t_link',
            'max(t_compute, t_sram, t_link) + comps["mesh_latency"]',
            "link time overlapped with compute (tpot -5 %, ttft -21 %)"),
    Planted("aw-head-left-out", "wafersim/engines/analytic_wafer.py",
            "decode_step_time(L * (layer.time_s + t_move) + t_iw + t_head, micro",
            "decode_step_time(L * (layer.time_s + t_move) + t_iw, micro",
            "LM head left out of the decode walk (tpot -0.8 %)"),
    Planted("aw-sequential-kv-prompt", "wafersim/engines/wafer_memory.py",
            "layer_kv = batch * self.scenario.max_context * m.kv_bytes_per_token_layer",
            "layer_kv = batch * self.scenario.prompt_tokens * m.kv_bytes_per_token_layer",
            "sequential KV sized by the prompt only (spill -1.1 %)"),
    Planted("flow-busiest-link-dropped", "wafersim/engines/flow.py",
            "tpot = max(onchip, t_io, busy_max)", "tpot = max(onchip, t_io)",
            "busiest link dropped from the step (link utilisation can exceed 1)"),
    Planted("flow-prefill-all-kv", "wafersim/engines/flow.py",
            "pl.spilled_kv_bytes * (s.prompt_tokens / s.max_context)", "pl.spilled_kv_bytes",
            "prefill writes all spilled KV, not the prompt's share (ttft +33 %)"),
    Planted("lower-act-from-weight-dtype", "wafersim/dataflow/lower.py",
            "act = dtype_bytes(scenario.act_dtype)", "act = dtype_bytes(scenario.dtype)",
            "activation bytes from the weight dtype (fp8 ttft -5 %)"),
    Planted("gpu-expert-flops", "wafersim/engines/analytic_gpu.py",
            "expert_flops = 2.0 * k * m.expert_params", "expert_flops = 2.0 * m.expert_params",
            "routed expert FLOPs for one expert, not experts_per_token"),
    Planted("gpu-max-batch-ep", "wafersim/engines/gpu_memory.py",
            "return max(1, self.ep * int(self.kv_capacity_per_gpu() // per_seq))",
            "return max(1, int(self.kv_capacity_per_gpu() // per_seq))",
            "max batch not multiplied by the expert-parallel ranks"),
    Planted("gpu-prefill-kv-write", "wafersim/engines/analytic_gpu.py",
            "kv_write = tokens * local * kvl * eng.memory.kv_share /", "kv_write = tokens * local * kvl /",
            "prefill KV write not divided by tp (ttft +0.8 %)"),
    Planted("gpu-prefill-kv-write-local", "wafersim/engines/analytic_gpu.py",
            "kv_write = tokens * local * kvl * eng.memory.kv_share /", "kv_write = tokens * kvl * eng.memory.kv_share /",
            "prefill KV write for every sequence, not the expert-parallel rank's share"),
    Planted("coll-tree-steps", "wafersim/engines/collectives.py",
            "depth = int(math.floor(math.log2(n)))", "depth = int(math.ceil(math.log2(n)))",
            "tree depth rounded up instead of down"),
    Planted("gpucoll-rank-order", "wafersim/engines/gpu_collectives.py",
            "return self.gpus[(stage * self.ep + ep_rank) * self.tp + tp_rank]",
            "return self.gpus[(stage * self.tp + ep_rank) * self.ep + tp_rank]",
            "rank numbering mixes up tensor- and expert-parallel sizes"),
    Planted("model-tied-head-counted", "wafersim/workload/model.py",
            "p = 0 if self.tie_embeddings else self.vocab_size * self.hidden_size",
            "p = self.vocab_size * self.hidden_size",
            "a head tied to the embeddings counted twice"),
    Planted("units-bit-prefix", "wafersim/units.py",
            't.update({f"{p}bit": s / 8 for p, s in _SI.items()})',
            't.update({f"{p}bit": s for p, s in _SI.items()})',
            "'bit' units read as bytes"),
)

# Mutants no output can tell apart from the original: id -> why.  Not scored.
EQUIVALENT: dict[str, str] = {
    "gpu_collectives:constant:a3f023": "GRAPHML_CACHE_SIZE only bounds how many GraphML texts are kept, not their text",
    "collectives:constant:e17da3": "build_topology gives every GPU a 'node'; GPUs without one all share the default, "
                                   "whatever it is",
    "analytic_gpu:constant:3b5c38": "the KV bytes per GPU are never 0 (batch >= 1, context >= 2), so the guard's "
                                    "fallback is never taken",
    "analytic_gpu:constant:3a82e3": "the weight bytes per GPU are never 0 (a layer has parameters), so the guard's "
                                    "fallback is never taken",
    "edge_io:drop-left:ac341c": "bincount minlength wafers*ports -> ports: the array only loses trailing zero "
                                "bins (bincount grows to the largest port index anyway), and its max is the same",
    "stages:compare:7b4902": "log2ceil: n <= 1 -> n < 1 only changes n == 1, where ceil(log2(1)) = 0 as well",
    "flow:minmax:1271b2": "sequential regions: widening the busiest-link window from max(box, routed) to the "
                          "region's own top edge only adds links outside the routed box, whose times are 0",
    "flow_routing:constant:51323c": "the routing scratch arrays get a third, unused slot: the kernels index "
                                    "slots 0 and 1 only",
    "routing:compare:16c515": "_cost_less compares latencies with < only when they differ by more than the "
                              "tolerance, so < and <= never disagree there",
    "routing:constant:0bec1c": "a CPU crossing counted 2 instead of 1: CPU counts are only compared with each "
                               "other, and doubling them keeps every comparison",
    "flow_routing:constant:e16f05": "the routing scratch arrays get a third, unused slot: the kernels index "
                                    "slots 0 and 1 only",
    "phase:constant:693ba7": "shares() divides by the fallback only when every term is 0 (times are never "
                             "negative), and 0 / 1 = 0 / 2",
    "lower:compare:db94fd": "edge-I/O flows for regions with io_region > 0 -> >= 0: the extra flows carry 0 "
                            "bytes, so they load no link and no port",
    "lower:binop:583178": "transposed chain target (i*c)//r -> i*c/r: Transfers casts to int32, which floors a "
                          "non-negative value as // does; the extra chains it lets through start and end on the "
                          "same core (lo < target < lo + 1), so they load no link and add no latency",
}

# The GPU side's equivalent mutants (GPU engine, collectives), kept apart from the list above.
EQUIVALENT.update({
    "gpu_collectives:constant:2d2864": "GRAPH_CACHE_SIZE only bounds how many system graphs are kept, not what "
                                       "a graph or a cost is",
    "analytic_gpu:constant:1f0837": "per_step is only asked for flops and hbm_bytes, whose *_expert entries always "
                                    "exist, so the get() default is never read",
    "gpu_collectives:compare:5a6ccd": "0 bytes let through to collective_time costs 0 there too; only a group size "
                                      "the placement lacks, which the engine never passes, would now raise",
    "gpu_collectives:compare:23b18b": "a 0-byte stage send let through to collective_time costs 0 there too; only a "
                                      "stage the placement lacks, which the engine never passes, would now raise",
})


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    line: int
    original: str       # the text replaced (for the report)
    replacement: str
    description: str
    mutated: str | None  # the whole mutated file, or None where the mutant cannot be applied
    error: str = ""


# ---- finding mutants -------------------------------------------------------------------------

def model_files(patterns: list[str] | None) -> list[str]:
    rel = sorted({str(p.relative_to(ROOT)) for g in MODEL_FILES for p in ROOT.glob(g)})
    rel = [f for f in rel if not any(fnmatch.fnmatch(f, x) for x in EXCLUDED_FILES)]
    if patterns:
        chosen = sorted({str(p.relative_to(ROOT)) for g in patterns for p in ROOT.glob(g) if p.suffix == ".py"})
        rel = sorted(set(chosen) | {f for f in rel if any(fnmatch.fnmatch(f, g) for g in patterns)})
    return [f for f in rel if not f.endswith("__init__.py")]


def planted_mutants(files: list[str] | None = None) -> list[Mutant]:
    out = []
    for p in PLANTED:
        if files is not None and p.file not in files:
            continue
        path = ROOT / p.file
        src = path.read_text() if path.exists() else None
        n = src.count(p.snippet) if src is not None else 0
        if n != 1:
            why = "file not found" if src is None else ("snippet not found" if n == 0 else f"snippet occurs {n} times")
            out.append(Mutant(p.id, p.file, 0, p.snippet, p.replacement, p.description, None,
                              f"{why}: update PLANTED in {Path(__file__).name}"))
            continue
        at = src.index(p.snippet)
        out.append(Mutant(p.id, p.file, src.count("\n", 0, at) + 1, p.snippet, p.replacement, p.description,
                          src.replace(p.snippet, p.replacement)))
    return out


_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
               ast.Pow: ast.Mult}
_CMP_FLIP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_MINMAX = {"min": "max", "max": "min", "minimum": "maximum", "maximum": "minimum", "amin": "amax", "amax": "amin",
           "fmin": "fmax", "fmax": "fmin"}
_MESSAGE_TARGETS = ("notes", "warnings", "what")
# Functions whose every mutant is equivalent: warm_up compiles the kernels on a throw-away
# 2 x 2 mesh and discards the result.
_SKIP_FUNCTIONS = ("warm_up",)


class _Finder(ast.NodeVisitor):
    """Collect (node, new node, kind) for every mutable expression outside messages."""

    def __init__(self):
        self.found: list[tuple[ast.AST, ast.AST, str]] = []

    # -- places where nothing is mutated
    def visit_JoinedStr(self, node):
        return

    def visit_Raise(self, node):
        return

    def visit_Import(self, node):
        return

    def visit_ImportFrom(self, node):
        return

    def _visit_def(self, node):
        if node.name in _SKIP_FUNCTIONS:
            return
        for stmt in node.body:
            self.visit(stmt)
        for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(d)

    visit_FunctionDef = visit_AsyncFunctionDef = _visit_def

    def visit_ClassDef(self, node):
        for stmt in node.body:
            self.visit(stmt)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant):      # docstring
            return
        if _is_message_call(node.value):
            return
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Name) and node.target.id in _MESSAGE_TARGETS:
            return
        swap = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}.get(type(node.op))
        if swap:
            self.found.append((node, ast.AugAssign(node.target, swap(), node.value), "augassign"))
        self.generic_visit(node)

    # -- mutations
    def visit_BinOp(self, node):
        swap = _BINOP_SWAP.get(type(node.op))
        if swap:
            self.found.append((node, ast.BinOp(node.left, swap(), node.right), "binop"))
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            self.found.append((node, node.left, "drop-right"))
        if isinstance(node.op, (ast.Add, ast.Mult)):
            self.found.append((node, node.right, "drop-left"))
        self.generic_visit(node)

    def visit_Compare(self, node):
        for i, op in enumerate(node.ops):
            flip = _CMP_FLIP.get(type(op))
            if flip:
                ops = list(node.ops)
                ops[i] = flip()
                self.found.append((node, ast.Compare(node.left, ops, node.comparators), "compare"))
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        self.found.append((node, ast.BoolOp(other, node.values), "boolop"))
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            self.found.append((node, node.operand, "not-dropped"))
        self.generic_visit(node)

    def visit_Call(self, node):
        if _is_message_call(node):
            return
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("min", "max"):
            self.found.append((f, ast.Name(_MINMAX[f.id]), "minmax"))
            if len(node.args) == 2 and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args):
                self.found.append((node, node.args[0], "minmax-arg"))
                self.found.append((node, node.args[1], "minmax-arg"))
        elif isinstance(f, ast.Attribute) and f.attr in _MINMAX:
            self.found.append((f, ast.Attribute(f.value, _MINMAX[f.attr], ast.Load()), "minmax"))
        self.generic_visit(node)

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, bool):
            self.found.append((node, ast.Constant(not v), "constant"))
        elif isinstance(v, int):
            self.found.append((node, ast.Constant(v + 1), "constant"))
        elif isinstance(v, float):
            self.found.append((node, ast.Constant(v * 2 if v else 1.0), "constant"))


def _is_message_call(node) -> bool:
    """``notes.append(...)``, ``warnings.warn(...)``, ``print(...)``, ``SomeError(...)``."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Name):
        return f.id == "print" or f.id.endswith(("Error", "Exception", "Warning"))
    if isinstance(f, ast.Attribute):
        base = f.value.id if isinstance(f.value, ast.Name) else ""
        return base in _MESSAGE_TARGETS or (base == "warnings" and f.attr == "warn") or f.attr.endswith("Error")
    return False


def _offsets(src: str) -> list[int]:
    starts, pos = [0], 0
    for line in src.splitlines(keepends=True):
        pos += len(line.encode())
        starts.append(pos)
    return starts


def generated_mutants(file: str, seed: int, cap: int) -> list[Mutant]:
    path = ROOT / file
    src = path.read_text()
    raw = src.encode()
    starts = _offsets(src)
    lines = src.splitlines()
    finder = _Finder()
    finder.visit(ast.parse(src))
    seen: dict[str, int] = {}
    out: dict[str, Mutant] = {}
    for node, new, kind in finder.found:
        a = starts[node.lineno - 1] + node.col_offset
        b = starts[node.end_lineno - 1] + node.end_col_offset
        old_text = raw[a:b].decode()
        new_text = ast.unparse(new)
        if not isinstance(new, (ast.Name, ast.Attribute, ast.Constant)) or kind == "constant" and new_text.startswith("-"):
            new_text = f"({new_text})"
        mutated = (raw[:a] + new_text.encode() + raw[b:]).decode()
        if mutated == src:
            continue
        try:
            ast.parse(mutated)
        except SyntaxError:
            continue
        key = f"{file}\0{lines[node.lineno - 1].strip()}\0{kind}\0{old_text}\0{new_text}"
        seen[key] = seen.get(key, 0) + 1
        digest = hashlib.sha1(f"{key}\0{seen[key]}".encode()).hexdigest()[:6]
        mid = f"{Path(file).stem}:{kind}:{digest}"
        short = " ".join(old_text.split())
        desc = f"{short if len(short) <= 60 else short[:57] + '...'}  ->  {' '.join(new_text.split())[:60]}"
        out.setdefault(mid, Mutant(mid, file, node.lineno, old_text, new_text, desc, mutated))
    mutants = sorted(out.values(), key=lambda m: (m.line, m.id))
    if cap and len(mutants) > cap:
        mutants = sorted(random.Random(f"{seed}:{file}").sample(mutants, cap), key=lambda m: (m.line, m.id))
    return mutants


def all_mutants(files: list[str], seed: int, cap: int, planted: bool = True, generated: bool = True) -> list[Mutant]:
    out = planted_mutants(files) if planted else []
    seen = {m.mutated for m in out if m.mutated}
    if generated:
        for f in files:
            for m in generated_mutants(f, seed, cap):
                if m.mutated not in seen:       # the same bug as a planted one: run it once
                    seen.add(m.mutated)
                    out.append(m)
    return out


# ---- which tests run ------------------------------------------------------------------------

def test_files(root: Path, file: str, all_tests: bool) -> list[str]:
    side = "all" if all_tests else next(s for prefix, s in TEST_SIDES if file.startswith(prefix))
    tests = sorted(str(p.relative_to(root)) for p in (root / "tests").rglob("test_*.py"))
    tests = [t for t in tests if t not in PINS]
    if side == "wafer":
        tests = [t for t in tests if not any(fnmatch.fnmatch(t, g) for g in GPU_ONLY_TESTS)]
    elif side == "gpu":
        tests = [t for t in tests if not any(fnmatch.fnmatch(t, g) for g in WAFER_ONLY_TESTS)]
    # the likeliest killers first: closed-form tests, tests named after the module (then its
    # package), then the rest
    stem, pkg = Path(file).stem.lstrip("_").split("_")[0], Path(file).parent.name
    first = FIRST_TESTS.get(file, ())
    return sorted(tests, key=lambda t: (not any(fnmatch.fnmatch(t, g) for g in first), "closed_form" not in t,
                                        stem not in Path(t).name, pkg not in t, t))


# ---- running --------------------------------------------------------------------------------

def copy_tree(dest: Path) -> None:
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _drop_cache(path: Path) -> None:
    """Remove the module's bytecode and Numba cache, so the next run compiles what is on disk."""
    cache = path.parent / "__pycache__"
    if cache.is_dir():
        for f in cache.glob(f"{path.stem}.*"):
            f.unlink(missing_ok=True)


def run_tests(root: Path, tests: list[str], timeout: float) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'timeout' | 'error', seconds, last lines of output)."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    # --slow: the tests a plain pytest run leaves out catch mutants too (CI runs them)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-rN", "--slow",
           *[f"--deselect={p}" if "::" in p else f"--ignore={p}" for p in PINS], *tests]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "timeout", time.perf_counter() - t0, ""
    dt = time.perf_counter() - t0
    tail = "\n".join(out.decode(errors="replace").strip().splitlines()[-3:])
    # 1: a test failed; 2: interrupted (e.g. a module failed to import); 3: pytest's internal
    # error; < 0: the process crashed (a kernel wrote out of bounds).  4 (usage) and 5 (no
    # tests) are the harness's own mistakes.
    rc = proc.returncode
    status = "passed" if rc == 0 else ("failed" if rc in (1, 2, 3) or rc < 0 else "error")
    if rc < 0:
        tail = f"crashed with signal {-rc}\n{tail}"
    return status, dt, tail


@dataclasses.dataclass
class Outcome:
    mutant: Mutant
    status: str          # killed | survived | timeout | error | equivalent
    seconds: float = 0.0
    detail: str = ""


class Pool:
    """Workers, each with its own copy of the repository."""

    def __init__(self, jobs: int, tmp: Path):
        self.copies: queue.Queue[Path] = queue.Queue()
        for i in range(jobs):
            d = tmp / f"w{i}"
            d.mkdir()
            copy_tree(d)
            self.copies.put(d)
        self.jobs = jobs
        self.tree = tmp / "w0"      # the copies hold the same files: pick test lists from this one

    def baseline(self, files: list[str], all_tests: bool) -> dict[tuple[str, ...], float]:
        """Run each distinct test subset on an unmutated copy: it must pass; its time sets the timeout."""
        # one run per set of test files (the order only changes which test fails first)
        subsets = sorted({tuple(sorted(test_files(self.tree, f, all_tests))) for f in files})
        times: dict[tuple[str, ...], float] = {}

        def one(tests):
            root = self.copies.get()
            try:
                return tests, run_tests(root, list(tests), 3600)
            finally:
                self.copies.put(root)

        with cf.ThreadPoolExecutor(self.jobs) as ex:
            for tests, (status, dt, tail) in ex.map(one, subsets):
                if status != "passed":
                    raise SystemExit(f"the unmutated tests fail ({len(tests)} files); fix them first:\n{tail}")
                times[tests] = dt
        return times

    def run(self, m: Mutant, timeout: float, all_tests: bool) -> Outcome:
        if m.mutated is None:
            return Outcome(m, "error", 0.0, m.error)
        root = self.copies.get()
        path = root / m.file
        original = path.read_text()
        try:
            path.write_text(m.mutated)
            _drop_cache(path)
            status, dt, tail = run_tests(root, test_files(root, m.file, all_tests), timeout)
        finally:
            path.write_text(original)
            _drop_cache(path)
            self.copies.put(root)
        status = {"passed": "survived", "failed": "killed"}.get(status, status)
        return Outcome(m, status, dt, tail if status in ("error", "killed") else "")


# ---- reporting ------------------------------------------------------------------------------

def table(outcomes: list[Outcome]) -> tuple[str, dict]:
    per: dict[str, dict[str, int]] = {}
    for o in outcomes:
        row = per.setdefault(o.mutant.file, dict(mutants=0, killed=0, survived=0, equivalent=0, timeout=0, error=0))
        row["mutants"] += 1
        row["killed" if o.status == "timeout" else o.status] += 1
        row["timeout"] += o.status == "timeout"
    total = {k: sum(r[k] for r in per.values()) for k in ("mutants", "killed", "survived", "equivalent", "timeout",
                                                          "error")}
    for row in [*per.values(), total]:
        scored = row["killed"] + row["survived"]
        row["kill_rate"] = row["killed"] / scored if scored else None
    w = max([len(f) for f in per] + [5])
    lines = [f"{'file':<{w}}  mutants  killed  survived  equiv  timeout  error  kill rate"]
    for f, r in [*sorted(per.items()), ("TOTAL", total)]:
        rate = "-" if r["kill_rate"] is None else f"{100 * r['kill_rate']:.1f} %"
        lines.append(f"{f:<{w}}  {r['mutants']:>7}  {r['killed']:>6}  {r['survived']:>8}  {r['equivalent']:>5}  "
                     f"{r['timeout']:>7}  {r['error']:>5}  {rate:>9}")
    return "\n".join(lines), {"files": per, "total": total}


def git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="Without --write nothing is written; --list and --help run nothing.")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="parallel workers (default 1: the machine has 2 cores)")
    ap.add_argument("--files", nargs="+", metavar="GLOB", help="model files to mutate (default: all model code)")
    ap.add_argument("--only", nargs="+", metavar="ID", help="run just these mutants (equivalent ones too)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--seed", type=int, default=14, help="seed of the per-file sample of generated mutants")
    ap.add_argument("--cap", type=int, default=12, help="generated mutants per file (0: all of them)")
    ap.add_argument("--planted-only", action="store_true", help="only the named mutants in PLANTED")
    ap.add_argument("--all-tests", action="store_true", help="run every test file (but the pins) for every mutant")
    ap.add_argument("--timeout", type=float, help="seconds per mutant (default: 2 x the unmutated run + 30); "
                    "given, the unmutated tests are not run first")
    ap.add_argument("--write", action="store_true", help=f"record the figures in {RESULTS.relative_to(ROOT)}")
    ap.add_argument("--from-log", metavar="LOG", nargs="+", help="score the per-mutant lines runs printed (a run "
                    "stopped part-way; later logs override earlier ones, e.g. an --only rerun of timeouts) "
                    "instead of running anything; with --commit and --wall for the record")
    ap.add_argument("--commit", default="", help="with --from-log: the commit that run started from")
    ap.add_argument("--wall", type=float, default=0.0, help="with --from-log: seconds that run took")
    args = ap.parse_args(argv)
    if args.from_log:
        return _from_log(args)

    files = model_files(args.files)
    mutants = all_mutants(files, args.seed, args.cap, generated=not args.planted_only)
    if args.only:
        wanted = set(args.only)
        mutants = [m for m in mutants if m.id in wanted]
        missing = wanted - {m.id for m in mutants}
        if missing:
            # the id may be generated from a file outside the sample: look at every candidate
            more = [m for f in model_files(None) for m in generated_mutants(f, args.seed, 0) if m.id in missing]
            mutants += more
            missing -= {m.id for m in more}
        if missing:
            print(f"unknown mutant id(s): {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if args.list:
        for m in mutants:
            flag = " [equivalent]" if m.id in EQUIVALENT else (f" [error: {m.error}]" if m.error else "")
            print(f"{m.id:<36} {m.file}:{m.line}  {m.description}{flag}")
        print(f"{len(mutants)} mutants in {len(files)} files")
        return 0

    to_run = [m for m in mutants if args.only or m.id not in EQUIVALENT]
    outcomes = [Outcome(m, "equivalent", 0.0, EQUIVALENT[m.id]) for m in mutants if m.id in EQUIVALENT
                and not args.only]
    t_start = time.perf_counter()
    commit = git_head()             # what the copies hold (plus uncommitted changes, if any)
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="wafersim-mutants-") as tmp:
        pool = Pool(max(1, args.jobs), Path(tmp))
        # the unmutated tests must pass (and their time sets the timeout); a given --timeout skips that
        base = pool.baseline(sorted({m.file for m in to_run}), args.all_tests) if to_run and not args.timeout else {}
        print(f"{len(to_run)} mutants, {args.jobs} worker(s); unmutated test runs: "
              + ", ".join(f"{len(k)} files {v:.0f} s" for k, v in base.items()), flush=True)

        def one(m: Mutant) -> Outcome:
            # the copies' test files, not the working tree's (which may change during a run)
            tests = tuple(sorted(test_files(pool.tree, m.file, args.all_tests)))
            timeout = args.timeout or 2 * base.get(tests, 60.0) + 30
            o = pool.run(m, timeout, args.all_tests)
            with lock:
                print(f"  {o.status:<9} {o.seconds:6.1f} s  {m.id:<36} {m.file}:{m.line}", flush=True)
            return o

        with cf.ThreadPoolExecutor(max(1, args.jobs)) as ex:
            outcomes += list(ex.map(one, to_run))
    wall = time.perf_counter() - t_start

    return _report(outcomes, args, commit, wall)


def _from_log(args) -> int:
    """Outcomes from the lines ``  STATUS  SECONDS s  ID  FILE:LINE`` of an earlier run's output."""
    known = {m.id: m for m in all_mutants(model_files(None), args.seed, args.cap)}
    by_id: dict[str, Outcome] = {}
    lines = [line for log in args.from_log for line in Path(log).read_text().splitlines()]
    for line in lines:
        parts = line.split()
        if len(parts) != 5 or parts[0] not in ("killed", "survived", "timeout", "error") or parts[2] != "s":
            continue
        status, seconds, mid, where = parts[0], float(parts[1]), parts[3], parts[4]
        file, _, lineno = where.rpartition(":")
        m = known.get(mid) or Mutant(mid, file, int(lineno), "", "", "", None)
        if mid in EQUIVALENT:           # declared since that run
            status = "equivalent"
        by_id[mid] = Outcome(dataclasses.replace(m, line=int(lineno)), status, seconds, EQUIVALENT.get(mid, ""))
    outcomes = list(by_id.values())
    scored = {o.mutant.id for o in outcomes}
    outcomes += [Outcome(m, "equivalent", 0.0, EQUIVALENT[m.id]) for m in known.values()
                 if m.id in EQUIVALENT and m.id not in scored]
    not_run = [m.id for m in known.values() if m.id not in scored and m.id not in EQUIVALENT]
    if not_run:
        print(f"{len(not_run)} mutants of this sample are not in the log (the run stopped before them)")
    return _report(outcomes, args, args.commit, args.wall, not_run)


def _report(outcomes, args, commit, wall, not_run=()) -> int:
    text, figures = table(outcomes)
    print()
    print(text)
    survivors = [o for o in outcomes if o.status == "survived"]
    if survivors:
        print("\nsurvivors:")
        for o in survivors:
            print(f"  {o.mutant.id:<36} {o.mutant.file}:{o.mutant.line}  {o.mutant.description}")
    for label, status in (("timeouts (counted as killed)", "timeout"), ("errors (not scored)", "error")):
        rows = [o for o in outcomes if o.status == status]
        if rows:
            print(f"\n{label}:")
            for o in rows:
                print(f"  {o.mutant.id:<36} {o.mutant.file}:{o.mutant.line}  {o.detail}")
    print(f"\n{wall:.0f} s wall with {args.jobs} worker(s)")

    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _results import write_json
        record = {
            "commit": commit, "date": datetime.date.today().isoformat(), "seed": args.seed, "cap": args.cap,
            "jobs": args.jobs, "wall_s": round(wall, 1), "all_tests": args.all_tests, "excluded_tests": list(PINS),
            **figures,
            "survivors": [{"id": o.mutant.id, "file": o.mutant.file, "line": o.mutant.line,
                           "change": o.mutant.description} for o in survivors],
            "timeouts": [o.mutant.id for o in outcomes if o.status == "timeout"],
            "errors": [{"id": o.mutant.id, "why": o.detail} for o in outcomes if o.status == "error"],
            "equivalent": {o.mutant.id: o.detail for o in outcomes if o.status == "equivalent"},
        }
        if args.from_log:
            record["not_run"] = sorted(not_run)
            record["logs"] = len(args.from_log)
            record["note"] = ("scored from the log of a run that stopped part-way (not_run lists what it "
                              "missed) and of reruns with --only that override its lines, with the equivalents "
                              "declared since; kills by tests added since are not counted")
        write_json(RESULTS, record)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
