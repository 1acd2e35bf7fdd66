"""Tests for gans_jax.metrics.modes (VEEGAN/PacGAN mode coverage)."""

import math

import numpy as np
import pytest

from gans_jax.data.toy import GaussianMixture2D
from gans_jax.metrics.modes import mode_metrics


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_true_samples_cover_all_modes(name):
    mix = getattr(GaussianMixture2D, name)()
    m = mode_metrics(mix.sample(0, 50000), mix)
    assert m["num_modes"] == mix.num_modes
    assert m["modes_captured"] == mix.num_modes
    # 2-D distance to the mean is Rayleigh: P(r <= 3 std) = 1 - exp(-9/2) = 0.9889.
    assert m["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)
    assert 0.0 <= m["reverse_kl"] < 0.005


def test_collapsed_generator():
    mix = GaussianMixture2D.grid25()
    samples = np.tile(mix.means[7], (1000, 1)) + 0.01
    m = mode_metrics(samples, mix)
    assert m["modes_captured"] == 1
    assert m["high_quality_fraction"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(25))


def test_hand_computed_reverse_kl_and_min_count():
    mix = GaussianMixture2D.ring8()
    # 3 samples on mode 0, 1 on mode 1, 1 far away (not high quality).
    samples = np.concatenate([np.repeat(mix.means[:1], 3, 0), mix.means[1:2], [[5.0, 5.0]]])
    m = mode_metrics(samples, mix)
    p = np.array([0.75, 0.25])
    assert m["reverse_kl"] == pytest.approx(float(np.sum(p * np.log(p * 8))))
    assert m["high_quality_fraction"] == pytest.approx(0.8)
    assert m["modes_captured"] == 2
    assert mode_metrics(samples, mix, min_count=2)["modes_captured"] == 1
    assert mode_metrics(samples, mix, min_count=4)["modes_captured"] == 0


def test_threshold():
    mix = GaussianMixture2D.ring8()  # std 0.01
    samples = mix.means[:1] + np.array([[0.025, 0.0]])  # 2.5 std away
    assert mode_metrics(samples, mix)["high_quality_fraction"] == 1.0
    assert mode_metrics(samples, mix, threshold_std=2.0)["high_quality_fraction"] == 0.0


def test_far_samples():
    mix = GaussianMixture2D.ring8()
    m = mode_metrics(np.random.default_rng(0).normal(10.0, 1.0, (500, 2)), mix)
    assert m["modes_captured"] == 0
    assert m["high_quality_fraction"] == 0.0
    assert m["reverse_kl"] == math.inf


def test_bad_inputs():
    mix = GaussianMixture2D.ring8()
    with pytest.raises(ValueError, match=r"\(N, 2\).*\(4, 3\)"):
        mode_metrics(np.zeros((4, 3)), mix)
    with pytest.raises(ValueError, match="min_count.*0"):
        mode_metrics(np.zeros((4, 2)), mix, min_count=0)
    with pytest.raises(ValueError, match="NaN"):
        mode_metrics(np.full((4, 2), np.nan), mix)
