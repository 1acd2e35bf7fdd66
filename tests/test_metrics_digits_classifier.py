"""Tests for gans_jax.metrics.digits_classifier."""

import numpy as np
import pytest

from gans_jax.data.digits import load_digits_dataset
from gans_jax.metrics.digits_classifier import DigitsJudge, images_to_digits_8x8


@pytest.fixture(scope="module")
def judge():
    return DigitsJudge.fit(seed=0)


def test_real_accuracy(judge):
    assert judge.real_accuracy() >= 0.95


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_real_upscaled_digits_agree(judge, split, resolution):
    d = load_digits_dataset(resolution, split=split)
    assert judge.class_agreement(d["image"], d["label"]) >= 0.95
    shuffled = np.random.default_rng(0).permutation(d["label"])
    assert judge.class_agreement(d["image"], shuffled) < 0.3


def test_predict_dtype_and_round_trip(judge):
    d = load_digits_dataset(8, split="test")
    pred = judge.predict(d["image"])
    assert pred.shape == d["label"].shape and pred.dtype == np.int32
    assert np.mean(pred == d["label"]) == pytest.approx(judge.real_accuracy())
    np.testing.assert_allclose(images_to_digits_8x8(d["image"]), judge.test_images, atol=1e-5)


def test_noise_has_low_agreement(judge):
    noise = np.random.default_rng(0).uniform(-1, 1, (500, 16, 16, 1)).astype(np.float32)
    labels = np.arange(500) % 10
    assert judge.class_agreement(noise, labels) < 0.3


def test_bad_inputs(judge):
    with pytest.raises(ValueError, match="multiple of 8.*12x12"):
        judge.predict(np.zeros((2, 12, 12, 1)))
    with pytest.raises(ValueError, match=r"1 channel.*\(2, 16, 16, 3\)"):
        judge.predict(np.zeros((2, 16, 16, 3)))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        judge.class_agreement(np.zeros((2, 16, 16, 1)), np.zeros(3))
