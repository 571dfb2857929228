"""Every term of the roofline GPU engine against arithmetic written out here.

The system is DGX H100 with every number the engine reads set below to a round
value, so that the expectations do not move when the preset is re-sourced; the
models are the published Llama 3.1 8B and Mixtral 8x7B shapes.  Collectives are
forced to ring (all-to-all and point-to-point then use their only algorithm,
direct), whose cost on one NVSwitch node is written out in :func:`ring_ar` and
:func:`direct`.  Nothing here calls the engine's helpers: only ``simulate`` and
its summary and components.

The engine's default kernel model costs each GEMM from its tiles and waves
(``gpu.kernel_model = "tiles"``, checked against hand arithmetic in
``tests/engines/test_gpu_gemm.py`` and ``test_gpu_kernel_shapes.py``); the terms here
are those of the roofline kernel model, which this file selects.
"""

import math

import pytest

import wafersim
from tests.specs import simulate_one

REL = 1e-9

# ---- the system -------------------------------------------------------------------
HBM = 80e9                 # bytes per GPU
BW = 4e12                  # HBM bytes/s
BF16 = 1e15                # FLOP/s
FP8 = 2e15
GEMM, MEM, ATT = 0.5, 0.8, 0.25
LAUNCH, KERNELS = 2e-6, 10
COLL, CALL, STEP = 0.5, 10e-6, 1e-6
WORKSPACE = 0.1
NVLINK = 450e9             # per GPU per direction, 18 links over 4 chips
LINK_LAT = 1e-6            # GPU -> chip -> GPU: two half-latency hops
PCIE = 50e9
NIC, NIC_LAT = 50e9, 4e-6
J_HBM, J_FLOP, J_LINK, J_PCIE, STATIC = 4e-12, 0.5e-12, 1e-12, 8e-12, 100.0

OVERRIDES = {
    "gpu.kernel_model": "roofline",
    "gpu.hbm_bytes": "80 GB", "gpu.hbm_bandwidth_bytes_per_s": "4 TB/s",
    "gpu.bf16_flops_per_s": "1000 TFLOP/s", "gpu.fp8_flops_per_s": "2 PFLOP/s",
    "efficiency.gemm": GEMM, "efficiency.memory": MEM, "efficiency.attention": ATT,
    "efficiency.kernel_launch_s": "2 us", "efficiency.kernels_per_layer": KERNELS,
    "efficiency.collective": COLL, "efficiency.collective_latency_s": "10 us",
    "efficiency.collective_step_latency_s": "1 us", "efficiency.workspace_fraction": WORKSPACE,
    "efficiency.request_overhead_s": 0.0,
    "interconnect.nvlink_bandwidth_bytes_per_s": "450 GB/s", "interconnect.nvlink_links_per_gpu": 18,
    "interconnect.nvswitch_chips": 4, "interconnect.link_latency_s": "1 us",
    "interconnect.pcie_bandwidth_bytes_per_s": "50 GB/s", "interconnect.pcie_latency_s": 0.0,
    "interconnect.nic_bandwidth_bytes_per_s": "400 Gbit/s", "interconnect.nic_latency_s": "4 us",
    "interconnect.collective_algorithm": "ring",
    "energy.hbm_j_per_bit": "4 pJ/bit", "energy.flop_j": "0.5 pJ/FLOP", "energy.link_j_per_bit": "1 pJ/bit",
    "energy.pcie_j_per_bit": "8 pJ/bit", "energy.static_power_w": "100 W",
}


def system(**more):
    return wafersim.load_system("dgx-h100", {**OVERRIDES, **{k.replace("__", "."): v for k, v in more.items()}})


def ring_ar(nbytes, n):
    """Ring all-reduce of ``nbytes`` over ``n`` GPUs of one NVSwitch node."""
    return CALL + 2 * (n - 1) * (nbytes / n / (NVLINK * COLL) + LINK_LAT + STEP)


def direct(nbytes, n):
    """All-to-all (send buffer ``nbytes`` per GPU) over ``n`` GPUs of one node; n = 2 with
    the whole buffer is a point-to-point send."""
    return CALL + (n - 1) * nbytes / n / (NVLINK * COLL) + LINK_LAT + STEP


def p2p(nbytes):
    return CALL + nbytes / (NVLINK * COLL) + LINK_LAT + STEP


# ---- the models ----------------------------------------------------------------------
# Llama 3.1 8B (and Mixtral 8x7B, whose attention is the same)
D, LAYERS, H, KVH, HD, F, V = 4096, 32, 32, 8, 128, 14336, 128256
ATTN_P = D * (H * HD + 2 * KVH * HD) + H * HD * D
MLP_P = 3 * D * F
NORM_P = 2 * D
LAYER_P = ATTN_P + MLP_P + NORM_P
KV_TOKEN_LAYER = 2 * KVH * HD * 2          # K and V, bf16
# Mixtral: 8 experts, 2 per token, vocab 32000
E, K, V_MIX = 8, 2, 32000
ROUTER_P = D * E
DENSE_MIX = ATTN_P + ROUTER_P + NORM_P     # what every expert rank holds of a layer


def head(tokens, vocab=V, tp=1, peak=BF16, wb=2):
    """LM head: (seconds, FLOPs per GPU, bytes per GPU)."""
    flops = 2 * tokens * D * vocab / tp
    nbytes = D * vocab * wb / tp
    return max(flops / (peak * GEMM), nbytes / (BW * MEM)) + LAUNCH, flops, nbytes


def test_shapes_are_the_published_ones():
    m = wafersim.load_model("llama-3.1-8b")
    assert (m.hidden_size, m.num_layers, m.num_heads, m.num_kv_heads, m.hd, m.ffn_size, m.vocab_size) == \
        (D, LAYERS, H, KVH, HD, F, V)
    x = wafersim.load_model("mixtral-8x7b")
    assert (x.hidden_size, x.num_layers, x.num_kv_heads, x.num_experts, x.experts_per_token, x.vocab_size) == \
        (D, LAYERS, KVH, E, K, V_MIX)


