"""Every term of the analytic wafer engine, worked out by hand from the preset numbers.

The system is ``tests/data/scribe-wafer.toml``: 64 x 64 cores in 2 x 2 dies of
32 x 32, whose scribe links move 1 byte per cycle (on-die links 4) and add 10
cycles per crossing (an on-die hop is 2), so a region that spans dies pays the
scribe terms.  The model is ``tests/data/tiny-llama.toml`` (4 layers, d 256).
The numbers of both files are written out below; nothing here calls the
engine's helpers, so a changed equation in the engine fails these tests.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import wafersim
from tests.specs import simulate_one

DATA = Path(__file__).resolve().parent.parent / "data"
SYSTEM = str(DATA / "scribe-wafer.toml")
MODEL = str(DATA / "tiny-llama.toml")
REL = 1e-12

# ---- tests/data/scribe-wafer.toml ----
CLK = 1e9                      # cycles per second
LINK_BPS = 4 * CLK             # on-die link, bytes/s
SCRIBE_BPS = 1 * CLK           # scribe link, bytes/s
HOP = 2                        # cycles per hop
EXTRA = 10                     # cycles a scribe crossing adds
DIE = 32                       # cores per die along x and y
STEP = 7                       # cycles per software tree step
LANES = {"bf16": 8, "fp8": 16}  # FMAC lanes per core
READ, WRITE = 16, 8            # SRAM port bytes per cycle
ACC = 256                      # bytes of partial sums beside the ports: 256 / (lanes x 2 B) tokens per weight read
EFF_HZ = 0.5 * CLK             # datapath cycles -> seconds at the compute efficiency
USABLE = 48 * 1024 * 0.875     # usable SRAM per core
CORES = 64 * 64
IO_BPS, IO_LAT = 100e9, 2e-6
IW_BPS, IW_LAT = 50e9, 3e-6
BLOCK = 16                     # prefill block tokens
E_SRAM, E_LINK, E_FLOP, E_IO, E_IW = 0.03e-12, 0.1e-12, 0.4e-12, 8e-12, 10e-12
# a wafer-to-wafer hop: the link's latency and one traverse of the 64 columns to and from the
# edge ports (63 hops of 2 cycles, 63 / 32 die boundaries of 10 extra cycles on average)
CROSS = IW_LAT + (63 * HOP + 63 / DIE * EXTRA) / CLK
STATIC_W = 4000.0

# ---- tests/data/tiny-llama.toml ----
D, HEADS, KV_HEADS, HD, F, VOCAB, NL = 256, 4, 2, 64, 512, 1024, 4
Q, KV = HEADS * HD, KV_HEADS * HD
LAYER_PARAMS = D * (Q + 2 * KV) + Q * D + 3 * D * F + 2 * D     # attention, gated MLP, two RMSNorms
HEAD_PARAMS = 2 * VOCAB * D + D                                  # embedding, LM head (untied), final norm
ACT = 2                                                          # bf16 activations
# (K, N) of the dependent stages of a layer: attention norm, qkv, scores, softmax max, softmax sum,
# weighted sum, o, MLP norm, mlp up, mlp down (a norm reduces one value per token and sends one back)
STAGES = [(1, 1), (D, Q + 2 * KV), (Q, HEADS), (HEADS, HEADS), (HEADS, HEADS), (HEADS, Q), (Q, D), (1, 1),
          (D, 2 * F), (F, D)]


def kv_bytes_per_token_layer(kv_bytes: float = 2) -> float:
    return 2 * KV * kv_bytes


def chain_steps(n: float) -> int:
    """A two-level chain reduction: groups of round(sqrt(n)) cores, each reduced toward its middle,
    then the group roots toward theirs (64 cores: 8 groups of 8, 4 + 4 steps)."""
    if n <= 1:
        return 0
    g = round(math.sqrt(n))
    return math.ceil((g - 1) / 2) + math.ceil((math.ceil(n / g) - 1) / 2)


def stage_latency(rows: float, cols: float) -> tuple[float, float]:
    """One broadcast along rows and reduction along columns: (hop latency, tree steps) in seconds."""
    hops = (cols - 1) + (rows - 1)
    crossings = (cols - 1) / DIE + (rows - 1) / DIE        # die boundaries crossed, on average
    # the broadcast is a hardware multicast (no software steps); the reduction a chain over the rows
    return (hops * HOP + crossings * EXTRA) / CLK, chain_steps(rows) * STEP / CLK


def slowest_link(rows: float, cols: float) -> float:
    return SCRIBE_BPS if rows > DIE or cols > DIE else LINK_BPS


def datapath(fmacs, operand, reuse, dtype="bf16"):
    """(lane-bound, port-bound) seconds of one core: a GEMV (reuse 1) reads each operand element
    and a partial sum and writes the partial sum per FMAC; a block of tokens reads the operand
    once per ACC / (lanes x 2) tokens and an activation scalar per lanes FMACs, writing nothing."""
    lanes = LANES[dtype]
    if reuse <= 1:
        port = max((operand + 2 * fmacs) / READ, 2 * fmacs / WRITE)
    else:
        port = (operand * math.ceil(reuse / (ACC // (lanes * 2))) + 2 * fmacs / lanes) / READ
    return fmacs / lanes / EFF_HZ, port / EFF_HZ


def layer(tokens, context, kv_tokens, rows, cols, kv_on=1.0, w_on=1.0, dtype="bf16"):
    wb = 1 if dtype == "fp8" else 2
    cores = rows * cols
    flops = tokens * 2 * LAYER_PARAMS + 4 * Q * tokens * context
    w_read, kv_read = LAYER_PARAMS * wb * w_on, kv_tokens * kv_bytes_per_token_layer(wb) * kv_on
    sram = w_read + kv_read
    # the projections (each weight read shared by the tokens), then attention (each key read by
    # HEADS / KV_HEADS = 2 query heads of each of the tokens per sequence; a prefill block: all of them)
    per_seq = tokens * context / kv_tokens if kv_tokens else tokens
    w_lane, w_port = datapath(tokens * LAYER_PARAMS / cores, w_read / cores, tokens, dtype)
    a_lane, a_port = datapath(2 * Q * tokens * context / cores, kv_read / cores, 2 * per_seq, dtype)
    t_compute, t_sram = w_lane + a_lane, w_port + a_port
    t_core = max(w_lane, w_port) + max(a_lane, a_port)
    hop, step = stage_latency(rows, cols)
    latency = len(STAGES) * (hop + step)
    t_link = sum(tokens * ACT * (k / rows + n / cols) for k, n in STAGES) / slowest_link(rows, cols)
    bit_hops = 8 * tokens * ACT * sum(k * (cols - 1) + n * (rows - 1) for k, n in STAGES)
    return dict(time=t_core + latency + t_link, compute=t_compute, sram=t_sram, latency=latency,
                link=t_link, flops=flops, sram_bytes=sram, bit_hops=bit_hops)


def head(tokens, cores):
    flops = 2 * tokens * D * VOCAB
    t = max(datapath(tokens * D * VOCAB / cores, VOCAB * D * 2 / cores, tokens))
    hop, step = stage_latency(math.sqrt(cores), math.sqrt(cores))
    return t + hop + step, flops


def run(**kw):
    mapping = kw.pop("mapping", {"placement": "sequential"})
    overrides = kw.pop("overrides", None)
    system = wafersim.load_system(SYSTEM, overrides)
    return simulate_one(system, wafersim.load_model(MODEL), mapping=mapping, **kw)


def test_scribe_links_are_slower_and_later_in_the_test_preset():
    w = wafersim.load_system(SYSTEM)
    assert w.scribe.link_bytes_per_cycle < w.mesh.link_bytes_per_cycle
    assert w.scribe.extra_latency_cycles > 0
    assert (w.mesh.die_cores_x, w.mesh.die_cores_y) == (DIE, DIE)


@pytest.mark.parametrize("dtype", ["bf16", "fp8"])
def test_decode_one_wafer_every_term(dtype):
    """Two layers, each over the whole 64 x 64 block (spanning all four dies), one after another."""
    r = run(batch=1, prompt_tokens=64, output_tokens=16, layers=2, dtype=dtype)
    ctx = 64 + (16 + 1) / 2                       # mean keys a decode step attends to
    ly = layer(1, ctx, ctx, 64, 64, dtype=dtype)
    tpot = 2 * ly["time"]
    c = r.decode.components
    assert c["compute"] == pytest.approx(2 * ly["compute"], rel=REL)
    assert c["sram_bandwidth"] == pytest.approx(2 * ly["sram"], rel=REL)
    assert c["mesh_latency"] == pytest.approx(2 * ly["latency"], rel=REL)
    assert c["mesh_bandwidth"] == pytest.approx(2 * ly["link"], rel=REL)
    assert c["interwafer"] == 0.0 and c["edge_io"] == 0.0     # one wafer: no boundary to cross
    assert r.summary["tpot_s"] == pytest.approx(tpot, rel=REL)
    assert r.summary["decode_layer_s"] == pytest.approx(ly["time"], rel=REL)
    assert r.summary["cores_per_wafer"] == CORES
    energy = {
        "sram": 2 * ly["sram_bytes"] * 8 * E_SRAM,
        "compute": 2 * ly["flops"] * E_FLOP,
        "links": 2 * ly["bit_hops"] * E_LINK,
        "interwafer": 0.0, "io": 0.0,
        "static": STATIC_W * 1 * tpot,
    }
    for k, v in energy.items():
        assert r.summary[f"energy_{k}_j"] == pytest.approx(v, rel=REL, abs=1e-30), k
    assert r.summary["energy_per_token_j"] == pytest.approx(sum(energy.values()), rel=REL)


def test_decode_four_wafers_every_term():
    """All four layers and the LM head, one layer per wafer: three boundaries, the head on the last wafer,
    and back to the first wafer with the next token's embedding: four crossings a step."""
    r = run(batch=1, prompt_tokens=64, output_tokens=16, wafers=4)
    assert r.summary["devices"] == 4
    ctx = 64 + (16 + 1) / 2
    ly = layer(1, ctx, ctx, 64, 64)
    t_head, head_flops = head(1, CORES)
    nbytes = D * ACT                                    # one token's activations
    t_iw = 4 * (CROSS + nbytes / IW_BPS)
    tpot = 4 * ly["time"] + t_iw + t_head
    c = r.decode.components
    assert c["interwafer"] == pytest.approx(t_iw, rel=REL)
    assert c["mesh_latency"] == pytest.approx(4 * ly["latency"] + t_head, rel=REL)
    assert r.summary["tpot_s"] == pytest.approx(tpot, rel=REL)
    energy = {
        "sram": (4 * ly["sram_bytes"] + VOCAB * D * 2) * 8 * E_SRAM,
        "compute": (4 * ly["flops"] + head_flops) * E_FLOP,
        "links": 4 * ly["bit_hops"] * E_LINK,
        "interwafer": 8 * nbytes * 4 * E_IW,
        "io": 0.0,
        "static": STATIC_W * 4 * tpot,                   # every wafer draws its static power
    }
    for k, v in energy.items():
        assert r.summary[f"energy_{k}_j"] == pytest.approx(v, rel=REL, abs=1e-30), k
    assert r.summary["energy_per_token_j"] == pytest.approx(sum(energy.values()), rel=REL)


