"""The flow engine's step, worked out by hand: every transfer of a small region routed in the head.

The system is ``tests/data/scribe-wafer.toml`` (64 x 64 cores, 2 x 2 dies of 32 x 32;
on-die links 4 bytes and 2 cycles per hop, scribe links 1 byte and 10 extra cycles);
the model ``tests/data/tiny-llama.toml``.  With the sequential placement a layer
spreads over the whole 64 x 64 block, and each stage of it is

* a broadcast: every row gets ``tokens x 2 x K / 64`` bytes from its west core, a row
  multicast over 63 links of which one (between columns 31 and 32) crosses the scribe;
* the cores' work (the larger of the lanes' and the SRAM ports' bound, spread evenly:
  engines/core_datapath.py);
* a reduction: column ``j`` sends ``tokens x 2 x N / 64`` bytes from both ends toward row
  ``j`` (the diagonal); of the 63 links of a column exactly one crosses the scribe, and the
  longest chain (column 0 from the bottom, column 63 from the top) is 63 hops.

So each part's busiest link is a scribe link and its longest path is 62 on-die hops
plus one crossing; each adds log2(64) = 6 software steps.  Later tests make the busiest
link and the I/O port each the term that sets the step.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import wafersim

DATA = Path(__file__).resolve().parent.parent / "data"
SYSTEM = str(DATA / "scribe-wafer.toml")
MODEL = str(DATA / "tiny-llama.toml")
REL = 1e-9

# ---- tests/data/scribe-wafer.toml ----
CLK = 1e9
LINK_BPS, SCRIBE_BPS = 4 * CLK, 1 * CLK
HOP, EXTRA, STEP = 2, 10, 7
LANES = {"bf16": 8, "fp8": 16}   # FMAC lanes per core
READ, WRITE, ACC = 16, 8, 256    # SRAM port bytes per cycle; bytes of partial sums beside the ports
EFF_HZ = 0.5 * CLK               # datapath cycles -> seconds at the compute efficiency
IO_BPS, IO_LAT = 100e9, 2e-6
IW_BPS, IW_LAT = 50e9, 3e-6
BLOCK = 16
E_SRAM, E_LINK, E_SCRIBE, E_FLOP, E_IO, E_IW = 0.03e-12, 0.1e-12, 0.5e-12, 0.4e-12, 8e-12, 10e-12
STATIC_W = 4000.0
# a wafer-to-wafer hop: the link's latency and one traverse of the 64 columns to and from the
# edge ports (63 hops of 2 cycles, 63 / 32 die boundaries of 10 extra cycles on average)
CROSS = IW_LAT + (63 * HOP + 63 / 32 * EXTRA) / CLK

# ---- tests/data/tiny-llama.toml ----
D, HEADS, KV, Q, F, VOCAB, NL = 256, 4, 128, 256, 512, 1024, 4
ACT = 2                          # bf16 activations, whatever the weights are
LAYER_PARAMS = D * (Q + 2 * KV) + Q * D + 3 * D * F + 2 * D
# (name, K, N, weight elements) of a layer's stages
STAGES = [("attn_norm", 1, 1, 0), ("qkv", D, Q + 2 * KV, D * (Q + 2 * KV)), ("scores", Q, HEADS, 0),
          ("softmax_max", HEADS, HEADS, 0), ("softmax_sum", HEADS, HEADS, 0), ("weighted_sum", HEADS, Q, 0),
          ("o", Q, D, Q * D), ("mlp_norm", 1, 1, 0), ("mlp_up", D, 2 * F, D * 2 * F), ("mlp_down", F, D, F * D)]

N64 = 64                         # rows and columns of the block
PATH = (62 * HOP + (HOP + EXTRA)) / CLK     # 62 on-die hops and one scribe crossing
TREE = 8 * STEP / CLK                       # a two-level chain over 64 cores: 8 groups of 8, 4 + 4 steps
LINK_ENERGY_PER_BYTE = 8 * (62 * E_LINK + E_SCRIBE)   # one byte over a 63-link row or column


def core_stage(name, k, n, w, tokens, context, kv_tokens, cores, kv_on=1.0, dtype="bf16"):
    """One stage's core work on ``cores`` cores: (FLOPs, SRAM bytes, lane-bound s, port-bound s).
    A GEMV (one token per weight read) reads a weight and a partial sum and writes the partial sum
    per FMAC; a block reads each weight once per 256 / (lanes x 2) tokens and an activation scalar
    per lanes FMACs."""
    wb = 1 if dtype == "fp8" else 2
    lanes = LANES[dtype]
    if w:                        # each weight read shared by the tokens
        flops, sram, reuse = 2 * tokens * k * n, w * wb, tokens
    elif name in ("scores", "weighted_sum"):   # each key read by 2 query heads of each query per sequence
        flops, sram = 4 * Q * tokens * context / 2, kv_tokens * 2 * KV * wb * kv_on / 2
        reuse = 2 * (tokens * context / kv_tokens if kv_tokens else tokens)
    else:
        return 0.0, 0.0, 0.0, 0.0
    fmacs, operand = flops / 2 / cores, sram / cores
    if reuse <= 1:
        port = max((operand + 2 * fmacs) / READ, 2 * fmacs / WRITE)
    else:
        port = (operand * math.ceil(reuse / (ACC // (2 * lanes))) + 2 * fmacs / lanes) / READ
    return flops, sram, fmacs / lanes / EFF_HZ, port / EFF_HZ


def whole_block_stages(tokens, context, kv_tokens, dtype="bf16", kv_on=1.0, stages=STAGES):
    """Per stage on the 64 x 64 block: (time, compute, sram, link, latency, flops, sram bytes, link energy)."""
    out = []
    for name, k, n, w in stages:
        flops, sram, t_c, t_s = core_stage(name, k, n, w, tokens, context, kv_tokens, N64 ** 2, kv_on, dtype)
        b, r = tokens * ACT * k / N64, tokens * ACT * n / N64         # bytes per row, per column chain
        link = b / SCRIBE_BPS + r / SCRIBE_BPS
        latency = 2 * PATH + TREE          # the broadcast is a hardware multicast: no software steps
        out.append(dict(time=max(t_c, t_s) + link + latency, compute=t_c, sram=t_s, link=link, latency=latency,
                        flops=flops, sram_bytes=sram, link_j=N64 * (b + r) * LINK_ENERGY_PER_BYTE))
    return out


def total(stages, key):
    return sum(s[key] for s in stages)


HEAD_STAGE = [("mlp_down", D, VOCAB, D * VOCAB)]     # the head region runs one GEMV, d -> vocab


def run(overrides=None, **kw):
    mapping = kw.pop("mapping", {"placement": "sequential"})
    system = wafersim.load_system(SYSTEM, overrides)
    return wafersim.simulate(system, wafersim.load_model(MODEL), fidelity="flow", mapping=mapping, **kw)


@pytest.mark.parametrize("dtype", ["bf16", "fp8"])
def test_decode_one_layer_every_term(dtype):
    r = run(batch=1, prompt_tokens=64, output_tokens=16, layers=1, dtype=dtype)
    ctx = 64 + (16 + 1) / 2
    st = whole_block_stages(1, ctx, ctx, dtype)
    c = r.decode.components
    assert c["compute"] == pytest.approx(total(st, "compute"), rel=REL)
    assert c["sram_bandwidth"] == pytest.approx(total(st, "sram"), rel=REL)
    assert c["mesh_bandwidth"] == pytest.approx(total(st, "link"), rel=REL)
    assert c["mesh_latency"] == pytest.approx(total(st, "latency"), rel=REL)
    assert c["interwafer"] == 0.0 and c["edge_io"] == 0.0
    tpot = total(st, "time")
    assert r.summary["tpot_s"] == pytest.approx(tpot, rel=REL)
    stage_s = r.arrays["decode_stage_s"].data[0]
    for i, s in enumerate(st):
        assert stage_s[2 * i] + stage_s[2 * i + 1] == pytest.approx(s["time"], rel=REL), STAGES[i][0]
    energy = {"sram": total(st, "sram_bytes") * 8 * E_SRAM, "compute": total(st, "flops") * E_FLOP,
              "links": total(st, "link_j"), "interwafer": 0.0, "io": 0.0, "static": STATIC_W * tpot}
    for k, v in energy.items():
        assert r.summary[f"energy_{k}_j"] == pytest.approx(v, rel=REL, abs=1e-30), k
    assert r.summary["cores_per_wafer"] == 64 * 64
    # prefill: four blocks of 16 tokens, causal attention over half the prompt; no head (1 of 4 layers)
    p_layer = whole_block_stages(BLOCK, 64 / 2, 0, dtype)
    assert r.summary["ttft_s"] == pytest.approx(4 * total(p_layer, "time"), rel=REL)
    # the busiest link: a column's scribe link, which carries every stage's chain toward the diagonal
    # (a row's scribe link carries the broadcasts: sum of K = 1544 < sum of N = 2312)
    chains = sum(ACT * n / N64 for _, _, n, _ in STAGES)
    assert r.summary["max_link_utilisation"] == pytest.approx(chains / SCRIBE_BPS / tpot, rel=REL)


@pytest.mark.parametrize("wafers", [1, 4])
def test_decode_and_prefill_all_layers_every_term(wafers):
    """Four layers and the head (sequential: each on the whole block), on one wafer or one layer per wafer."""
    batch, prompt, out = 2, 64, 16
    r = run(batch=batch, prompt_tokens=prompt, output_tokens=out, wafers=wafers)
    ctx = prompt + (out + 1) / 2
    layer = whole_block_stages(batch, ctx, batch * ctx)
    head = whole_block_stages(batch, 0, 0, stages=HEAD_STAGE)
    # decode: every boundary, and back to the first wafer for the next token
    ring = wafers if wafers > 1 else 0
    t_iw = ring * (CROSS + batch * D * ACT / IW_BPS)
    tpot = NL * total(layer, "time") + total(head, "time") + t_iw
    assert r.decode.components["interwafer"] == pytest.approx(t_iw, rel=REL, abs=0.0)
    assert r.summary["tpot_s"] == pytest.approx(tpot, rel=REL)
    energy = {
        "sram": (NL * total(layer, "sram_bytes") + total(head, "sram_bytes")) * 8 * E_SRAM,
        "compute": (NL * total(layer, "flops") + total(head, "flops")) * E_FLOP,
        "links": NL * total(layer, "link_j") + total(head, "link_j"),
        "interwafer": ring * 8 * batch * D * ACT * E_IW,
        "io": 0.0,
        "static": STATIC_W * wafers * tpot,
    }
    for k, v in energy.items():
        assert r.summary[f"energy_{k}_j"] == pytest.approx(v / batch, rel=REL, abs=1e-30), k
    # prefill: blocks of 16 tokens, causal attention over half the prompt, then the head for each sequence
    blocks = batch * prompt // BLOCK
    p_layer = whole_block_stages(BLOCK, prompt / 2, 0)
    p_head = whole_block_stages(batch, prompt, 0, stages=HEAD_STAGE)
    p_iw = (wafers - 1) * (CROSS + blocks * BLOCK * D * ACT / IW_BPS)
    ttft = blocks * NL * total(p_layer, "time") + p_iw + total(p_head, "time")
    assert r.prefill.components["interwafer"] == pytest.approx(p_iw, rel=REL, abs=0.0)
    assert r.prefill.components["compute"] == pytest.approx(blocks * NL * total(p_layer, "compute"), rel=REL)
    assert r.summary["ttft_s"] == pytest.approx(ttft, rel=REL)


def test_moe_layer_reads_every_expert_the_batch_touches():
    """Four experts, two per token: two tokens touch 4 x (1 - (1 - 2/4)^2) = 3 experts on average.
    Each token runs two experts' MLPs (K or N doubled); the batch reads three experts' weights."""
    model = wafersim.load_model(MODEL, {"num_experts": 4, "experts_per_token": 2})
    r = wafersim.simulate(wafersim.load_system(SYSTEM), model, fidelity="flow", batch=2, prompt_tokens=64,
                          output_tokens=16, layers=1, mapping={"placement": "sequential"})
    touched = 4 * (1 - (1 - 2 / 4) ** 2)
    moe = STAGES[:8] + [("mlp_up", D, 2 * F * 2, D * 2 * F * touched), ("mlp_down", F * 2, D, F * D * touched)]
    ctx = 64 + (16 + 1) / 2
    st = whole_block_stages(2, ctx, 2 * ctx, stages=moe)
    assert r.decode.components["sram_bandwidth"] == pytest.approx(total(st, "sram"), rel=REL)
    assert r.decode.components["compute"] == pytest.approx(total(st, "compute"), rel=REL)
    assert r.summary["tpot_s"] == pytest.approx(total(st, "time"), rel=REL)


def _spill(batch, prompt, out):
    """One layer on 64 x 64 cores of 1 KiB: the weights fit, the KV cache fills the rest and spills."""
    weights = LAYER_PARAMS * 2
    kv = batch * (prompt + out) * 2 * KV * 2
    return kv, kv - (N64 ** 2 * 1024 - weights)


def displaced(block):
    """KV bytes a prefill block displaces on one 64 x 64 layer region whose KV cache fills every
    core's free SRAM, out and back: a token puts 256/64 + 1024/64 = 20 values of the widest
    stage (MLP up) on a core, 40 B."""
    return 2 * N64 ** 2 * 40 * block


def test_io_port_sets_the_step_when_kv_spills():
    batch, prompt, out = 8, 1024, 64
    r = run({"core.sram_bytes": "1 KiB", "core.reserved_sram_fraction": 0,
             "external_memory.io_bandwidth_bytes_per_s": "1 GB/s"},
            batch=batch, prompt_tokens=prompt, output_tokens=out, layers=1)
    kv, spilled = _spill(batch, prompt, out)
    assert r.summary["spilled_bytes"] == spilled
    ctx = prompt + (out + 1) / 2
    # one port on the west edge; the block starts at column 0, so the reads cross no link
    io_bytes = spilled / kv * batch * ctx * 2 * KV * 2
    t_io = io_bytes / 1e9 + IO_LAT
    assert r.decode.components["edge_io"] == pytest.approx(t_io, rel=REL)
    assert r.summary["tpot_s"] == pytest.approx(t_io, rel=REL)
    assert r.decode.bottleneck == "edge_io"
    assert r.summary["energy_io_j"] == pytest.approx(io_bytes * 8 * E_IO / batch, rel=REL)
    # prefill writes the prompt's share of the spilled KV cache (allocated for prompt + output),
    # and the KV the block's activations displace goes out and back (none of the SRAM is free)
    p_io = (spilled * prompt / (prompt + out) + displaced(r.summary["prefill_block_tokens"])) / 1e9 + IO_LAT
    assert r.prefill.components["edge_io"] == pytest.approx(p_io, rel=REL)
    # the on-chip part reads only the KV that stayed on chip
    st = whole_block_stages(batch, ctx, batch * ctx, kv_on=1 - spilled / kv)
    assert r.decode.components["sram_bandwidth"] == pytest.approx(total(st, "sram"), rel=REL)


UNIFORM = {"scribe.link_bytes_per_cycle": 4, "scribe.extra_latency_cycles": 0, "mesh.hop_latency_cycles": 0,
           "calibration.collective_step_cycles": 0}


def core_work(tokens, ctx, kv_tokens, cores, kv_on=1.0):
    """Sum over a layer's stages of max(lane-bound, port-bound) on ``cores`` cores."""
    return sum(max(core_stage(name, k, n, w, tokens, ctx, kv_tokens, cores, kv_on)[2:]) for name, k, n, w in STAGES)


