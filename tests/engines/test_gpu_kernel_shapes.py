"""The GPU engine's default (tiles) kernel model against arithmetic written out here: every
projection a GEMM costed from its tiles and waves, attention spread over the SMs, launches,
and the runtime's per-step cost.  Only ``simulate`` and its components are read."""

import math

import pytest

import wafersim
from tests.specs import simulate_one

SMS, TM, TN, TK, MMA = 132, 128, 128, 64, 64
BW, BF16 = 4e12, 1e15
GEMM, MEM, ATT = 0.5, 0.8, 0.25
LAUNCH, KERNELS = 2e-6, 10
OVERRIDES = {
    "gpu.sms": SMS, "gpu.tile_m": TM, "gpu.tile_n": TN, "gpu.tile_k": TK, "gpu.mma_m": MMA,
    "gpu.hbm_bandwidth_bytes_per_s": "4 TB/s", "gpu.bf16_flops_per_s": "1000 TFLOP/s",
    "efficiency.gemm": GEMM, "efficiency.memory": MEM, "efficiency.attention": ATT,
    "efficiency.kernel_launch_s": "2 us", "efficiency.kernels_per_layer": KERNELS,
}
D, LAYERS, H, KVH, HD, F, V = 4096, 32, 32, 8, 128, 14336, 128256


def gemm(m, n, k, wbytes=2, abytes=2):
    """(compute, memory) seconds of the cheapest tile height, written out."""
    best = None
    for th in sorted({min(h, MMA * math.ceil(m / MMA)) for h in (64, 128)}):
        tiles = math.ceil(m / th) * math.ceil(n / TN)
        split = max(1, min(SMS // tiles, math.ceil(k / TK)))
        waves = math.ceil(tiles * split / SMS)
        c = waves * 2 * th * TN * math.ceil(k / split) / (BF16 * GEMM / SMS)
        best = c if best is None or c <= best else best
    mem = (m * k * abytes + k * n * wbytes + m * n * abytes) / (BW * MEM)
    return best, mem


def layer_split(batch, ctx):
    cmp_s = mem_s = 0.0
    for n, k in ((H * HD + 2 * KVH * HD, D), (D, H * HD), (2 * F, D), (D, F)):
        c, m = gemm(batch, n, k)
        if c >= m:
            cmp_s += c
        else:
            mem_s += m
    kv = batch * ctx * 2 * KVH * HD * 2
    kv_tiles = batch * KVH * math.ceil(ctx / TN)
    a_mem = math.ceil(kv_tiles / SMS) * (kv / kv_tiles) / (BW * MEM / SMS)
    q_tiles = batch * H
    a_cmp = math.ceil(q_tiles / SMS) * (4 * H * HD * batch * ctx / q_tiles) / (BF16 * ATT / SMS)
    if a_cmp >= a_mem:
        cmp_s += a_cmp
    else:
        mem_s += a_mem
    return cmp_s, mem_s


@pytest.mark.parametrize("batch", [1, 64, 256])
def test_a_decode_layer_is_the_sum_of_its_kernels(batch):
    P, O = 1000, 9
    r = simulate_one(wafersim.load_system("dgx-h100", OVERRIDES), "llama-3.1-8b", batch=batch,
                          prompt_tokens=P, output_tokens=O)
    ctx = P + (O + 1) / 2
    cmp_s, mem_s = layer_split(batch, ctx)
    layer = cmp_s + mem_s + KERNELS * LAUNCH
    assert r.summary["decode_layer_s"] == pytest.approx(layer, rel=1e-9)
    c = r.decode.components
    hc, hm = gemm(batch, V, D)
    assert c["hbm_bandwidth"] == pytest.approx(LAYERS * mem_s, rel=1e-9)
    assert c["compute"] == pytest.approx(LAYERS * cmp_s + max(hc, hm) + LAUNCH, rel=1e-9)


def test_decode_gemms_turn_compute_bound_as_the_batch_grows():
    shapes = ((H * HD + 2 * KVH * HD, D), (D, H * HD), (2 * F, D), (D, F))
    assert all(gemm(1, n, k)[0] < gemm(1, n, k)[1] for n, k in shapes)        # bound by HBM at batch 1
    assert all(gemm(512, n, k)[0] > gemm(512, n, k)[1] for n, k in shapes)    # by compute at 512
    assert layer_split(1, 1004)[0] == 0


def test_a_runtime_step_cost_grows_with_the_batch():
    def tpot(batch, per_seq):
        g = wafersim.load_system("dgx-h100", OVERRIDES, runtime_overrides={"efficiency.step_overhead_per_seq_s": per_seq})
        return simulate_one(g, "llama-3.1-8b", batch=batch, prompt_tokens=128, output_tokens=8).summary["tpot_s"]
    for batch in (1, 32):
        assert tpot(batch, "5 us") - tpot(batch, 0) == pytest.approx(batch * 5e-6, rel=1e-9)
