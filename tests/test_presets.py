"""Every shipped preset loads, and its numbers match the published figures."""

from __future__ import annotations

import pytest

import wafersim
from wafersim.hardware.gpu import GpuSystemSpec
from wafersim.hardware.wafer import WaferSpec
from wafersim.workload.model import ModelSpec

MESHES = wafersim.list_presets("meshes")
WORKLOADS = wafersim.list_presets("workloads")
#: presets of Llama-style layers, all alike (no [attention] or [moe] table): the closed form below
#: covers them; tests/workload/test_served_models.py covers the others
PLAIN = [n for n in WORKLOADS
         if (m := wafersim.load_model(n)).attention == type(m.attention)() and m.moe == type(m.moe)()]

EXPECTED_MESHES = {
    "wse2", "wse3", "mini-wafer",
    "dgx-a100", "dgx-h100", "hgx-h200", "dgx-b200", "gb200-nvl72", "pcie-8x-l40s",
}
EXPECTED_WORKLOADS = {
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-2-7b", "llama-2-13b",
    "codellama-34b", "qwen2-72b", "gpt-j-6b", "mixtral-8x7b", "llama-3.2-1b",
}

GB = 1e9
TB = 1e12


# ---- (1) everything loads --------------------------------------------------------

def test_expected_presets_are_shipped():
    assert EXPECTED_MESHES <= set(MESHES), f"missing: {sorted(EXPECTED_MESHES - set(MESHES))}"
    assert EXPECTED_WORKLOADS <= set(WORKLOADS), f"missing: {sorted(EXPECTED_WORKLOADS - set(WORKLOADS))}"


@pytest.mark.parametrize("name", MESHES)
def test_mesh_preset_loads(name):
    spec = wafersim.load_system(name)
    assert isinstance(spec, (WaferSpec, GpuSystemSpec))
    assert spec.name == name, "the name inside a preset should match its file name"
    assert spec.description
    summary = spec.summary()
    assert summary["name"] == name


@pytest.mark.parametrize("name", WORKLOADS)
def test_workload_preset_loads(name):
    model = wafersim.load_model(name)
    assert isinstance(model, ModelSpec)
    assert model.name == name, "the name inside a preset should match its file name"
    assert model.source, "a model preset should say where its shapes come from"
    assert model.param_count > 0
    assert model.active_param_count <= model.param_count


# ---- (2) parameter counts against published figures -------------------------------

PUBLISHED_PARAMS = {
    # Meta, Llama 3.1 model card
    "llama-3.1-8b": 8.03e9,
    "llama-3.1-70b": 70.6e9,
    "llama-3.1-405b": 405.9e9,
    # Meta, Llama 3.2 model card: 1.23 B (tied embeddings)
    "llama-3.2-1b": 1.23e9,
    # Mistral AI, "Mixtral of experts" (2024): 46.7 B total
    "mixtral-8x7b": 46.7e9,
    # Touvron et al., "Llama 2" (2023) / Meta Llama 2 model card: 6.74 B and 13.0 B
    "llama-2-7b": 6.74e9,
    "llama-2-13b": 13.0e9,
    # Meta, Code Llama model card: 33.7 B
    "codellama-34b": 33.7e9,
    # Qwen, Qwen2-72B model card: 72.7 B
    "qwen2-72b": 72.7e9,
    # EleutherAI, GPT-J 6B model card: 6,053,381,344
    "gpt-j-6b": 6.05e9,
}

PUBLISHED_ACTIVE_PARAMS = {
    # Mistral AI, "Mixtral of experts" (2024): 12.9 B active per token
    "mixtral-8x7b": 12.9e9,
}


@pytest.mark.parametrize("name,published", sorted(PUBLISHED_PARAMS.items()))
def test_param_count_matches_published(name, published):
    model = wafersim.load_model(name)
    assert model.param_count == pytest.approx(published, rel=0.005)


@pytest.mark.parametrize("name,published", sorted(PUBLISHED_ACTIVE_PARAMS.items()))
def test_active_param_count_matches_published(name, published):
    model = wafersim.load_model(name)
    assert model.active_param_count == pytest.approx(published, rel=0.005)


