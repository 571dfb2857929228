"""Tests that draw need matplotlib (the ``plot`` extra).

Locally they skip when it is absent; CI (``.ci/run``) installs the extra and sets
``WAFERSIM_REQUIRE_PLOTS=1`` so that a missing matplotlib fails instead of
silently skipping them.
"""

from __future__ import annotations

import os

import pytest


def need_matplotlib():
    """The matplotlib module; skips the calling test when it is absent, unless CI requires it."""
    if os.environ.get("WAFERSIM_REQUIRE_PLOTS"):
        import matplotlib
        return matplotlib
    return pytest.importorskip("matplotlib")
