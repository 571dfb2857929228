"""The roofline GPU model against hand-computed values."""

import pytest

import wafersim
from wafersim.engines.analytic_gpu import ring_collective
from wafersim.engines.gpu_memory import GpuMemory
from wafersim.workload.scenario import Scenario
from tests.specs import simulate_one


ROOFLINE = {"gpu.kernel_model": "roofline"}   # the tiles model's own hand checks: test_gpu_kernel_shapes.py


def test_single_gpu_decode_layer_by_hand():
    g = wafersim.load_system("dgx-h100", ROOFLINE)
    m = wafersim.load_model("llama-3.1-8b")
    r = simulate_one(g, m, batch=1, prompt_tokens=1000, output_tokens=1)
    eff = g.efficiency
    ctx = 1001
    hbm = (m.layer_params * 2 + ctx * m.kv_bytes_per_token_layer("bf16")) / (g.gpu.hbm_bandwidth_bytes_per_s * eff.memory)
    flops = (2 * m.layer_params + m.attention_flops(1, ctx)) / (g.gpu.bf16_flops_per_s * eff.gemm)
    expected = max(hbm, flops) + eff.kernels_per_layer * eff.kernel_launch_s
    assert r.summary["decode_layer_s"] == pytest.approx(expected, rel=1e-12)
    assert r.summary["bottleneck"] == "hbm_bandwidth"


def test_ring_allreduce_closed_form():
    g = wafersim.load_system("dgx-h100")
    cost = ring_collective(g)
    n, S = 8, 1e9
    eff = g.efficiency
    expected = (eff.collective_latency_s + 2 * (n - 1) * eff.collective_step_latency_s
                + 2 * (n - 1) / n * S / (g.interconnect.nvlink_bandwidth_bytes_per_s * eff.collective))
    assert cost("all_reduce", S, n) == pytest.approx(expected, rel=1e-12)
    assert cost("all_reduce", S, 1) == 0.0


def test_tensor_parallel_speeds_up_a_bandwidth_bound_decode():
    times = [simulate_one("dgx-h100", "llama-3.1-70b", tp=tp, batch=1).summary["tpot_s"] for tp in (2, 4, 8)]
    assert times[0] > times[1] > times[2]


def test_batch_max_fits_and_one_more_spills():
    r = simulate_one("dgx-h100", "llama-3.1-70b", tp=8, batch="max", prompt_tokens=4096)
    assert r.summary["fits_on_chip"]
    more = simulate_one("dgx-h100", "llama-3.1-70b", tp=8, batch=r.summary["batch"] + 1, prompt_tokens=4096)
    assert not more.summary["fits_on_chip"] and more.summary["spilled_bytes"] > 0


def test_kv_spill_reads_over_pcie():
    r = simulate_one("dgx-h100", "llama-3.1-8b", batch=64, prompt_tokens=32768)
    assert not r.summary["fits_on_chip"]
    assert r.summary["bottleneck"] == "pcie_spill"


def test_kv_heads_replicate_past_tp():
    m = wafersim.load_model("llama-3.1-8b")   # 8 KV heads
    g = wafersim.load_system("dgx-h100")
    e8 = GpuMemory(g, m, Scenario(tp=8).resolved(m))
    assert e8.kv_share == pytest.approx(1 / 8)
    mq = wafersim.load_model("llama-3.1-8b", {"num_kv_heads": 4})
    e8q = GpuMemory(g, mq, Scenario(tp=8).resolved(mq))
    assert e8q.kv_share == pytest.approx(1 / 4)     # one KV head per GPU, replicated


def test_pipeline_adds_stage_sends():
    a = simulate_one("dgx-h100", "llama-3.1-70b", tp=4, pp=1, batch=1)
    b = simulate_one("dgx-h100", "llama-3.1-70b", tp=4, pp=2, batch=1)
    assert b.summary["devices"] == 8
    assert b.decode.components["interconnect"] > a.decode.components["interconnect"]


def test_more_bandwidth_never_slower():
    base = wafersim.load_system("dgx-h100")
    fast = wafersim.load_system("dgx-h100", {"gpu.hbm_bandwidth_bytes_per_s": "6.7 TB/s"})
    for batch in (1, 64):
        a = simulate_one(base, "llama-3.1-8b", batch=batch)
        b = simulate_one(fast, "llama-3.1-8b", batch=batch)
        assert b.summary["tpot_s"] <= a.summary["tpot_s"]