# ---- decode ------------------------------------------------------------------------------
@pytest.mark.parametrize("batch,P,bound", [(1, 1000, "hbm_bandwidth"), (512, 100, "compute")])
def test_decode_step_every_term(batch, P, bound):
    """tp = pp = 1: per layer max(compute, HBM) + launches; the LM head once."""
    O = 9
    r = simulate_one(system(), "llama-3.1-8b", batch=batch, prompt_tokens=P, output_tokens=O)
    ctx = P + (O + 1) / 2                                   # mean decode context
    t_cmp = batch * 2 * LAYER_P / (BF16 * GEMM) + 4 * H * HD * batch * ctx / (BF16 * ATT)
    t_mem = (LAYER_P * 2 + batch * ctx * KV_TOKEN_LAYER) / (BW * MEM)
    t_launch = KERNELS * LAUNCH
    layer = max(t_cmp, t_mem) + t_launch
    t_head, _, _ = head(batch)
    c = r.decode.components
    assert c["compute"] == pytest.approx(LAYERS * t_cmp + t_head, rel=REL, abs=0)
    assert c["hbm_bandwidth"] == pytest.approx(LAYERS * t_mem, rel=REL, abs=0)
    assert c["launch_overhead"] == pytest.approx(LAYERS * t_launch, rel=REL, abs=0)
    assert c["interconnect"] == 0 and c["pcie_spill"] == 0
    assert r.summary["decode_layer_s"] == pytest.approx(layer, rel=REL, abs=0)
    assert r.summary["tpot_s"] == pytest.approx(LAYERS * layer + t_head, rel=REL, abs=0)
    assert r.summary["bottleneck"] == bound


def test_decode_fp8_weights_use_the_fp8_peak_and_one_byte():
    """Projections at the 8-bit peak; attention stays at the 16-bit one; KV follows the weights."""
    P, O = 1000, 9
    r = simulate_one(system(), "llama-3.1-8b", batch=64, prompt_tokens=P, output_tokens=O, dtype="fp8")
    ctx = P + (O + 1) / 2
    t_cmp = 64 * 2 * LAYER_P / (FP8 * GEMM) + 4 * H * HD * 64 * ctx / (BF16 * ATT)
    t_mem = (LAYER_P * 1 + 64 * ctx * 2 * KVH * HD * 1) / (BW * MEM)
    t_head, _, _ = head(64, peak=FP8, wb=1)
    assert r.decode.components["compute"] == pytest.approx(LAYERS * t_cmp + t_head, rel=REL, abs=0)
    assert r.decode.components["hbm_bandwidth"] == pytest.approx(LAYERS * t_mem, rel=REL, abs=0)


def test_attention_efficiency_zero_means_the_gemm_share():
    P, O = 1000, 9
    r = simulate_one(system(efficiency__attention=0.0), "llama-3.1-8b", batch=8, prompt_tokens=P,
                          output_tokens=O)
    ctx = P + (O + 1) / 2
    t_cmp = (8 * 2 * LAYER_P + 4 * H * HD * 8 * ctx) / (BF16 * GEMM)
    assert r.decode.components["compute"] == pytest.approx(LAYERS * t_cmp + head(8)[0], rel=REL, abs=0)


@pytest.mark.parametrize("tp", [2, 4, 8])
def test_decode_tensor_parallel_splits_and_all_reduces(tp):
    """Weights, FLOPs and KV heads split over tp; two ring all-reduces of batch x d per layer."""
    P, O, B = 2000, 1, 4
    r = simulate_one(system(), "llama-3.1-8b", batch=B, prompt_tokens=P, output_tokens=O, tp=tp)
    ctx = P + 1.0
    t_cmp = (B * 2 * LAYER_P / (BF16 * GEMM) + 4 * H * HD * B * ctx / (BF16 * ATT)) / tp
    kv_share = 1 / tp                                  # 8 KV heads split evenly up to tp = 8
    t_mem = (LAYER_P * 2 / tp + B * ctx * KV_TOKEN_LAYER * kv_share) / (BW * MEM)
    t_ar = 2 * ring_ar(B * D * 2, tp)
    t_head, _, _ = head(B, tp=tp)
    c = r.decode.components
    assert c["compute"] == pytest.approx(LAYERS * t_cmp + t_head, rel=REL, abs=0)
    assert c["hbm_bandwidth"] == pytest.approx(LAYERS * t_mem, rel=REL, abs=0)
    assert c["interconnect"] == pytest.approx(LAYERS * t_ar, rel=REL, abs=0)
    layer = max(t_cmp, t_mem) + KERNELS * LAUNCH + t_ar
    assert r.summary["decode_layer_s"] == pytest.approx(layer, rel=REL, abs=0)
    assert r.summary["tpot_s"] == pytest.approx(LAYERS * layer + t_head, rel=REL, abs=0)
    assert r.summary["allreduce_algorithm"] == "ring" and r.summary["p2p_algorithm"] == "none"


def test_kv_heads_replicate_beyond_tp():
    """4 KV heads on 8 GPUs: each GPU holds one whole head, a quarter of the KV cache."""
    m = wafersim.load_model("llama-3.1-8b", {"num_kv_heads": 4})
    P, B = 2000, 4
    r = simulate_one(system(), m, batch=B, prompt_tokens=P, output_tokens=1, tp=8)
    attn_p = D * (H * HD + 2 * 4 * HD) + H * HD * D
    layer_p = attn_p + MLP_P + NORM_P
    kv_read = B * (P + 1.0) * 2 * 4 * HD * 2 / 4
    assert r.decode.components["hbm_bandwidth"] == pytest.approx(
        LAYERS * (layer_p * 2 / 8 + kv_read) / (BW * MEM), rel=REL, abs=0)
    kv_write = B * P * 2 * 4 * HD * 2 / 4 / (BW * MEM)
    assert r.prefill.components["hbm_bandwidth"] == pytest.approx(
        LAYERS * (layer_p * 2 / 8 / (BW * MEM) + kv_write), rel=REL, abs=0)


