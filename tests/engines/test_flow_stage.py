"""The stage kernel (one call routes and times a stage of every region) against readable
references: the hop-by-hop walk of ``wafersim.testing.naive`` reduced with NumPy, and the
single-set kernel ``route_transfers`` to the bit; the result-array kernels against NumPy;
the windowed mesh against the whole one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import wafersim
from tests.engines.test_flow_kernels import SETTINGS, divisors, meshes, transfers_on
from tests.specs import small_wafer
from wafersim.dataflow.transfers import Transfers
from wafersim.engines import _flow_kernels as _k
from wafersim.engines import flow
from wafersim.engines.flow_routing import RoutingBuffers, route_stage, route_transfers
from wafersim.hardware.defects import DefectSpec
from wafersim.hardware.directions import EAST, NORTH, SOUTH, WEST
from wafersim.hardware.mesh import PhysicalMesh
from wafersim.testing import naive


def _subset(t: Transfers, lo: int, hi: int) -> Transfers:
    return Transfers(t.src_y[lo:hi], t.src_x[lo:hi], t.dst_y[lo:hi], t.dst_x[lo:hi], t.nbytes[lo:hi], t.kind[lo:hi])


def reference_stage(mesh, transfers, region, starts, wafer_of, mult, boxes, wafers, router_s, route):
    """What ``route_stage`` must give, group by group, the slow obvious way.

    ``route(sub)`` -> (link load array (ny, nx, 4), per-transfer latency) routes one group
    alone; each region's busiest link is the largest load / bandwidth over its box
    (``np.max``); totals add ``mult`` x load and x time link by link."""
    R = len(boxes)
    link_max, lat_max = np.zeros(R), np.zeros(R)
    total_load = np.zeros((wafers, *mesh.shape, 4))
    total_time = np.zeros(total_load.shape)
    energy = []
    bw = mesh.bandwidth_bytes_per_s
    for g in range(len(starts) - 1):
        lo, hi = int(starts[g]), int(starts[g + 1])
        load, latency = route(_subset(transfers, lo, hi))
        with np.errstate(divide="ignore"):
            time = np.where(load == 0.0, 0.0, np.where(bw > 0, load / np.where(bw > 0, bw, 1.0), np.inf))
        for r in np.unique(region[lo:hi]):
            y0, x0, y1, x1 = boxes[r]
            inside = time[y0:y1, x0:x1]
            link_max[r] = inside.max() if inside.size else 0.0
        for r, lat in zip(region[lo:hi], latency):
            lat_max[r] = max(lat_max[r], lat)
        total_load[wafer_of[g]] += mult[g] * load
        total_time[wafer_of[g]] += mult[g] * time
        energy.append(float((load * 8 * mesh.energy_j_per_bit).sum()))
    return link_max, lat_max, total_load, total_time, np.array(energy)


def naive_route(mesh, router_s):
    def route(sub):
        ref = naive.route(mesh, sub, router_s)
        load = np.zeros((*mesh.shape, 4))
        for (y, x, d), b in ref["load"].items():
            load[y, x, naive.INDEX[d]] = b
        return load, ref["latency"]
    return route


def kernel_route(mesh, router_cycles):
    buffers = RoutingBuffers(mesh)

    def route(sub):
        res = route_transfers(mesh, sub, router_cycles=router_cycles, buffers=buffers)
        return res.link_load.copy(), res.latency_s.copy()
    return route


def gather(planes):
    """(wafers, ny, nx, 4) loads and times from the kernel's direction planes."""
    h_load, h_time, v_load, v_time = planes
    out = []
    for h, v in ((h_load, v_load), (h_time, v_time)):
        a = np.zeros(h.shape[:1] + h.shape[2:] + (4,))
        a[..., EAST], a[..., WEST] = h[:, 0], h[:, 1]
        a[..., NORTH], a[..., SOUTH] = v[:, 0].transpose(0, 2, 1), v[:, 1].transpose(0, 2, 1)
        out.append(a)
    return out


