"""Tests that draw need matplotlib (the ``plot`` extra).

Locally they skip when it is absent; CI (``.ci/run``) installs the extra and sets
``WAFERSIM_REQUIRE_PLOTS=1`` so that a missing matplotlib fails instead of
silently skipping them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def need_matplotlib():
    """The matplotlib module; skips the calling test when it is absent, unless CI requires it."""
    if os.environ.get("WAFERSIM_REQUIRE_PLOTS"):
        import matplotlib
        return matplotlib
    return pytest.importorskip("matplotlib")


def load_tool(name: str):
    """A script of tools/ as a module (its ``main(argv)`` returns the exit status)."""
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