def test_moe_layer_reads_every_expert_the_batch_touches():
    """Four experts, two per token, a batch of two: each token runs two experts (FLOPs), the batch
    reads the 4 x (1 - (1 - 2/4)^2) = 3 experts it touches on average, plus the 256 x 4 router."""
    system = wafersim.load_system(SYSTEM)
    model = wafersim.load_model(MODEL, {"num_experts": 4, "experts_per_token": 2})
    r = simulate_one(system, model, batch=2, prompt_tokens=64, output_tokens=16, layers=1,
                          mapping={"placement": "sequential"})
    expert, router = 3 * D * F, D * 4
    attention_norms = LAYER_PARAMS - expert
    ctx = 64 + (16 + 1) / 2
    flops = 2 * 2 * (attention_norms + 2 * expert + router) + 4 * Q * 2 * ctx
    w_read = (attention_norms + router + 3 * expert) * 2
    kv_read = 2 * ctx * kv_bytes_per_token_layer()
    # each weight read feeds the FMACs the batch does with the weights (2 tokens x 2 experts of 4 of
    # them) over the weights it reads; each key read 2 query heads of one token
    reuse = 2 * (attention_norms + router + 2 * expert) / (attention_norms + router + 3 * expert)
    w_lane, w_port = datapath(flops / 2 / CORES - 2 * Q * 2 * ctx / CORES, w_read / CORES, reuse)
    a_lane, a_port = datapath(2 * Q * 2 * ctx / CORES, kv_read / CORES, 2)
    c = r.decode.components
    assert c["compute"] == pytest.approx(w_lane + a_lane, rel=REL)
    assert c["sram_bandwidth"] == pytest.approx(w_port + a_port, rel=REL)
    stages = STAGES[:8] + [(D, 2 * F * 2), (F * 2, D)]
    assert c["mesh_bandwidth"] == pytest.approx(sum(2 * ACT * (k + n) / 64 for k, n in stages) / SCRIBE_BPS, rel=REL)


