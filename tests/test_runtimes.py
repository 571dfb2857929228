"""Serving-runtime profiles: loading, layering over presets, the CLI and the validation rows."""

import json
from pathlib import Path

import pytest

import wafersim
from wafersim.cli import main
from wafersim.config import ConfigError
from wafersim.hardware.runtime import RUNTIME_CLASSES
from wafersim.presets import (DEFAULT_RUNTIME, list_presets, load_runtime, load_system, runtime_for_class,
                              with_runtime)
from wafersim.validation import MEASUREMENTS, load_measurements

RUNTIMES = list_presets("runtimes")


@pytest.mark.parametrize("name", RUNTIMES)
def test_every_profile_loads_and_applies_to_a_system(name):
    rt = load_runtime(name)
    assert rt.runtime_class in RUNTIME_CLASSES
    for kind, system in (("gpu", "dgx-h100"), ("wafer", "wse3")):
        if rt.applies_to(kind):
            spec = load_system(system, runtime=name)
            assert spec.provenance.runtime["name"] == name


def test_the_typical_default_keeps_the_gpu_presets_values():
    # the typical profile repeats what every GPU preset's [efficiency] table holds
    typical = load_runtime("typical").overrides_for("gpu")
    for name in list_presets("meshes"):
        raw = wafersim.config.load_toml(wafersim.presets.find_preset(name, "meshes"))
        if raw.get("kind") != "gpu":
            continue
        for key in ("memory", "kernels_per_layer"):
            assert typical[f"efficiency.{key}"] == raw["efficiency"][key], (name, key)


def test_runtime_values_lay_over_the_preset_and_set_wins():
    h100 = load_system("dgx-h100", runtime="best-known")
    assert h100.efficiency.memory == 0.78 and h100.efficiency.kernels_per_layer == 1
    assert h100.gpu == load_system("dgx-h100").gpu
    mine = load_system("dgx-h100", {"efficiency.memory": 0.5}, runtime="best-known")
    assert mine.efficiency.memory == 0.5
    rt = load_system("dgx-h100", runtime="best-known", runtime_overrides={"efficiency.memory": 0.6})
    assert rt.efficiency.memory == 0.6
    assert "runtime.efficiency.memory=0.6" in rt.provenance.runtime["set"]
    again = with_runtime(mine, "ideal")
    assert again.efficiency.memory == 0.5 and again.efficiency.gemm == 1.0


def test_a_faster_runtime_is_faster_and_the_result_names_it():
    slow = wafersim.simulate("dgx-h100", "llama-3.1-8b", batch=1, runtime="typical").summary
    fast = wafersim.simulate("dgx-h100", "llama-3.1-8b", batch=1, runtime="ideal").summary
    assert fast["tpot_s"] < slow["tpot_s"] and fast["ttft_s"] < slow["ttft_s"]
    assert (slow["runtime"], slow["runtime_class"]) == ("typical", "typical")
    assert (fast["runtime"], fast["runtime_class"]) == ("ideal", "ideal")


def test_request_overhead_and_step_cost_add_where_they_belong():
    base = wafersim.simulate("dgx-h100", "llama-3.1-8b", batch=8, prompt_tokens=128, output_tokens=16).summary
    sys = load_system("dgx-h100", runtime_overrides={"efficiency.request_overhead_s": "3 ms",
                                                     "efficiency.step_overhead_s": "100 us",
                                                     "efficiency.step_overhead_per_seq_s": "10 us"})
    more = wafersim.simulate(sys, "llama-3.1-8b", batch=8, prompt_tokens=128, output_tokens=16).summary
    step = 100e-6 + 8 * 10e-6
    assert more["tpot_s"] - base["tpot_s"] == pytest.approx(step)
    assert more["ttft_s"] - base["ttft_s"] == pytest.approx(3e-3 + step)
    s = more
    assert s["request_tokens_per_s"] == pytest.approx(8 * 16 / (s["ttft_s"] + 15 * s["tpot_s"]))


