"""Small wafer specs cut from the WSE-3 preset, for tests."""

from __future__ import annotations

import dataclasses
import functools

from wafersim import load_system


@functools.cache
def base_wafer():
    return load_system("wse3")


def small_wafer(ny: int, nx: int, dies_y: int = 1, dies_x: int = 1, **scribe):
    """The WSE-3 preset with a ny x nx mesh cut into dies_y x dies_x dies and optional scribe overrides."""
    base = base_wafer()
    mesh = dataclasses.replace(base.mesh, cores_x=nx, cores_y=ny, dies_x=dies_x, dies_y=dies_y)
    mesh.check()
    return dataclasses.replace(base, mesh=mesh, scribe=dataclasses.replace(base.scribe, **scribe))


def one_device(**scenario):
    """``scenario`` with one wafer and ``tp = 1`` where it leaves the sizing out: the sizing
    :func:`wafersim.simulate` defaulted to before 0.2, for tests of one device's closed forms
    and cliffs (every command now sizes a system to hold the job unless told otherwise)."""
    scenario.setdefault("wafers", 1)
    if "gpus" not in scenario:
        scenario.setdefault("tp", 1)
    return scenario


def simulate_one(system, model, **scenario):
    """:func:`wafersim.simulate` on one wafer, or one GPU, unless the scenario sizes it."""
    from wafersim import simulate
    return simulate(system, model, **one_device(**scenario))
