"""LayerArray: an array given as a leading corner reads back as the whole array, zero elsewhere."""

import pickle

import numpy as np
import pytest

from wafersim.results.run_result import LayerArray


def test_a_whole_array_is_held_as_given():
    a = np.arange(6.0).reshape(2, 3)
    arr = LayerArray(a, ("y", "x"), "B", "test")
    assert arr.data is arr.stored
    assert arr.shape == (2, 3)


def test_a_corner_reads_back_as_the_whole_array_zero_outside():
    corner = np.arange(1, 7, dtype=np.int64).reshape(1, 2, 3)
    arr = LayerArray(corner, ("wafer", "y", "x"), "B", "test", shape=(2, 4, 5))
    assert arr.stored.shape == (1, 2, 3) and arr.shape == (2, 4, 5)
    whole = arr.data
    assert whole.shape == (2, 4, 5) and whole.dtype == np.int64
    assert np.array_equal(whole[:1, :2, :3], corner)
    assert whole.sum() == corner.sum()                 # nothing but the corner is non-zero
    assert arr.data is whole                           # built once


def test_a_corner_larger_than_the_whole_is_refused():
    with pytest.raises(ValueError, match="leading corner"):
        LayerArray(np.zeros((3, 3)), ("y", "x"), "", "", shape=(2, 5))
    with pytest.raises(ValueError, match="dimension names"):
        LayerArray(np.zeros((3, 3)), ("y",), "", "")


def test_read_only_and_pickles_with_its_corner():
    arr = LayerArray(np.ones((1, 2)), ("y", "x"), "s", "d", {"x": ("a", "b")}, shape=(3, 2))
    with pytest.raises(AttributeError):
        arr.units = "B"
    back = pickle.loads(pickle.dumps(arr))
    assert back.stored.shape == (1, 2) and back.shape == (3, 2) and back.labels == {"x": ("a", "b")}
    assert np.array_equal(back.data, arr.data)


def test_equal_by_content_whether_held_whole_or_as_a_corner():
    corner = LayerArray(np.ones((1, 2)), ("y", "x"), "s", "d", shape=(3, 2))
    whole = LayerArray(np.vstack([np.ones((1, 2)), np.zeros((2, 2))]), ("y", "x"), "s", "d")
    assert corner == whole and whole == corner
    assert corner != LayerArray(np.ones((1, 2)), ("y", "x"), "B", "d", shape=(3, 2))
    assert LayerArray(np.array([np.nan]), ("x",), "", "") == LayerArray(np.array([np.nan]), ("x",), "", "")
    import copy
    assert copy.deepcopy(corner) == corner


def test_a_slab_is_the_whole_array_at_one_index_built_from_the_corner():
    corner = np.arange(1, 13, dtype=np.int64).reshape(2, 2, 3)
    arr = LayerArray(corner, ("wafer", "y", "x"), "B", "t", shape=(4, 5, 6))
    for w in range(4):
        assert np.array_equal(arr.slab(w), arr.data[w])
    fresh = LayerArray(corner, ("wafer", "y", "x"), "B", "t", shape=(4, 5, 6))
    fresh.slab(1)
    assert fresh._whole is None                        # no whole array was built for it
    with pytest.raises(IndexError):
        arr.slab(4)
