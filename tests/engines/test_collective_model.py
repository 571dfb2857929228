"""The closed form of a collective's cost in its message size against the cost routed at
that size: on every bundled GPU system, every op and algorithm, groups inside a node and
across nodes, random sizes from a byte to a gigabyte."""

import random

import pytest

import wafersim
from wafersim.engines.collectives import ALGORITHMS, CollectiveParams, available_algorithms, collective_model, \
    collective_time
from wafersim.hardware.topology import build_topology, gpu_nodes, nodes_to_build
from wafersim.presets import list_presets

#: how close the closed form must be to the routed cost (it is exact but for rounding)
REL = 1e-9
GPU_SYSTEMS = [name for name in list_presets("meshes") if getattr(wafersim.load_system(name), "kind", "") == "gpu"]


def _groups(graph):
    gpus = gpu_nodes(graph)
    groups = [gpus[:n] for n in (2, 4, 8) if n <= len(gpus)]
    if len(gpus) > 8:
        groups.append(gpus[::max(1, len(gpus) // 8)][:8])          # across nodes
    return groups


@pytest.mark.parametrize("name", GPU_SYSTEMS)
def test_closed_form_matches_the_routed_cost_at_random_sizes(name):
    system = wafersim.load_system(name)
    graph = build_topology(system, only=nodes_to_build(system, system.num_gpus))
    params = CollectiveParams.from_spec(system)
    rng = random.Random(name)
    checked = 0
    for group in _groups(graph):
        for op in ALGORITHMS:
            if op == "point_to_point":
                group = group[:2]
            for algorithm in ("auto", *available_algorithms(graph, group, op)):
                model = collective_model(graph, group, op, params, algorithm)
                for _ in range(8):
                    nbytes = float(round(10 ** rng.uniform(0, 9)))
                    routed = collective_time(graph, group, op, nbytes, params, algorithm)
                    fast = model.cost(nbytes)
                    assert fast.time_s == pytest.approx(routed.time_s, rel=REL), (op, algorithm, nbytes)
                    mine = collective_time(graph, group, op, nbytes, params, fast.algorithm)
                    assert fast.time_s == pytest.approx(mine.time_s, rel=REL)
                    assert fast.bus_bandwidth_bytes_per_s == pytest.approx(routed.bus_bandwidth_bytes_per_s, rel=1e-6)
                    checked += 1
    assert checked >= 8 * len(ALGORITHMS)


def test_one_gpu_or_no_bytes_cost_nothing_and_bad_input_is_refused():
    system = wafersim.load_system("dgx-h100")
    graph = build_topology(system)
    params = CollectiveParams.from_spec(system)
    gpus = gpu_nodes(graph)
    assert collective_model(graph, gpus[:1], "all_reduce", params).cost(1e6).time_s == 0.0
    assert collective_model(graph, gpus[:4], "all_reduce", params).cost(0.0).algorithm == "none"
    with pytest.raises(ValueError, match="exactly two"):
        collective_model(graph, gpus[:4], "point_to_point", params)
    with pytest.raises(ValueError, match="unknown algorithm"):
        collective_model(graph, gpus[:4], "all_reduce", params, "butterfly")
