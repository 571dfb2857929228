"""The cycle-level mesh network: kernel against the naive reference, and independent truths
(zero-load latency, bisection-bounded saturation, conservation, order, no deadlock)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.specs import small_wafer
from wafersim.dataflow.transfers import Transfers
from wafersim.engines import _cycle_kernels as _k
from wafersim.engines.cycle_network import (LinkArrays, NetworkConfig, Packets, simulate_packets, time_transfers,
                                            transfer_packets, warm_up)
from wafersim.engines.noc_traffic import TrafficSpec, make_packets, run_point
from wafersim.hardware.mesh import PhysicalMesh
from wafersim.testing import naive_cycle


@st.composite
def small_cases(draw):
    ny, nx = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    vcs, slots = draw(st.integers(1, 2)), draw(st.sampled_from([1, 2, 4]))
    lat = np.array(draw(st.lists(st.integers(1, 3), min_size=ny * nx * 4, max_size=ny * nx * 4))).reshape(ny, nx, 4)
    period = np.array(draw(st.lists(st.sampled_from([1.0, 1.5, 2.0]), min_size=ny * nx * 4,
                                    max_size=ny * nx * 4))).reshape(ny, nx, 4)
    base = LinkArrays.uniform(ny, nx)
    links = LinkArrays(np.where(base.latency > 0, lat, 0), np.where(base.latency > 0, period, 0.0))
    n = draw(st.integers(1, 14))
    cols = [draw(st.lists(st.integers(0, hi), min_size=n, max_size=n))
            for hi in (ny - 1, nx - 1, ny - 1, nx - 1, 4, 12, vcs - 1)]
    cols[4] = [f + 1 for f in cols[4]]
    return links, Packets(*cols), NetworkConfig(vcs=vcs, buffer_flits=slots, watchdog_cycles=500)


def test_warm_up_compiles_what_real_calls_use():
    warm_up()
    if not hasattr(_k.advance, "signatures"):
        pytest.skip("JIT disabled")
    before = len(_k.advance.signatures), len(_k.in_latency.signatures)
    mesh = PhysicalMesh.from_spec(small_wafer(4, 4, 2, 2))
    time_transfers(mesh, Transfers.unicast([0], [0], [3], [3], 100.0))
    run_point(LinkArrays.uniform(4, 4), TrafficSpec(rate=0.2, cycles=50, warmup=10))
    assert (len(_k.advance.signatures), len(_k.in_latency.signatures)) == before, \
        "a real call compiled a new specialisation"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_cases())
def test_kernel_matches_naive(case):
    links, packets, config = case
    run = simulate_packets(links, packets, config, max_cycles=2000)
    ny, nx = links.shape
    rows = list(zip(*(a.tolist() for a in (packets.src_y, packets.src_x, packets.dst_y, packets.dst_x,
                                             packets.flits, packets.time, packets.vc))))
    done, head, link_flits, disorder = naive_cycle.simulate(ny, nx, links.latency.tolist(), links.period.tolist(),
                                                            config.vcs, config.buffer_flits, rows, max_cycles=2000)
    moving = (packets.src_y != packets.dst_y) | (packets.src_x != packets.dst_x)
    assert run.status == "done"
    assert run.done.tolist() == done
    assert run.head.tolist() == head
    ref = np.zeros((ny, nx, 4), np.int64)
    for (y, x, d), f in link_flits.items():
        ref[y, x, d] = f
    assert np.array_equal(run.link_flits, ref)
    assert run.order_errors == disorder == 0
    assert moving.any() or run.link_flits.sum() == 0


def _hops_latency(links: LinkArrays, sy, sx, ty, tx) -> tuple[int, float]:
    """Sum of link latencies and the slowest period along the XY route."""
    y, x, lat, per = sy, sx, 0, 1.0
    while x != tx:
        d = 0 if tx > x else 1
        lat += links.latency[y, x, d]; per = max(per, links.period[y, x, d])
        x += 1 if d == 0 else -1
    while y != ty:
        d = 3 if ty > y else 2
        lat += links.latency[y, x, d]; per = max(per, links.period[y, x, d])
        y += 1 if d == 3 else -1
    return lat, per


@pytest.mark.parametrize("hop_cycles,extra,scribe_bytes", [(1, 0, 4), (2, 0, 4), (1, 3, 4), (1, 2, 2)])
def test_zero_load_latency_is_hops_times_hop_delay_plus_serialisation(hop_cycles, extra, scribe_bytes):
    """A packet alone: sum of per-hop delays + flits x the slowest link's cycles per flit
    (the tail follows the head one flit period apart), on random pairs of a 16 x 16 mesh
    of 2 x 2 dies whose scribe crossings may be slower and narrower."""
    import dataclasses
    spec = small_wafer(16, 16, 2, 2, extra_latency_cycles=float(extra), link_bytes_per_cycle=float(scribe_bytes))
    spec = dataclasses.replace(spec, mesh=dataclasses.replace(spec.mesh, hop_latency_cycles=float(hop_cycles)))
    links = LinkArrays.from_mesh(PhysicalMesh.from_spec(spec))
    rng = np.random.default_rng(1)
    for _ in range(40):
        sy, sx, ty, tx = (int(v) for v in rng.integers(0, 16, 4))
        if (sy, sx) == (ty, tx):
            continue
        flits = int(rng.integers(1, 20))
        run = simulate_packets(links, Packets([sy], [sx], [ty], [tx], [flits], [3], [0]))
        lat, per = _hops_latency(links, sy, sx, ty, tx)
        hops = abs(sy - ty) + abs(sx - tx)
        if extra == 0 and scribe_bytes == 4:
            assert lat == hops * hop_cycles
        assert run.latency[0] == lat + 1 + int(np.ceil((flits - 1) * per))


@pytest.mark.parametrize("k", [8, 16])
def test_uniform_saturation_between_70_percent_and_bisection_bound(k):
    """Offered twice the bound, uniform random traffic is accepted at no more than the
    bisection bound 4/k flits/node/cycle and at least 70 % of it; transpose saturates lower."""
    links = LinkArrays.uniform(k, k)
    spec = TrafficSpec(pattern="uniform", rate=8.0 / k, cycles=2500, warmup=800, seed=k)
    uni, _ = run_point(links, spec)
    bound = 4.0 / k
    assert 0.7 * bound <= uni.accepted <= bound, (uni.accepted, bound)
    tr, _ = run_point(links, TrafficSpec(pattern="transpose", rate=8.0 / k, cycles=2500, warmup=800, seed=k))
    assert tr.accepted < uni.accepted


def test_below_saturation_everything_offered_is_accepted():
    pt, stream = run_point(LinkArrays.uniform(8, 8), TrafficSpec(rate=0.1, cycles=2000, warmup=500))
    assert pt.delivered_share == 1.0 and pt.status == stream.status == "done" and stream.in_flight == 0
    assert pt.accepted == pytest.approx(0.1, rel=0.1)


@pytest.mark.parametrize("pattern", ["uniform", "hotspot", "neighbour", "bit_complement", "transpose"])
def test_conservation_and_order_at_high_load(pattern):
    """Every flit arrives exactly once and in order; links carry flits x hops; packets of a
    source-destination pair arrive in the order they were created."""
    k = 8
    links = LinkArrays.uniform(k, k)
    spec = TrafficSpec(pattern=pattern, rate=0.6, packet_flits=3, cycles=400, warmup=0, seed=5)
    packets = make_packets(spec, k, k)
    run = simulate_packets(links, packets, NetworkConfig(watchdog_cycles=2000))
    assert run.status == "done" and run.delivered == len(packets)
    assert run.ejected_flits == packets.flits.sum()
    hops = np.abs(packets.src_y - packets.dst_y) + np.abs(packets.src_x - packets.dst_x)
    assert run.link_flits.sum() == (packets.flits * hops).sum()
    assert run.order_errors == 0
    pair = (packets.src_y * k + packets.src_x) * k * k + packets.dst_y * k + packets.dst_x
    order = np.lexsort((np.arange(len(pair)), packets.time, pair))
    same = pair[order][1:] == pair[order][:-1]
    assert (np.diff(run.done[order])[same] > 0).all()


def test_no_deadlock_under_xy_at_overload():
    """Shallow single-VC buffers, long packets, offered far past saturation: the watchdog
    (no flit moving for 300 cycles) never fires and the network drains."""
    links = LinkArrays.uniform(12, 12, latency=2)
    spec = TrafficSpec(pattern="uniform", rate=1.0, packet_flits=9, cycles=600, warmup=0, seed=3)
    packets = make_packets(spec, 12, 12, vcs=1)
    run = simulate_packets(links, packets, NetworkConfig(vcs=1, buffer_flits=1, watchdog_cycles=300))
    assert run.status == "done"
    assert run.delivered == len(packets)


def test_deterministic_for_a_seed():
    links = LinkArrays.uniform(8, 8)
    a, _ = run_point(links, TrafficSpec(rate=0.3, cycles=600, warmup=100, seed=9))
    b, _ = run_point(links, TrafficSpec(rate=0.3, cycles=600, warmup=100, seed=9))
    assert (a.accepted, a.latency_mean, a.latency_p99, a.visits) == (b.accepted, b.latency_mean, b.latency_p99, b.visits)
    assert np.array_equal(a.link_utilisation, b.link_utilisation)
    c, _ = run_point(links, TrafficSpec(rate=0.3, cycles=600, warmup=100, seed=10))
    assert c.latency_mean != a.latency_mean


def test_multicast_arms_and_box():
    """A row multicast is one packet per arm to the span's ends; it moves the bytes once per
    link.  Both arms leave through the source's one injection port, one flit a cycle."""
    t = Transfers.row_multicast([2], [3], [0], [6], 40.0)
    packets, owner = transfer_packets(t, 4.0, NetworkConfig(packet_flits=4))
    assert sorted(zip(packets.dst_x.tolist(), packets.flits.tolist())) == [(0, 2), (0, 4), (0, 4), (6, 2), (6, 4),
                                                                          (6, 4)]
    assert (owner == 0).all()
    done, run = time_transfers(LinkArrays.uniform(5, 8), t)
    assert run.link_flits.sum() == 10 * 6
    assert done[0] == 20 + 3                                 # 20 flits injected, the last 3 hops from its end
    one_arm, _ = time_transfers(LinkArrays.uniform(5, 8), Transfers.row_multicast([2], [0], [0], [6], 40.0))
    assert one_arm[0] == 6 + 10                              # from the span's end: hops + flits


