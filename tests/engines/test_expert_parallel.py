"""Expert parallelism (``ep``) in the GPU engine."""

import pytest

import wafersim
from wafersim.cli import main
from wafersim.config import ConfigError
from wafersim.engines.analytic_gpu import AnalyticGpu
from wafersim.engines.gpu_memory import GpuMemory
from wafersim.runner import simulate
from wafersim.workload.scenario import Scenario


def test_ep_validated_like_tp():
    with pytest.raises(ConfigError, match="ep"):
        Scenario(ep=0)
    with pytest.raises(ConfigError, match="ep"):
        Scenario(ep="auto")


def test_dense_model_rejects_ep():
    with pytest.raises(ConfigError, match="ep.*dense"):
        simulate("dgx-h100", "llama-3.1-8b", ep=2)


def test_ep_must_divide_experts():
    with pytest.raises(ConfigError, match="ep = 3 must divide the 8 experts"):
        simulate("dgx-h100", "mixtral-8x7b", ep=3)


def test_ep_too_many_gpus():
    """16 GPUs span two DGX nodes where the scale-out network may join them, and are refused where not."""
    one_node = wafersim.load_system("dgx-h100", {"interconnect.max_nodes": 1})
    with pytest.raises(ConfigError, match="tp x pp x ep = 16 GPUs but dgx-h100 has 8 and may span at most 1"):
        simulate(one_node, "mixtral-8x7b", tp=2, ep=8)
    r = simulate("dgx-h100", "mixtral-8x7b", tp=2, ep=8)
    assert r.summary["devices"] == 16 and r.summary["nodes"] == 2
    assert r.config["system"]["interconnect"]["nodes"] == 2


def test_wafer_rejects_ep():
    with pytest.raises(ConfigError, match="ep"):
        simulate("wse3", "mixtral-8x7b", ep=2)


def test_mixtral_fits_with_ep8_not_tp1():
    assert not simulate("dgx-h100", "mixtral-8x7b", tp=1).summary["fits_on_chip"]
    r = simulate("dgx-h100", "mixtral-8x7b", ep=8)
    assert r.summary["fits_on_chip"] and r.summary["devices"] == 8 and r.summary["ep"] == 8


def test_weights_per_gpu_split_experts_replicate_attention():
    m = wafersim.load_model("mixtral-8x7b")
    g = wafersim.load_system("dgx-h100")
    e = GpuMemory(g, m, Scenario(ep=8).resolved(m))
    dense = m.attention_params + m.router_params + m.norm_params_per_layer
    expected = (m.num_layers * (dense + m.expert_params) + m.embedding_params + m.lm_head_params) * 2
    assert e.weight_bytes_per_gpu() == pytest.approx(expected)


def test_all_to_all_in_interconnect_component():
    m = wafersim.load_model("mixtral-8x7b")
    r = simulate("dgx-h100", m, ep=8, batch=16)
    assert r.summary["alltoall_algorithm"] == "direct"
    assert r.summary["allreduce_algorithm"] == "none"
    # tp = 1, pp = 1: the only traffic is the two all-to-alls per layer
    e = AnalyticGpu(wafersim.load_system("dgx-h100"), m, Scenario(ep=8, batch=16).resolved(m))
    nbytes = 2 * m.hidden_size * 2 * m.experts_per_token    # 2 local sequences, bf16 activations
    assert e.all_to_all_bytes(2) == nbytes
    per_layer = 2 * e.collective("all_to_all", nbytes, 8)
    assert r.decode.components["interconnect"] == pytest.approx(m.num_layers * per_layer, rel=1e-9, abs=0)
    assert per_layer > 0


def test_ep1_keeps_every_expert_on_each_tensor_parallel_gpu():
    """Without expert ranks (ep = 1) each of the 8 tensor-parallel GPUs holds 1/8 of every
    expert and reads 1/8 of each expert the batch touches; no all-to-all, and --batch max is
    what one GPU's KV capacity holds (not multiplied by ep).  (The roofline kernel model,
    whose HBM time is the bytes over the bandwidth.)"""
    g = wafersim.load_system("dgx-h100", {"gpu.kernel_model": "roofline"})
    m = wafersim.load_model("mixtral-8x7b")
    d, f, layers, batch, prompt, out = 4096, 14336, 32, 4, 1000, 1
    dense = d * (4096 + 2 * 1024) + 4096 * d + 8 * d + 2 * d          # attention, router, norms
    expert = 3 * d * f
    touched = 8 * (1 - (1 - 2 / 8) ** batch)
    kv = batch * (prompt + 1.0) * 2 * 1024 * 2 / 8
    r = simulate(g, m, tp=8, ep=1, batch=batch, prompt_tokens=prompt, output_tokens=out)
    hbm = layers * ((dense + touched * expert) * 2 / 8 + kv) / (g.gpu.hbm_bandwidth_bytes_per_s * g.efficiency.memory)
    assert r.decode.components["hbm_bandwidth"] == pytest.approx(hbm, rel=1e-9, abs=0)
    assert r.summary["alltoall_algorithm"] == "none" and r.summary["devices"] == 8
    weights = (layers * (dense + 8 * expert) + 2 * 32000 * d) * 2 / 8
    cap = g.gpu.hbm_bytes * (1 - g.efficiency.workspace_fraction) - weights
    assert r.summary["kv_capacity_per_gpu_bytes"] == pytest.approx(cap, rel=1e-9, abs=0)
    per_seq = (prompt + out) * layers * 2 * 1024 * 2 / 8
    assert r.summary["max_batch"] == int(cap // per_seq)


def test_cli_ep(capsys):
    assert main(["run", "dgx-h100", "mixtral-8x7b", "--ep", "8", "--json"]) == 0
    assert '"ep": 8' in capsys.readouterr().out
    assert main(["compare", "wse3", "dgx-h100", "mixtral-8x7b", "--ep", "4", "--tp", "2"]) == 0


def test_ranks_without_sequences_spend_no_sequence_energy():
    """One sequence on 8 expert-parallel ranks reads the same bytes as on 8 tensor-parallel GPUs:
    the attention weights and KV once, every touched expert once."""
    ep = simulate("dgx-h100", "mixtral-8x7b", batch=1, prompt_tokens=8192, ep=8).summary
    tp = simulate("dgx-h100", "mixtral-8x7b", batch=1, prompt_tokens=8192, tp=8).summary
    assert ep["energy_hbm_j"] == pytest.approx(tp["energy_hbm_j"], rel=0.02)
