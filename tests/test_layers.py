"""Every import in the package points down the declared layers, and no module cycle exists.

The layers, lowest first (a module may import its own layer and those below):
the shared types and quantities at the bottom, users' entry points at the top.
The package root (``wafersim/__init__.py``) gathers the public API and is
imported by nobody inside the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wafersim"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("_version", "units", "atomic", "config", "provenance", "text", "nearest", "extras")),
    ("results", ("results",)),
    ("specs", ("hardware", "workload")),
    ("presets", ("presets",)),
    ("design", ("design",)),
    ("mapping", ("mapping",)),
    ("dataflow", ("dataflow",)),
    ("engines", ("engines",)),
    ("runner", ("sizing", "runner")),
    ("serving", ("serving",)),
    ("design spaces", ("sweep",)),
    ("analysis", ("sweep_cliff", "headtohead", "envelope", "uncertainty", "validation", "report", "plotting", "plots", "testing")),
    ("layout search", ("explore",)),
    ("entry points", ("cli", "cli_args", "cli_compare", "cli_explore", "cli_noc", "cli_design", "cli_serve", "compare_sides", "show", "__main__")),
    ("public API", ("__init__",)),
]
_LEVEL = {top: i for i, (_, tops) in enumerate(LAYERS) for top in tops}


def _modules() -> dict[str, Path]:
    """Dotted names inside the package ('engines.flow', '__init__') -> file."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(module: str, node: ast.ImportFrom | ast.Import, known: dict[str, Path] | None = None) -> list[str]:
    """Package-internal modules an import statement names, as dotted names inside the package
    (``known``: :func:`_modules`, read once by a caller that resolves many imports)."""
    known = known if known is not None else _modules()
    if isinstance(node, ast.Import):
        return [a.name.removeprefix("wafersim.") for a in node.names
                if a.name == "wafersim" or a.name.startswith("wafersim.")]
    if node.level == 0:
        if not (node.module or "").startswith("wafersim"):
            return []
        base = (node.module or "").removeprefix("wafersim").lstrip(".")
    else:
        here = module.split(".")
        is_pkg = known[module].name == "__init__.py"
        anchor = here if is_pkg else here[:-1]
        anchor = anchor[:len(anchor) - (node.level - 1)] if node.level > 1 else anchor
        base = ".".join([*anchor, *(node.module.split(".") if node.module else [])])
    out = []
    for alias in node.names:
        full = f"{base}.{alias.name}" if base else alias.name
        out.append(full if full in known else (base or "__init__"))
    return out


def _imports() -> dict[str, set[str]]:
    graph = {}
    known = _modules()
    for module, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets.update(t for t in _resolve(module, node, known) if t != module)
        graph[module] = targets
    return graph


def _level(module: str) -> int:
    top = module.split(".")[0]
    if top not in _LEVEL:
        raise AssertionError(f"wafersim.{module} is in no declared layer: add '{top}' to LAYERS in {__file__}")
    return _LEVEL[top]


def test_every_module_has_a_layer():
    for module in _modules():
        _level(module)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """The package's import graph, read once for the tests of this file."""
    return _imports()


def test_no_upward_imports(graph):
    bad = [f"wafersim.{m} ({LAYERS[_level(m)][0]}) imports wafersim.{t} ({LAYERS[_level(t)][0]})"
           for m, targets in graph.items() for t in sorted(targets) if _level(t) > _level(m)]
    assert not bad, "imports pointing up the layers:\n" + "\n".join(bad)


def test_no_import_cycles(graph):
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("source,expected", [
    ("from ..engines.flow import simulate", {"engines.flow"}),
    ("from .. import __version__", {"__init__"}),
    ("from .phase import PhaseTime", {"results.phase"}),
    ("import wafersim.cli", {"cli"}),
])
def test_resolver_reads_relative_and_absolute_imports(source, expected):
    """The checker itself: an import it could not read would hide an upward import."""
    node = ast.parse(source).body[0]
    assert set(_resolve("results.hdf5", node)) == expected
