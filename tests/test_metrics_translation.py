"""Held-out image-to-image metrics against hand-computed values."""

import numpy as np
import pytest

from gans_jax.metrics.translation import (
    l1_distance,
    match_to,
    psnr,
    rgb_to_y,
    shave_border,
    translation_metrics,
)


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


def test_shave_and_y_channel_psnr_hand_values():
    """SR evaluation (Ledig et al. 2017, Sec. 3.1): a ``shave``-pixel border is dropped, and ``psnr_y`` is
    the PSNR of BT.601 luma ``16 + 65.481 R + 128.553 G + 24.966 B`` on 8-bit values."""
    rng = np.random.default_rng(1)
    targets = rng.uniform(-1, 1, (2, 8, 8, 3))
    outputs = targets.copy()
    outputs[:, :2] = -targets[:, :2]  # wrong only in the top 2 rows
    outputs[:, 2:] += 0.02 * np.array([1.0, -0.5, 0.25])  # a small colour shift in the rest
    baseline = np.clip(targets + rng.normal(0, 0.1, targets.shape), -1, 1)
    shaved = translation_metrics(outputs, targets, None, baseline=baseline, shave=2, luma=True)
    # by hand, in 8-bit values, on the inner 4 x 4 pixels
    to8 = lambda a: (a[:, 2:6, 2:6] + 1.0) * 127.5
    luma = lambda a: 16.0 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255.0
    mse_rgb = ((to8(outputs) - to8(targets)) ** 2).mean(axis=(1, 2, 3))
    mse_y = ((luma(to8(outputs)) - luma(to8(targets))) ** 2).mean(axis=(1, 2))
    mse_y_base = ((luma(to8(baseline)) - luma(to8(targets))) ** 2).mean(axis=(1, 2))
    assert shaved["psnr"] == pytest.approx(np.mean(10 * np.log10(255.0**2 / mse_rgb)))
    assert shaved["psnr_y"] == pytest.approx(np.mean(10 * np.log10(255.0**2 / mse_y)))
    assert shaved["baseline_psnr_y"] == pytest.approx(np.mean(10 * np.log10(255.0**2 / mse_y_base)))
    # the shift 0.02 (1, -0.5, 0.25) in [-1, 1] is 1.275 (1, -0.5, 0.25) 8-bit levels; Y weighs it
    assert shaved["l1"] == pytest.approx(0.02 * 1.75 / 3)
    np.testing.assert_allclose(
        rgb_to_y(np.ones((1, 1, 1, 3)))[..., 0], 2 * 235 / 255 - 1, rtol=1e-12
    )  # white is Y = 235
    np.testing.assert_allclose(shave_border(targets, 2), targets[:, 2:6, 2:6])
    unshaved = translation_metrics(outputs, targets, None, baseline=baseline)
    assert unshaved["psnr"] < shaved["psnr"] - 5 and "psnr_y" not in unshaved
    with pytest.raises(ValueError, match="cannot shave 4 pixels"):
        shave_border(targets, 4)
    with pytest.raises(ValueError, match="RGB"):
        rgb_to_y(targets[..., :1])