def test_request_overhead_adds_to_ttft_only():
    base = simulate_one("dgx-h100", "llama-3.1-8b", batch=1)
    slow = simulate_one(wafersim.load_system("dgx-h100", {"efficiency.request_overhead_s": "15 ms"}), "llama-3.1-8b", batch=1)
    assert slow.summary["ttft_s"] == pytest.approx(base.summary["ttft_s"] + 15e-3, rel=1e-12)
    assert slow.summary["tpot_s"] == base.summary["tpot_s"]


def test_pipeline_stages_hold_one_end_each():
    """With pp > 1 the embedding sits on the first stage and the LM head on the last."""
    m = wafersim.load_model("llama-3.1-8b")
    g = wafersim.load_system("dgx-h100")
    one = GpuMemory(g, m, Scenario(pp=1).resolved(m)).weight_bytes_per_gpu()
    two = GpuMemory(g, m, Scenario(pp=2).resolved(m)).weight_bytes_per_gpu()
    layers = 32 * m.layer_params * 2
    assert one == pytest.approx(layers + (m.embedding_params + m.lm_head_params) * 2)
    assert two == pytest.approx(layers / 2 + max(m.embedding_params, m.lm_head_params) * 2)


def test_pipeline_micro_batches_when_compute_bound():
    """A compute-bound batch gains from micro-batches in flight on every stage."""
    big = simulate_one("dgx-h100", "llama-3.1-8b", tp=1, pp=8, batch=512, prompt_tokens=128).summary
    assert big["micro_batches"] == 8


def test_attention_runs_at_its_own_efficiency():
    """Prefill attention FLOPs take peak x efficiency.attention, the projections peak x gemm."""
    g = wafersim.load_system("dgx-h100", ROOFLINE)
    slow = wafersim.load_system("dgx-h100", {"efficiency.attention": 0.25, **ROOFLINE})
    m = wafersim.load_model("llama-3.1-8b")
    a = simulate_one(g, m, prompt_tokens=8192, output_tokens=1).prefill.components["compute"]
    b = simulate_one(slow, m, prompt_tokens=8192, output_tokens=1).prefill.components["compute"]
    attn = 32 * m.prefill_attention_flops(8192) / g.gpu.bf16_flops_per_s
    assert b - a == pytest.approx(attn * (1 / 0.25 - 1 / g.efficiency.attention), rel=1e-9, abs=0)


def test_pipeline_step_covers_the_fullest_stage():
    """8 stages, 8 micro-batches: the last stage (4 layers and the LM head) is busy 8 times over."""
    g = wafersim.load_system("dgx-h100", ROOFLINE)
    m = wafersim.load_model("llama-3.1-8b")
    r = simulate_one(g, m, tp=1, pp=8, batch=8, prompt_tokens=512)
    gpu, eff = g.gpu, g.efficiency
    d, v, layer_params, kv_token = 4096, 128256, 218_112_000, 2 * 8 * 128 * 2
    ctx = 512 + (128 + 1) / 2                      # one sequence per micro-batch
    compute = 2 * layer_params / (gpu.bf16_flops_per_s * eff.gemm) + 4 * 4096 * ctx / (gpu.bf16_flops_per_s * eff.attention)
    memory = (layer_params * 2 + ctx * kv_token) / (gpu.hbm_bandwidth_bytes_per_s * eff.memory)
    layer = max(compute, memory) + eff.kernels_per_layer * eff.kernel_launch_s
    head = max(2 * d * v / (gpu.bf16_flops_per_s * eff.gemm),
               d * v * 2 / (gpu.hbm_bandwidth_bytes_per_s * eff.memory)) + eff.kernel_launch_s
    assert r.summary["micro_batches"] == 8
    assert r.summary["decode_layer_s"] == pytest.approx(layer, rel=1e-9, abs=0)
    assert r.summary["tpot_s"] == pytest.approx(8 * (4 * layer + head), rel=1e-9, abs=0)


def test_tp_auto_respects_kv_heads():
    """48 query heads and 12 KV heads: tp 8 divides neither way, so auto must not pick it."""
    m = wafersim.load_model("llama-3.1-8b", {"num_heads": 48, "num_kv_heads": 12, "hidden_size": 6144})
    r = simulate_one("dgx-h100", m, tp="auto")
    assert r.summary["tp"] in (1, 2, 4)
