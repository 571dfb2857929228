"""The flow routing kernels against the naive reference, closed forms and the defect model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.specs import small_wafer
from wafersim.dataflow.transfers import COL_MULTICAST, ROW_MULTICAST, UNICAST, Transfers
from wafersim.engines import _flow_kernels as _k
from wafersim.engines.flow_routing import RoutingBuffers, route_transfers, warm_up
from wafersim.hardware.defects import DefectSpec, map_defects
from wafersim.hardware.directions import EAST, NORTH, SOUTH, WEST
from wafersim.hardware.mesh import PhysicalMesh
from wafersim.testing import naive

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def meshes(draw):
    """A 2..12 x 2..12 mesh on a die grid that tiles it, with scribe links unlike on-die ones."""
    ny, nx = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    dies_y, dies_x = draw(st.sampled_from(divisors(ny))), draw(st.sampled_from(divisors(nx)))
    spec = small_wafer(ny, nx, dies_y, dies_x,
                       link_bytes_per_cycle=draw(st.sampled_from([1.0, 2.0, 4.0])),
                       extra_latency_cycles=draw(st.sampled_from([0.0, 3.0])),
                       energy_j_per_bit=draw(st.sampled_from([1e-13, 1.25e-12])))
    return PhysicalMesh.from_spec(spec)


@st.composite
def transfers_on(draw, ny: int, nx: int, max_size: int = 30):
    n = draw(st.integers(0, max_size))
    cols = {"src_y": [], "src_x": [], "dst_y": [], "dst_x": [], "nbytes": [], "kind": []}
    for _ in range(n):
        kind = draw(st.sampled_from([UNICAST, ROW_MULTICAST, COL_MULTICAST]))
        sy, sx = draw(st.integers(0, ny - 1)), draw(st.integers(0, nx - 1))
        if kind == UNICAST:
            dy, dx = draw(st.integers(0, ny - 1)), draw(st.integers(0, nx - 1))
        elif kind == ROW_MULTICAST:
            dy, dx = draw(st.integers(0, sx)), draw(st.integers(sx, nx - 1))
        else:
            dy, dx = draw(st.integers(0, sy)), draw(st.integers(sy, ny - 1))
        for key, value in zip(cols, (sy, sx, dy, dx, draw(st.sampled_from([0.0, 1.0, 64.0, 1e6, 3.5])), kind)):
            cols[key].append(value)
    return Transfers.from_lists(**cols)


@st.composite
def cases(draw):
    mesh = draw(meshes())
    return mesh, draw(transfers_on(mesh.ny, mesh.nx)), draw(st.sampled_from([0.0, 2.0]))


def test_warm_up_compiles_what_real_calls_use():
    warm_up()
    kernels = [_k.route_xy, _k.link_stats]
    if not all(hasattr(f, "signatures") for f in kernels):
        pytest.skip("JIT disabled")
    before = [len(f.signatures) for f in kernels]
    mesh = PhysicalMesh.from_spec(small_wafer(3, 3))
    route_transfers(mesh, Transfers.unicast([0], [0], [2], [2], 1.0))
    assert [len(f.signatures) for f in kernels] == before, "a real call compiled a new specialisation"


@SETTINGS
@given(cases())
def test_kernel_matches_naive(case):
    mesh, transfers, router_cycles = case
    router_s = router_cycles / mesh.clock_hz
    got = route_transfers(mesh, transfers, router_cycles=router_cycles)
    ref = naive.route(mesh, transfers, router_s)

    want_load = np.zeros_like(got.link_load)
    for (y, x, d), b in ref["load"].items():
        want_load[y, x, naive.INDEX[d]] = b
    np.testing.assert_allclose(got.link_load, want_load, rtol=1e-12)
    np.testing.assert_array_equal(got.hops, ref["hops"])
    np.testing.assert_array_equal(got.scribe_crossings, ref["crossings"])
    np.testing.assert_allclose(got.latency_s, ref["latency"], rtol=1e-12)
    assert got.bytes_hops == pytest.approx(ref["bytes_hops"], rel=1e-12)

    best, best_link, energy = naive.link_stats(mesh, ref["load"])
    assert got.max_link_time_s == pytest.approx(best, rel=1e-12)
    if best_link is not None:
        assert got.max_link == best_link
    assert got.energy_j == pytest.approx(energy, rel=1e-12)


@SETTINGS
@given(meshes())
def test_prefix_sums_match_naive(mesh):
    got = mesh.link_prefix_sums
    want = naive.prefix_sums(mesh)
    for g, w, dtype in zip(got, want, (np.float64, np.int32, np.float64, np.int32)):
        assert g.dtype == dtype and not g.flags.writeable and g.flags.c_contiguous
        np.testing.assert_array_equal(g, np.array(w, dtype=dtype))   # same order of additions: bit for bit
    assert mesh.link_prefix_sums is got, "computed once per mesh"


@SETTINGS
@given(st.data())
def test_reused_buffers_give_what_fresh_calls_give(data):
    """Routing several sets of transfers through one RoutingBuffers changes no result."""
    mesh = data.draw(meshes())
    buffers = RoutingBuffers(mesh)
    for _ in range(3):
        transfers = data.draw(transfers_on(mesh.ny, mesh.nx))
        router_cycles = data.draw(st.sampled_from([0.0, 2.0]))
        fresh = route_transfers(mesh, transfers, router_cycles=router_cycles)
        got = route_transfers(mesh, transfers, router_cycles=router_cycles, buffers=buffers)
        for name in ("link_load", "link_time", "hops", "scribe_crossings", "latency_s"):
            np.testing.assert_array_equal(getattr(got, name), getattr(fresh, name), err_msg=name)
        for name in ("max_link_time_s", "max_link", "energy_j", "bytes_hops", "box"):
            assert getattr(got, name) == getattr(fresh, name), name
        y0, x0, y1, x1 = got.box
        outside = np.ones(mesh.shape, dtype=bool)
        outside[y0:y1, x0:x1] = False
        assert not got.link_load[outside].any() and not got.link_time[outside].any()
        assert 0 <= y0 <= y1 <= mesh.ny and 0 <= x0 <= x1 <= mesh.nx
        for scratch in buffers.diff:
            assert not scratch.any(), "scratch left dirty"


def test_buffers_for_another_mesh_are_refused():
    with pytest.raises(ValueError, match="buffers are for a 3 x 3 mesh"):
        route_transfers(PhysicalMesh.from_spec(small_wafer(4, 4)), Transfers.empty(),
                        buffers=RoutingBuffers(PhysicalMesh.from_spec(small_wafer(3, 3))))


@SETTINGS
@given(cases())
def test_conservation(case):
    mesh, transfers, _ = case
    got = route_transfers(mesh, transfers)
    expected = float(np.sum(transfers.nbytes * got.hops))
    assert got.link_load.sum() == pytest.approx(expected, rel=1e-12)
    assert got.bytes_hops == pytest.approx(expected, rel=1e-12)
    assert not got.link_load[~mesh.link_exists].any(), "load on a link off the mesh"
    np.testing.assert_array_equal(got.hops >= got.scribe_crossings, True)


@SETTINGS
@given(st.integers(2, 12), st.integers(1, 12), st.data())
def test_row_broadcast_from_one_end(n, ny, data):
    mesh = PhysicalMesh.from_spec(small_wafer(ny, n))
    y = data.draw(st.integers(0, ny - 1))
    nbytes = 4096.0
    got = route_transfers(mesh, Transfers.row_multicast(y, 0, 0, n - 1, nbytes))
    want = np.zeros_like(got.link_load)
    want[y, : n - 1, EAST] = nbytes
    np.testing.assert_array_equal(got.link_load, want)
    assert got.hops[0] == n - 1


def test_column_broadcast_from_middle_forks():
    mesh = PhysicalMesh.from_spec(small_wafer(9, 3, dies_y=3))
    got = route_transfers(mesh, Transfers.col_multicast(4, 1, 0, 8, 10.0))
    assert got.link_load[:4, 1, SOUTH].sum() == 0
    np.testing.assert_array_equal(got.link_load[1:5, 1, NORTH], 10.0)
    np.testing.assert_array_equal(got.link_load[4:8, 1, SOUTH], 10.0)
    assert got.hops[0] == 8 and got.scribe_crossings[0] == 2
    assert got.latency_s[0] == pytest.approx(4 * mesh.latency_s[4, 1, SOUTH])


def all_to_all(k: int, nbytes: float) -> Transfers:
    ys, xs = np.divmod(np.arange(k * k), k)
    src = np.repeat(np.arange(k * k), k * k)
    dst = np.tile(np.arange(k * k), k * k)
    return Transfers.from_lists(ys[src], xs[src], ys[dst], xs[dst], nbytes)


@pytest.mark.parametrize("k", [4, 5, 8, 9])
def test_all_to_all_busiest_link_exact(k):
    """Every node sends b bytes to every node (itself included): injection I = b k^2 per node.

    Under XY routing the eastward link between columns c and c+1 of a row carries the
    traffic of the c+1 sources west of it in that row to the (k-c-1) k destinations east of
    it: b (c+1)(k-c-1) k.  The southward link between rows r and r+1 of column j carries
    the (r+1) k sources north of it to the k-r-1 destinations in column j south of it:
    b (r+1) k (k-r-1), the same.  The maximum is at the bisection, c+1 = floor(k/2):
    b k floor(k/2) ceil(k/2), which is exactly (k/4) I for even k and (k/4) I (1 - 1/k^2)
    for odd k.
    """
    b = 8.0
    mesh = PhysicalMesh.from_spec(small_wafer(k, k))
    got = route_transfers(mesh, all_to_all(k, b))
    injected = b * k * k
    expected = b * k * (k // 2) * ((k + 1) // 2)
    assert got.link_load.max() == expected
    if k % 2 == 0:
        assert got.link_load.max() == k / 4 * injected
    bisection = got.link_load[:, k // 2 - 1, EAST]
    np.testing.assert_array_equal(bisection, expected)


def test_uniform_random_traffic_busiest_link():
    """Each of k^2 nodes sends m messages of b bytes to independent uniform destinations.

    Per-node injection I = m b.  The eastward bisection link of a row is crossed by a
    message of one of its k/2 western sources with probability 1/2: expected load
    (k/2)(1/2) m b = (k/4) I; the southward bisection link of a column sees the same
    ((k/2) k sources x P(dst in the column) 1/k x P(dst row south) 1/2).  These 4k
    bisection links carry (k/4) I on average, and no link expects more.  With m = 256 and
    k = 16 one link's count has mean 1024 and std sqrt(512) ~ 23 messages, so the busiest
    of the ~100 links near the bisection lands about 2-3 std (< 10 %) above (k/4) I.
    """
    k, m, b = 16, 256, 2.0
    rng = np.random.Generator(np.random.PCG64(7))
    src = np.repeat(np.arange(k * k), m)
    dst = rng.integers(0, k * k, size=src.size)
    mesh = PhysicalMesh.from_spec(small_wafer(k, k))
    got = route_transfers(mesh, Transfers.from_lists(src // k, src % k, dst // k, dst % k, b))
    target = k / 4 * m * b
    h = k // 2 - 1
    bisection = np.concatenate([got.link_load[:, h, EAST], got.link_load[:, h + 1, WEST],
                                got.link_load[h, :, SOUTH], got.link_load[h + 1, :, NORTH]])
    assert bisection.mean() == pytest.approx(target, rel=0.02)
    assert target <= got.link_load.max() <= 1.10 * target


def test_busiest_link_time_uses_scribe_bandwidth():
    mesh = PhysicalMesh.from_spec(small_wafer(1, 4, dies_x=2, link_bytes_per_cycle=1.0))
    got = route_transfers(mesh, Transfers.unicast(0, 0, 0, 3, 100.0))
    assert got.max_link == (0, 1, EAST)
    assert got.max_link_time_s == pytest.approx(100.0 / mesh.bandwidth_bytes_per_s[0, 1, EAST])
    assert got.max_link_name == "(0, 1) E"


# --- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("cols, message", [
    (([0, 0, 0], [0, 1, 0], [1, 1, 4], [1, 1, 1], 1.0, 0), r"transfer 2: destination \(y=4, x=1\)"),
    (([0, -1], [0, 0], [0, 0], [1, 1], 1.0, 0), r"transfer 1: source \(y=-1, x=0\)"),
    (([0, 1], [2, 1], [0, 2], [3, 3], 1.0, 1), r"transfer 1: row_multicast span columns 2\.\.3 must contain the source column 1"),
    (([0], [0], [0], [4], 1.0, 2), r"transfer 0: col_multicast span rows 0\.\.4"),
])
def test_out_of_mesh_transfers_are_named(cols, message):
    mesh = PhysicalMesh.from_spec(small_wafer(4, 4))
    with pytest.raises(ValueError, match=message):
        route_transfers(mesh, Transfers.from_lists(*cols))


def test_bad_transfer_arrays():
    with pytest.raises(ValueError, match="transfer 1: nbytes"):
        Transfers.from_lists([0, 0], [0, 0], [0, 0], [1, 1], [1.0, -2.0])
    with pytest.raises(ValueError, match="must hold integers"):
        Transfers.from_lists([0.5], [0], [0], [1], 1.0)
    with pytest.raises(ValueError, match="dst_x has 2 entries"):
        Transfers.from_lists([0], [0], [0], [1, 2], 1.0)
    with pytest.raises(ValueError, match="kind=3"):
        Transfers.from_lists([0], [0], [0], [1], 1.0, 3)


def test_concat_and_empty():
    a = Transfers.unicast([0, 1], [0, 1], [1, 0], [1, 0], 5.0)
    b = Transfers.row_multicast(0, 1, 0, 2, 7.0)
    c = Transfers.concat([a, Transfers.empty(), b])
    assert len(c) == 3 and c.kind.tolist() == [0, 0, 1] and c.nbytes.tolist() == [5.0, 5.0, 7.0]
    assert c.src_y.dtype == np.int32 and c.kind.dtype == np.int8
    mesh = PhysicalMesh.from_spec(small_wafer(3, 3))
    empty = route_transfers(mesh, Transfers.empty())
    assert empty.max_link_time_s == 0.0 and empty.energy_j == 0.0 and len(empty.hops) == 0


# --- defects -------------------------------------------------------------------------------

def test_detour_doubles_exactly_the_affected_link():
    spec = small_wafer(4, 8, dies_y=2, dies_x=2)
    clean = PhysicalMesh.from_spec(spec)
    # Die columns hold 4 logical + 1 spare physical columns; physical (1, 2) fails.
    mesh = PhysicalMesh.from_spec(spec, DefectSpec(failed=((1, 2),), spare_columns_per_die=1))
    dm = mesh.defect_map
    assert dm.physical_shape == (4, 10) and dm.failed_cores == 1 and dm.logical_cores == 32
    assert dm.physical_x[1].tolist() == [0, 1, 3, 4, 5, 6, 7, 8]
    changed = mesh.latency_s != clean.latency_s
    # Row 1 east/west link between logical columns 1 and 2 steps over the failed core; the
    # north/south links of logical columns 2 and 3 in row 1 are skewed by one column.
    expected = {(1, 1, EAST), (1, 2, WEST), (0, 2, SOUTH), (1, 2, NORTH), (0, 3, SOUTH), (1, 3, NORTH),
                (1, 2, SOUTH), (2, 2, NORTH), (1, 3, SOUTH), (2, 3, NORTH)}
    assert {tuple(map(int, i)) for i in np.argwhere(changed)} == expected
    assert mesh.latency_s[1, 1, EAST] == 2 * clean.latency_s[1, 1, EAST]
    assert mesh.energy_j_per_bit[1, 1, EAST] == 2 * clean.energy_j_per_bit[1, 1, EAST]
    np.testing.assert_array_equal(mesh.bandwidth_bytes_per_s, clean.bandwidth_bytes_per_s)
    # A transfer along row 1 pays one extra hop of latency, nothing else.
    t = Transfers.unicast(1, 0, 1, 3, 1.0)
    extra = route_transfers(mesh, t).latency_s[0] - route_transfers(clean, t).latency_s[0]
    assert extra == pytest.approx(clean.latency_s[1, 1, EAST])


def test_defect_map_is_deterministic():
    spec = small_wafer(24, 20, dies_y=2, dies_x=2)
    d = dict(density=0.02, spare_columns_per_die=4)
    a = map_defects(spec.mesh, DefectSpec(seed=1, **d))
    b = map_defects(spec.mesh, DefectSpec(seed=1, **d))
    c = map_defects(spec.mesh, DefectSpec(seed=2, **d))
    np.testing.assert_array_equal(a.failed, b.failed)
    np.testing.assert_array_equal(a.physical_x, b.physical_x)
    assert a.failed_cores > 0 and not np.array_equal(a.failed, c.failed)
    assert a.logical_cores == spec.mesh.cores
    assert a.unused_spare_cores == a.physical_cores - a.failed_cores - a.logical_cores


def test_spares_run_out():
    spec = small_wafer(4, 8, dies_x=2)
    with pytest.raises(ValueError, match="spare columns run out: row 2 of die column 1 has 2 failed cores"):
        map_defects(spec.mesh, DefectSpec(failed=((2, 6), (2, 8)), spare_columns_per_die=1))
    with pytest.raises(ValueError, match="exactly one of"):
        DefectSpec(density=0.1)
    with pytest.raises(ValueError, match="outside"):
        map_defects(spec.mesh, DefectSpec(failed=((0, 10),), spare_columns_per_die=1))


def test_spare_fraction_rounds_up():
    spec = small_wafer(2, 40, dies_x=2)
    assert map_defects(spec.mesh, DefectSpec(spare_fraction=0.015)).physical_shape == (2, 42)
