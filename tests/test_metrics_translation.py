"""Held-out image-to-image metrics against hand-computed values."""

import numpy as np
import pytest

from gans_jax.metrics.translation import l1_distance, match_to, psnr, translation_metrics


def test_l1_and_psnr_hand_values():
    targets = np.zeros((2, 2, 2, 1))
    outputs = targets.copy()
    outputs[0] += 0.2  # [0, 1] error 0.1 -> MSE 0.01 -> 20 dB
    outputs[1] -= 0.02  # [0, 1] error 0.01 -> MSE 1e-4 -> 40 dB
    assert l1_distance(outputs, targets) == pytest.approx((0.2 + 0.02) / 2)
    assert psnr(outputs, targets) == pytest.approx(30.0)
    assert psnr(targets, targets) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="NHWC"):
        psnr(outputs[:1], targets)


def test_match_to_resizes_and_converts_channels():
    sources = np.full((1, 2, 2, 1), 0.5, np.float32)
    matched = match_to(sources, (1, 8, 8, 3))
    assert matched.shape == (1, 8, 8, 3)
    np.testing.assert_allclose(matched, 0.5, atol=1e-6)  # bicubic keeps a constant image
    colour = np.stack([np.full((1, 4, 4), v) for v in (-1.0, 0.0, 1.0)], axis=-1)
    np.testing.assert_allclose(match_to(colour, (1, 4, 4, 1)), 0.0, atol=1e-7)


def test_translation_metrics_baseline_is_the_matched_source():
    rng = np.random.default_rng(0)
    targets = rng.uniform(-1, 1, (3, 4, 4, 1))
    results = translation_metrics(targets, targets, targets)
    assert results["l1"] == 0.0 and results["baseline_l1"] < 1e-6
    noisy = translation_metrics(targets, targets, np.clip(targets + 0.5, -1, 1))
    assert noisy["baseline_l1"] > 0.1 and noisy["psnr"] > noisy["baseline_psnr"]