@pytest.mark.parametrize("name", PLAIN)
def test_parameter_counts_from_the_shape_fields(name):
    """Total and active parameters written out from each preset's shape fields (docs/models.md):
    a dense model touches every parameter, a mixture only its routed experts."""
    m = wafersim.load_model(name)
    d, f, v, hd = m.hidden_size, m.ffn_size, m.vocab_size, m.head_dim or m.hidden_size // m.num_heads
    q, kv = m.num_heads * hd, m.num_kv_heads * hd
    attention = d * (q + 2 * kv) + q * d + (q + 2 * kv if m.qkv_bias else 0) + (d if m.out_bias else 0)
    mats = 3 if m.mlp == "gated" else 2
    mlp = mats * d * f + ((mats - 1) * f + d if m.mlp_bias else 0)
    norm = d * (2 if m.norm == "layer" else 1)
    router = d * m.num_experts if m.num_experts > 1 else 0
    ends = v * d + (0 if m.tie_embeddings else v * d) + (v if m.lm_head_bias else 0) + norm
    total = m.num_layers * (attention + m.num_experts * mlp + router + m.norms_per_layer * norm) + ends
    active = m.num_layers * (attention + m.experts_per_token * mlp + router + m.norms_per_layer * norm) + ends
    assert m.param_count == total
    assert m.active_param_count == active
    assert (active == total) == (m.num_experts == 1)


def test_mixtral_is_a_two_of_eight_mixture():
    model = wafersim.load_model("mixtral-8x7b")
    assert (model.num_experts, model.experts_per_token) == (8, 2)
    # one token reads far less than the whole model
    assert model.active_param_count / model.param_count == pytest.approx(12.9 / 46.7, rel=0.01)


def test_gpt_j_shape():
    model = wafersim.load_model("gpt-j-6b")
    assert model.hd == 256 == model.hidden_size // model.num_heads
    assert (model.mlp, model.norm, model.norms_per_layer) == ("plain", "layer", 1)
    assert model.parallel_block and model.mlp_bias and model.lm_head_bias
    # MLP biases: fc_in (f) + fc_out (d)
    d, f = model.hidden_size, model.ffn_size
    assert model.expert_params == 2 * d * f + f + d


# ---- (3) KV-cache bytes per token, computed by hand ----------------------------------

def test_kv_bytes_llama_3_1_8b_bf16():
    # 2 (K and V) x 32 layers x 8 KV heads x 128 head width x 2 bytes
    assert wafersim.load_model("llama-3.1-8b").kv_bytes_per_token() == 2 * 32 * 8 * 128 * 2 == 131072


def test_kv_bytes_llama_2_7b_fp16():
    # 2 (K and V) x 32 layers x 32 KV heads (no GQA) x 128 head width x 2 bytes
    model = wafersim.load_model("llama-2-7b")
    assert model.dtype == "fp16"
    assert model.kv_bytes_per_token() == 2 * 32 * 32 * 128 * 2 == 524288


def test_kv_bytes_follow_dtype():
    model = wafersim.load_model("llama-3.1-70b")
    assert model.kv_bytes_per_token("fp8") == model.kv_bytes_per_token("bf16") / 2


# ---- (4) GPU datasheet spot checks -------------------------------------------------

# name: (GPUs, HBM bytes per GPU, HBM bandwidth per GPU, dense BF16 FLOP/s)
GPU_DATASHEET = {
    "dgx-a100": (8, 80 * GB, 2.0 * TB, 312e12),        # NVIDIA A100 datasheet
    "dgx-h100": (8, 80 * GB, 3.35 * TB, 989e12),       # NVIDIA H100 datasheet
    "hgx-h200": (8, 141 * GB, 4.8 * TB, 989e12),       # NVIDIA H200 launch notes
    "dgx-b200": (8, 180 * GB, 8.0 * TB, 2250e12),      # MLPerf B200 system files; stas00
    "gb200-nvl72": (72, 186 * GB, 8.0 * TB, 2500e12),  # MLPerf GB200 system file; NVIDIA rack figures
    "pcie-8x-l40s": (8, 48 * GB, 864 * GB, 362e12),    # NVIDIA L40S datasheet
}


@pytest.mark.parametrize("name,expected", sorted(GPU_DATASHEET.items()))
def test_gpu_preset_matches_datasheet(name, expected):
    gpus, hbm, bw, bf16 = expected
    spec = wafersim.load_system(name)
    assert isinstance(spec, GpuSystemSpec)
    assert spec.num_gpus == gpus
    assert spec.gpu.hbm_bytes == pytest.approx(hbm)
    assert spec.gpu.hbm_bandwidth_bytes_per_s == pytest.approx(bw)
    assert spec.gpu.bf16_flops_per_s == pytest.approx(bf16)


def test_every_gpu_preset_is_spot_checked():
    gpu_presets = {n for n in MESHES if isinstance(wafersim.load_system(n), GpuSystemSpec)}
    assert gpu_presets <= set(GPU_DATASHEET), f"add datasheet checks for {sorted(gpu_presets - set(GPU_DATASHEET))}"


