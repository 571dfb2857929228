"""The sweep collection: an n-dimensional Dataset on the sweep's axes (xarray, h5netcdf),
a DataFrame in one line, failed points as fill values with their error, each point's
run and configuration kept, and the same bytes of summary data whatever ran it."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import wafersim
from wafersim.sweep import parse_spec, read_collection, run_sweep, summary_digest
from wafersim.sweep.collection import point_id

from .helpers import DATA, SMALL, assert_same_run, need


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "small.h5"
    report = run_sweep(parse_spec(SMALL, "small.toml"), path, jobs=1)
    assert (report.points, report.ran, report.failed) == (12, 12, 3)
    return path


def test_xarray_opens_the_summary_on_the_sweep_axes(small):
    xr = need("xarray")
    need("h5netcdf")
    ds = xr.open_dataset(small, engine="h5netcdf", group="summary")
    assert dict(ds.sizes) == {"system.core.sram_bytes": 3, "wafers": 4}
    assert list(ds["system.core.sram_bytes"].values) == [32768, 49152, 65536]
    assert ds["system.core.sram_bytes"].dtype.kind == "i"      # bytes as integers, as users count them
    assert ds["system.core.sram_bytes"].attrs["units"] == "B"
    assert list(ds["wafers"].values) == [1, 2, 4, 8]
    assert ds["tokens_per_s_per_user"].attrs["units"] == "tokens/s"
    assert ds["tokens_per_s_per_user"].dims == ("system.core.sram_bytes", "wafers")
    # each cell is the run at those coordinates
    cell = ds["tokens_per_s_per_user"].sel({"system.core.sram_bytes": 49152, "wafers": 2}).item()
    direct = wafersim.simulate(wafersim.load_system("mini-wafer", {"core.sram_bytes": "48 KiB"}),
                               str(DATA / "tiny-llama.toml"), wafers=2, prompt_tokens=512, output_tokens=16)
    assert cell == direct.summary["tokens_per_s_per_user"]
    # the failed column: fill values, and the error kept
    failed = ds.sel(wafers=8)
    assert np.isnan(failed["tokens_per_s_per_user"]).all() and (failed["status"] == 0).all()
    assert all("8 wafers for 4 layers" in str(e) for e in failed["error"].values)
    assert np.isnan(failed["fits_on_chip"]).all() and set(ds["fits_on_chip"].sel(wafers=1).values) <= {0, 1}
    assert (ds["status"].sel(wafers=[1, 2, 4]) == 1).all()


def test_one_line_gives_a_dataframe(small):
    xr = need("xarray")
    need("pandas")
    df = xr.open_dataset(small, engine="h5netcdf", group="summary").to_dataframe().reset_index()
    assert len(df) == 12 and {"system.core.sram_bytes", "wafers", "tpot_s", "error"} <= set(df.columns)
    assert (df.groupby("wafers")["status"].min().to_dict()) == {1: 1, 2: 1, 4: 1, 8: 0}
    indexed = xr.open_dataset(small, engine="h5netcdf", group="summary").to_dataframe()
    assert indexed["tpot_s"].loc[(65536, 2)] == df[(df["system.core.sram_bytes"] == 65536)
                                                   & (df["wafers"] == 2)]["tpot_s"].item()


def test_a_boolean_axis_reads_as_booleans(tmp_path):
    xr = need("xarray")
    need("h5netcdf")
    spec = SMALL.replace('wafers = [1, 2, 4, 8]', "'model.tie_embeddings' = [false, true]")
    path = tmp_path / "tie.h5"
    run_sweep(parse_spec(spec, "tie.toml"), path, jobs=1)
    ds = xr.open_dataset(path, engine="h5netcdf", group="summary")
    assert ds["model.tie_embeddings"].dtype == bool and list(ds["model.tie_embeddings"].values) == [False, True]
    tied = ds["weight_bytes"].sel({"model.tie_embeddings": True, "system.core.sram_bytes": 32768}).item()
    untied = ds["weight_bytes"].sel({"model.tie_embeddings": False, "system.core.sram_bytes": 32768}).item()
    assert tied < untied                                   # a tied LM head holds no weights of its own
    c = read_collection(path)
    assert c.ticks("model.tie_embeddings") == ["false", "true"]
    assert c.index("model.tie_embeddings", "true") == 1 and c.index("model.tie_embeddings", "False") == 0


def test_a_version_1_file_with_float_bytes_and_text_booleans_still_reads(tmp_path, monkeypatch, capsys):
    """Files written before the axes kept their users' units: bytes as float64, booleans as text."""
    from wafersim.cli import main
    from wafersim.sweep import collection, fileformat, points

    def old_uniform(vals):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return vals
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            return [float(v) for v in vals]
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in vals]

    monkeypatch.setattr(points, "WHOLE_UNITS", frozenset())
    monkeypatch.setattr(points, "_uniform", old_uniform)
    monkeypatch.setattr(collection, "FORMAT_VERSION", 1)
    spec = SMALL.replace('wafers = [1, 2, 4, 8]', "'model.tie_embeddings' = [false, true]")
    path = tmp_path / "v1.h5"
    run_sweep(parse_spec(spec, "v1.toml"), path, jobs=1)
    monkeypatch.undo()
    assert fileformat.FORMAT_VERSION == 3
    with h5py.File(path) as f:
        assert f.attrs["format-version"] == 1 and f["summary/system.core.sram_bytes"].dtype.kind == "f"
    c = read_collection(path)
    assert c.index("system.core.sram_bytes", "49152") == 1 and c.index("model.tie_embeddings", "true") == 1
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "system.core.sram_bytes [B]: 32768, 49152, 65536" in out and "model.tie_embeddings: false, true" in out