@st.composite
def stages(draw, fractional: bool = False):
    """A mesh, transfers in groups on up to 3 wafers, regions with boxes, multiplicities."""
    mesh = draw(meshes())
    ny, nx = mesh.shape
    t = draw(transfers_on(ny, nx))
    if fractional:            # byte counts whose sums round: order of additions shows
        t = Transfers(t.src_y, t.src_x, t.dst_y, t.dst_x, t.nbytes * 0.1 + 1.0 / 3.0, t.kind)
    n = len(t)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    starts = np.array([0, *cuts, n], dtype=np.int64)
    groups = len(starts) - 1
    wafers = draw(st.integers(1, 3))
    wafer_of = np.array([draw(st.integers(0, wafers - 1)) for _ in range(groups)], dtype=np.int64)
    mult = np.array([float(draw(st.integers(1, 3))) for _ in range(groups)])
    R = draw(st.integers(1, 4))
    region = np.array([draw(st.integers(0, R - 1)) for _ in range(n)], dtype=np.int32)
    boxes = []
    for _ in range(R):
        y0, y1 = sorted(draw(st.integers(0, ny)) for _ in range(2))
        x0, x1 = sorted(draw(st.integers(0, nx)) for _ in range(2))
        boxes.append((y0, x0, y1, x1))
    return mesh, t, region, starts, wafer_of, mult, np.array(boxes, dtype=np.int64), wafers, \
        draw(st.sampled_from([0.0, 2.0]))


def run_kernel(mesh, t, region, starts, wafer_of, mult, boxes, wafers, router_cycles):
    R = len(boxes)
    link_max, lat_max = np.full(R, -1.0), np.zeros(R)
    ny, nx = mesh.shape
    planes = (np.zeros((wafers, 2, ny, nx)), np.zeros((wafers, 2, ny, nx)),
              np.zeros((wafers, 2, nx, ny)), np.zeros((wafers, 2, nx, ny)))
    energy = route_stage(mesh, t, region, starts, wafer_of, mult, boxes, link_max, lat_max, planes,
                         router_cycles=router_cycles)
    touched = np.isin(np.arange(R), region)
    return np.where(touched, link_max, 0.0), lat_max, *gather(planes), energy


@SETTINGS
@given(stages())
def test_stage_matches_naive(case):
    mesh, t, region, starts, wafer_of, mult, boxes, wafers, router_cycles = case
    got = run_kernel(*case)
    want = reference_stage(mesh, t, region, starts, wafer_of, mult, boxes, wafers, router_cycles / mesh.clock_hz,
                           naive_route(mesh, router_cycles / mesh.clock_hz))
    names = ("link_max", "lat_max", "load", "time", "energy")
    for name, g, w in zip(names, got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=0.0, err_msg=name)


@SETTINGS
@given(stages(fractional=True))
def test_stage_equals_route_transfers_to_the_bit(case):
    """Loads, times, busiest links and latencies exactly as routing each group alone with
    ``route_transfers`` (the difference-array kernel), even where sums round; the energy,
    summed along paths instead of link by link, to rounding."""
    mesh, t, region, starts, wafer_of, mult, boxes, wafers, router_cycles = case
    got = run_kernel(*case)
    want = reference_stage(mesh, t, region, starts, wafer_of, mult, boxes, wafers, router_cycles / mesh.clock_hz,
                           kernel_route(mesh, router_cycles))
    for name, g, w in zip(("link_max", "lat_max", "load", "time"), got, want):
        np.testing.assert_array_equal(g, w, err_msg=name)
    np.testing.assert_allclose(got[4], want[4], rtol=1e-12, atol=1e-300)


def test_stage_refuses_bad_groups_and_totals():
    mesh = PhysicalMesh.from_spec(small_wafer(3, 3))
    t = Transfers.unicast([0, 1], [0, 1], [2, 2], [2, 0], 1.0)
    box = np.array([[0, 0, 3, 3]])
    with pytest.raises(ValueError, match="group_start must rise from 0 to 2"):
        route_stage(mesh, t, np.zeros(2, np.int32), np.array([0, 1]), np.zeros(1), np.ones(1), box,
                    np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="one of 1 regions"):
        route_stage(mesh, t, np.array([0, 1], np.int32), np.array([0, 2]), np.zeros(1), np.ones(1), box,
                    np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="link totals must be"):
        route_stage(mesh, t, np.zeros(2, np.int32), np.array([0, 2]), np.zeros(1), np.ones(1), box,
                    np.zeros(1), np.zeros(1), tuple(np.zeros((1, 3, 3, 2)) for _ in range(4)))
    with pytest.raises(ValueError, match="outside the 3 x 3 mesh"):
        route_stage(mesh, Transfers.unicast([0], [0], [3], [0], 1.0), np.zeros(1, np.int32), np.array([0, 1]),
                    np.zeros(1), np.ones(1), box, np.zeros(1), np.zeros(1))