@pytest.mark.parametrize("wafers", [1, 4])
def test_prefill_every_term(wafers):
    """Causal attention: a block's queries see half the prompt on average; blocks run one after another."""
    batch, prompt = 2, 64
    r = run(batch=batch, prompt_tokens=prompt, output_tokens=16, wafers=wafers)
    blocks = batch * prompt // BLOCK
    ly = layer(BLOCK, prompt / 2, 0, 64, 64)
    t_head, _ = head(batch, CORES)
    crossings = wafers - 1
    t_iw = crossings * (CROSS + blocks * BLOCK * D * ACT / IW_BPS)
    ttft = blocks * NL * ly["time"] + t_iw + t_head
    p = r.prefill.components
    assert p["compute"] == pytest.approx(blocks * NL * ly["compute"], rel=REL)
    assert p["sram_bandwidth"] == pytest.approx(blocks * NL * ly["sram"], rel=REL)
    assert p["mesh_latency"] == pytest.approx(blocks * NL * ly["latency"], rel=REL)
    assert p["mesh_bandwidth"] == pytest.approx(blocks * NL * ly["link"], rel=REL)
    assert p["interwafer"] == pytest.approx(t_iw, rel=REL, abs=0.0)
    assert p["edge_io"] == 0.0
    assert r.summary["ttft_s"] == pytest.approx(ttft, rel=REL)
    assert r.summary["prefill_layer_s"] == pytest.approx(blocks * ly["time"], rel=REL)