def test_stuck_network_reports_the_cycle_limit():
    run = simulate_packets(LinkArrays.uniform(4, 4), Packets([0], [0], [3], [3], [50], [0], [0]), max_cycles=10)
    assert run.status == "cycle limit" and run.done[0] == -1


@pytest.mark.parametrize("flits,time,vc", [([0, 2], [0, 0], [0, 0]), ([1, 2], [0, -1], [0, 0]),
                                           ([1, 2], [0, 0], [0, -1])])
def test_packets_refuse_empty_packets_negative_times_and_vcs(flits, time, vc):
    with pytest.raises(ValueError, match="flits >= 1, creation cycle >= 0 and vc >= 0"):
        Packets(np.zeros(2), np.zeros(2), np.ones(2), np.ones(2), np.array(flits), np.array(time), np.array(vc))
    ok = Packets(np.zeros(2), np.zeros(2), np.ones(2), np.ones(2), np.array([1, 3]), np.array([0, 5]), np.array([0, 1]))
    assert len(ok) == 2 and ok.flits.dtype == np.int64


@pytest.mark.parametrize("kw,message", [({"rate": 0.0}, "rate"), ({"rate": 5.0, "packet_flits": 4}, "rate"),
                                        ({"pattern": "zigzag"}, "pattern"), ({"warmup": 3000}, "warmup"),
                                        ({"warmup": -1}, "warmup")])
