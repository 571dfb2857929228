"""Presets that build on other presets (``base = ...``), and the provenance every
loaded spec and every result carries: preset file, base chain, ``--set`` overrides."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import pytest

import wafersim
from wafersim.cli import main
from wafersim.config import ConfigError, build, load_toml, to_dict
from wafersim.hardware.wafer import WaferSpec
from wafersim.presets import find_preset
from wafersim.provenance import PresetFile, record
from wafersim.results.hdf5 import read_provenance

DATA = Path(__file__).resolve().parent / "data"
EXAMPLE = DATA / "wse3-96k.toml"
WSE3 = find_preset("wse3", "meshes").resolve()
KiB = 1024


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- inheritance -----------------------------------------------------------------

def test_inherit_from_a_preset_name_changes_only_what_the_child_says():
    base = wafersim.load_system("wse3")
    child = wafersim.load_system(EXAMPLE)
    assert child.core.sram_bytes == 96 * KiB and base.core.sram_bytes == 48 * KiB
    # everything else, including the rest of the [core] table, comes from wse3
    expected = dataclasses.replace(base, name="wse3-96k", core=dataclasses.replace(base.core, sram_bytes=96 * KiB))
    assert child == expected
    assert child.provenance.bases == (PresetFile("wse3", "meshes/wse3.toml"),)
    assert child.provenance.path == str(EXAMPLE)


def test_inherit_from_a_path_relative_to_the_file_not_the_working_directory(tmp_path, monkeypatch):
    write(tmp_path / "parts" / "fast.toml", 'base = "wse3"\nname = "fast"\n[core]\nclock_hz = "1.5 GHz"\n')
    child = write(tmp_path / "child.toml", 'base = "parts/fast.toml"\n')
    monkeypatch.chdir(tmp_path / "parts")          # "parts/fast.toml" does not exist from here
    spec = wafersim.load_system(child)
    assert spec.core.clock_hz == pytest.approx(1.5e9)
    assert spec.name == "child"
    assert [b.name for b in spec.provenance.bases] == ["fast", "wse3"]


def test_a_chain_of_two_merges_in_order_and_the_child_wins(tmp_path):
    write(tmp_path / "mid.toml", 'base = "wse3"\n[core]\nclock_hz = "1.5 GHz"\nsram_bytes = "64 KiB"\n')
    write(tmp_path / "top.toml", 'base = "mid.toml"\n[core]\nsram_bytes = "96 KiB"\n')
    spec = wafersim.load_system(tmp_path / "top.toml")
    assert spec.core.sram_bytes == 96 * KiB                 # the child's value over the middle one
    assert spec.core.clock_hz == pytest.approx(1.5e9)        # the middle preset's value over wse3's
    assert spec.mesh == wafersim.load_system("wse3").mesh    # the root's tables
    assert [(b.name, b.path) for b in spec.provenance.bases] == [
        ("mid", str((tmp_path / "mid.toml").resolve())), ("wse3", "meshes/wse3.toml")]


def test_model_presets_inherit_too(tmp_path):
    path = write(tmp_path / "llama-16.toml", 'base = "llama-3.1-8b"\nnum_layers = 16\n')
    model = wafersim.load_model(path)
    base = wafersim.load_model("llama-3.1-8b")
    assert model.num_layers == 16 and base.num_layers == 32
    assert model == dataclasses.replace(base, name="llama-16", num_layers=16)
    assert [b.name for b in model.provenance.bases] == ["llama-3.1-8b"]


# ---- errors ----------------------------------------------------------------------

def test_a_cycle_is_an_error_naming_the_file_and_base(tmp_path):
    write(tmp_path / "a.toml", 'base = "b.toml"\n')
    write(tmp_path / "b.toml", 'base = "a.toml"\n')
    with pytest.raises(ConfigError) as exc:
        wafersim.load_system(tmp_path / "a.toml")
    assert exc.value.key == "base"
    assert exc.value.source.endswith("b.toml")                # the file whose base closes the loop
    assert "a.toml -> b.toml -> a.toml" in exc.value.message


def test_a_preset_naming_itself_is_a_cycle(tmp_path):
    path = write(tmp_path / "me.toml", 'base = "me.toml"\n')
    with pytest.raises(ConfigError, match="the bases loop: me.toml -> me.toml") as exc:
        wafersim.load_system(path)
    assert exc.value.key == "base"


@pytest.mark.parametrize("base, expected", [
    ("wse9", "no preset named 'wse9'; expected a hardware preset"),
    ("nowhere/wse9.toml", "no file 'nowhere/wse9.toml'"),
])
def test_a_missing_base_is_an_error_naming_the_file_and_base(tmp_path, base, expected):
    path = write(tmp_path / "child.toml", f'base = "{base}"\n')
    with pytest.raises(ConfigError) as exc:
        wafersim.load_system(path)
    assert exc.value.source == str(path) and exc.value.key == "base"
    assert expected in exc.value.message
    assert f"{path}: key 'base':" in str(exc.value)


def test_a_base_that_is_not_a_string_is_an_error(tmp_path):
    path = write(tmp_path / "child.toml", "base = 3\n")
    expected = r"expected the name of a hardware preset \(meshes/\) or a path to a TOML file, got 3"
    with pytest.raises(ConfigError, match=expected) as exc:
        wafersim.load_system(path)
    assert exc.value.key == "base"


def test_a_model_cannot_inherit_a_mesh_preset_by_name(tmp_path):
    path = write(tmp_path / "m.toml", 'base = "wse3"\nnum_layers = 4\n')
    with pytest.raises(ConfigError) as exc:
        wafersim.load_model(path)
    assert exc.value.key == "base" and exc.value.source == str(path)
    assert "'wse3' is a hardware preset (meshes/); expected a model preset (workloads/)" in exc.value.message


def test_a_model_cannot_inherit_a_mesh_preset_by_path(tmp_path):
    path = write(tmp_path / "m.toml", f'base = "{WSE3}"\n')
    with pytest.raises(ConfigError, match="wse3.toml is a 'wafer' preset .meshes/.; expected a model preset") as exc:
        wafersim.load_model(path)
    assert exc.value.key == "base"


def test_a_wafer_cannot_inherit_a_gpu_system(tmp_path):
    path = write(tmp_path / "w.toml", 'kind = "wafer"\nbase = "dgx-h100"\n')
    expected = "dgx-h100.toml is a 'gpu' preset .meshes/.; expected a 'wafer' preset"
    with pytest.raises(ConfigError, match=expected) as exc:
        wafersim.load_system(path)
    assert exc.value.key == "base" and exc.value.source == str(path)


def test_a_base_of_the_other_kind_is_caught_before_its_own_base_is_followed(tmp_path):
    # a hardware preset that itself has a base; reached from a model preset by path
    mesh = write(tmp_path / "meshes" / "w.toml", 'kind = "wafer"\nbase = "wse3"\n')
    path = write(tmp_path / "m.toml", f'base = "{mesh}"\n')
    with pytest.raises(ConfigError, match="w.toml is a 'wafer' preset") as exc:
        wafersim.load_model(path)
    assert exc.value.source == str(path)


# ---- names -----------------------------------------------------------------------

def test_a_child_without_a_name_is_named_after_its_file(tmp_path):
    assert wafersim.load_system(EXAMPLE).name == "wse3-96k"
    path = write(tmp_path / "my-wse3.toml", 'base = "wse3"\n')
    assert wafersim.load_system(path).name == "my-wse3"


def test_an_explicit_name_in_the_child_wins(tmp_path):
    path = write(tmp_path / "my-wse3.toml", 'base = "wse3"\nname = "wse3-custom"\n')
    assert wafersim.load_system(path).name == "wse3-custom"


def test_a_plain_copy_keeps_its_explicit_name(tmp_path):
    copy = write(tmp_path / "copy.toml", WSE3.read_text())
    spec = wafersim.load_system(copy)
    assert spec.name == "wse3"
    assert spec.provenance.path == str(copy.resolve()) and spec.provenance.bases == ()


# ---- overrides and provenance on the spec ---------------------------------------------

def test_set_on_an_inherited_preset_applies_after_the_merge_and_is_recorded():
    spec = wafersim.load_system(EXAMPLE, {"core.sram_bytes": "64 KiB"})
    assert spec.core.sram_bytes == 64 * KiB
    assert spec.name == "wse3-96k"
    assert spec.provenance.overrides == {"core.sram_bytes": "64 KiB"}
    assert spec.provenance.set == ('system.core.sram_bytes="64 KiB"',)
    typed = wafersim.load_system(EXAMPLE, {"core.sram_bytes": "64 KiB"},
                                 origin={"core.sram_bytes": "system.core.sram_bytes=64 KiB"})
    assert typed.provenance.set == ("system.core.sram_bytes=64 KiB",)


def test_a_bad_set_on_an_inherited_preset_names_the_set(tmp_path):
    with pytest.raises(ConfigError) as exc:
        wafersim.load_system(EXAMPLE, {"core.sram_bytes": "-1 KiB"},
                             origin={"core.sram_bytes": "system.core.sram_bytes=-1 KiB"})
    assert exc.value.source.startswith("--set system.core.sram_bytes=-1 KiB")
    assert exc.value.key == "core.sram_bytes"


def test_provenance_leaves_equality_hashing_and_the_stored_config_alone():
    loaded = wafersim.load_system("wse3")
    built = build(WaferSpec, load_toml(WSE3), str(WSE3))
    assert built.provenance is None and loaded.provenance is not None
    assert loaded == built and hash(loaded) == hash(built)
    assert repr(loaded) == repr(built)
    assert "provenance" not in to_dict(loaded)
    assert to_dict(loaded) == to_dict(built)
    # a plain preset has no bases and no overrides
    # ... and records the runtime profile laid over it (the wafer default)
    waferllm = {"name": "waferllm", "class": "best-known", "version": "", "path": "runtimes/waferllm.toml", "set": []}
    assert loaded.provenance.as_dict() == {"name": "wse3", "path": "meshes/wse3.toml", "bases": [], "set": [],
                                           "overrides": {}, "runtime": waferllm}


def test_a_spec_changed_in_python_loses_its_file_provenance():
    spec = dataclasses.replace(wafersim.load_system("wse3"), name="edited")
    assert spec.provenance is None
    assert record(spec)["path"] is None


# ---- the acceptance check: CLI -> HDF5 -> show ---------------------------------

def test_child_preset_runs_through_the_cli_and_its_result_shows_base_and_override(tmp_path, capsys):
    out = tmp_path / "out.h5"
    typed = "system.core.clock_hz=1.2 GHz"
    assert main(["run", str(EXAMPLE), "llama-3.1-8b", "-o", str(out), "--set", typed,
                 "--set", "model.num_layers=4", "--layers", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("wse3-96k running llama-3.1-8b")

    run = wafersim.read_run(out)
    assert run.summary["system"] == "wse3-96k"
    config = run.config
    assert config["system"]["name"] == "wse3-96k"
    assert config["system"]["core"]["sram_bytes"] == 96 * KiB
    assert config["system"]["core"]["clock_hz"] == pytest.approx(1.2e9)
    assert "provenance" not in config["system"]
    prov = config["provenance"]
    assert prov["system"] == {"name": "wse3-96k", "path": str(EXAMPLE), "bases": [{"name": "wse3", "path": "meshes/wse3.toml"}],
                              "set": [typed], "overrides": {"core.clock_hz": "1.2 GHz"},
                              "runtime": {"name": "waferllm", "class": "best-known", "version": "",
                                          "path": "runtimes/waferllm.toml", "set": []}}
    assert prov["model"]["name"] == "llama-3.1-8b" and prov["model"]["bases"] == []
    assert prov["model"]["set"] == ["model.num_layers=4"] and prov["model"]["overrides"] == {"num_layers": 4}
    with h5py.File(out) as f:                       # the same, straight from the file
        assert json.loads(f["runs/run-0000"].attrs["config"])["provenance"] == prov

    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    tail = shown.split("provenance:\n", 1)[1]
    assert f"system  wse3-96k  ({EXAMPLE})" in tail
    assert "base  wse3  (meshes/wse3.toml)" in tail
    assert f"--set {typed}" in tail and "--set model.num_layers=4" in tail


def test_show_says_when_a_file_has_no_provenance(tmp_path, capsys):
    result = wafersim.simulate("wse3", "llama-3.1-8b", layers=1)
    result.config.pop("provenance")                 # as files written before it was recorded
    path = wafersim.write_results(tmp_path / "old.h5", result)
    assert read_provenance(path) == [{}]
    assert main(["show", str(path)]) == 0
    assert "provenance:\n  (no provenance recorded)" in capsys.readouterr().out


def test_simulate_records_provenance_for_specs_built_in_python():
    spec = build(WaferSpec, load_toml(WSE3), str(WSE3))
    result = wafersim.simulate(spec, "llama-3.1-8b", layers=1)
    assert result.config["provenance"]["system"] == {"name": "wse3", "path": None, "bases": [], "set": [],
                                                     "overrides": {}}
    assert result.config["provenance"]["model"]["path"].endswith("llama-3.1-8b.toml")


# ---- compare tells same-named systems apart ---------------------------------------------

def _verdict(text: str) -> str:
    return next(line for line in text.splitlines() if " decodes " in line)


def test_compare_of_a_copy_with_the_same_name_labels_the_sides_by_file(tmp_path, capsys):
    copy = write(tmp_path / "copy.toml", WSE3.read_text())
    assert main(["compare", "wse3", str(copy), "llama-3.1-8b", "--layers", "2",
                 "--set", "b.core.clock_hz=1.5 GHz"]) == 0
    line = _verdict(capsys.readouterr().out)
    # the side changed on its own says so
    assert line.startswith(f"{copy} (changed: system.core.clock_hz=1.5 GHz) decodes ")
    assert line.split(" than ")[1].startswith("wse3 (")


def test_compare_of_one_preset_with_itself_labels_the_sides_a_and_b(capsys):
    assert main(["compare", "wse3", "wse3", "llama-3.1-8b", "--layers", "2", "--set", "a.core.clock_hz=1.5 GHz"]) == 0
    line = _verdict(capsys.readouterr().out)
    assert line.startswith("A (wse3) (changed: system.core.clock_hz=1.5 GHz) decodes ") and "than B (wse3) (" in line


def test_compare_of_differently_named_systems_keeps_their_names(capsys):
    assert main(["compare", str(EXAMPLE), "wse3", "llama-3.1-8b", "--layers", "2"]) == 0
    line = _verdict(capsys.readouterr().out)
    assert "wse3-96k" in line and " than " in line and "(A)" not in line and not line.startswith("A (")
