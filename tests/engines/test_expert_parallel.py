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
    with pytest.raises(ConfigError, match="tp x pp x ep = 16"):
        simulate("dgx-h100", "mixtral-8x7b", tp=2, ep=8)


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
    assert r.decode.components["interconnect"] == pytest.approx(m.num_layers * per_layer, rel=1e-9)
    assert per_layer > 0


def test_ep1_matches_previous_model():
    a = simulate("dgx-h100", "mixtral-8x7b", tp=8)
    b = simulate("dgx-h100", "mixtral-8x7b", tp=8, ep=1)
    assert a.summary["tpot_s"] == b.summary["tpot_s"]


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