def test_traffic_spec_refuses_what_it_cannot_offer(kw, message):
    with pytest.raises(ValueError, match=message):
        TrafficSpec(**kw)
    assert TrafficSpec(rate=4.0, packet_flits=4, warmup=0).rate == 4.0


def _pairs(pattern: str, k: int = 8, **kw):
    p = make_packets(TrafficSpec(pattern=pattern, rate=0.5, cycles=400, warmup=0, **kw), k, k)
    return p, np.stack([p.src_y, p.src_x, p.dst_y, p.dst_x], axis=1)


def test_traffic_patterns_by_their_definitions():
    """Each pattern's destinations by hand on an 8 x 8 mesh; every node offers rate / flits packets a cycle."""
    k = 8
    p, pairs = _pairs("transpose")
    assert (pairs[:, 2] == pairs[:, 1]).all() and (pairs[:, 3] == pairs[:, 0]).all()
    assert not ((pairs[:, 0] == pairs[:, 1]).any())                 # the diagonal sends nothing
    p, pairs = _pairs("bit_complement")
    assert (pairs[:, 2] == k - 1 - pairs[:, 0]).all() and (pairs[:, 3] == k - 1 - pairs[:, 1]).all()
    p, pairs = _pairs("neighbour")
    assert (np.abs(pairs[:, 2] - pairs[:, 0]) + np.abs(pairs[:, 3] - pairs[:, 1]) == 1).all()
    assert pairs[:, 2:].min() >= 0 and pairs[:, 2:].max() <= k - 1
    corner = pairs[(pairs[:, 0] == 0) & (pairs[:, 1] == 0)]
    assert {(int(y), int(x)) for y, x in corner[:, 2:]} == {(0, 1), (1, 0)}        # both, and only, its neighbours
    p, pairs = _pairs("uniform")
    assert not ((pairs[:, 0] == pairs[:, 2]) & (pairs[:, 1] == pairs[:, 3])).any()
    assert len({(int(y), int(x)) for y, x in pairs[:, 2:]}) == k * k               # every node is a destination
    # offered load: packets per node per cycle = rate / flits (0.5 / 4), within sampling noise
    assert len(p) / (k * k * 400) == pytest.approx(0.5 / 4, rel=0.08)
    assert (np.diff(p.time) >= 0).all() and p.time.max() < 400
    p, pairs = _pairs("hotspot", hotspot_fraction=0.5)
    to_hot = ((pairs[:, 2] == k // 2) & (pairs[:, 3] == k // 2)).mean()
    assert 0.4 < to_hot < 0.6                                       # half of the packets, plus uniform's share


def test_transpose_needs_a_square_mesh():
    with pytest.raises(ValueError, match="square"):
        make_packets(TrafficSpec(pattern="transpose", rate=0.5, cycles=50, warmup=0), 4, 8)


@pytest.mark.parametrize("pattern,rate,k", [("uniform", 0.3, 6), ("hotspot", 0.9, 5), ("neighbour", 2.0, 4)])
def test_streamed_point_equals_the_one_shot_run(pattern, rate, k, monkeypatch):
    """Fed a batch of packets at a time (small batches here, so that many packets are in
    flight across a batch's end), the network gives what one run with every packet gives:
    the same window flits, router visits, link loads and latencies of the window's packets."""
    from wafersim.engines import noc_traffic
    monkeypatch.setattr(noc_traffic, "BATCH_PACKETS", 7)
    monkeypatch.setattr(noc_traffic, "BATCH_MIN_CYCLES", 3)
    spec = TrafficSpec(pattern=pattern, rate=rate, packet_flits=3, cycles=300, warmup=40, seed=2)
    links = LinkArrays.uniform(k, k, latency=2)
    assert noc_traffic.batch_cycles(spec, k, k) < 10
    point, stream = run_point(links, spec)
    packets = make_packets(spec, k, k)
    run = simulate_packets(links, packets, max_cycles=2 * spec.cycles, window=(spec.warmup, spec.cycles))
    measured = (packets.time >= spec.warmup) & (packets.time < spec.cycles) & (run.done >= 0)
    lat = run.latency[measured].astype(float)
    assert point.cycles == run.cycles and point.visits == run.visits and point.status == run.status
    assert point.accepted == run.window_flits / (k * k * (spec.cycles - spec.warmup))
    assert np.array_equal(point.link_utilisation, (run.link_flits / run.cycles).astype(np.float32))
    assert point.latency_mean == pytest.approx(lat.mean(), rel=1e-12)
    assert point.latency_p50 == pytest.approx(np.percentile(lat, 50), rel=1e-12)
    assert point.latency_p99 == pytest.approx(np.percentile(lat, 99), rel=1e-12)
    assert stream.in_flight == int((run.done < 0).sum())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), min_size=0, max_size=20), min_size=1, max_size=4),
       st.floats(0, 100))
