"""The results file describes itself and is written atomically and deterministically."""

import json

import h5py
import numpy as np
import pytest

from wafersim.results import hdf5
from wafersim.runner import simulate


@pytest.fixture(scope="module")
def result():
    return simulate("wse3", "llama-3.1-8b", batch=2, prompt_tokens=1024)


def test_root_attributes_and_config(tmp_path, result):
    path = hdf5.write_results(tmp_path / "r.h5", result)
    with h5py.File(path) as f:
        for key in ("format", "format-version", "generated-by", "creation-date"):
            assert key in f.attrs
        run = f["runs/run-0000"]
        config = json.loads(run.attrs["config"])
        assert config["system"]["name"] == "wse3" and config["model"]["num_layers"] == 32
        assert config["scenario"]["batch"] == 2
        ds = run["decode_layer_s"]
        assert ds.attrs["units"] == "s" and ds.dims[0].label == "" and ds.dims[0][0].name.endswith("/layer")
        assert np.allclose(ds[()], result.arrays["decode_layer_s"].data)
        assert f["summary/tpot_s"][0] == pytest.approx(result.summary["tpot_s"])
        assert f["summary/tpot_s"].attrs["units"] == "s"


def test_same_inputs_same_bytes(tmp_path, result, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = hdf5.write_results(tmp_path / "a.h5", result).read_bytes()
    b = hdf5.write_results(tmp_path / "b.h5", simulate("wse3", "llama-3.1-8b", batch=2, prompt_tokens=1024)).read_bytes()
    assert a == b


def test_failed_write_leaves_nothing(tmp_path, result, monkeypatch):
    target = tmp_path / "r.h5"
    target.write_bytes(b"previous result")

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(hdf5, "_write_summary", boom)
    with pytest.raises(RuntimeError):
        hdf5.write_results(target, result)
    assert target.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["r.h5"]


def test_reader_round_trip(tmp_path, result):
    path = hdf5.write_results(tmp_path / "r.h5", [result, result], run_ids=["x", "y"])
    summaries = hdf5.read_summaries(path)
    assert [s["tpot_s"] for s in summaries] == [result.summary["tpot_s"]] * 2
    run = hdf5.read_run(path, "y")
    assert run.summary == result.summary and run.notes == result.notes and run.config == result.config
    assert run.decode == result.decode and run.prefill == result.prefill
    assert set(run.arrays) == set(result.arrays)
    for name, arr in result.arrays.items():
        back = run.arrays[name]
        assert np.array_equal(back.data, arr.data) and back.dims == arr.dims and back.units == arr.units


def test_newer_format_is_refused(tmp_path, result):
    path = hdf5.write_results(tmp_path / "r.h5", result)
    with h5py.File(path, "a") as f:
        f.attrs["format-version"] = hdf5.FORMAT_VERSION + 1
    with pytest.raises(hdf5.ResultsFormatError, match="newer"):
        hdf5.read_summaries(path)


def test_comparison_keeps_every_column_with_fill_values(tmp_path, result):
    gpu = simulate("dgx-h100", "llama-3.1-8b", tp=2)
    path = hdf5.write_results(tmp_path / "c.h5", [result, gpu], run_ids=["a", "b"])
    with h5py.File(path) as f:
        tp = f["summary/tp"]
        assert np.isnan(tp[0]) and tp[1] == 2 and np.isnan(tp.attrs["_FillValue"])
        assert f["summary/placement"][1] in (b"", "")
        assert f["summary/energy_static_j"].attrs["units"] == "J"


@pytest.mark.parametrize("ids", [["a", "a"], ["a/b"], [""]])
def test_bad_run_ids_are_refused(tmp_path, result, ids):
    with pytest.raises(ValueError, match="run id"):
        hdf5.write_results(tmp_path / "r.h5", [result] * len(ids), run_ids=ids)


def test_read_run_of_a_non_hdf5_file(tmp_path):
    path = tmp_path / "x.h5"
    path.write_text("not hdf5")
    with pytest.raises(hdf5.ResultsFormatError, match="cannot open"):
        hdf5.read_run(path)


def test_a_corner_array_is_stored_as_its_corner_and_reads_back_whole(tmp_path, result):
    """An array held as a corner of a wafer-sized one: the dataset has the whole shape and reads
    back whole (zero outside), but only the chunks the corner touches are in the file."""
    import dataclasses

    from wafersim.results.run_result import LayerArray
    rng = np.random.default_rng(0)
    whole = (1, 756, 1176)
    corner = rng.integers(1, 1 << 40, size=(1, 100, 100), dtype=np.int64)
    arr = LayerArray(corner, ("wafer", "y", "x"), "B", "test", shape=whole)
    expected = np.zeros(whole, np.int64)
    expected[:, :100, :100] = corner                       # the whole array, built by hand
    held = dataclasses.replace(result, arrays={**result.arrays, "corner_test": arr})
    dense = dataclasses.replace(result, arrays={**result.arrays, "corner_test": LayerArray(
        expected, arr.dims, arr.units, arr.description)})
    path = hdf5.write_results(tmp_path / "c.h5", held)
    back = hdf5.read_run(path).arrays["corner_test"]
    assert back.shape == whole and back.stored.shape == (1, 100, 100) and back.dtype == np.int64
    assert np.array_equal(back.data, expected) and back == arr
    # read and written again, the file stays as small
    again = hdf5.write_results(tmp_path / "e.h5", hdf5.read_run(path))
    with h5py.File(path) as f, h5py.File(again) as e:
        a, b = f["runs/run-0000/corner_test"], e["runs/run-0000/corner_test"]
        assert b.id.get_num_chunks() == a.id.get_num_chunks() and list(b.attrs["stored_shape"]) == [1, 100, 100]
    with h5py.File(path) as f, h5py.File(hdf5.write_results(tmp_path / "d.h5", dense)) as g:
        ds, full = f["runs/run-0000/corner_test"], g["runs/run-0000/corner_test"]
        assert ds.shape == full.shape == whole and ds.chunks == full.chunks and ds.fillvalue == 0
        assert ds.compression == full.compression == "gzip"
        assert 0 < ds.id.get_num_chunks() < full.id.get_num_chunks() // 10     # the corner's chunks only
        assert ds.id.get_storage_size() < expected.nbytes // 20


@pytest.mark.parametrize("bad", [np.array([1.5, 8.0, 8.0]), np.array([0, 100, 100]), np.array([1, 100]),
                                 np.array([[1, 100, 100]]), np.array([2, 100, 100]), "1,100,100"])
def test_a_malformed_stored_shape_is_refused_by_name(tmp_path, result, bad):
    """A corner's shape that is not a 1-D integer shape within the dataset's is refused with the
    dataset's name, never read as a smaller or a zero array."""
    import dataclasses

    from wafersim.results import integrity
    from wafersim.results.run_result import LayerArray
    arr = LayerArray(np.ones((1, 100, 100)), ("wafer", "y", "x"), "B", "test", shape=(1, 756, 1176))
    path = hdf5.write_results(tmp_path / "c.h5", dataclasses.replace(result, arrays={**result.arrays, "corner": arr}))
    with h5py.File(path, "r+") as f:
        f["runs/run-0000/corner"].attrs["stored_shape"] = bad
    integrity.stamp(path)                          # a well-formed file whose attribute is wrong
    with pytest.raises(hdf5.ResultsFormatError, match="corner: attribute stored_shape"):
        hdf5.read_run(path)
