"""Tests for gans_jax.data.toy (VEEGAN/PacGAN 2-D mixtures)."""

import numpy as np
import pytest

from gans_jax.data.toy import GaussianMixture2D, get_mixture, grid_means, ring_means


def test_ring_means():
    means = ring_means()
    assert means.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0)
    np.testing.assert_allclose(means[0], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(means[2], [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(ring_means(4, 2.0)[1], [0.0, 2.0], atol=1e-12)


def test_grid_means():
    means = grid_means()
    assert means.shape == (25, 2)
    assert sorted({tuple(m) for m in means}) == [
        (x, y) for x in (-4.0, -2.0, 0.0, 2.0, 4.0) for y in (-4.0, -2.0, 0.0, 2.0, 4.0)
    ]


def test_constructors():
    ring, grid = GaussianMixture2D.ring8(), GaussianMixture2D.grid25()
    assert (ring.num_modes, ring.std) == (8, 0.01)
    assert (grid.num_modes, grid.std) == (25, 0.05)
    np.testing.assert_array_equal(get_mixture("ring8").means, ring.means)
    np.testing.assert_array_equal(get_mixture("grid25").means, grid.means)
    with pytest.raises(ValueError, match=r"'spiral'.*ring8.*grid25"):
        get_mixture("spiral")


def test_sample_statistics_and_determinism():
    mix = GaussianMixture2D.grid25()
    x = mix.sample(0, 20000)
    assert x.shape == (20000, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, mix.sample(0, 20000))
    np.testing.assert_array_equal(x, mix.sample(np.random.default_rng(0), 20000))
    assert not np.array_equal(x, mix.sample(1, 20000))
    nearest = np.argmin(((x[:, None] - mix.means[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=25)
    assert counts.min() > 0.8 * 20000 / 25 and counts.max() < 1.2 * 20000 / 25  # uniform
    residual = x - mix.means[nearest]
    np.testing.assert_allclose(residual.std(axis=0), 0.05, rtol=0.05)
    np.testing.assert_allclose(residual.mean(axis=0), 0.0, atol=0.002)


def test_generator_is_advanced():
    rng = np.random.default_rng(3)
    mix = GaussianMixture2D.ring8()
    assert not np.array_equal(mix.sample(rng, 10), mix.sample(rng, 10))
    assert mix.sample(rng, 0).shape == (0, 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"\(K, 2\).*\(3, 3\)"):
        GaussianMixture2D(means=np.zeros((3, 3)), std=0.1)
    with pytest.raises(ValueError, match="std.*-1"):
        GaussianMixture2D(means=np.zeros((3, 2)), std=-1.0)
    with pytest.raises(ValueError, match="n must be.*-5"):
        GaussianMixture2D.ring8().sample(0, -5)