@pytest.mark.parametrize("name,per_direction,links,switches,sharp", [
    ("dgx-a100", 300 * GB, 12, 6, False),   # NVLink3: 600 GB/s both ways
    ("dgx-h100", 450 * GB, 18, 4, True),    # NVLink4
    ("hgx-h200", 450 * GB, 18, 4, True),    # NVLink4, same as H100
    ("dgx-b200", 900 * GB, 18, 2, True),    # NVLink5
    ("gb200-nvl72", 900 * GB, 18, 18, True),  # NVLink5, 9 switch trays x 2 chips
])
def test_nvlink_systems(name, per_direction, links, switches, sharp):
    ic = wafersim.load_system(name).interconnect
    assert ic.topology == "nvswitch"
    assert ic.nvlink_bandwidth_bytes_per_s == pytest.approx(per_direction)
    assert ic.nvlink_links_per_gpu == links
    assert ic.nvswitch_chips == switches
    assert ic.in_switch_reduction is sharp


def test_a100_has_no_fp8():
    gpu = wafersim.load_system("dgx-a100").gpu
    assert gpu.fp8_flops_per_s == 0
    assert gpu.flops_per_s("fp8") == gpu.bf16_flops_per_s


def test_fp8_is_twice_bf16_where_supported():
    for name in ("dgx-h100", "hgx-h200", "dgx-b200", "gb200-nvl72", "pcie-8x-l40s"):
        gpu = wafersim.load_system(name).gpu
        assert gpu.fp8_flops_per_s == pytest.approx(2 * gpu.bf16_flops_per_s, rel=0.02), name


def test_pcie_box_has_no_nvlink():
    spec = wafersim.load_system("pcie-8x-l40s")
    ic = spec.interconnect
    assert ic.topology == "pcie"
    assert ic.nvlink_bandwidth_bytes_per_s == 0
    assert ic.nvlink_links_per_gpu == 0
    assert ic.nvswitch_chips == 0
    assert not ic.in_switch_reduction
    assert ic.pcie_bandwidth_bytes_per_s == pytest.approx(31.5 * GB)  # Gen4 x16 per direction


def test_h200_differs_from_h100_only_in_memory():
    h100, h200 = wafersim.load_system("dgx-h100"), wafersim.load_system("hgx-h200")
    assert h200.gpu.bf16_flops_per_s == h100.gpu.bf16_flops_per_s
    assert h200.gpu.fp8_flops_per_s == h100.gpu.fp8_flops_per_s
    assert h200.interconnect.nvlink_bandwidth_bytes_per_s == h100.interconnect.nvlink_bandwidth_bytes_per_s
    assert h200.gpu.hbm_bytes > h100.gpu.hbm_bytes


def test_a100_efficiencies_from_measurements():
    eff = wafersim.load_system("dgx-a100").efficiency
    assert eff.gemm == pytest.approx(271 / 312, abs=0.005)   # stas00 MAMF
    assert eff.collective == pytest.approx(235 / 300, abs=0.005)  # measured bus bandwidth


# ---- wafers ---------------------------------------------------------------------------

def test_wse2_shape():
    spec = wafersim.load_system("wse2")
    assert isinstance(spec, WaferSpec)
    mesh = spec.mesh
    # SDK fabric grid 757 x 996, rounded down so the 12 x 7 die grid tiles it
    assert (mesh.cores_x, mesh.cores_y) == (996, 756)
    assert mesh.cores_x <= 996 and mesh.cores_y <= 757
    assert mesh.cores_x % mesh.dies_x == 0 and mesh.cores_y % mesh.dies_y == 0
    assert (mesh.dies_x, mesh.dies_y) == (12, 7)
    assert spec.cores <= 850_000
    assert spec.core.flops_per_cycle_16bit == 8       # 4-wide FP16 SIMD x FMA
    assert spec.core.clock_hz == pytest.approx(1.1e9)
    assert spec.core.sram_bytes == 48 * 1024
    assert spec.external_memory.io_bandwidth_bytes_per_s == pytest.approx(1.2e12 / 8)
    assert spec.calibration.collective_step_cycles == wafersim.load_system("wse3").calibration.collective_step_cycles


def test_wse2_is_half_the_per_core_compute_of_wse3():
    wse2, wse3 = wafersim.load_system("wse2"), wafersim.load_system("wse3")
    assert wse3.core.flops_per_cycle_16bit == 2 * wse2.core.flops_per_cycle_16bit
    assert wse2.sram_bytes < wse3.sram_bytes