def test_zipped_axes_and_string_coordinates(tmp_path):
    xr = need("xarray")
    spec = parse_spec(f'model = "{DATA / "tiny-llama.toml"}"\n[scenario]\nprompt = 256\n[axes]\n'
                      'system = ["dgx-h100", "dgx-a100"]\nlayout = {{ zip = {{ tp = [1, 2, 4], pp = [4, 2, 1] }} }}\n'
                      .replace("{{", "{").replace("}}", "}"), "zip.toml")
    run_sweep(spec, tmp_path / "z.h5")
    ds = xr.open_dataset(tmp_path / "z.h5", engine="h5netcdf", group="summary")
    assert list(ds["system"].values) == ["dgx-h100", "dgx-a100"] and dict(ds.sizes) == {"system": 2, "layout": 3}
    assert list(ds["tp"].values) == [1, 2, 4] and list(ds["pp"].values) == [4, 2, 1]
    assert "tp" in ds.coords and "pp" in ds.coords
    assert (ds["resolved_tp"].values == np.array([[1, 2, 4], [1, 2, 4]])).all()
    assert list(ds["resolved_system"].values[:, 0]) == ["dgx-h100", "dgx-a100"]
    # the h5py reader labels the zipped axis by the keys it varies, and by nothing else: a 2-D sweep's
    # metrics lie along both axes, but a one-axis sweep's lie along the zipped axis alone
    assert read_collection(tmp_path / "z.h5").ticks("layout") == ["tp=1, pp=4", "tp=2, pp=2", "tp=4, pp=1"]
    one = parse_spec(f'model = "{DATA / "tiny-llama.toml"}"\nsystem = "dgx-h100"\n[scenario]\nprompt = 256\n'
                     '[axes]\nlayout = { zip = { tp = [1, 2], pp = [2, 1] } }\n', "zip1.toml")
    run_sweep(one, tmp_path / "z1.h5")
    assert read_collection(tmp_path / "z1.h5").ticks("layout") == ["tp=1, pp=2", "tp=2, pp=1"]


def test_h5py_reader_and_runs(small):
    c = read_collection(small)
    assert c.dims == ("system.core.sram_bytes", "wafers")
    tpot = c.variables["tpot_s"]
    assert tpot.dims == c.dims and tpot.units == "s" and tpot.data.shape == (3, 4)
    assert c.attrs["points"] == 12 and c.attrs["failed"] == 3 and "sram_bytes" in c.attrs["spec"]
    with h5py.File(small) as f:
        runs = f["runs"]                                # a table: one row per point
        assert "decode_layer_s" in f["arrays"] and point_id(5) not in runs
        assert json.loads(runs["config"][5])["scenario"]["wafers"] == 2
        assert f["arrays/decode_layer_s"].shape == (3, 4, 4)                 # sweep axes, then layer
        assert runs["error"][3] and not runs["error"][5]
        assert json.loads(runs["summary"][5])["tpot_s"] == float(f["summary/tpot_s"][1, 1])
        assert int(f["summary/point"][1, 1]) == 5
        assert json.loads(runs["point"][5])["scenario"]["wafers"] == 2


