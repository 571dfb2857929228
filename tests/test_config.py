"""Every rejected input names the file, the key and what was expected."""

import shutil
from pathlib import Path

import pytest

import wafersim
from wafersim.cli import main
from wafersim.config import ConfigError
from wafersim.presets import find_preset


def _copy(tmp_path: Path, name: str, folder: str, edit) -> Path:
    src = find_preset(name, folder)
    dst = tmp_path / f"{name}-edited.toml"
    shutil.copy(src, dst)
    dst.write_text(edit(dst.read_text()))
    return dst


@pytest.mark.parametrize("overrides,key,expect", [
    ({"core.sram_bytes": "1.1 GHz"}, "core.sram_bytes", "bytes"),            # wrong unit
    ({"core.sram_bytes": "-48 KiB"}, "core.sram_bytes", "> 0"),             # negative size
    ({"core.sram_bytes": 0}, "core.sram_bytes", "> 0"),                      # zero size
    ({"core.clock_hz": "fast"}, "core.clock_hz", "frequency"),
    ({"mesh.dies_x": 5}, "mesh.dies_x", "tile"),                             # die grid does not tile
    ({"mesh.cores_y": 757}, "mesh.dies_y", "tile"),
    ({"mesh.cores_x": 0}, "mesh.cores_x", "integer >= 1"),
    ({"core.sram_bandwith": "1 TB/s"}, "core.sram_bandwith", "unknown key"),  # unknown key
    ({"calibration.compute_efficiency": 1.5}, "calibration.compute_efficiency", "<= 1"),
    ({"mesh": 3}, "mesh", "table"),
])
def test_wafer_rejections_name_the_key(overrides, key, expect):
    with pytest.raises(ConfigError) as info:
        wafersim.load_system("wse3", overrides)
    assert info.value.key == key
    assert f"'{key}'" in str(info.value) and expect in str(info.value)
    assert "wse3.toml" in str(info.value)


@pytest.mark.parametrize("overrides,key,expect", [
    ({"num_heads": 5}, "num_heads", "divide hidden_size"),                   # heads do not divide d
    ({"num_kv_heads": 5}, "num_kv_heads", "divide num_heads"),
    ({"num_layers": -2}, "num_layers", "integer >= 1"),
    ({"mlp": "swiglu"}, "mlp", "gated, plain"),
    ({"dtype": "fp4"}, "dtype", "one of"),
    ({"experts_per_token": 2}, "experts_per_token", "<= num_experts"),
    ({"hidden": 4096}, "hidden", "unknown key"),
])
def test_model_rejections_name_the_key(overrides, key, expect):
    with pytest.raises(ConfigError) as info:
        wafersim.load_model("llama-3.1-8b", overrides)
    assert info.value.key == key and expect in str(info.value)


def test_missing_key_is_named(tmp_path):
    path = _copy(tmp_path, "dgx-h100", "meshes", lambda t: t.replace('hbm_bytes = "80 GB"', ""))
    with pytest.raises(ConfigError) as info:
        wafersim.load_system(path)
    assert info.value.key == "gpu.hbm_bytes" and "missing" in str(info.value) and str(path) in str(info.value)


def test_missing_table_is_named(tmp_path):
    path = _copy(tmp_path, "wse3", "meshes", lambda t: t.replace("[scribe]", "[scribe_links]"))
    with pytest.raises(ConfigError) as info:
        wafersim.load_system(path)
    assert info.value.key in ("scribe", "scribe_links")


def test_bad_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("kind = 'wafer'\nname = \n")
    with pytest.raises(ConfigError, match="broken.toml.*not valid TOML"):
        wafersim.load_system(path)


def test_unknown_preset_lists_known():
    with pytest.raises(ConfigError, match="known presets:.*wse3"):
        wafersim.load_system("wse9")


def test_kind_must_be_known(tmp_path):
    path = _copy(tmp_path, "wse3", "meshes", lambda t: t.replace('kind = "wafer"', 'kind = "tpu"'))
    with pytest.raises(ConfigError) as info:
        wafersim.load_system(path)
    assert info.value.key == "kind"


def test_set_override_changes_the_field():
    base = wafersim.load_system("wse3")
    bigger = wafersim.load_system("wse3", {"core.sram_bytes": "96 KiB"})
    assert bigger.core.sram_bytes == 2 * base.core.sram_bytes


def test_specs_are_frozen():
    spec = wafersim.load_system("wse3")
    with pytest.raises(AttributeError):
        spec.core.sram_bytes = 1


@pytest.mark.parametrize("argv,key", [
    (["run", "wse3", "llama-3.1-8b", "--set", "system.core.sram_bytes=3 GHz"], "core.sram_bytes"),
    (["run", "wse3", "llama-3.1-8b", "--set", "model.num_heads=7"], "num_heads"),
    (["run", "wse3", "llama-3.1-8b", "--set", "mapping.placement=diagonal"], "placement"),
    (["run", "wse3", "llama-3.1-8b", "--set", "core.sram_bytes=1"], "core.sram_bytes"),
    (["run", "wse3", "llama-3.1-8b", "--layers", "99"], "layers"),
    (["run", "wse3", "llama-3.1-8b", "--cores", "9000x9000"], "cores"),
    (["run", "wse3", "llama-3.1-8b", "--cores", "big"], "cores"),
    (["run", "dgx-h100", "llama-3.1-8b", "--tp", "512"], "tp"),
    (["run", "wse3", "llama-3.1-8b", "--dtype", "fp4"], "dtype"),
])
def test_cli_errors_name_the_key(argv, key, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"'{key}'" in err and "Traceback" not in err


def test_set_that_breaks_a_neighbours_check_is_named(capsys):
    assert main(["run", "wse3", "llama-3.1-8b", "--set", "system.mesh.cores_x=1177"]) == 2
    err = capsys.readouterr().err
    assert "--set system.mesh.cores_x=1177" in err and "'mesh.dies_x'" in err