# ---- pipeline --------------------------------------------------------------------------------
def test_pipeline_one_sequence_walks_both_stages_and_one_send():
    P = 1000
    r = simulate_one(system(), "llama-3.1-8b", batch=1, prompt_tokens=P, output_tokens=1, pp=2)
    ctx = P + 1.0
    layer = max(2 * LAYER_P / (BF16 * GEMM) + 4 * H * HD * ctx / (BF16 * ATT),
                (LAYER_P * 2 + ctx * KV_TOKEN_LAYER) / (BW * MEM)) + KERNELS * LAUNCH
    send = p2p(D * 2)
    assert r.decode.components["interconnect"] == pytest.approx(send, rel=REL, abs=0)
    assert r.summary["tpot_s"] == pytest.approx(LAYERS * layer + head(1)[0] + send, rel=REL, abs=0)
    assert r.summary["micro_batches"] == 1 and r.summary["p2p_algorithm"] == "direct"
    # prefill sends the whole prompt's activations once
    p_send = p2p(P * D * 2)
    assert r.prefill.components["interconnect"] == pytest.approx(p_send, rel=REL, abs=0)


def test_pipeline_micro_batches_and_the_busiest_stage():
    """4 stages, batch 8: 4 micro-batches of 2; the step is the longer of one walk and
    4 x the last stage (8 layers and the LM head)."""
    P, B, pp = 1000, 8, 4
    r = simulate_one(system(), "llama-3.1-8b", batch=B, prompt_tokens=P, output_tokens=1, pp=pp)
    ctx, mb = P + 1.0, 2
    layer = max(mb * 2 * LAYER_P / (BF16 * GEMM) + 4 * H * HD * mb * ctx / (BF16 * ATT),
                (LAYER_P * 2 + mb * ctx * KV_TOKEN_LAYER) / (BW * MEM)) + KERNELS * LAUNCH
    t_head = head(mb)[0]
    sends = (pp - 1) * p2p(mb * D * 2)
    walk = LAYERS * layer + t_head + sends
    busiest = 8 * layer + t_head
    assert r.summary["micro_batches"] == 4
    assert r.summary["tpot_s"] == pytest.approx(max(walk, 4 * busiest), rel=REL, abs=0)
    assert r.decode.components["interconnect"] == pytest.approx(sends, rel=REL, abs=0)
    assert r.prefill.components["interconnect"] == pytest.approx((pp - 1) * p2p(B * P * D * 2), rel=REL, abs=0)


def test_pipeline_uneven_stages():
    """5 stages over 32 layers: 7 layers per stage, the last holds 4 and the LM head."""
    P, B, pp = 1000, 5, 5
    r = simulate_one(system(), "llama-3.1-8b", batch=B, prompt_tokens=P, output_tokens=1, pp=pp)
    ctx = P + 1.0
    layer = max(2 * LAYER_P / (BF16 * GEMM) + 4 * H * HD * ctx / (BF16 * ATT),
                (LAYER_P * 2 + ctx * KV_TOKEN_LAYER) / (BW * MEM)) + KERNELS * LAUNCH
    t_head = head(1)[0]
    walk = LAYERS * layer + t_head + (pp - 1) * p2p(D * 2)
    busiest = max(7 * layer, 4 * layer + t_head)
    assert r.summary["micro_batches"] == 5
    assert r.summary["tpot_s"] == pytest.approx(max(walk, 5 * busiest), rel=REL, abs=0)


# ---- prefill -----------------------------------------------------------------------------------
@pytest.mark.parametrize("tp", [1, 2])
def test_prefill_every_term(tp):
    """Per layer max(GEMMs, weights) + launches + all-reduces, the prompt's KV written (split over
    tp), the LM head for the last token of each sequence, the request overhead."""
    P, B = 1000, 2
    r = simulate_one(system(efficiency__request_overhead_s="15 ms"), "llama-3.1-8b", batch=B,
                          prompt_tokens=P, output_tokens=1, tp=tp)
    tokens = B * P
    t_cmp = (tokens * 2 * LAYER_P / (BF16 * GEMM) + B * 4 * H * HD * P * (P + 1) / 2 / (BF16 * ATT)) / tp
    t_mem = LAYER_P * 2 / tp / (BW * MEM)
    kv_write = tokens * KV_TOKEN_LAYER / tp / (BW * MEM)
    t_ar = 2 * ring_ar(tokens * D * 2, tp) if tp > 1 else 0.0
    layer = max(t_cmp, t_mem) + KERNELS * LAUNCH + t_ar
    c = r.prefill.components
    assert c["compute"] == pytest.approx(LAYERS * t_cmp, rel=REL, abs=0)
    assert c["hbm_bandwidth"] == pytest.approx(LAYERS * (t_mem + kv_write), rel=REL, abs=0)
    assert c["launch_overhead"] == pytest.approx(LAYERS * KERNELS * LAUNCH, rel=REL, abs=0)
    assert c["interconnect"] == pytest.approx(LAYERS * t_ar, rel=REL, abs=0)
    assert c["runtime_overhead"] == pytest.approx(15e-3, rel=REL, abs=0)
    assert r.summary["prefill_layer_s"] == pytest.approx(layer + kv_write, rel=REL, abs=0)
    assert r.summary["ttft_s"] == pytest.approx(LAYERS * (layer + kv_write) + head(B, tp=tp)[0] + 15e-3, rel=REL, abs=0)


def test_prefill_without_request_overhead_has_no_runtime_component():
    r = simulate_one(system(), "llama-3.1-8b", batch=1, prompt_tokens=100, output_tokens=1)
    assert "runtime_overhead" not in r.prefill.components