def test_same_spec_same_summary_bytes_serial_and_pool(small, tmp_path):
    pool = tmp_path / "pool.h5"
    run_sweep(parse_spec(SMALL, "small.toml"), pool, jobs=2)
    assert summary_digest(pool) == summary_digest(small)
    with h5py.File(small) as a, h5py.File(pool) as b:
        for name in a["summary"]:
            x, y = a["summary"][name][()], b["summary"][name][()]
            assert x.dtype == y.dtype, name
            assert (x.tolist() == y.tolist()) if x.dtype == object else x.tobytes() == y.tobytes(), name


def test_a_partial_collection_marks_points_not_run(tmp_path):
    """write_collection from some outcomes only (a killed sweep's journal): the rest are -1, NaN."""
    from wafersim.sweep import plan, write_collection
    from wafersim.sweep.records import decode, run_point
    p = plan(parse_spec(SMALL, "small.toml"))
    outcomes = {j["index"]: decode(run_point(j)) for j in p.jobs[:5]}
    write_collection(tmp_path / "part.h5", p, outcomes)
    c = read_collection(tmp_path / "part.h5")
    status = c.variables["status"].data.ravel()
    assert status.tolist() == [1, 1, 1, 0, 1] + [-1] * 7
    assert np.isnan(c.variables["tpot_s"].data.ravel()[5:]).all()
    assert c.attrs["finished"] == 5 and c.attrs["failed"] == 1
    with h5py.File(tmp_path / "part.h5") as f:
        assert [bool(t) for t in f["runs/point"][()]] == [True] * 5 + [False] * 7


#: two models, one or two layers: array shapes differ between points, so each keeps its own
MODELS = f"""
system = "mini-wafer"
[scenario]
prompt = 256
[axes]
model = ["{DATA / 'tiny-llama.toml'}", "llama-3.1-8b"]
layers = [1, 2]
"""
#: a GPU system: each run has its topology attached
GPU_TP = f'model = "{DATA / "tiny-llama.toml"}"\nsystem = "dgx-h100"\n[scenario]\nprompt = 256\n[axes]\ntp = [1, 2]\n'

#: flow runs of the tiny model on the test wafer; the axes follow
FLOW = f"""
system = "mini-wafer"
model = "{DATA / 'tiny-llama.toml'}"
[scenario]
fidelity = "flow"
prompt = 256
wafers = 1
[axes]
"""


@pytest.mark.parametrize("text", [SMALL, FLOW + "batch = [1, 2]\n", MODELS, FLOW + 'cores = ["6x10", "16x16", "12x4"]\n',
                                  GPU_TP],
    ids=["analytic", "flow", "models", "flow-blocks", "gpu-attachments"])
def test_each_point_reads_back_as_the_run_it_was(tmp_path, text):
    """Arrays stacked on the axes (same shape at every point) or kept in the point's group
    (shapes that differ) come back as the run simulated: /arrays plus /runs/p<index>."""
    from wafersim.sweep import plan, read_point
    from wafersim.sweep.records import decode, run_point
    p = plan(parse_spec(text, "t.toml"))
    run_sweep(p, tmp_path / "s.h5")
    for job in p.jobs:
        direct = decode(run_point(job))
        if direct.ok:
            assert_same_run(read_point(tmp_path / "s.h5", job["index"]), direct.result)
    with h5py.File(tmp_path / "s.h5") as f:
        stacked = set(f["arrays"])
        own = set(f["runs"].get(point_id(0), ()))
    if 'fidelity = "flow"' in text:
        assert {"link_load_bytes", "sram_weight_bytes"} <= stacked       # per-core and per-link arrays, stacked
    if "layers = [1, 2]" in text:                    # one layer or two: shapes differ, each point keeps its own
        assert "decode_layer_s" not in stacked and "decode_layer_s" in own
    else:
        assert "decode_layer_s" in stacked and "decode_layer_s" not in own


