"""KID: the unbiased MMD estimator against a direct double sum, subsets, and limiting cases."""

import numpy as np
import pytest

from gans_jax.metrics.kid import kernel_inception_distance, polynomial_mmd_unbiased


def _direct_mmd(x, y):
    """Double sums: k(x_i, x_j) and k(y_i, y_j) over i != j / (m (m-1)), minus 2 k(x_i, y_j) / m^2."""
    m, d = x.shape

    def k(a, b):
        return (np.dot(a, b) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / m**2


def test_unbiased_mmd_matches_direct_sum():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5)) + 0.5
    assert polynomial_mmd_unbiased(x, y) == pytest.approx(_direct_mmd(x, y), rel=1e-12)


def test_whole_sets_as_one_subset():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) * 2
    result = kernel_inception_distance(real, fake, num_subsets=3, subset_size=1000)
    assert result["subset_size"] == 30 and result["num_subsets"] == 3
    assert result["kid"] == pytest.approx(
        _direct_mmd(fake, real), rel=1e-10
    )  # order within a subset is irrelevant
    assert result["kid_std"] == pytest.approx(0.0, abs=1e-12)


def test_same_distribution_near_zero_and_shift_positive():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same = kernel_inception_distance(a, b, num_subsets=20, subset_size=200, seed=3)
    assert abs(same["kid"]) < 3 * same["kid_std"] + 1e-3
    shifted = kernel_inception_distance(a, b + 1.0, num_subsets=20, subset_size=200, seed=3)
    assert shifted["kid"] > 10 * max(same["kid_std"], 1e-4)
    assert kernel_inception_distance(
        a, b, num_subsets=5, subset_size=100, seed=7
    ) == kernel_inception_distance(a, b, num_subsets=5, subset_size=100, seed=7)


def test_bad_inputs():
    with pytest.raises(ValueError, match="same d"):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((5, 3)))


def test_kid_of_collected_features():
    """KID needs every feature: ``collect_features`` keeps them from an iterable of image batches."""
    from gans_jax.metrics.features import collect_features

    rng = np.random.default_rng(4)
    real = rng.integers(0, 256, (30, 4, 4, 3), dtype=np.uint8)

    def extractor(images):
        return {
            "pool3": images.reshape(len(images), -1)[:, :6] / 255.0,
            "logits_unbiased": np.zeros((len(images), 3)),
        }

    feats = collect_features((real[i : i + 7] for i in range(0, 30, 7)), extractor, num=25,
                             keys=("pool3", "logits_unbiased"), progress=False)  # fmt: skip
    assert feats["pool3"].shape == (25, 6) and feats["logits_unbiased"].shape == (25, 3)
    np.testing.assert_array_equal(feats["pool3"], extractor(real[:25])["pool3"])
    result = kernel_inception_distance(feats["pool3"], feats["pool3"][::-1], num_subsets=2, subset_size=25)
    assert result["kid"] == pytest.approx(polynomial_mmd_unbiased(feats["pool3"], feats["pool3"]), abs=1e-12)
    with pytest.raises(ValueError, match="only 30"):
        collect_features(iter([real]), extractor, num=31, progress=False)
    with pytest.raises(KeyError, match="logits"):
        collect_features(
            iter([real]), lambda x: {"pool3": extractor(x)["pool3"]}, keys=("logits",), progress=False
        )
