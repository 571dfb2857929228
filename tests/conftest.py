"""Suite-wide settings.

Every property-based test draws the same cases every run, so a run of the suite is
reproducible; ``WAFERSIM_FUZZ_RANDOM=1`` draws new ones for an exploratory run.

Tests marked ``slow`` (end-to-end and fuzz tests, the full-wafer flow runs) are left out
of a plain ``python -m pytest``, which keeps that command to a few minutes on two cores.
``--slow`` runs them too, ``-m slow`` runs only them, and any ``-m`` expression decides
for itself; a test named by its node id (``tests/test_fuzz.py::test_big_jobs``) always runs.
CI runs them after the others.
"""

import os
from pathlib import Path

from hypothesis import settings

settings.register_profile("wafersim", derandomize=not os.environ.get("WAFERSIM_FUZZ_RANDOM"), database=None)
settings.load_profile("wafersim")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="also run the tests marked slow (left out by default; -m slow runs only them)")


def _runs_slow(config) -> bool:
    return config.getoption("--slow") or bool(config.getoption("markexpr"))


def pytest_report_header(config):
    if not _runs_slow(config):
        return "tests marked slow are left out: --slow runs them too, -m slow only them"


def pytest_collection_modifyitems(config, items):
    if _runs_slow(config):
        return
    named = [arg.partition("::") for arg in config.args if "::" in arg]
    slow = {id(item) for item in items if item.get_closest_marker("slow") and not _named(item, named)}
    if slow:
        config.hook.pytest_deselected(items=[item for item in items if id(item) in slow])
        items[:] = [item for item in items if id(item) not in slow]


def _named(item, named) -> bool:
    """Whether a command-line node id names ``item``, its class or its parametrised family."""
    inner = item.nodeid.partition("::")[2]
    return any(Path(path).resolve() == item.path.resolve()
               and (inner == rest or inner.startswith((rest + "::", rest + "[")))
               for path, _, rest in named)