def test_errors_name_the_profile_and_the_key(tmp_path):
    with pytest.raises(ConfigError, match="no settings for wafer"):
        load_system("wse3", runtime="typical")
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "runtime"\nname = "bad"\nclass = "typical"\n[gpu.efficiency]\nmemroy = 0.5\n')
    with pytest.raises(ConfigError, match="gpu.efficiency.memroy"):
        load_runtime(str(bad))
    bad.write_text('kind = "runtime"\nname = "bad"\nclass = "typical"\n[gpu.efficiency]\nmemory = 1.5\n')
    with pytest.raises(ConfigError, match="runtime bad"):
        load_system("dgx-h100", runtime=str(bad))
    with pytest.raises(ConfigError, match="no typical runtime profile for wafer"):
        runtime_for_class("wafer", "typical")


def test_compare_runs_one_class_by_default_and_crosses_on_request(capsys):
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--prompt", "128", "--output", "8"]) == 0
    out = capsys.readouterr().out
    assert "both sides best-known software (the default)" in out
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--prompt", "128", "--output", "8",
                 "--runtime-b", "typical", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["b"]["runtime_class"] == "typical" and "across classes" in data["runtime"]["text"]


def test_run_takes_runtime_and_presets_lists_runtimes(capsys):
    assert main(["run", "dgx-h100", "llama-3.1-8b", "--runtime", "trtllm", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runtime"] == "trtllm"
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "serving runtimes (runtimes/)" in out and "[best-known; gpu]" in out


def test_no_row_sets_model_parameters_and_gpu_rows_name_their_runtime():
    rows = load_measurements(MEASUREMENTS)
    for r in rows:
        assert all(k.startswith("mapping.") for k in r.overrides), r.id
    gpu = [r for r in rows if load_system(r.system).kind == "gpu"]
    assert all(r.runtime for r in gpu)
    assert len(gpu) >= 40 and len({r.group for r in gpu}) >= 4     # independent publishers
    assert len({r.system for r in gpu}) >= 4


def test_a_row_that_sets_a_parameter_is_refused(tmp_path):
    table = tmp_path / "t.toml"
    table.write_text('[[row]]\nid = "x"\nsystem = "dgx-h100"\nmodel = "llama-3.1-8b"\nmetric = "ttft_s"\n'
                     'value = 1.0\nsource = "s"\nset = { "system.efficiency.memory" = 0.5 }\n')
    with pytest.raises(ConfigError, match="never a model parameter"):
        load_measurements(table)


def test_the_scheduler_limit_caps_batch_max():
    free = wafersim.simulate("dgx-h100", "llama-3.1-8b", batch="max", prompt_tokens=128, output_tokens=16)
    capped = wafersim.simulate(load_system("dgx-h100", runtime_overrides={"efficiency.max_batch": 8}),
                               "llama-3.1-8b", batch="max", prompt_tokens=128, output_tokens=16)
    assert free.summary["batch"] > 8 and capped.summary["batch"] == 8


def test_validate_runs_every_row_with_one_runtime(tmp_path, capsys):
    table = tmp_path / "t.toml"
    table.write_text('[[row]]\nid = "x"\nsystem = "dgx-h100"\nmodel = "llama-3.1-8b"\nruntime = "typical"\n'
                     'metric = "tokens_per_s_per_user"\nvalue = 100.0\nsource = "s"\n')
    assert main(["validate", "--table", str(table), "--json"]) == 0
    typical = json.loads(capsys.readouterr().out)["rows"][0]
    assert main(["validate", "--table", str(table), "--runtime", "ideal", "--json"]) == 0
    ideal = json.loads(capsys.readouterr().out)["rows"][0]
    assert (typical["runtime"], ideal["runtime"]) == ("typical", "ideal")
    assert ideal["predicted"] > typical["predicted"] and ideal["loso_predicted"] is None
