"""``wafersim explore``: the report, JSON, the HDF5 file and its refusals."""

import json

import h5py
import pytest

from wafersim.cli import main
from wafersim.presets import DEFAULT_RUNTIME, load_system
from wafersim.results.hdf5 import read_run, read_table

WAFER = ["explore", "wse3", "llama-3.1-70b", "--budget", "80"]
GPU = ["explore", "dgx-h100", "llama-3.1-70b", "--budget", "60"]


@pytest.mark.parametrize("argv", [WAFER, GPU])
def test_report_names_best_layouts_front_and_cost(argv, capsys, tmp_path):
    out = tmp_path / "explore.h5"
    assert main([*argv, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best layouts:" in text and "rank" in text
    assert "Pareto front, tokens/s per user against tokens/s per device" in text
    assert "points evaluated" in text and " s:" in text
    assert f"results written to {out}" in text
    best = read_table(out, "explore/best")
    points = read_table(out, "explore/points")
    front = read_table(out, "explore/pareto")
    assert len(points["point"]) <= int(argv[-1]) and set(points["status"]) <= {"ok", "violates", "refused"}
    assert best["rank"][0] == 1 and best["run"][0] == "best-1"
    assert len(front["front"]) >= 2                     # batch trades interactivity for throughput
    run = read_run(out, "best-1")
    row = best["point"][0]
    assert run.summary["tokens_per_s_per_device"] == points["tokens_per_s_per_device"][row]
    with h5py.File(out) as f:
        assert f["explore/points/tokens_per_s_per_user"].attrs["units"] == "tokens/s"
        assert f["explore/points/ttft_s"].attrs["units"] == "s"
        setup = json.loads(f.attrs["explore"])
        assert setup["objective"] == {"key": "tokens_per_s_per_device", "maximize": True}
        assert setup["cost"]["evaluated"] == len(points["point"])


def test_json_is_deterministic_for_a_seed(capsys):
    runs = []
    for _ in range(2):
        assert main([*WAFER, "--seed", "7", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        data["cost"].pop("wall_s")
        runs.append(data)
    assert runs[0] == runs[1]
    assert runs[0]["cost"]["evaluated"] == int(WAFER[-1]) and runs[0]["best"] and runs[0]["pareto_front"]
    assert runs[0]["space"]["mapping.placement"] == ["pipelined", "sequential", "streaming"]
    assert runs[0]["runtime"] == "waferllm"               # the wafer kind's default profile


def test_runtime_flag_and_runtime_set_reach_every_point(capsys):
    base = ["explore", "dgx-h100", "llama-3.1-70b", "--axis", "tp=8", "--axis", "pp=1", "--axis", "batch=1,64",
            "--json"]
    got = {}
    for extra in ([], ["--runtime", "ideal"]):
        assert main([*base, *extra]) == 0
        data = json.loads(capsys.readouterr().out)
        got[data["runtime"]] = [p["metrics"]["tpot_s"] for p in data["points"]]
    default = DEFAULT_RUNTIME["gpu"]
    assert set(got) == {default, "ideal"}
    assert all(i < t for i, t in zip(got["ideal"], got[default]))     # no runtime overheads: faster steps
    assert main([*base[:-1], "--set", "runtime.colour=1"]) == 2
    assert "runtime" in capsys.readouterr().err


def test_axes_constraints_and_objective_flags(capsys):
    assert main(["explore", "dgx-h100", "llama-3.1-70b", "--axis", "tp=4,8", "--axis", "pp=1", "--axis",
                 "batch=1:64:x2", "--axis", "replicas=1,2", "--objective", "throughput", "--max-devices", "8",
                 "--max-ttft", "1 s", "--max-power", "20 kW", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["space"] == {"tp": [4, 8], "pp": [1], "ep": [1], "batch": [1, 2, 4, 8, 16, 32, 64],
                             "replicas": [1, 2]}
    assert data["constraints"] == ["fits_on_chip", "devices <= 8", "power_w <= 20000 W", "ttft_s <= 1 s"]
    for p in data["points"]:
        if p["status"] == "ok":
            assert p["metrics"]["devices"] <= 8 and p["metrics"]["ttft_s"] <= 1.0
    best = data["best"][0]
    assert best["params"]["replicas"] * best["params"]["tp"] <= 8


def test_an_existing_file_is_refused_without_force(tmp_path, capsys):
    out = tmp_path / "x.h5"
    out.write_bytes(b"keep me")
    assert main([*GPU, "-o", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and out.read_bytes() == b"keep me"
    assert main([*GPU, "-o", str(out), "--force"]) == 0
    assert read_table(out, "explore/best")["rank"][0] == 1


@pytest.mark.parametrize("extra,words", [
    (["--axis", "tp=2"], "GPU systems"),
    (["--axis", "colour=1"], "expected one of"),
    (["--objective", "fastest"], "objective"),
    (["--constraint", "ttft_s<2"], "--constraint"),
    (["--set", "mapping.placement=sequential", "--axis", "mapping.placement=pipelined"], "give it once"),
    (["--set", "colour.x=1"], "--set"),
    (["--pareto", "per-user"], "two objectives"),
    (["--seed", "-1"], "seed"),
    (["--budget", "0"], "budget"),
])
def test_bad_input_is_one_line_and_status_2(extra, words, capsys):
    try:
        code = main([*WAFER, *extra])
    except SystemExit as exc:                 # a flag argparse itself refuses
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("wafersim: error:") and words in err and err.count("\n") == 1


def test_a_fixed_mapping_leaves_the_space(capsys):
    assert main([*WAFER, "--set", "mapping.placement=sequential", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "mapping.placement" not in data["space"] and data["fixed"]["mapping.placement"] == "sequential"


def test_help_describes_the_space_and_the_search(capsys):
    with pytest.raises(SystemExit) as info:
        main(["explore", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for words in ("--axis", "--objective", "--constraint", "--budget", "--seed", "per-device", "Pareto", "--force"):
        assert words in text


def test_readme_explore_commands_run(tmp_path, monkeypatch, capsys):
    """Every `wafersim explore` line of the README's shell blocks and of `--help` runs as written."""
    import re
    import shlex
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    lines = [ln.split("  #")[0].strip() for b in blocks for ln in b.splitlines() if ln.startswith("wafersim explore")]
    assert len(lines) >= 2
    from wafersim.cli_explore import EPILOG          # the examples of --help too
    lines += [ln.strip() for ln in EPILOG.splitlines() if ln.strip().startswith("wafersim explore")]
    monkeypatch.chdir(tmp_path)
    for line in lines:
        assert main(shlex.split(line)[1:]) == 0, line
        assert "Pareto front" in capsys.readouterr().out
    assert (tmp_path / "explore.h5").exists()


def test_a_space_of_refused_layouts_reports_them_and_writes_nothing(tmp_path, capsys):
    argv = ["explore", "dgx-h100", "llama-3.1-70b", "--axis", "tp=8", "--axis", "pp=64,80", "--axis", "batch=1"]
    assert main(argv) == 2                     # the report, then a refusal: nothing could be run
    captured = capsys.readouterr()
    text = captured.out
    assert "every one of the 2 points evaluated was refused" in captured.err
    assert "no point evaluated could be run" in text and "0 feasible" in text and "2 refused" in text
    assert "may span at most 32 nodes" in text
    out = tmp_path / "none.h5"
    assert main([*argv, "-o", str(out)]) == 2
    assert "nothing to write" in capsys.readouterr().err and not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_an_axis_over_a_workload_flag_replaces_it(capsys):
    assert main(["explore", "dgx-h100", "llama-3.1-70b", "--axis", "tp=8", "--axis", "pp=1", "--axis", "batch=1",
                 "--axis", "prompt_tokens=1024,8192", "--objective", "ttft", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "prompt_tokens" not in data["fixed"] and data["best"][0]["params"]["prompt_tokens"] == 1024
    ttft = sorted(p["metrics"]["ttft_s"] for p in data["points"])
    assert ttft[1] > 4 * ttft[0]                        # eight times the prompt: prefill grows with it


def test_rows_with_the_same_figures_are_marked(capsys):
    """A region cap larger than the region changes nothing: the report says so rather than hide it."""
    assert main(["explore", "wse3", "llama-3.1-70b", "--axis", "wafers=4", "--axis", "mapping.placement=pipelined",
                 "--axis", "mapping.cores=", "--axis", "mapping.region=,512x512", "--axis", "batch=1",
                 "--axis", "mapping.order=snake", "--axis", "mapping.kv=local"]) == 0
    text = capsys.readouterr().out
    assert text.count("(same figures as the row above)") == 2          # in the best layouts and in the front


def test_tables_name_the_default_region_and_block_in_words(capsys):
    """An uncapped region and the whole wafer print as "uncapped" and "all", not as an empty ''."""
    assert main(["explore", "wse3", "llama-3.1-70b", "--axis", "wafers=4", "--axis", "mapping.placement=pipelined",
                 "--axis", "mapping.cores=,600x600", "--axis", "mapping.region=,512x512", "--axis", "batch=1",
                 "--axis", "mapping.order=snake", "--axis", "mapping.kv=local"]) == 0
    text = capsys.readouterr().out
    assert "''" not in text
    assert "mapping.region (2: uncapped, 512x512)" in text and "mapping.cores (2: all, 600x600)" in text
    table = text.split("best layouts:")[1].split("Pareto front")[0]
    rows = [ln.split() for ln in table.splitlines()[1:] if ln.strip() and ln.split()[0].isdigit()]
    head = table.splitlines()[1].split()
    region, cores = head.index("region"), head.index("cores")
    assert {r[region] for r in rows} == {"uncapped", "512x512"} and {r[cores] for r in rows} == {"all", "600x600"}


def test_speculative_decoding_as_an_axis_and_as_fixed_flags(capsys):
    base = ["explore", "dgx-h100", "llama-3.1-70b", "--axis", "tp=8", "--axis", "pp=1", "--axis", "batch=1",
            "--objective", "per-user", "--json"]
    assert main([*base, "--axis", "speculative=0,4", "--acceptance", "0.7"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_k = {p["params"]["speculative"]: p["metrics"]["tokens_per_s_per_user"] for p in data["points"]}
    assert by_k[4] > by_k[0] and data["best"][0]["params"]["speculative"] == 4
    assert main([*base, "--speculative", "2", "--axis", "acceptance=0.5,0.9"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["best"][0]["params"]["acceptance"] == 0.9 and data["fixed"]["speculative"] == 2
    assert main([*base, "--axis", "speculative=2"]) == 2              # no acceptance rate: refused up front
    assert "acceptance" in capsys.readouterr().err


def test_hardware_search_writes_a_design_that_compare_runs(capsys, tmp_path):
    out, design = tmp_path / "hw.h5", tmp_path / "best-wafer.toml"
    assert main(["explore", "wse3", "llama-3.1-70b", "--hardware", "--budget", "12", "--constraint",
                 "area_mm2<=46000", "--constraint", "wafer_power_w<=25 kW", "-o", str(out),
                 "--write-design", str(design)]) == 0
    text = capsys.readouterr().out
    assert "designs varied from wse3" in text and "dollars per million tokens" in text
    assert "Pareto front, tokens/s per user against dollars per million tokens" in text
    assert f"best design written to {design}" in text and "wafersim design wse3 --set" in text
    best = read_table(out, "explore/best")
    with h5py.File(out) as f:
        assert f["explore/points/area_mm2"].attrs["units"] == "mm2"
        assert json.loads(f.attrs["explore"])["design"] == "wse3"
    from wafersim.explore.output import read
    assert read(out).design == "wse3"
    system = load_system(str(design))
    assert system.name == "best-wafer" and system.cores == best["enabled_cores"][0]
    assert system.deployment.unit_power_w == pytest.approx(best["wafer_power_w"][0])
    assert main(["compare", "wse3", str(design), "llama-3.1-70b", "--json"]) == 0
    sides = json.loads(capsys.readouterr().out)
    b = sides["b"]
    assert b["system"] == "best-wafer" and b["cores_per_wafer"] <= system.cores
    assert b["cost_usd"] / b["devices"] == pytest.approx(system.deployment.unit_price_usd)


@pytest.mark.parametrize("argv", [
    ["explore", "wse3", "llama-3.1-70b", "--write-design", "x.toml"],
    ["explore", "wse3", "llama-3.1-70b", "--hardware", "--set", "system.core.clock_hz=1e9"],
    ["explore", "wse3", "llama-3.1-70b", "--hardware", "--runtime", "ideal"],
    ["explore", "wse3", "llama-3.1-70b", "--hardware", "--axis", "design.sram_per_core=lots"],
    ["explore", "wse3", "llama-3.1-70b", "--constraint", "area_mm2<=46000"],
    ["explore", "wse9", "llama-3.1-70b", "--hardware"],
])
def test_hardware_refusals_are_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("wafersim: error:") and len(err.splitlines()) == 1, err