def _pipelined_region():
    """Two layers side by side in one band of 64 x 32 cells, each capped at 48 x 24 cores:
    48 rows span the die boundary at row 32; 24 columns stay on one die."""
    return 48, 24


def test_pipelined_decode_and_prefill_every_term():
    rows, cols = _pipelined_region()
    r = run(batch=1, prompt_tokens=64, output_tokens=16, layers=2,
            mapping={"placement": "pipelined", "region": f"{rows}x{cols}"})
    ctx = 64 + (16 + 1) / 2
    ly = layer(1, ctx, ctx, rows, cols)
    # hand-off to the next region: down one region column (rows - 1 hops), over every column's links
    hop = ((rows - 1) * HOP + (rows - 1) / DIE * EXTRA) / CLK
    move = hop + D * ACT / (cols * SCRIBE_BPS)
    tpot = 2 * (ly["time"] + move)
    assert r.summary["micro_batches"] == 1
    assert r.summary["tpot_s"] == pytest.approx(tpot, rel=REL)
    assert r.decode.components["mesh_latency"] == pytest.approx(2 * (ly["latency"] + move), rel=REL)
    assert r.summary["energy_links_j"] == pytest.approx(2 * (ly["bit_hops"] + 8 * D * ACT * rows) * E_LINK, rel=REL)
    # prefill: 4 blocks through 2 regions: the first walks both, then one leaves per block time
    pl = layer(BLOCK, 32, 0, rows, cols)
    per_block = pl["time"] + hop + BLOCK * D * ACT / (cols * SCRIBE_BPS)
    assert r.summary["ttft_s"] == pytest.approx((4 - 1) * per_block + 2 * per_block, rel=REL)
    assert r.prefill.components["compute"] == pytest.approx(4 * pl["compute"], rel=REL)