def test_latency_counts_are_numpy_percentiles(parts, q):
    from wafersim.engines.noc_traffic import LatencyCounts
    counts = LatencyCounts()
    for part in parts:
        counts.add(np.array(part, np.int64))
    flat = np.array([v for part in parts for v in part], float)
    if not len(flat):
        assert len(counts) == 0 and np.isnan(counts.percentile(q))
        return
    assert counts.percentile(q) == pytest.approx(np.percentile(flat, q), rel=1e-12, abs=1e-12)
    assert counts.mean() == pytest.approx(flat.mean(), rel=1e-12)


def test_a_long_run_keeps_only_the_packets_in_flight(monkeypatch):
    """A run 50 times longer than a batch: at most a batch or two of packets is held at a
    time below saturation (the peak memory follows them, not the run's length)."""
    from wafersim.engines import noc_traffic
    from wafersim.engines.cycle_network import PacketStream
    monkeypatch.setattr(noc_traffic, "BATCH_PACKETS", 256)
    spec = TrafficSpec(rate=0.2, cycles=20_000, warmup=100)
    assert spec.cycles > 50 * noc_traffic.batch_cycles(spec, 8, 8)
    stream = PacketStream(LinkArrays.uniform(8, 8), window=(spec.warmup, spec.cycles))
    most = 0
    for end, packets in noc_traffic.packet_batches(spec, 8, 8):
        stream.run(packets, end)
        most = max(most, stream.in_flight + len(packets))
    total = 8 * 8 * spec.cycles * spec.rate / spec.packet_flits
    assert stream.delivered > 0.9 * total and most < total / 20
