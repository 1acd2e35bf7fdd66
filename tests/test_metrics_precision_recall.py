"""Improved precision and recall on features with known overlap, and a swapped-in extractor."""

import numpy as np
import pytest

from gans_jax.metrics.precision_recall import (
    knn_radii,
    manifold_coverage,
    precision_recall,
    precision_recall_of_images,
)


def test_hand_computed_radii_and_coverage():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    # k = 1: nearest other point; k = 2: second nearest
    np.testing.assert_allclose(knn_radii(points, k=1), [1, 1, 2, 4], atol=1e-6)
    np.testing.assert_allclose(knn_radii(points, k=2), [3, 2, 3, 6], atol=1e-6)
    probe = np.array([[-0.9], [5.0], [11.5], [12.0]])
    # balls (k=1): [-1, 1], [0, 2], [1, 5], [3, 11] -> -0.9, 5.0 inside; 11.5, 12.0 outside
    assert manifold_coverage(probe, points, knn_radii(points, k=1)) == pytest.approx(0.5)


def test_known_overlap():
    """Real: clusters A and B; fake: the same points of A, and a cluster C far away: exactly half of each
    set lies in the other's manifold."""
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(200, 8)), 50 + rng.normal(size=(200, 8)), -50 + rng.normal(size=(200, 8))
    real, fake = np.concatenate([a, b]), np.concatenate([c, a])
    result = precision_recall(real, fake, k=3, row_batch_size=64, col_batch_size=50)
    assert result["precision"] == 0.5  # fake in A is covered, fake in C is not
    assert result["recall"] == 0.5  # real in A is covered, real in B is not
    assert result["k"] == 3 and result["num_real"] == 400 and result["num_fake"] == 400
    same = precision_recall(real, real[::-1], k=3)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    # two samples of one distribution: most, not all, of each set falls in the other's manifold
    fresh = precision_recall(a, rng.normal(size=(200, 8)), k=3)
    assert 0.6 < fresh["precision"] < 1.0 and 0.6 < fresh["recall"] < 1.0


def test_swappable_extractor():
    rng = np.random.default_rng(1)
    real = rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8)

    def colour_means(images):  # any callable returning features (an array or a dict) will do
        return np.asarray(images, np.float32).mean(axis=(1, 2))

    result = precision_recall_of_images(real, real.copy(), colour_means)
    assert result["precision"] == 1.0 and result["recall"] == 1.0
    far = np.full_like(real, 255)
    far[..., 0] = 0
    assert precision_recall_of_images(real, far, lambda x: {"pool3": colour_means(x)})["precision"] == 0.0


def test_bad_inputs():
    with pytest.raises(ValueError, match="more than 3 samples"):
        knn_radii(np.zeros((3, 2)), k=3)
    with pytest.raises(ValueError, match="same d"):
        precision_recall(np.zeros((5, 2)), np.zeros((5, 3)))
