"""Sweep specs: ranges against their closed forms, axes and zips, coordinates in SI units,
and every invalid point refused before anything runs, naming the file, the axis and the value."""

from __future__ import annotations

import math

import pytest

from wafersim import ConfigError, load_system, simulate
from wafersim.sweep.points import plan
from wafersim.sweep.spec import MAX_POINTS, load_spec, parse_spec

from .helpers import DATA, ROOT, SMALL

HEAD = f'system = "mini-wafer"\nmodel = "{DATA / "tiny-llama.toml"}"\n'


def _axis(text: str, key: str = "batch"):
    spec = parse_spec(HEAD + "[axes]\n" + f"{key} = {text}\n", "t.toml")
    return spec.axes[0].values[0]


@pytest.mark.parametrize("text,expected", [
    ("[1, 3, 5]", (1, 3, 5)),
    ("{ start = 1, stop = 9, step = 4 }", (1, 5, 9)),
    ("{ start = 1, stop = 10, step = 4 }", (1, 5, 9)),
    ("{ start = 10, stop = 1, step = -3 }", (10, 7, 4, 1)),
    ("{ start = 1, stop = 64, factor = 2 }", (1, 2, 4, 8, 16, 32, 64)),
    ("{ start = 1, stop = 100, factor = 10 }", (1, 10, 100)),
    ("{ start = 1, stop = 16, num = 4, log = true }", (1, 3, 6, 16)),
    ("{ start = 0, stop = 30, num = 4 }", (0, 10, 20, 30)),
    ("{ values = [2, 4] }", (2, 4)),
])
def test_ranges_expand_to_their_closed_forms(text, expected):
    assert _axis(text) == expected


def test_float_ranges_hit_both_ends():
    vals = _axis("{ start = 0.1, stop = 0.3, step = 0.1 }", "system.defects.density")
    assert len(vals) == 3 and vals[0] == 0.1 and math.isclose(vals[-1], 0.3)
    logs = _axis("{ start = 1e-4, stop = 1e-2, num = 3, log = true }", "system.defects.density")
    assert logs[0] == 1e-4 and logs[-1] == 1e-2 and math.isclose(logs[1], 1e-3)