def test_mini_wafer_is_a_small_wse3_like_fixture():
    mini, wse3 = wafersim.load_system("mini-wafer"), wafersim.load_system("wse3")
    assert (mini.mesh.cores_x, mini.mesh.cores_y) == (16, 16)
    assert (mini.mesh.dies_x, mini.mesh.dies_y) == (2, 2)
    assert (mini.mesh.die_cores_x, mini.mesh.die_cores_y) == (8, 8)
    assert mini.core == wse3.core
    assert "test fixture" in mini.description.lower()


def _peak_power(spec):
    """Static power plus dynamic power at peak memory bandwidth and peak FLOPs."""
    e = spec.energy
    if spec.kind == "wafer":
        return e.static_power_w + spec.sram_bandwidth_bytes_per_s * 8 * e.sram_j_per_bit + spec.peak_flops("bf16") * e.flop_j
    g = spec.gpu
    return e.static_power_w + g.hbm_bandwidth_bytes_per_s * 8 * e.hbm_j_per_bit + g.bf16_flops_per_s * e.flop_j


@pytest.mark.parametrize("name", wafersim.list_presets("meshes"))
def test_energies_fit_the_power_envelope(name):
    """Per-operation energies and static power must not add up to more than the chip can draw."""
    spec = wafersim.load_system(name)
    assert spec.energy.tdp_w > 0, f"{name}: give energy.tdp_w"
    assert _peak_power(spec) <= 1.05 * spec.energy.tdp_w
    assert _peak_power(spec) >= 0.6 * spec.energy.tdp_w      # and not far below it


# ---- a misspelt name or key names the nearest valid ones -------------------------------------

@pytest.mark.parametrize("load,typed,meant", [
    (wafersim.load_system, "wse-3", "wse3"),
    (wafersim.load_model, "llama3.1-8b", "llama-3.1-8b"),
    (wafersim.load_runtime, "waferlm", "waferllm"),
])
def test_a_misspelt_preset_names_the_nearest(load, typed, meant):
    with pytest.raises(wafersim.ConfigError) as info:
        load(typed)
    assert f"no preset named {typed!r}" in str(info.value)
    assert f"did you mean {meant}?" in str(info.value)       # the nearest alone, not every near one


def test_a_misspelt_draft_and_a_far_name(capsys):
    from wafersim.cli import main
    assert main(["run", "dgx-h100", "llama-3.1-8b", "--speculative", "2", "--acceptance", "0.5",
                 "--draft", "llama-3.2-1"]) == 2
    assert "did you mean llama-3.2-1b?" in capsys.readouterr().err
    assert main(["run", "wse-3", "llama-3.1-8b"]) == 2
    assert "no preset named 'wse-3' in meshes/; did you mean wse3?" in capsys.readouterr().err
    with pytest.raises(wafersim.ConfigError) as info:
        wafersim.load_system("zzzzzz")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("overrides,meant", [
    ({"core.sram_byte": 1}, "core.sram_bytes"),              # a typo in the key
    ({"sram_bytes": 1}, "core.sram_bytes"),                   # the table left out
    ({"cor.sram_bytes": 1}, "core.sram_bytes"),               # a typo in the table
    ({"unit_price_usd": 1}, "deployment.unit_price_usd"),
])
def test_an_unknown_key_names_the_nearest_in_the_python_api(overrides, meant):
    with pytest.raises(wafersim.ConfigError, match="unknown key") as info:
        wafersim.load_system("wse3", overrides)
    assert f"did you mean {meant}" in str(info.value)       # the nearest first (others may follow)


def test_an_unknown_key_names_the_nearest_in_run_compare_runtime_and_sweep_specs(capsys):
    from wafersim.cli import main
    from wafersim.sweep.points import plan
    from wafersim.sweep.spec import parse_spec
    assert main(["run", "wse3", "llama-3.1-8b", "--set", "model.num_layer=3"]) == 2
    assert "did you mean num_layers?" in capsys.readouterr().err
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--set", "a.core.sram_byts=1"]) == 2
    assert "did you mean core.sram_bytes?" in capsys.readouterr().err
    assert main(["run", "dgx-h100", "llama-3.1-8b", "--set", "runtime.efficiency.memroy=0.5"]) == 2
    assert "did you mean efficiency.memory?" in capsys.readouterr().err
    assert main(["run", "wse3", "llama-3.1-8b", "--set", "sytem.core.sram_bytes=1"]) == 2
    assert "did you mean system.core.sram_bytes?" in capsys.readouterr().err
    spec = parse_spec("system = 'wse3'\nmodel = 'llama-3.1-8b'\n[set]\n'system.core.sram_byts' = 1\n"
                      "[axes]\nbatch = [1]\n", "t.toml")
    with pytest.raises(wafersim.ConfigError, match=r"did you mean core\.sram_bytes\?"):
        plan(spec)
