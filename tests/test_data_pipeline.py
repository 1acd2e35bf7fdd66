"""Deterministic batching and the data-source dispatch."""

import numpy as np
import pytest
from PIL import Image

from gans_jax.data import ArrayDataset, load_arrays


def dataset(n=10, batch=4, **kw):
    arrays = {"image": np.arange(n, dtype=np.float32)[:, None], "label": np.arange(n)}
    return ArrayDataset(arrays, batch, seed=3, **kw)


def test_batches_cover_each_epoch_once_and_are_a_function_of_the_step():
    data = dataset(n=12, batch=4)
    first_epoch = np.concatenate([data.batch(t)["label"] for t in range(3)])
    assert sorted(first_epoch) == list(range(12))
    second_epoch = np.concatenate([data.batch(t)["label"] for t in range(3, 6)])
    assert sorted(second_epoch) == list(range(12)) and not np.array_equal(first_epoch, second_epoch)
    fresh = dataset(n=12, batch=4)  # a resumed run asks for step 4 first
    np.testing.assert_array_equal(fresh.batch(4)["label"], data.batch(4)["label"])
    np.testing.assert_array_equal(data.batch(1)["image"][:, 0], data.batch(1)["label"])


def test_batches_straddle_epoch_boundaries():
    data = dataset(n=10, batch=4)
    rows = np.concatenate([data.batch(t)["label"] for t in range(5)])  # 20 rows = 2 epochs
    assert sorted(rows[:10]) == list(range(10)) and sorted(rows[10:]) == list(range(10))


def test_processes_take_disjoint_shares_of_the_global_batch():
    whole = dataset(n=16, batch=8).batch(5)["label"]
    parts = [dataset(n=16, batch=8, process_index=i, process_count=2).batch(5)["label"] for i in range(2)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    with pytest.raises(ValueError, match="divisible"):
        dataset(n=16, batch=7, process_count=2)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="lengths"):
        ArrayDataset({"image": np.zeros((3, 1)), "label": np.zeros(4)}, 2)


def test_load_arrays_sources(tmp_path):
    toy, classes = load_arrays({"source": "toy", "name": "grid25", "num_samples": 500}, None, seed=1)
    assert toy["image"].shape == (500, 2) and classes is None
    digits, classes = load_arrays({"source": "digits", "split": "test"}, 16)
    assert digits["image"].shape == (360, 16, 16, 1) and classes == 10
    for name, colour in [("cats", (255, 0, 0)), ("dogs", (0, 0, 255))]:
        (tmp_path / name).mkdir()
        Image.new("RGB", (20, 12), colour).save(tmp_path / name / "a.png")
    folder, classes = load_arrays({"source": "folder", "path": str(tmp_path)}, 8)
    assert folder["image"].shape == (2, 8, 8, 3) and classes == 2
    np.testing.assert_array_equal(folder["label"], [0, 1])
    with pytest.raises(ValueError, match="'imagenet'"):
        load_arrays({"source": "imagenet"}, 8)
