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


def load_tool(name: str):
    """The module of ``tools/<name>.py`` (tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def need_matplotlib():
    """The matplotlib module; skips the calling test when it is absent, unless CI requires it."""
    if os.environ.get("WAFERSIM_REQUIRE_PLOTS"):
        import matplotlib
        return matplotlib
    return pytest.importorskip("matplotlib")



def shown_texts(texts):
    """The texts that are visible and not empty."""
    return [t for t in texts if t.get_visible() and t.get_text()]


def overlaps(fig, texts, draw: bool = True) -> list[tuple[str, str]]:
    """Pairs of visible texts whose boxes overlap once ``fig`` is drawn (rendered, as when
    saved; ``draw=False``: it already is)."""
    if draw:
        fig.canvas.draw()
    shown = shown_texts(texts)
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in shown]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:] if ba.overlaps(bb)]
