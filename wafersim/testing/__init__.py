"""Helpers for checking wafersim: slow, obvious reference implementations.

Nothing in the simulator imports this package; the test suite and the
benchmarks compare the fast code against it.
"""