@SETTINGS
@given(st.data())
def test_result_array_kernels_match_numpy(data):
    """``busiest_link`` is ``np.argmax`` over the gathered times (ties to the first);
    ``link_arrays`` is the gathered float64 arrays rounded once to float32."""
    wafers, ny, nx = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    values = st.sampled_from([0.0, 0.0, 1.0, 2.5, 1.0 / 3.0, np.inf])
    planes = tuple(np.array(data.draw(st.lists(values, min_size=n, max_size=n))).reshape(shape)
                   for n, shape in [(wafers * 2 * ny * nx, (wafers, 2, ny, nx))] * 2
                   + [(wafers * 2 * nx * ny, (wafers, 2, nx, ny))] * 2)
    load, time = gather(planes)
    best, flat = _k.busiest_link(planes[1], planes[3])
    assert flat == int(np.argmax(time)) and best == time.reshape(-1)[flat]
    step = data.draw(st.sampled_from([1.0, 3.0, 0.7]))
    load32, share32 = np.zeros(load.shape, np.float32), np.zeros(load.shape, np.float32)
    _k.link_arrays(*planes, step, load32, share32)
    np.testing.assert_array_equal(load32, load.astype(np.float32))
    np.testing.assert_array_equal(share32, np.divide(time, step, out=np.empty(time.shape, np.float32),
                                                     casting="same_kind"))


@SETTINGS
@given(st.data())
def test_window_is_a_slice_of_the_whole_mesh(data):
    ny, nx = data.draw(st.integers(2, 12)), data.draw(st.integers(2, 12))
    spec = small_wafer(ny, nx, data.draw(st.sampled_from(divisors(ny))), data.draw(st.sampled_from(divisors(nx))),
                       link_bytes_per_cycle=2.0, extra_latency_cycles=3.0)
    defects = data.draw(st.sampled_from([None, DefectSpec(density=0.05, spare_fraction=0.5, seed=1)]))
    wy, wx = data.draw(st.integers(1, ny)), data.draw(st.integers(1, nx))
    whole = PhysicalMesh.from_spec(spec, defects)
    part = PhysicalMesh.from_spec(spec, defects, window=(wy, wx))
    for name in ("bandwidth_bytes_per_s", "latency_s", "energy_j_per_bit", "crosses_scribe", "link_hops"):
        np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[:wy, :wx], err_msg=name)


def test_window_outside_the_mesh_is_refused():
    with pytest.raises(ValueError, match="window 4 x 2 must lie within the 3 x 3 mesh"):
        PhysicalMesh.from_spec(small_wafer(3, 3), window=(4, 2))


@pytest.mark.parametrize("mapping, scenario", [
    ({"cores": "24x20"}, {"batch": 2}),                               # spill streams in from the east edge
    ({"cores": "30x40", "placement": "sequential"}, {}),
])
def test_a_block_runs_on_its_window_with_unchanged_results(monkeypatch, mapping, scenario):
    """The mesh built for the cores a run reaches gives the results of the whole wafer's mesh."""
    system = wafersim.load_system("wse3", {"mesh.cores_x": 64, "mesh.cores_y": 48, "mesh.dies_x": 4,
                                           "mesh.dies_y": 4})
    kw = dict(fidelity="flow", layers=2, prompt_tokens=64, output_tokens=8, mapping=mapping, **scenario)
    windows = []
    real = flow._window
    monkeypatch.setattr(flow, "_window", lambda pl, progs: windows.append(real(pl, progs)) or windows[-1])
    part = wafersim.simulate(system, "llama-3.1-8b", **kw)
    monkeypatch.setattr(flow, "_window", lambda pl, progs: None)
    whole = wafersim.simulate(system, "llama-3.1-8b", **kw)
    assert windows[0] is not None and windows[0] != (48, 64)
    assert part.summary == whole.summary and part.notes == whole.notes
    for name, arr in whole.arrays.items():
        np.testing.assert_array_equal(part.arrays[name].data, arr.data, err_msg=name)


def test_warm_up_compiles_what_a_flow_run_uses():
    from wafersim.engines.flow_routing import warm_up
    warm_up()
    kernels = [_k.route_stage, _k.busiest_link, _k.link_arrays]
    if not all(hasattr(f, "signatures") for f in kernels):
        pytest.skip("JIT disabled")
    before = [len(f.signatures) for f in kernels]
    system = wafersim.load_system("wse3", {"mesh.cores_x": 32, "mesh.cores_y": 32, "mesh.dies_x": 2, "mesh.dies_y": 2})
    for mapping in ({"cores": "16x16"}, None):                 # a window of the result arrays, and all of them
        wafersim.simulate(system, "llama-3.1-8b", fidelity="flow", layers=2, prompt_tokens=32, output_tokens=4,
                          mapping=mapping)
    assert [len(f.signatures) for f in kernels] == before, "a real run compiled a new specialisation"
