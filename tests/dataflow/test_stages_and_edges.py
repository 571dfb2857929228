"""The layer's stage shapes and the edge-I/O flows, against hand calculation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import wafersim
from wafersim.dataflow.edge_io import ports_per_edge, region_flows
from wafersim.dataflow.stages import reduction_steps, stage_shapes
from wafersim.dataflow.transfers import UNICAST
from wafersim.hardware.directions import EAST, NORTH, SOUTH, WEST


def test_llama_8b_stage_shapes_by_hand():
    """d 4096, 32 heads of 128, 8 KV heads, MLP 14336 gated: K and N of each GEMV stage."""
    m = wafersim.load_model("llama-3.1-8b")
    shapes = {name: (k, n, w) for name, k, n, w in stage_shapes(m, 1)}
    q, kv = 32 * 128, 8 * 128
    assert shapes["qkv"] == (4096, q + 2 * kv, 4096 * (q + 2 * kv))
    assert shapes["o"] == (q, 4096, q * 4096)
    assert shapes["mlp_up"] == (4096, 2 * 14336, 4096 * 2 * 14336)
    assert shapes["mlp_down"] == (14336, 4096, 14336 * 4096)
    assert shapes["scores"][2] == shapes["softmax_max"][2] == shapes["softmax_sum"][2] == 0
    assert shapes["weighted_sum"][2] == 0
    # the norms reduce one value per token and multicast its scale back (their input is in place)
    assert shapes["attn_norm"] == shapes["mlp_norm"] == (1, 1, 0)
    # the ten all-reduces WaferLLM's decode kernel runs per layer (Decode/WSE-2/src/decode.csl)
    assert list(shapes) == ["attn_norm", "qkv", "scores", "softmax_max", "softmax_sum", "weighted_sum", "o",
                            "mlp_norm", "mlp_up", "mlp_down"]


def test_moe_stages_read_every_expert_the_batch_touches():
    m = wafersim.load_model("mixtral-8x7b")           # 8 experts, 2 per token
    one = {name: (k, n, w) for name, k, n, w in stage_shapes(m, 1)}
    many = {name: (k, n, w) for name, k, n, w in stage_shapes(m, 64)}
    f, d = m.ffn_size, m.hidden_size
    assert one["mlp_up"][:2] == (d, 2 * f * 2) and one["mlp_down"][:2] == (f * 2, d)
    assert one["mlp_down"][2] == pytest.approx(f * d * 2)           # one token touches its 2 experts
    assert many["mlp_down"][2] == pytest.approx(f * d * 8 * (1 - (1 - 2 / 8) ** 64))


@pytest.mark.parametrize("n,steps", [(0, 0), (1, 0), (2, 1), (4, 2), (9, 2), (32, 6), (64, 8), (164, 12),
                                     (420, 20), (720, 26)])
def test_reduction_steps_by_hand(n, steps):
    # 420 cores: 21 groups of 20: 10 steps to each group's middle, 10 between the group roots; 720: 27 of 27, 13 + 13
    assert reduction_steps(n) == steps


def _two_level_chain(n: int) -> int:
    """Readable reference: cut the line into groups of round(sqrt(n)), each reduced by chains from
    both ends toward the core in its middle, then the group roots likewise; count dependent steps."""
    if n <= 1:
        return 0
    g = max(1, round(n ** 0.5))
    groups = [list(range(i, min(i + g, n))) for i in range(0, n, g)]
    within = max(max(len(grp) // 2, len(grp) - 1 - len(grp) // 2) for grp in groups)
    roots = len(groups)
    between = max(roots // 2, roots - 1 - roots // 2)
    return within + between


def test_reduction_steps_against_the_chain():
    assert all(reduction_steps(n) == _two_level_chain(n) for n in range(1, 2000))


@pytest.mark.parametrize("ports,edges,expected", [(1, 1, [1]), (2, 2, [1, 1]), (5, 2, [3, 2]), (7, 4, [2, 2, 2, 1])])
def test_ports_spread_over_edges_earlier_first(ports, edges, expected):
    assert ports_per_edge(ports, tuple(range(edges))) == expected


def test_region_flows_bring_every_byte_to_the_region_edge():
    """A 3 x 4 region at (5, 6) on a 20 x 30 mesh, 1200 bytes through all four edges, 2 ports each."""
    (sy, sx, dy, dx, nb, kind), edge, pos = region_flows(5, 6, 3, 4, 1200.0, (20, 30), (WEST, EAST, NORTH, SOUTH), 8)
    assert nb.sum() == pytest.approx(1200.0) and (kind == UNICAST).all()
    for e, n_flows, src_ok, dst_ok in ((WEST, 3, sx == 0, dx == 6), (EAST, 3, sx == 29, dx == 9),
                                       (NORTH, 4, sy == 0, dy == 5), (SOUTH, 4, sy == 19, dy == 7)):
        sel = edge == e
        assert sel.sum() == n_flows and src_ok[sel].all() and dst_ok[sel].all()
        assert nb[sel].sum() == pytest.approx(300.0)                       # equal ports, equal shares
    west = edge == WEST
    assert np.array_equal(pos[west], np.arange(5, 8)) and np.array_equal(sy[west], dy[west])
    assert math.isclose(nb[edge == NORTH][0], 75.0)