@pytest.mark.parametrize("text,needle", [
    ("{ start = 1, stop = 9 }", "exactly one of step, num, factor"),
    ("{ start = 1, stop = 9, step = 0 }", "never goes"),
    ("{ start = 9, stop = 1, step = 2 }", "never goes"),
    ("{ start = 1, stop = 4, num = 10, log = true }", "repeat once rounded"),
    ("{ start = 0, stop = 4, factor = 2 }", "geometric range needs"),
    ("{ start = '1 KiB', stop = 4, step = 1 }", "finite number"),
    ("[]", "at least one value"),
    ("[[1], [2]]", "plain values"),
    ("3", "expected a list of values"),
])
def test_bad_ranges_name_the_axis(text, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        _axis(text)
    assert "t.toml" in str(info.value) and "axes.batch" in str(info.value)


def test_axes_in_file_order_and_nested_dotted_keys():
    spec = parse_spec(HEAD + "[axes]\nbatch = [1, 2]\nsystem.core.sram_bytes = ['32 KiB', '48 KiB']\n"
                      "layout = { zip = { prompt = [256, 512], output = [8, 16] } }\n", "t.toml")
    assert [a.name for a in spec.axes] == ["batch", "system.core.sram_bytes", "layout"]
    assert spec.axes[2].keys == ("prompt_tokens", "output_tokens") and spec.axes[2].zipped
    assert spec.shape == (2, 2, 2) and spec.size == 8


def test_points_are_in_c_order_and_each_matches_a_direct_run():
    p = plan(parse_spec(SMALL, "small.toml"))
    assert len(p) == 12 and p.shape == (3, 4)
    job = p.jobs[5]                      # sram index 1 (48 KiB), wafers index 1 (2)
    assert job["index"] == 5 and job["system_sets"] == {"core.sram_bytes": "48 KiB"}
    assert job["scenario"]["wafers"] == 2 and job["scenario"]["prompt_tokens"] == 512
    from wafersim.sweep.records import decode, run_point
    swept = decode(run_point(job)).result
    direct = simulate(load_system("mini-wafer", {"core.sram_bytes": "48 KiB"}), str(DATA / "tiny-llama.toml"),
                      wafers=2, prompt_tokens=512, output_tokens=16)
    assert swept.summary == direct.summary


def test_coordinates_are_si_values_with_units():
    p = plan(parse_spec(SMALL, "small.toml"))
    (sram,) = p.coordinates["system.core.sram_bytes"]
    assert sram.values == (32768, 49152, 65536) and sram.units == "B"
    assert all(type(v) is int for v in sram.values)          # bytes as the whole numbers they are
    assert sram.written == ("32 KiB", "48 KiB", "64 KiB")
    (wafers,) = p.coordinates["wafers"]
    assert wafers.values == (1, 2, 4, 8) and wafers.units == ""


def test_booleans_stay_booleans_and_bytes_that_are_not_whole_stay_numbers():
    p = plan(parse_spec(HEAD + "[axes]\n'model.tie_embeddings' = [false, true]\n"
                               "'system.core.sram_bytes' = ['48 KiB', 65536.5]\n", "t.toml"))
    (tie,) = p.coordinates["model.tie_embeddings"]
    assert tie.values == (False, True) and all(type(v) is bool for v in tie.values) and tie.units == ""
    (sram,) = p.coordinates["system.core.sram_bytes"]
    assert sram.values == (49152.0, 65536.5) and all(type(v) is float for v in sram.values)


def test_the_same_value_twice_is_refused():
    with pytest.raises(ConfigError, match="two values are the same"):
        plan(parse_spec(HEAD + "[axes]\n'system.core.sram_bytes' = ['8 KiB', '8192 B']\n", "t.toml"))


@pytest.mark.parametrize("body,needles", [
    ("[axes]\nbatch = [1, 0]\n", ["t.toml, axis 'batch' = 0", "positive integer"]),
    ("[axes]\n'system.core.sram_bytes' = ['32 KiB', '-1 KiB']\n", ["axis 'system.core.sram_bytes' = '-1 KiB'"]),
    ("[axes]\n'model.num_layers' = [2, 'many']\n", ["axis 'model.num_layers' = 'many'", "integer"]),
    ("[axes]\nlayers = [2, 5]\n", ["axis 'layers' = 5", "4 decoder layers"]),
    ("[axes]\nprompt = [512, 9000]\n", ["axis 'prompt' = 9000", "context"]),
    ("[axes]\n'mapping.region' = ['4x4', 'wide']\n", ["axis 'mapping.region' = 'wide'"]),
    ("[axes]\ndtype = ['bf16', 'fp7']\n", ["axis 'dtype' = 'fp7'"]),
    ("[axes]\nfidelity = ['analytic', 'psychic']\n", ["axis 'fidelity' = 'psychic'"]),
    ("[set]\n'system.core.sram_bytes' = 'lots'\n[axes]\nbatch = [1]\n", ["t.toml, system.core.sram_bytes = 'lots'"]),
    ("[axes]\ntp = [1, 2]\n", ["'tp'", "GPU systems; this sweep has none"]),
    ("[axes]\nbogus = [1]\n", ["axes.bogus", "unknown key"]),
    ("[axes]\nbatch = [1, 2, 0, -1]\n", ["axis 'batch' = 0", "(2 of 4 points are invalid)"]),
])
def test_invalid_points_are_refused_naming_file_axis_and_value(body, needles):
    with pytest.raises(ConfigError) as info:
        plan(parse_spec(HEAD + body, "t.toml"))
    for needle in needles:
        assert needle in str(info.value)


def test_an_unknown_preset_on_a_system_axis_names_the_axis():
    spec = parse_spec(f'model = "{DATA / "tiny-llama.toml"}"\n[axes]\nsystem = ["mini-wafer", "nope"]\n', "t.toml")
    with pytest.raises(ConfigError, match=r"t.toml, axis 'system' = 'nope': .*no preset named 'nope'"):
        plan(spec)


@pytest.mark.parametrize("text,needle", [
    ("model = 'llama-3.1-8b'\n", "key 'system': missing"),
    (HEAD + "colour = 'red'\n", "key 'colour': unknown key"),
    (HEAD + "[scenario]\nbatch = 1\n[axes]\nbatch = [1, 2]\n", "both fixed"),
    (HEAD + "[set]\ncolour = 1\n", "expected system.<key>"),
    (HEAD + "[axes]\nx = { zip = { batch = [1, 2], prompt = [1] } }\n", "as many values"),
])
def test_spec_shape_errors(text, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_spec(text, "t.toml")


def test_too_many_points_refused_before_building_any():
    with pytest.raises(ConfigError, match=f"at most {MAX_POINTS}"):
        parse_spec(HEAD + "[axes]\nbatch = { start = 1, stop = 2000, step = 1 }\n"
                   "prompt = { start = 1, stop = 1000, step = 1 }\n", "t.toml")


def test_kind_keys_apply_to_their_kind_when_systems_are_mixed():
    spec = parse_spec(f'model = "{DATA / "tiny-llama.toml"}"\n[scenario]\nwafers = 2\ntp = 2\n'
                      '[axes]\nsystem = ["mini-wafer", "dgx-h100"]\n', "t.toml")
    wafer, gpu = plan(spec).jobs
    assert wafer["scenario"]["wafers"] == 2 and "tp" not in wafer["scenario"]
    assert gpu["scenario"]["tp"] == 2 and "wafers" not in gpu["scenario"] and gpu["mapping"] is None


def test_shipped_example_specs_are_valid():
    for path in sorted((ROOT / "sweeps").glob("*.toml")):
        p = plan(load_spec(path))
        assert len(p) >= 2 and p.spec.description


def test_models_as_an_axis_and_paths_relative_to_the_spec(tmp_path):
    (tmp_path / "m.toml").write_text((DATA / "tiny-llama.toml").read_text().replace('name = "tiny-llama"',
                                                                                     'name = "tiny-copy"'))
    spec_file = tmp_path / "s.toml"
    spec_file.write_text('system = "mini-wafer"\n[scenario]\nprompt = 256\n[axes]\n'
                         f'model = ["{DATA / "tiny-llama.toml"}", "m.toml"]\n')
    p = plan(load_spec(spec_file))
    (models,) = p.coordinates["model"]
    assert models.values == ("tiny-llama", "tiny-copy")
    assert p.jobs[1]["model"] == str(tmp_path / "m.toml")        # absolute: workers may run elsewhere


def test_a_runtime_is_a_preset_key_at_the_top_or_on_an_axis():
    """`runtime` names the serving-runtime profile, fixed or swept; a profile with no settings for
    a point's kind of system leaves that point at its kind's default, as a flag for the other kind
    does.  Each point runs what a direct run with that profile gives."""
    spec = parse_spec('model = "llama-3.1-70b"\n[axes]\nsystem = ["wse3", "dgx-h100"]\n'
                      'runtime = ["best-known", "typical"]\n', "rt.toml")
    jobs = {(j["system"], j["runtime"]) for j in plan(spec).jobs}
    # best-known and typical hold GPU settings only: the wafer runs its kind's default (waferllm) at both
    assert jobs == {("wse3", None), ("dgx-h100", "best-known"), ("dgx-h100", "typical")}
    fixed = plan(parse_spec('system = "dgx-h100"\nmodel = "llama-3.1-8b"\nruntime = "typical"\n'
                            '[axes]\nbatch = [1, 2]\n', "rt.toml"))
    from wafersim.sweep.records import decode, run_point
    got = decode(run_point(fixed.jobs[0])).result.summary
    assert got["runtime"] == "typical"
    assert got["tokens_per_s_per_user"] == simulate("dgx-h100", "llama-3.1-8b", runtime="typical").summary[
        "tokens_per_s_per_user"]
    with pytest.raises(ConfigError, match="runtime"):
        plan(parse_spec('system = "dgx-h100"\nmodel = "llama-3.1-8b"\nruntime = "no-such-stack"\n'
                        '[axes]\nbatch = [1]\n', "rt.toml"))
    with pytest.raises(ConfigError, match="expected a preset name"):
        parse_spec('system = "dgx-h100"\nmodel = "llama-3.1-8b"\nruntime = 5\n[axes]\nbatch = [1]\n', "rt.toml")


def test_deployment_is_short_for_system_deployment_as_on_the_command_line():
    spec = parse_spec('system = "dgx-h100"\nmodel = "llama-3.1-8b"\n[set]\n"deployment.usd_per_kwh" = 0.2\n'
                      '[axes]\n"deployment.unit_price_usd" = [100000, 200000]\n', "d.toml")
    assert spec.fixed["system.deployment.usd_per_kwh"] == 0.2
    assert spec.axes[0].keys == ("system.deployment.unit_price_usd",)
    job = plan(spec).jobs[1]
    assert job["system_sets"] == {"deployment.usd_per_kwh": 0.2, "deployment.unit_price_usd": 200000}