def test_pipelined_micro_batches_scale_the_work():
    """Batch 4 on two layer regions: two micro-batches of two sequences; each pays the work again."""
    rows, cols = _pipelined_region()
    r = run(batch=4, prompt_tokens=64, output_tokens=16, layers=2,
            mapping={"placement": "pipelined", "region": f"{rows}x{cols}"})
    assert r.summary["micro_batches"] == 2
    ctx = 64 + (16 + 1) / 2
    ly = layer(2, ctx, 2 * ctx, rows, cols)
    assert r.summary["energy_compute_j"] == pytest.approx(2 * 2 * ly["flops"] * E_FLOP / 4, rel=REL)
    assert r.summary["energy_sram_j"] == pytest.approx(2 * 2 * ly["sram_bytes"] * 8 * E_SRAM / 4, rel=REL)


def test_sequential_spill_every_term():
    """1 KiB of SRAM per core: the weights fit, the KV cache (sized for prompt + output) spills."""
    batch, prompt, out, L = 4, 1024, 64, 2
    r = run(batch=batch, prompt_tokens=prompt, output_tokens=out, layers=L,
            overrides={"core.sram_bytes": "1 KiB", "core.reserved_sram_fraction": 0})
    cap = CORES * 1024
    weights = L * LAYER_PARAMS * 2
    kv = batch * (prompt + out) * L * kv_bytes_per_token_layer()
    spilled = kv - (cap - weights)
    assert r.summary["weight_bytes"] == weights and r.summary["kv_bytes"] == kv
    assert r.summary["spilled_bytes"] == pytest.approx(spilled, rel=REL)
    frac = spilled / kv
    ctx = prompt + (out + 1) / 2
    ly = layer(batch, ctx, batch * ctx, 64, 64, kv_on=1 - frac)
    io_bytes = frac * batch * ctx * L * kv_bytes_per_token_layer()
    t_io = io_bytes / IO_BPS + IO_LAT
    assert r.decode.components["edge_io"] == pytest.approx(t_io, rel=REL)
    assert r.decode.components["sram_bandwidth"] == pytest.approx(L * ly["sram"], rel=REL)
    assert r.summary["tpot_s"] == pytest.approx(max(L * ly["time"], t_io), rel=REL)
    assert r.summary["energy_io_j"] == pytest.approx(io_bytes * 8 * E_IO / batch, rel=REL)
    # a block's activations may take SRAM from the KV cache: 1024 B per core less the weights'
    # 2 x 590336 x 2 / 4096 = 576.5 B leave 447.5 B, all of it KV; a token puts 256/64 + 1024/64
    # = 20 values of the widest stage (MLP up) on a core, 40 B: blocks of at most 11 tokens
    room = 1024 - weights / CORES
    per_token = ACT * max(k / 64 + n / 64 for k, n in STAGES)
    assert (room, math.floor(room / per_token)) == (447.5, 11)

    def prefill(block):
        # prefill writes the prompt's share of the spilled KV cache, and the KV the block's
        # activations displace goes out and comes back: 2 x 40 B x block on every core
        p_io = (frac * batch * prompt * L * kv_bytes_per_token_layer() + 2 * CORES * per_token * block) / IO_BPS \
            + IO_LAT
        blocks = math.ceil(batch * prompt / block)
        return max(blocks * L * layer(block, prompt / 2, 0, 64, 64)["time"], p_io), p_io

    # the fastest of the candidate blocks (powers of two and the cap; ties: the larger)
    _, block = min((prefill(b)[0], -b) for b in (1, 2, 4, 8, 11))
    block = -block
    assert r.summary["prefill_block_tokens"] == block
    assert r.prefill.components["edge_io"] == pytest.approx(prefill(block)[1], rel=REL)
    assert r.summary["ttft_s"] == pytest.approx(prefill(block)[0], rel=REL)
    assert any("blocks of 16 tokens do not fit" in n for n in r.notes)


