"""Install hints name packages an index has and the extra of setup.cfg that holds them."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from wafersim.extras import EXTRAS, install_hint

ROOT = Path(__file__).resolve().parents[1]


def _extras() -> dict[str, set[str]]:
    """setup.cfg's extras -> the distribution names each installs."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return {name: {re.match(r"[A-Za-z0-9_.-]+(\[[^]]*\])?", line).group(0).lower()
                   for line in value.strip().splitlines() if line.strip()}
            for name, value in cfg["options.extras_require"].items()}


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_hint_installs_what_the_extra_holds(extra):
    packages = {p.strip("'").lower() for p in EXTRAS[extra].split()}
    assert packages == _extras()[extra]
    hint = install_hint(extra)
    assert hint.startswith(f"pip install {EXTRAS[extra]} ") and f"pip install -e '.[{extra}]'" in hint


def test_no_hint_asks_an_index_for_wafersim():
    """wafersim is installed from a checkout: asking an index for wafersim with an extra finds nothing."""
    hits = [f"{p.relative_to(ROOT)}:{n}" for folder in ("wafersim", "benchmarks", "docs", "tools")
            for p in sorted((ROOT / folder).rglob("*")) if p.suffix in (".py", ".md")
            for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"install\W+wafersim\[", line)]
    hits += [f"README.md:{n}" for n, line in enumerate((ROOT / "README.md").read_text().splitlines(), 1)
             if re.search(r"install\W+wafersim\[", line)]
    assert not hits, hits


def test_test_extra_installs_what_the_suite_and_ci_use():
    """The README's test command needs every optional package a test imports (plotting
    included), and .ci/run the random-order plugin."""
    extras = _extras()
    needed = extras["plot"] | extras["sweep"] | extras["dask"] | {"pytest", "hypothesis", "pytest-random-order"}
    assert needed <= extras["test"], needed - extras["test"]
    assert "--random-order" in (ROOT / ".ci" / "run").read_text()
