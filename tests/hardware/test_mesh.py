"""PhysicalMesh link arrays built from wafer specs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.specs import base_wafer, small_wafer
from wafersim.hardware.directions import DIRECTIONS, EAST, NORTH, SOUTH, WEST
from wafersim.hardware.mesh import PhysicalMesh


def test_direction_constants():
    assert DIRECTIONS == ("E", "W", "N", "S")
    assert (EAST, WEST, NORTH, SOUTH) == (0, 1, 2, 3)


def test_wse3_mesh_in_si_units():
    spec = base_wafer()
    mesh = PhysicalMesh.from_spec(spec)
    assert mesh.shape == (756, 1176)
    clock = spec.core.clock_hz
    assert mesh.bandwidth_bytes_per_s[10, 10, EAST] == spec.mesh.link_bytes_per_cycle * clock
    assert mesh.latency_s[10, 10, EAST] == pytest.approx(spec.mesh.hop_latency_cycles / clock)
    assert mesh.energy_j_per_bit[10, 10, EAST] == spec.energy.link_j_per_bit
    # 11 vertical die boundaries on each of 756 rows, 6 horizontal ones on each of 1176 columns,
    # each crossed by one link in each direction.
    assert mesh.crosses_scribe.sum() == 2 * (11 * 756 + 6 * 1176)
    assert mesh.crosses_scribe[0, 97, EAST] and mesh.crosses_scribe[0, 98, WEST]
    assert mesh.energy_j_per_bit[0, 97, EAST] == spec.scribe.energy_j_per_bit
    assert mesh.defect_map is None and (mesh.link_hops[mesh.link_exists] == 1).all()


def test_edge_links_are_absent():
    mesh = PhysicalMesh.from_spec(small_wafer(3, 5))
    assert not mesh.bandwidth_bytes_per_s[:, -1, EAST].any()
    assert not mesh.bandwidth_bytes_per_s[:, 0, WEST].any()
    assert not mesh.bandwidth_bytes_per_s[0, :, NORTH].any()
    assert not mesh.bandwidth_bytes_per_s[-1, :, SOUTH].any()
    assert mesh.link_exists.sum() == 2 * (3 * 4 + 2 * 5)
    assert not mesh.crosses_scribe.any()


def test_scribe_links_take_scribe_values():
    spec = small_wafer(4, 6, dies_y=2, dies_x=3, link_bytes_per_cycle=1.0, extra_latency_cycles=3.0)
    mesh = PhysicalMesh.from_spec(spec)
    clock = spec.core.clock_hz
    want_cols = np.array([False, True, False, True, False])
    np.testing.assert_array_equal(mesh.crosses_scribe[0, :-1, EAST], want_cols)
    np.testing.assert_array_equal(mesh.crosses_scribe[:-1, 0, SOUTH], [False, True, False])
    assert mesh.bandwidth_bytes_per_s[0, 1, EAST] == 1.0 * clock
    assert mesh.latency_s[1, 0, SOUTH] == pytest.approx((spec.mesh.hop_latency_cycles + 3.0) / clock)
    assert not mesh.latency_s.flags.writeable
