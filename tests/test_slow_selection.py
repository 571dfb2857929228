"""The README's promises about tests marked slow, checked on a throw-away suite with this
suite's conftest: a plain run leaves them out, ``--slow`` adds them, ``-m`` decides for
itself, and a test named by its node id runs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")

SUITE = """
import pytest

@pytest.mark.slow
def test_slow():
    pass

def test_fast():
    pass

@pytest.mark.parametrize("n", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_family(n):
    pass
"""


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    slow: slow\n")
    pytester.makepyfile(test_suite=SUITE)
    return pytester


@pytest.mark.parametrize("args, passed, deselected", [
    ((), 2, 2),
    (("--slow",), 4, 0),
    (("-m", "slow"), 2, 2),
    (("-m", "not slow"), 2, 2),
    (("test_suite.py",), 2, 2),
    (("test_suite.py::test_slow",), 1, 0),
    (("test_suite.py::test_family",), 2, 0),
    (("test_suite.py::test_family[2]", "test_suite.py::test_fast"), 2, 0),
])
def test_which_tests_run(suite, args, passed, deselected):
    suite.runpytest("-q", "-p", "no:cacheprovider", *args).assert_outcomes(passed=passed, deselected=deselected)
