"""Stacked digits (gans_jax.data.stacked) and the stacked-modes metric (gans_jax.metrics.modes)."""

import math

import numpy as np
import pytest

from gans_jax.data.pipeline import make_source
from gans_jax.data.shapes import example_shapes
from gans_jax.data.stacked import NUM_TRIPLES, StackedDigitsSource, triple_labels
from gans_jax.metrics.digits_classifier import DigitsJudge
from gans_jax.metrics.modes import stacked_modes


@pytest.fixture(scope="module")
def judge():
    return DigitsJudge.fit()


def test_triples_are_uniform_independent_and_labelled_right():
    data = {"source": "offline:stacked_digits", "split": "train"}
    source = make_source(data, resolution=16)
    assert isinstance(source, StackedDigitsSource) and len(source) == NUM_TRIPLES
    assert source.sample_shape == (16, 16, 3) and source.num_classes == 1000
    shapes = example_shapes(data, resolution=32)
    assert shapes.sample_shape == (32, 32, 3) and shapes.num_classes == 1000
    assert shapes.condition_shape is None
    counts = np.bincount(source.labels, minlength=1000)
    assert counts.min() > 0  # every one of the 1000 modes (100 expected per mode)
    # uniform: the chi-square statistic of 1000 cells is about 999 +- 45 under uniformity
    chi2 = float(np.sum((counts - NUM_TRIPLES / 1000) ** 2 / (NUM_TRIPLES / 1000)))
    assert chi2 < 999 + 5 * 45, chi2
    for c in range(3):  # each channel's digit class is uniform
        np.testing.assert_allclose(np.bincount(source.channel_labels[:, c]) / NUM_TRIPLES, 0.1, atol=0.005)
    # a batch: channel c is digit index[i, c] and the label is its triple of classes
    batch = source.read_batch([0, 7, 99_999])
    assert batch["image"].shape == (3, 16, 16, 3) and batch["image"].dtype == np.float32
    for j, i in enumerate([0, 7, 99_999]):
        for c in range(3):
            np.testing.assert_array_equal(batch["image"][j, ..., c], source.digits[source.index[i, c]])
        r, g, b = source.digit_labels[source.index[i]]
        assert batch["label"][j] == 100 * r + 10 * g + b
    np.testing.assert_array_equal(triple_labels(np.array([[1, 2, 3], [9, 0, 9]])), [123, 909])
    with pytest.raises(ValueError, match="multiple of 8, got 12"):
        StackedDigitsSource(12)
    with pytest.raises(ValueError, match="not an image-to-image task"):
        from gans_jax.data.offline import write_task_folder

        write_task_folder("stacked_digits", "/nonexistent")


def test_modes_of_real_and_collapsed_stacked_digits(judge):
    """Real held-out stacked digits cover ~all 1000 modes with KL ~ 0 (10,000 samples: 10 per mode, so a
    sampling KL of about 999 / (2 * 10,000) = 0.05); one repeated triple is 1 mode, KL = log 1000."""
    real = StackedDigitsSource(16, "test", num_triples=10_000)
    images = real.read_batch(np.arange(len(real)))["image"]
    got = stacked_modes(images, judge)
    assert got["num_samples"] == 10_000
    assert got["modes"] >= 995 and got["kl"] < 0.1, got
    collapsed = stacked_modes(np.repeat(images[:1], 500, axis=0), judge)
    assert collapsed["modes"] == 1
    assert collapsed["kl"] == pytest.approx(math.log(1000), rel=1e-12)
    # the judge's accuracy on held-out digits, per channel and for whole triples
    per_channel = judge.real_accuracy()
    pred = np.stack([judge.predict(images[..., c : c + 1]) for c in range(3)], axis=1)
    triple_accuracy = float(np.mean(triple_labels(pred) == real.labels))
    assert per_channel >= 0.98 and triple_accuracy >= 0.95, (per_channel, triple_accuracy)
    with pytest.raises(ValueError, match=r"shape \(N, H, W, 3\)"):
        stacked_modes(images[..., :1], judge)
