"""Tests for gans_jax.data.digits (scikit-learn 8x8 digits)."""

import numpy as np
import pytest

from gans_jax.data.digits import NUM_CLASSES, load_digits_8x8, load_digits_dataset


@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_shapes_and_range(resolution):
    d = load_digits_dataset(resolution, split="all")
    assert d["image"].shape == (1797, resolution, resolution, 1)
    assert d["image"].dtype == np.float32 and d["label"].dtype == np.int32
    assert d["image"].min() == -1.0 and d["image"].max() == 1.0
    assert set(np.unique(d["label"])) == set(range(NUM_CLASSES))


def test_eight_is_original_pixels():
    raw, labels = load_digits_8x8("all")
    d = load_digits_dataset(8, split="all")
    np.testing.assert_allclose(d["image"][..., 0], raw / 16 * 2 - 1, atol=1e-6)
    np.testing.assert_array_equal(d["label"], labels)


def test_four_is_two_by_two_block_means():
    raw, _ = load_digits_8x8("all")
    d = load_digits_dataset(4, split="all")["image"][..., 0]
    expected = (raw[:, 0:2, 0:2].mean((1, 2)) / 16 * 2 - 1).astype(np.float32)
    np.testing.assert_allclose(d[:, 0, 0], expected, atol=1e-6)
    assert d.shape == (1797, 4, 4)


def test_bilinear_matches_hand_computed_filter():
    # Half-pixel bilinear x2 with edge clamping, then 2x2 block averaging, is the separable
    # filter [1/8, 3/4, 1/8] with edge replication.
    raw, _ = load_digits_8x8("all")
    up = load_digits_dataset(16, split="all")["image"][..., 0]
    back = (up.reshape(-1, 8, 2, 8, 2).mean((2, 4)) + 1) / 2 * 16
    expected = raw
    for axis in (1, 2):
        pad = [(0, 0)] * 3
        pad[axis] = (1, 1)
        p = np.pad(expected, pad, mode="edge")
        lo, mid, hi = (np.take(p, np.arange(k, k + 8), axis=axis) for k in range(3))
        expected = 0.125 * lo + 0.75 * mid + 0.125 * hi
    np.testing.assert_allclose(back, expected, atol=1e-4)


def test_split_sizes_determinism_and_stratification():
    train = load_digits_dataset(16, "train")
    test = load_digits_dataset(16, "test")
    assert len(train["label"]) + len(test["label"]) == 1797
    assert len(test["label"]) == 360
    again = load_digits_dataset(16, "train")
    np.testing.assert_array_equal(train["image"], again["image"])
    np.testing.assert_array_equal(train["label"], again["label"])
    other = load_digits_dataset(16, "train", seed=1)
    assert not np.array_equal(train["label"], other["label"])
    all_counts = np.bincount(load_digits_8x8("all")[1], minlength=10)
    test_counts = np.bincount(test["label"], minlength=10)
    np.testing.assert_allclose(test_counts, all_counts * 0.2, atol=1.0)


def test_splits_are_disjoint():
    train, _ = load_digits_8x8("train")
    test, _ = load_digits_8x8("test")
    train_rows = {r.tobytes() for r in train.reshape(len(train), -1)}
    all_rows = load_digits_8x8("all")[0].reshape(1797, -1)
    assert len({r.tobytes() for r in all_rows}) == 1797  # no duplicate digits in the data set
    assert not any(r.tobytes() in train_rows for r in test.reshape(len(test), -1))


@pytest.mark.parametrize("resolution", [0, 2, 12, 20, 16.0])
def test_bad_resolution(resolution):
    with pytest.raises(ValueError, match=f"multiple of 8.*{resolution}"):
        load_digits_dataset(resolution)


def test_bad_split():
    with pytest.raises(ValueError, match="'valid'.*train.*test.*all"):
        load_digits_dataset(16, split="valid")