def _version_2_runs(f, jobs, ran, stacked, arrays):
    """/runs as version 2 wrote it: one group per point, its row as attributes, its attachments
    as scalar datasets (the reference for reading older files)."""
    from wafersim.results.hdf5 import _json, _run_attrs, _write_array, _write_attachments
    runs = f.create_group("runs", track_order=True)
    for i, o in enumerate(ran):
        if o is None:
            continue
        rg = runs.create_group(point_id(i))
        rg.attrs["point"] = _json(jobs[i])
        if not o.ok:
            rg.attrs["error"] = o.error
            continue
        _run_attrs(rg, o.result)
        if arrays:
            rg.attrs["components"] = _json(sorted(set(o.result.prefill.components) | set(o.result.decode.components)))
            for name, arr in sorted(o.result.arrays.items()):
                if name not in stacked:
                    _write_array(rg, name, arr)
            _write_attachments(rg, o.result)


@pytest.mark.parametrize("text", [MODELS, GPU_TP], ids=["own-arrays", "attachments"])
def test_a_version_2_file_with_a_group_per_point_still_reads(tmp_path, monkeypatch, text):
    """Files written before /runs became a table: each point, its attachments (a GPU system's
    topology) and its own arrays read back as the run simulated, and the plots' precisions."""
    from wafersim.plotting.text import sweep_precisions
    from wafersim.sweep import collection, plan, read_point
    from wafersim.sweep.records import decode, run_point
    p = plan(parse_spec(text, "v2.toml"))
    monkeypatch.setattr(collection, "FORMAT_VERSION", 2)
    monkeypatch.setattr(collection, "write_runs", _version_2_runs)
    run_sweep(p, tmp_path / "v2.h5")
    monkeypatch.undo()
    with h5py.File(tmp_path / "v2.h5") as f:
        assert f.attrs["format-version"] == 2 and "config" in f["runs"][point_id(0)].attrs
    runs = [decode(run_point(job)) for job in p.jobs]
    assert any(o.ok and o.result.attachments for o in runs) == ("dgx" in text)
    for o in runs:
        if o.ok:
            assert_same_run(read_point(tmp_path / "v2.h5", o.index), o.result)
    assert sweep_precisions(tmp_path / "v2.h5") == {o.index: ("bf16", "bf16") for o in runs if o.ok}


def test_a_sweep_file_with_a_mangled_version_is_refused_and_closed(tmp_path):
    """A hand-made (unsigned) file whose format-version is not a number: a ResultsFormatError, and
    the file is closed again (it can be replaced at once)."""
    import h5py

    from wafersim.results.errors import ResultsFormatError
    from wafersim.sweep.fileformat import FORMAT, open_sweep

    path = tmp_path / "hand.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format-version"] = "abc"
    with pytest.raises(ResultsFormatError, match="format-version is 'abc', not a number"):
        open_sweep(path)
    with h5py.File(path, "w"):          # would fail while a reader still held it open
        pass


def test_stacked_corner_arrays_are_written_point_by_point_as_whole_arrays(tmp_path):
    """Each point's array, held whole or as a corner, lands in its point of the stacked dataset
    as the whole array (zero outside the corner), NaN where no point ran, with chunks that
    span points and cut through the corners."""
    from wafersim.results.run_result import LayerArray
    from wafersim.sweep.arrays import _write_point_array
    rng = np.random.default_rng(1)
    whole = (2, 7, 9)
    arrays = {0: LayerArray(rng.integers(1, 99, (1, 3, 5)), ("wafer", "y", "x"), "B", "", shape=whole),
              2: LayerArray(rng.random(whole).astype(np.float32), ("wafer", "y", "x"), "", ""),
              3: LayerArray(rng.integers(1, 99, (2, 7, 1)), ("wafer", "y", "x"), "B", "", shape=whole)}
    with h5py.File(tmp_path / "t.h5", "w") as f:
        ds = f.create_dataset("a", shape=(2, 2, *whole), dtype=np.float64, fillvalue=np.nan, chunks=(2, 1, 1, 3, 4))
        for i, a in arrays.items():
            _write_point_array(ds, np.unravel_index(i, (2, 2)), a)
        got = ds[()].reshape(4, *whole)
    for i in range(4):
        if i not in arrays:
            assert np.isnan(got[i]).all()
            continue
        expected = np.zeros(whole)                              # built by hand from the corner
        stored = arrays[i].stored
        expected[:stored.shape[0], :stored.shape[1], :stored.shape[2]] = stored
        assert np.array_equal(got[i], expected), i