def two_regions(tokens, ctx, kv_tokens, kv_on=1.0):
    """Two layer regions side by side, 64 x 32 each (columns 0-31 and 32-63), links all 4 bytes per
    cycle and no latency: (region 0, region 1) seconds per pass, and the busiest links' bytes."""
    bcast = sum(tokens * ACT * k / 64 for _, k, _, _ in STAGES)       # bytes on each row link, all stages
    chains = sum(tokens * ACT * n / 32 for _, _, n, _ in STAGES)      # bytes on each column link
    handoff = tokens * ACT * D / 32      # each of 32 slices on its own row, from the diagonal east to column 32
    work = core_work(tokens, ctx, kv_tokens, 64 * 32, kv_on)
    region0 = work + (bcast + chains + handoff) / LINK_BPS
    region1 = work + (bcast + chains) / LINK_BPS
    return region0, region1, bcast, handoff


def test_snake_turn_runs_the_region_transposed():
    """Three layers: two side by side in a band of 43 rows, the third below them in a band of 21 rows.
    The third is entered from above, so it runs transposed: column multicasts from its top row and
    row chains toward a diagonal column.  Hand-offs: region 0 -> 1 east along 32 distinct rows;
    region 1 -> 2 west then south, on 32 distinct rows and columns."""
    r = run(UNIFORM, batch=1, prompt_tokens=64, output_tokens=16, layers=3, mapping={"placement": "pipelined"})
    a = r.arrays
    assert list(a["region_y0"].data) == [0, 0, 43] and list(a["region_x0"].data) == [0, 32, 0]
    assert list(a["region_rows"].data) == [43, 43, 21] and list(a["region_cols"].data) == [32, 32, 64]
    ctx = 64 + (16 + 1) / 2
    handoff = ACT * D / 32
    upper = core_work(1, ctx, ctx, 43 * 32) + sum(ACT * k / 43 + ACT * n / 32 for _, k, n, _ in STAGES) / LINK_BPS
    lower = core_work(1, ctx, ctx, 21 * 64) + sum(ACT * k / 64 + ACT * n / 21 for _, k, n, _ in STAGES) / LINK_BPS
    expected = [upper + handoff / LINK_BPS, upper + handoff / LINK_BPS, lower]
    assert list(a["decode_layer_s"].data) == pytest.approx(expected, rel=REL)
    assert r.summary["tpot_s"] == pytest.approx(sum(expected), rel=REL)
    # every byte x hop: broadcasts over (cols - 1) or (rows - 1) links, chains over the rest of the
    # line, hand-offs over their Manhattan distance (rows (43 j) // 32; columns 2 j of region 2)
    bytes_hops = 0.0
    for _, k, n, _ in STAGES:
        bytes_hops += 2 * (43 * (ACT * k / 43) * 31 + 32 * (ACT * n / 32) * 42)
        bytes_hops += 64 * (ACT * k / 64) * 20 + 21 * (ACT * n / 21) * 63
    for j in range(32):
        bytes_hops += handoff * (32 - j)                                   # region 0 -> 1
        bytes_hops += handoff * ((32 + j - 2 * j) + (43 - (43 * j) // 32))   # region 1 -> 2
    assert float(a["link_load_bytes"].data.sum()) == pytest.approx(bytes_hops, rel=1e-6)


def test_snake_turn_east_enters_at_the_regions_own_columns():
    """Four of eight layers in 2 x 2 regions of 32 x 32: 0 and 1 left to right on top, 2 and 3 right
    to left below.  Region 2 (columns 32-63) is entered from above and runs transposed; its input
    enters along its own top row, so slice j goes straight down column 32 + j."""
    model = wafersim.load_model(MODEL, {"num_layers": 8})
    r = wafersim.simulate(wafersim.load_system(SYSTEM, UNIFORM), model, fidelity="flow", batch=1,
                          prompt_tokens=64, output_tokens=16, layers=4, mapping={"placement": "pipelined"})
    a = r.arrays
    assert list(a["region_y0"].data) == [0, 0, 32, 32] and list(a["region_x0"].data) == [0, 32, 32, 0]
    ctx = 64 + (16 + 1) / 2
    handoff = ACT * D / 32
    region = core_work(1, ctx, ctx, 32 * 32) + sum(ACT * (k + n) / 32 for _, k, n, _ in STAGES) / LINK_BPS
    expected = [region + handoff / LINK_BPS] * 3 + [region]
    assert list(a["decode_layer_s"].data) == pytest.approx(expected, rel=REL)
    assert r.summary["tpot_s"] == pytest.approx(sum(expected), rel=REL)
    bytes_hops = 4 * sum(31 * ACT * (k + n) for _, k, n, _ in STAGES)
    for j in range(32):
        # 0 -> 1: (j, j) east to (j, 32); 1 -> 2: (j, 32 + j) south to (32, 32 + j);
        # 2 -> 3: (32 + j, 32 + j) west to (32 + j, 0)
        bytes_hops += handoff * ((32 - j) + (32 - j) + (32 + j))
    assert float(a["link_load_bytes"].data.sum()) == pytest.approx(bytes_hops, rel=1e-6)


def _io_per_wafer(wafers):
    """Two layers, sequential, on 1 KiB cores: the KV cache of each layer spills; each wafer reads
    its own layer's share through its own port."""
    batch, prompt, out = 8, 1024, 64
    r = run({"core.sram_bytes": "1 KiB", "core.reserved_sram_fraction": 0,
             "external_memory.io_bandwidth_bytes_per_s": "1 GB/s"},
            batch=batch, prompt_tokens=prompt, output_tokens=out, layers=2, wafers=wafers)
    return r, batch, prompt, out


def test_each_wafer_reads_its_spill_through_its_own_port():
    r, batch, prompt, out = _io_per_wafer(2)
    kv, spilled = _spill(batch, prompt, out)                 # per layer, one layer per wafer
    assert r.summary["spilled_bytes"] == 2 * spilled
    ctx = prompt + (out + 1) / 2
    t_io = spilled / kv * batch * ctx * 2 * KV * 2 / 1e9 + IO_LAT     # one wafer's port, not both wafers' bytes
    assert r.decode.components["edge_io"] == pytest.approx(t_io, rel=REL)
    p_io = (spilled * prompt / (prompt + out) + displaced(r.summary["prefill_block_tokens"])) / 1e9 + IO_LAT
    assert r.prefill.components["edge_io"] == pytest.approx(p_io, rel=REL)


@pytest.mark.parametrize("batch,micro", [(1, 1), (4, 2)])
def test_micro_batches_by_hand(batch, micro):
    """One sequence walks both regions; four run as two micro-batches of two, and the step is
    two passes through the slower region (the one that also sends the hand-off)."""
    r = run(UNIFORM, batch=batch, prompt_tokens=64, output_tokens=16, layers=2, mapping={"placement": "pipelined"})
    assert r.summary["micro_batches"] == micro
    tokens = batch // micro
    ctx = 64 + (16 + 1) / 2
    region0, region1, _, _ = two_regions(tokens, ctx, tokens * ctx)
    assert list(r.arrays["decode_layer_s"].data) == pytest.approx([region0, region1], rel=REL)
    tpot = region0 + region1 if micro == 1 else micro * region0
    assert r.summary["tpot_s"] == pytest.approx(tpot, rel=REL)


def test_busiest_link_sets_the_step():
    """Two layer regions side by side (64 x 32 each, columns 0-31 and 32-63) on uniform links with no
    latency.  Spilled KV of the east region enters through the west edge port and crosses the west
    region's rows, on the links that already carry its row broadcasts and the hand-off: that link is
    busier than the on-chip walk and than the I/O on its own."""
    batch, prompt, out = 8, 1024, 64
    r = run({**UNIFORM, "core.sram_bytes": "1 KiB", "core.reserved_sram_fraction": 0,
             "external_memory.io_bandwidth_bytes_per_s": "1 PB/s", "external_memory.latency_s": "1 ns"},
            batch=batch, prompt_tokens=prompt, output_tokens=out, layers=2, mapping={"placement": "pipelined"})
    a = r.arrays
    assert list(a["region_x0"].data) == [0, 32] and list(a["region_cols"].data) == [32, 32]
    assert list(a["region_y0"].data) == [0, 0] and list(a["region_rows"].data) == [64, 64]
    assert r.summary["micro_batches"] == 2                # two micro-batches of four sequences
    tokens, micro, cores = 4, 2, 64 * 32
    # per region: weights 1 KiB cores hold, KV fills the rest of the 2048 cores and spills
    kv = batch * (prompt + out) * 2 * KV * 2
    spilled = kv - (cores * 1024 - LAYER_PARAMS * 2)
    frac = spilled / kv
    ctx = prompt + (out + 1) / 2
    region0, region1, bcast, handoff = two_regions(tokens, ctx, tokens * ctx, kv_on=1 - frac)
    onchip = max(region0 + region1, micro * max(region0, region1))
    io_east = spilled / kv * batch * ctx * 2 * KV * 2 / 64 / LINK_BPS    # per row, over the west region
    t_io = max(2 * spilled / kv * batch * ctx * 2 * KV * 2 / 1e15, io_east) + 1e-9
    busiest = micro * (bcast + handoff) / LINK_BPS + io_east
    assert busiest > onchip and busiest > t_io
    assert r.decode.components["edge_io"] == pytest.approx(t_io, rel=REL)
    assert r.summary["tpot_s"] == pytest.approx(busiest, rel=REL)
    assert r.summary["max_link_utilisation"] == pytest.approx(1.0, rel=REL)
    assert float(r.arrays["link_utilisation"].data.max()) <= 1.0 + 1e-6


def test_per_core_bytes_are_stricter_than_the_region_total():
    """289-byte cores, one layer on the whole 4096-core block: 1180672 weight bytes are 288 a core
    and one more on the first 1024; 6 tokens x 512 bytes of KV are one byte on the first 3072 cores.
    The totals fit exactly (4096 x 289), but the first 1024 cores would need 290: 1024 bytes spill.
    --wafers auto cannot help a single layer, so the job stays on one wafer, spilling."""
    kw = dict(batch=1, prompt_tokens=5, output_tokens=1, layers=1, wafers="auto")
    over = {"core.sram_bytes": "289 B", "core.reserved_sram_fraction": 0}
    assert LAYER_PARAMS * 2 + 6 * 2 * KV * 2 == 4096 * 289
    flow = run(over, mapping={"placement": "pipelined"}, **kw)
    assert flow.summary["devices"] == 1 and flow.summary["spilled_bytes"] == 1024
    system = wafersim.load_system(SYSTEM, over)
    analytic = wafersim.simulate(system, wafersim.load_model(MODEL), mapping={"placement": "pipelined"}, **kw)
    assert analytic.summary["devices"] == 1 and analytic.summary["spilled_bytes"] == 0


def test_verify_pass_shares_each_weight_read():
    """A speculative verify pass over k + 1 = 5 tokens, one layer over the whole block: every stage's
    core work is the hand datapath's for 5 tokens (each weight read shared by them, lane-bound),
    where a plain step's projections are GEMVs bound by the SRAM ports at half the lanes, so the
    pass costs less than 5 plain steps."""
    kw = dict(batch=1, prompt_tokens=64, output_tokens=16, layers=1)
    ctx = 64 + (16 + 1) / 2
    plain, spec = run(**kw), run(speculative=4, acceptance=0.8, **kw)
    one, five = whole_block_stages(1, ctx, ctx), whole_block_stages(5, ctx, ctx)
    assert plain.summary["tpot_s"] == pytest.approx(total(one, "time"), rel=REL)
    assert spec.summary["verify_step_s"] == pytest.approx(total(five, "time"), rel=REL)
    assert spec.decode.components["compute"] == pytest.approx(total(five, "compute"), rel=REL)
    assert spec.decode.components["sram_bandwidth"] == pytest.approx(total(five, "sram"), rel=REL)
    qkv1, qkv5 = one[1], five[1]
    assert qkv1["sram"] > qkv1["compute"] and qkv5["compute"] > qkv5["sram"]
    assert max(qkv5["compute"], qkv5["sram"]) == pytest.approx(2.5 * max(qkv1["compute"], qkv1["sram"]), rel=REL)
    assert spec.summary["verify_step_s"] < 5 * plain.summary["tpot_s"]