def test_batch_max_is_the_last_batch_whose_kv_fits_beside_the_weights():
    """Sequential, one wafer, two layers: 4096 x 43008 bytes hold 2 x 1180672 of weights; each
    sequence's KV is 1088 tokens x 2 layers x 512 bytes, so 155 sequences fit and 156 do not."""
    r = run(batch="max", prompt_tokens=1024, output_tokens=64, layers=2)
    room = CORES * USABLE - 2 * LAYER_PARAMS * 2
    per_seq = (1024 + 64) * 2 * kv_bytes_per_token_layer()
    assert int(room // per_seq) == 155
    assert r.summary["batch"] == 155 and r.summary["fits_on_chip"]
    assert not run(batch=156, prompt_tokens=1024, output_tokens=64, layers=2).summary["fits_on_chip"]


@pytest.mark.parametrize("batch,wafers", [(1, 2), (9, 2), (10, 3)])
def test_wafers_auto_is_the_fewest_that_hold_the_job(batch, wafers):
    """1 KiB cores: 4194304 bytes a wafer; four layers of 1180672 bytes of weights plus the head's
    1049088 (embedding, LM head, final norm) need two wafers.  On two, the second holds two layers
    and the head: 2 x (1180672 + b x 40960) + 1049088 <= 4194304 up to b = 9.  At b = 10 no split
    of the four layers over two wafers fits; over three (2 + 1 + 1 and the head) it does."""
    r = run(batch=batch, prompt_tokens=64, output_tokens=16, wafers="auto",
            overrides={"core.sram_bytes": "1 KiB", "core.reserved_sram_fraction": 0})
    assert r.summary["devices"] == wafers and r.summary["fits_on_chip"]


def test_streaming_reads_every_weight_through_edge_io():
    r = run(batch=1, prompt_tokens=64, output_tokens=16, layers=2, mapping={"placement": "streaming"})
    weights = 2 * LAYER_PARAMS * 2
    assert r.summary["spilled_bytes"] == weights
    ctx = 64 + (16 + 1) / 2
    ly = layer(1, ctx, ctx, 64, 64, w_on=0.0)          # no weight reads from SRAM
    t_io = weights / IO_BPS + IO_LAT
    assert r.decode.components["sram_bandwidth"] == pytest.approx(2 * ly["sram"], rel=REL)
    assert r.summary["tpot_s"] == pytest.approx(max(2 * ly["time"], t_io), rel=REL)
    # prefill: the weights once, and the cheaper of streaming them again for every further
    # block and parking the prompt's activations off chip (each layer's input in, output out)
    blocks = math.ceil(64 / r.summary["prefill_block_tokens"])
    parked = 2 * 2 * 64 * D * ACT
    assert r.prefill.components["edge_io"] == pytest.approx(
        (weights + min((blocks - 1) * weights, parked)) / IO_BPS + IO_LAT, rel=REL)


def test_verify_pass_shares_each_weight_read():
    """A speculative verify pass over k + 1 = 5 tokens against a plain one-token step, two layers
    over the whole block: the plain step's projections are a GEMV, port-bound at 4 FMACs a cycle
    (a weight and a partial sum read, the partial sum written: 16 B of reads, 8 B of writes, per
    4 FMACs); the verify pass shares each weight read among its 5 tokens (at most 256 / (8 x 2) =
    16), lane-bound at 8 FMACs a cycle: its projections cost 5/8 over 1/4 = 2.5 times the plain
    step's, not 5 times."""
    kw = dict(batch=1, prompt_tokens=64, output_tokens=16, layers=2)
    plain, spec = run(**kw).summary, run(speculative=4, acceptance=0.8, **kw).summary
    ctx = 64 + (16 + 1) / 2
    assert plain.tpot_s == pytest.approx(2 * layer(1, ctx, ctx, 64, 64)["time"], rel=REL)
    assert spec.verify_step_s == pytest.approx(2 * layer(5, ctx, ctx, 64, 64)["time"], rel=REL)
    one = datapath(LAYER_PARAMS / CORES, LAYER_PARAMS * 2 / CORES, 1)
    five = datapath(5 * LAYER_PARAMS / CORES, LAYER_PARAMS * 2 / CORES, 5)
    assert one[1] == pytest.approx(LAYER_PARAMS / CORES / 4 / EFF_HZ, rel=REL) and one[1] > one[0]
    assert five[0] == pytest.approx(5 * LAYER_PARAMS / CORES / 8 / EFF_HZ, rel=REL) and five[0] > five[1]
    assert max(five) / max(one) == pytest.approx(2.5, rel=REL)
    assert spec.verify_step_s < 5 * plain.tpot_s