# ---- memory, spill, --batch max ---------------------------------------------------------------------
def test_memory_summary_and_batch_max():
    P, O = 4000, 96
    r = simulate_one(system(), "llama-3.1-8b", batch="max", prompt_tokens=P, output_tokens=O, tp=2)
    w_gpu = (LAYERS * LAYER_P + 2 * V * D) * 2 / 2          # layers and both ends, split over tp
    cap = HBM * (1 - WORKSPACE) - w_gpu
    per_seq = (P + O) * LAYERS * KV_TOKEN_LAYER / 2
    batch = int(cap // per_seq)
    s = r.summary
    assert s["kv_capacity_per_gpu_bytes"] == pytest.approx(cap, rel=REL, abs=0)
    assert s["max_batch"] == s["batch"] == batch
    assert s["weight_bytes"] == pytest.approx((LAYERS * LAYER_P + 2 * V * D + D) * 2, rel=REL, abs=0)
    assert s["kv_bytes"] == pytest.approx(batch * (P + O) * LAYERS * KV_TOKEN_LAYER, rel=REL, abs=0)
    assert s["fits_on_chip"] and s["spilled_bytes"] == 0
    more = simulate_one(system(), "llama-3.1-8b", batch=batch + 1, prompt_tokens=P, output_tokens=O, tp=2)
    assert more.summary["spilled_bytes"] == pytest.approx(2 * ((batch + 1) * per_seq - cap), rel=REL, abs=0)


def test_kv_spill_read_over_pcie_every_step():
    """64 sequences of 32k tokens: the KV beyond HBM is read over PCIe (no efficiency), the rest from HBM."""
    P, O, B = 32000, 768, 64
    r = simulate_one(system(), "llama-3.1-8b", batch=B, prompt_tokens=P, output_tokens=O)
    w = (LAYERS * LAYER_P + 2 * V * D) * 2
    cap = HBM * (1 - WORKSPACE) - w
    kv_max = B * (P + O) * LAYERS * KV_TOKEN_LAYER
    hbm_share = cap / kv_max
    ctx = P + (O + 1) / 2
    kv_read = B * ctx * KV_TOKEN_LAYER
    t_mem = (LAYER_P * 2 + kv_read * hbm_share) / (BW * MEM)
    t_pcie = kv_read * (1 - hbm_share) / PCIE
    c = r.decode.components
    assert c["hbm_bandwidth"] == pytest.approx(LAYERS * t_mem, rel=REL, abs=0)
    assert c["pcie_spill"] == pytest.approx(LAYERS * t_pcie, rel=REL, abs=0)
    assert r.summary["spilled_bytes"] == pytest.approx(kv_max - cap, rel=REL, abs=0)
    assert r.summary["bottleneck"] == "pcie_spill"
    t_cmp = B * 2 * LAYER_P / (BF16 * GEMM) + 4 * H * HD * B * ctx / (BF16 * ATT)
    layer = max(t_cmp, t_mem, t_pcie) + KERNELS * LAUNCH
    assert r.summary["tpot_s"] == pytest.approx(LAYERS * layer + head(B)[0], rel=REL, abs=0)
    assert r.summary["energy_pcie_j"] == pytest.approx(LAYERS * kv_read * (1 - hbm_share) * 8 * J_PCIE / B, rel=REL, abs=0)


def test_weights_beyond_hbm_spill_with_all_the_kv():
    """An 8B model on a 10 GB GPU: the weights beyond 9 GB and all of the KV come over PCIe."""
    hbm = 10e9
    P, O, B = 1000, 1, 2
    r = simulate_one(system(gpu__hbm_bytes="10 GB"), "llama-3.1-8b", batch=B, prompt_tokens=P, output_tokens=O)
    w = (LAYERS * LAYER_P + 2 * V * D) * 2
    w_hbm = hbm * (1 - WORKSPACE) / w
    kv_read = B * (P + 1.0) * KV_TOKEN_LAYER
    t_mem = LAYER_P * 2 * w_hbm / (BW * MEM)
    t_pcie = (LAYER_P * 2 * (1 - w_hbm) + kv_read) / PCIE
    assert r.decode.components["hbm_bandwidth"] == pytest.approx(LAYERS * t_mem, rel=REL, abs=0)
    assert r.decode.components["pcie_spill"] == pytest.approx(LAYERS * t_pcie, rel=REL, abs=0)
    kv_all = B * (P + O) * LAYERS * KV_TOKEN_LAYER
    assert r.summary["spilled_bytes"] == pytest.approx(w - hbm * (1 - WORKSPACE) + kv_all, rel=REL, abs=0)
    assert r.summary["kv_capacity_per_gpu_bytes"] == 0
    assert r.summary["max_batch"] == 1
    # prefill reads the spilled weights over PCIe too
    assert r.prefill.components["pcie_spill"] == pytest.approx(LAYERS * LAYER_P * 2 * (1 - w_hbm) / PCIE, rel=REL, abs=0)


# ---- energy -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("tp", [1, 2, 4])
def test_decode_energy_per_token(tp):
    """Every GPU's FLOPs, HBM bytes and link bytes at their energies, plus static power x step."""
    P, O, B = 1000, 1, 4
    r = simulate_one(system(), "llama-3.1-8b", batch=B, prompt_tokens=P, output_tokens=O, tp=tp)
    ctx = P + 1.0
    flops = B * 2 * LAYER_P + 4 * H * HD * B * ctx                      # whole layer, all GPUs together
    hbm = LAYER_P * 2 + B * ctx * KV_TOKEN_LAYER
    head_flops, head_bytes = 2 * B * D * V, D * V * 2
    link = tp * 2 * 2 * (tp - 1) / tp * B * D * 2                      # 2 all-reduces, ring traffic
    s = r.summary
    assert s["energy_compute_j"] == pytest.approx((LAYERS * flops + head_flops) * J_FLOP / B, rel=REL, abs=0)
    assert s["energy_hbm_j"] == pytest.approx((LAYERS * hbm + head_bytes) * 8 * J_HBM / B, rel=REL, abs=0)
    assert s["energy_links_j"] == pytest.approx(LAYERS * link * 8 * J_LINK / B, rel=REL, abs=0)
    assert s["energy_pcie_j"] == 0
    assert s["energy_static_j"] == pytest.approx(STATIC * tp * s["tpot_s"] / B, rel=REL, abs=0)
    total = sum(s[f"energy_{k}_j"] for k in ("compute", "hbm", "pcie", "links", "static"))
    assert s["energy_per_token_j"] == pytest.approx(total, rel=REL, abs=0)


def test_decode_energy_with_pipeline_micro_batches():
    """pp = 2, batch 4: two micro-batches of 2, each through both stages."""
    P, B = 1000, 4
    r = simulate_one(system(), "llama-3.1-8b", batch=B, prompt_tokens=P, output_tokens=1, pp=2)
    ctx, mb = P + 1.0, 2
    flops = mb * 2 * LAYER_P + 4 * H * HD * mb * ctx
    hbm = LAYER_P * 2 + mb * ctx * KV_TOKEN_LAYER
    s = r.summary
    assert s["energy_compute_j"] == pytest.approx(2 * (LAYERS * flops + 2 * mb * D * V) * J_FLOP / B, rel=REL, abs=0)
    assert s["energy_hbm_j"] == pytest.approx(2 * (LAYERS * hbm + D * V * 2) * 8 * J_HBM / B, rel=REL, abs=0)
    assert s["energy_static_j"] == pytest.approx(STATIC * 2 * s["tpot_s"] / B, rel=REL, abs=0)


# ---- mixture of experts ------------------------------------------------------------------------------
def test_moe_prefill_flops_with_expert_ranks():
    """Mixtral, ep 8, one sequence: attention and the router on the one rank that holds it, every
    token's 2 experts spread over the 8 ranks."""
    P = 1000
    r = simulate_one(system(), "mixtral-8x7b", batch=1, prompt_tokens=P, output_tokens=1, ep=8)
    matmul = P * 2 * DENSE_MIX + P * 2 * K * MLP_P / 8
    attn = 4 * H * HD * P * (P + 1) / 2
    t_cmp = matmul / (BF16 * GEMM) + attn / (BF16 * ATT)
    assert r.prefill.components["compute"] == pytest.approx(LAYERS * t_cmp, rel=REL, abs=0)
    touched = E * (1 - (1 - K / E) ** P)
    t_mem = (DENSE_MIX * 2 + touched * MLP_P * 2 / 8) / (BW * MEM)
    kv_write = P * KV_TOKEN_LAYER / (BW * MEM)
    assert r.prefill.components["hbm_bandwidth"] == pytest.approx(LAYERS * (t_mem + kv_write), rel=REL, abs=0)
    a2a = 2 * direct(P * D * 2 * K, 8)
    assert r.prefill.components["interconnect"] == pytest.approx(LAYERS * a2a, rel=REL, abs=0)
    layer = max(t_cmp, t_mem) + KERNELS * LAUNCH + a2a
    ttft = LAYERS * (layer + kv_write) + head(1, vocab=V_MIX)[0]
    assert r.summary["ttft_s"] == pytest.approx(ttft, rel=REL, abs=0)
    assert r.summary["alltoall_algorithm"] == "direct" and r.summary["allreduce_algorithm"] == "none"


def test_moe_decode_batch_split_over_expert_ranks():
    """Mixtral, tp 2 x ep 4, batch 8: each rank holds 2 sequences; the experts see all 8 tokens."""
    P, B, tp, ep = 1000, 8, 2, 4
    r = simulate_one(system(), "mixtral-8x7b", batch=B, prompt_tokens=P, output_tokens=1, tp=tp, ep=ep)
    ctx, local = P + 1.0, 2
    matmul = (local * 2 * DENSE_MIX + B * 2 * K * MLP_P / ep) / tp
    attn = 4 * H * HD * local * ctx / tp
    t_cmp = matmul / (BF16 * GEMM) + attn / (BF16 * ATT)
    touched = E * (1 - (1 - K / E) ** B)
    kv = local * ctx * KV_TOKEN_LAYER / tp
    t_mem = ((DENSE_MIX * 2 + touched * MLP_P * 2 / ep) / tp + kv) / (BW * MEM)
    t_ar = 2 * ring_ar(local * D * 2, tp)
    t_a2a = 2 * direct(local * D * 2 * K / tp, ep)
    t_head = head(local, vocab=V_MIX, tp=tp)[0]
    c = r.decode.components
    assert c["compute"] == pytest.approx(LAYERS * t_cmp + t_head, rel=REL, abs=0)
    assert c["hbm_bandwidth"] == pytest.approx(LAYERS * t_mem, rel=REL, abs=0)
    assert c["interconnect"] == pytest.approx(LAYERS * (t_ar + t_a2a), rel=REL, abs=0)
    layer = max(t_cmp, t_mem) + KERNELS * LAUNCH + t_ar + t_a2a
    assert r.summary["tpot_s"] == pytest.approx(LAYERS * layer + t_head, rel=REL, abs=0)


def test_moe_prefill_batch_split_over_expert_ranks():
    """Mixtral, tp 2 x ep 4, batch 8 of 500 tokens: a rank writes the KV of and runs attention
    for its 2 sequences; the experts see all 4000 tokens."""
    P, B, tp, ep = 500, 8, 2, 4
    r = simulate_one(system(), "mixtral-8x7b", batch=B, prompt_tokens=P, output_tokens=1, tp=tp, ep=ep)
    local_tokens, tokens = 2 * P, B * P
    matmul = (local_tokens * 2 * DENSE_MIX + tokens * 2 * K * MLP_P / ep) / tp
    attn = 2 * 4 * H * HD * P * (P + 1) / 2 / tp
    t_cmp = matmul / (BF16 * GEMM) + attn / (BF16 * ATT)
    touched = E * (1 - (1 - K / E) ** tokens)
    t_mem = (DENSE_MIX * 2 + touched * MLP_P * 2 / ep) / tp / (BW * MEM)
    kv_write = local_tokens * KV_TOKEN_LAYER / tp / (BW * MEM)
    t_ar = 2 * ring_ar(local_tokens * D * 2, tp)
    t_a2a = 2 * direct(local_tokens * D * 2 * K / tp, ep)
    c = r.prefill.components
    assert c["compute"] == pytest.approx(LAYERS * t_cmp, rel=REL, abs=0)
    assert c["hbm_bandwidth"] == pytest.approx(LAYERS * (t_mem + kv_write), rel=REL, abs=0)
    assert c["interconnect"] == pytest.approx(LAYERS * (t_ar + t_a2a), rel=REL, abs=0)
    layer = max(t_cmp, t_mem) + KERNELS * LAUNCH + t_ar + t_a2a
    assert r.summary["prefill_layer_s"] == pytest.approx(layer + kv_write, rel=REL, abs=0)
    assert r.summary["ttft_s"] == pytest.approx(
        LAYERS * (layer + kv_write) + head(2, vocab=V_MIX, tp=tp)[0], rel=REL, abs=0)


def test_moe_decode_energy_counts_each_expert_rank():
    """One sequence on 8 expert ranks: attention, KV and head once; the touched experts once."""
    P = 1000
    r = simulate_one(system(), "mixtral-8x7b", batch=1, prompt_tokens=P, output_tokens=1, ep=8)
    ctx = P + 1.0
    flops = 2 * DENSE_MIX + 4 * H * HD * ctx + 2 * K * MLP_P
    hbm = DENSE_MIX * 2 + ctx * KV_TOKEN_LAYER + K * MLP_P * 2      # one token touches exactly K experts
    link = 8 * 2 * 7 / 8 * D * 2 * K                                  # 8 GPUs, 2 all-to-alls
    s = r.summary
    assert s["energy_compute_j"] == pytest.approx((LAYERS * flops + 2 * D * V_MIX) * J_FLOP, rel=REL, abs=0)
    assert s["energy_hbm_j"] == pytest.approx((LAYERS * hbm + D * V_MIX * 2) * 8 * J_HBM, rel=REL, abs=0)
    assert s["energy_links_j"] == pytest.approx(LAYERS * link * 8 * J_LINK, rel=REL, abs=0)
    assert s["energy_static_j"] == pytest.approx(STATIC * 8 * s["tpot_s"], rel=REL, abs=0)


def test_moe_decode_energy_with_idle_expert_ranks():
    """tp 2 x ep 4, batch 2: two ranks hold a sequence each, all four hold experts.  Attention,
    dense weights, KV and the LM head are paid by the two busy ranks' GPUs; the touched experts
    once over all eight GPUs; links and static power by all eight."""
    P, B, tp, ep = 1000, 2, 2, 4
    r = simulate_one(system(), "mixtral-8x7b", batch=B, prompt_tokens=P, output_tokens=1, tp=tp, ep=ep)
    ctx = P + 1.0
    touched = E * (1 - (1 - K / E) ** B)                            # 3.5 of 8 experts
    flops = B * (2 * DENSE_MIX + 4 * H * HD * ctx + 2 * K * MLP_P)
    hbm = 2 * DENSE_MIX * 2 + B * ctx * KV_TOKEN_LAYER + touched * MLP_P * 2
    link = 8 * (2 * 2 * (tp - 1) / tp * D * 2 + 2 * (ep - 1) / ep * D * 2 * K / tp)
    s = r.summary
    assert s["energy_compute_j"] == pytest.approx((LAYERS * flops + B * 2 * D * V_MIX) * J_FLOP / B, rel=REL, abs=0)
    assert s["energy_hbm_j"] == pytest.approx((LAYERS * hbm + 2 * D * V_MIX * 2) * 8 * J_HBM / B, rel=REL, abs=0)
    assert s["energy_links_j"] == pytest.approx(LAYERS * link * 8 * J_LINK / B, rel=REL, abs=0)
    assert s["energy_static_j"] == pytest.approx(STATIC * 8 * s["tpot_s"] / B, rel=REL, abs=0)


@pytest.mark.parametrize("tp,ep", [(1, 8), (2, 4), (4, 2), (8, 1)])
def test_moe_batch_max_counts_every_expert_rank(tp, ep):
    """Each rank's GPUs hold 1/ep of the experts and a full copy of the rest; the batch is
    ep x the sequences one rank's KV capacity holds."""
    P, O = 8000, 192
    r = simulate_one(system(), "mixtral-8x7b", batch="max", prompt_tokens=P, output_tokens=O, tp=tp, ep=ep)
    w_gpu = (LAYERS * (DENSE_MIX + E // ep * MLP_P) + 2 * V_MIX * D) * 2 / tp
    cap = HBM * (1 - WORKSPACE) - w_gpu
    per_seq = (P + O) * LAYERS * KV_TOKEN_LAYER * math.ceil(KVH / tp) / KVH
    batch = ep * int(cap // per_seq)
    assert r.summary["kv_capacity_per_gpu_bytes"] == pytest.approx(cap, rel=REL, abs=0)
    assert r.summary["max_batch"] == r.summary["batch"] == batch
    assert r.summary["fits_on_chip"]


# ---- two nodes ------------------------------------------------------------------------------------------
def p2p_ib(nbytes):
    """Stage send from GPU 0 of node 0 to GPU 0 of node 1: GPU -> NIC (PCIe hop, half the link
    latency), NIC -> leaf 0 -> NIC (InfiniBand), NIC -> GPU; PCIe and NIC both 50 GB/s."""
    return CALL + nbytes / (NIC * COLL) + 2 * LINK_LAT / 2 + NIC_LAT + STEP


def test_two_nodes_tp4_ep2_pp2_places_stages_on_nodes():
    """Mixtral on two nodes, tp 4 x ep 2 x pp 2: a node per stage, so the all-reduces (GPUs 0-3)
    and all-to-alls (GPUs 0 and 4) stay on NVLink and only the stage send crosses InfiniBand."""
    P, B = 1000, 4
    r = simulate_one(system(interconnect__nodes=2), "mixtral-8x7b", batch=B, prompt_tokens=P,
                          output_tokens=1, tp=4, ep=2, pp=2)
    # decode: 2 micro-batches of 2 sequences; a rank holds half of each, one token
    decode = LAYERS * (2 * ring_ar(D * 2, 4) + 2 * direct(D * 2 * K / 4, 2)) + p2p_ib(D * 2)
    assert r.decode.components["interconnect"] == pytest.approx(decode, rel=REL, abs=0)
    # prefill: a rank holds 2 sequences of 1000 tokens
    local_tokens = 2 * P
    prefill = (LAYERS * (2 * ring_ar(local_tokens * D * 2, 4) + 2 * direct(local_tokens * D * 2 * K / 4, 2))
               + p2p_ib(local_tokens * D * 2))
    assert r.prefill.components["interconnect"] == pytest.approx(prefill, rel=REL, abs=0)
    assert r.summary["devices"] == 16 and r.summary["micro_batches"] == 2


# ---- the closed-form ring, --tp auto ------------------------------------------------------------------------
@pytest.mark.parametrize("op,steps,moved", [("all_reduce", 14, 2 * 7 / 8), ("all_gather", 7, 7 / 8),
                                            ("reduce_scatter", 7, 7 / 8), ("all_to_all", 7, 7 / 8), ("p2p", 1, 1.0)])
def test_ring_collective_alpha_beta(op, steps, moved):
    from wafersim.engines.analytic_gpu import ring_collective
    cost = ring_collective(system())
    nbytes = 1e8
    assert cost(op, nbytes, 8) == pytest.approx(CALL + steps * STEP + moved * nbytes / (NVLINK * COLL), rel=REL, abs=0)
    assert cost(op, nbytes, 1) == 0.0 and cost(op, 0.0, 8) == 0.0
    pcie = ring_collective(system(interconnect__topology="pcie"))
    assert pcie(op, nbytes, 8) == pytest.approx(CALL + steps * STEP + moved * nbytes / (PCIE * COLL), rel=REL, abs=0)
    with pytest.raises(ValueError, match="unknown collective 'broadcast'"):
        cost("broadcast", nbytes, 8)


def test_simulate_with_the_closed_form_ring():
    """The engine with ring_collective: all-reduces and stage sends by the alpha-beta formulas."""
    from wafersim.engines.analytic_gpu import ring_collective, simulate
    g, m = system(), wafersim.load_model("llama-3.1-8b")
    sc = wafersim.Scenario(batch=1, prompt_tokens=1000, output_tokens=1, tp=2, pp=2).resolved(m)
    r = simulate(g, m, sc, collective=ring_collective(g))
    act = D * 2
    ar = CALL + 2 * STEP + act / (NVLINK * COLL)               # n = 2: 2 steps moving act
    send = CALL + STEP + act / (NVLINK * COLL)
    assert r.decode.components["interconnect"] == pytest.approx(LAYERS * 2 * ar + send, rel=REL, abs=0)
    assert (r.summary["allreduce_algorithm"], r.summary["p2p_algorithm"], r.summary["alltoall_algorithm"]) == \
        ("closed_form", "closed_form", "none")


def test_tp_auto_takes_the_only_tp_that_holds_the_model():
    """Two GPUs per node: 70B (141 GB) fits on two GPUs of 72 usable GB, not on one."""
    r = simulate_one(system(interconnect__gpus_per_node=2), "llama-3.1-70b", tp="auto", prompt_tokens=100)
    assert r.summary["tp"] == 2 and r.summary["fits_on_chip"]
    one = simulate_one(system(interconnect__gpus_per_node=1), "llama-3.1-70b", tp="auto", prompt_tokens=100)
    assert one.summary["tp"] == 1 and not one.summary["fits_on_chip"]


def test_tp_auto_fastest_when_nothing_fits():
    """405B (810 GB) fits on no tp of one 8-GPU node: the fastest decode step wins, tp 8."""
    r = simulate_one(system(), "llama-3.1-405b", tp="auto", prompt_tokens=100)
    assert r.summary["tp"] == 8 and not r.summary["fits_on_chip"]


def test_tp_auto_stays_within_gpus_left_by_pp_and_ep():
    r = simulate_one(system(), "mixtral-8x7b", tp="auto", ep=2, pp=2, prompt_tokens=100)
    assert r.summary["tp"] == 2 and r.summary["devices"] == 8


# ---- --layers and the engine's checks ---------------------------------------------------------------------------
def test_first_layers_only_leave_out_the_ends():
    """--layers 4: four layers, no embedding, no LM head, weights of four layers only."""
    P = 1000
    r = simulate_one(system(), "llama-3.1-8b", batch=1, prompt_tokens=P, output_tokens=1, layers=4)
    ctx = P + 1.0
    layer = max(2 * LAYER_P / (BF16 * GEMM) + 4 * H * HD * ctx / (BF16 * ATT),
                (LAYER_P * 2 + ctx * KV_TOKEN_LAYER) / (BW * MEM)) + KERNELS * LAUNCH
    assert r.summary["tpot_s"] == pytest.approx(4 * layer, rel=REL, abs=0)
    assert r.summary["weight_bytes"] == 4 * LAYER_P * 2
    assert r.summary["kv_capacity_per_gpu_bytes"] == pytest.approx(HBM * (1 - WORKSPACE) - 4 * LAYER_P * 2, rel=REL, abs=0)
    kv_write = P * KV_TOKEN_LAYER / (BW * MEM)
    p_layer = max(P * 2 * LAYER_P / (BF16 * GEMM) + 4 * H * HD * P * (P + 1) / 2 / (BF16 * ATT),
                  LAYER_P * 2 / (BW * MEM)) + KERNELS * LAUNCH
    assert r.summary["ttft_s"] == pytest.approx(4 * (p_layer + kv_write), rel=REL, abs=0)
    assert r.summary["energy_compute_j"] == pytest.approx(4 * (2 * LAYER_P + 4 * H * HD * ctx) * J_FLOP, rel=REL, abs=0)


def test_pipeline_stages_hold_one_end_each_by_hand():
    r = simulate_one(system(), "llama-3.1-8b", batch="max", prompt_tokens=1000, output_tokens=24, pp=4)
    w_gpu = (8 * LAYER_P + V * D) * 2               # 8 layers and the embedding (or the LM head: the same size)
    assert r.summary["kv_capacity_per_gpu_bytes"] == pytest.approx(HBM * (1 - WORKSPACE) - w_gpu, rel=REL, abs=0)
    per_seq = 1024 * 8 * KV_TOKEN_LAYER
    assert r.summary["max_batch"] == int((HBM * (1 - WORKSPACE) - w_gpu) // per_seq)


@pytest.mark.parametrize("kw,message", [
    ({"pp": 4, "layers": 3}, "pp = 4 stages for 3 layers"),
    ({"tp": 3}, "tp = 3 must divide the 32 attention heads"),
    ({"tp": 16}, "tp x pp x ep = 16 GPUs but dgx-h100 has 8"),
    ({"tp": 2, "pp": 2, "ep": 2}, "ep = 2 needs a mixture-of-experts model"),
])
def test_engine_checks(kw, message):
    """One node whose network joins no other (max_nodes 1): a job of 16 GPUs cannot run on it."""
    with pytest.raises(wafersim.ConfigError, match=message):
        simulate_one(system(interconnect__max_nodes=1), "llama-3.1-8b", **kw)


def test_tp_must_divide_kv_heads_or_be_a_multiple():
    m = wafersim.load_model("llama-3.1-8b", {"num_heads": 48, "num_kv_heads": 12, "hidden_size": 6144})
    with pytest.raises(wafersim.ConfigError, match="tp = 8 must divide the 12 KV heads"):
        simulate_one(system(), m, tp=8)
    assert simulate_one(system(), m, tp=4).summary["tp"] == 4
    assert simulate_one(system(), m, tp=2, pp=4).summary["devices"] == 8


def test_tp_auto_may_exceed_the_kv_heads():
    """4 KV heads: tp 8 replicates them (8 is a multiple of 4) and is the fastest."""
    m = wafersim.load_model("llama-3.1-70b", {"num_kv_heads": 4})
    assert simulate_one(system(), m, tp="auto", prompt_tokens=100).summary["tp"] == 8


def test_pipeline_last_stage_with_no_layers_holds_only_the_head():
    """5 layers on 4 stages of ceil(5 / 4) = 2 layers: the last stage keeps no layer, only the LM
    head, which outweighs two layers here; 4 micro-batches of one sequence each."""
    m = wafersim.load_model("llama-3.1-8b", {"num_layers": 5})
    P = 1000
    r = simulate_one(system(), m, batch=4, prompt_tokens=P, output_tokens=1, pp=4)
    ctx = P + 1.0
    layer = max(2 * LAYER_P / (BF16 * GEMM) + 4 * H * HD * ctx / (BF16 * ATT),
                (LAYER_P * 2 + ctx * KV_TOKEN_LAYER) / (BW * MEM)) + KERNELS * LAUNCH
    t_head = head(1)[0]
    assert t_head > 2 * layer
    walk = 5 * layer + t_head + 3 * p2p(D * 2)
    assert r.summary["tpot_s"] == pytest.approx(max(walk, 4 * max(2 * layer, t_head)), rel=REL, abs=0)


def test_kv_spill_on_every_tensor_parallel_gpu():
    """tp 2: each GPU spills its half of the KV beyond its own capacity; both pay PCIe energy."""
    P, O, B = 32000, 768, 128
    r = simulate_one(system(), "llama-3.1-8b", batch=B, prompt_tokens=P, output_tokens=O, tp=2)
    cap = HBM * (1 - WORKSPACE) - (LAYERS * LAYER_P + 2 * V * D) * 2 / 2
    kv_gpu = B * (P + O) * LAYERS * KV_TOKEN_LAYER / 2
    spilled = 1 - cap / kv_gpu
    kv_read = B * (P + (O + 1) / 2) * KV_TOKEN_LAYER / 2
    assert r.summary["spilled_bytes"] == pytest.approx(2 * (kv_gpu - cap), rel=REL, abs=0)
    assert r.decode.components["pcie_spill"] == pytest.approx(LAYERS * kv_read * spilled / PCIE, rel=REL, abs=0)
    assert r.summary["energy_pcie_j"] == pytest.approx(2 * LAYERS * kv_read * spilled * 8 * J_PCIE / B, rel=REL, abs=0)


def test_tp_auto_stays_inside_one_node():
    """Two nodes: 405B would fit on 16 GPUs, but --tp auto only looks within a node (tp <= 8)."""
    r = simulate_one(system(interconnect__nodes=2), "llama-3.1-405b", tp="auto", prompt_tokens=100)
    assert r.summary["tp"] == 8 and not r.summary["fits_on_chip"]
    assert simulate_one(system(interconnect__nodes=2), "llama-3.1-405b", tp=16,
                             prompt_tokens=100).summary["fits_on_chip"]


def test_tp_auto_with_no_gpus_left_reports_tp_1():
    with pytest.raises(wafersim.ConfigError, match="tp x pp x ep = 16 GPUs but dgx-h100 has 8"):
        simulate_one(system(interconnect__max_nodes=1), "mixtral-8x7b", tp="auto", ep=8, pp=2)


def test_layer_stage_array():
    r = simulate_one(system(), "llama-3.1-8b", batch=4, prompt_tokens=100, pp=4)
    assert r.arrays["layer_stage"].data.tolist() == [i // 8 for i in range(32)]
    one = simulate_one(system(), "llama-3.1-8b", batch=4, prompt_tokens=100)
    assert one.arrays["layer_stage"].data.tolist() == [0] * 32


def test_kv_spill_with_pipeline_micro_batches():
    """pp 2, batch 128: two micro-batches of 64 each read their spilled KV over PCIe on both stages."""
    P, O, B = 32000, 768, 128
    r = simulate_one(system(), "llama-3.1-8b", batch=B, prompt_tokens=P, output_tokens=O, pp=2)
    cap = HBM * (1 - WORKSPACE) - (16 * LAYER_P + V * D) * 2
    kv_gpu = B * (P + O) * 16 * KV_TOKEN_LAYER
    spilled = 1 - cap / kv_gpu
    kv_read = 64 * (P + (O + 1) / 2) * KV_TOKEN_LAYER            # one micro-batch, one layer
    assert r.summary["micro_batches"] == 2
    assert r.decode.components["pcie_spill"] == pytest.approx(LAYERS * kv_read * spilled / PCIE, rel=REL, abs=0)
    assert r.summary["energy_pcie_j"] == pytest.approx(2 * 2 * 16 * kv_read * spilled * 8 * J_PCIE / B, rel=REL, abs=0)


def test_roofline_streams_8bit_weights_at_their_own_share():
    """kernel_model = roofline: 8-bit weights at memory_8bit, as the tiles model does; the
    KV cache stays at memory.  Halving memory_8bit doubles the weights' streaming time only."""
    import wafersim
    from wafersim.presets import load_system

    def step(m8):
        s = load_system("dgx-h100", {"gpu.kernel_model": "roofline", "efficiency.memory": 0.7,
                                     "efficiency.memory_8bit": m8})
        return simulate_one(s, "llama-3.1-70b", tp=8, dtype="fp8", prompt_tokens=128, output_tokens=2).summary
    same, half = step(0.7), step(0.35)
    assert same.tpot_s == step(0).tpot_s                 # unset: memory, as before
    assert half.tpot_s > 1.4 * same.tpot_s               # decode at batch 1 is mostly weight streaming
