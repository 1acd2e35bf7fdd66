"""Inception Score on synthetic logits with known answers, and the streaming accumulator."""

import numpy as np
import pytest

from gans_jax.metrics.inception_score import InceptionScoreAccumulator, inception_score


def _reference_is(logits, num_splits):
    """StyleGAN2-ADA's computation on the softmax, part by part."""
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n, scores = len(p), []
    for i in range(num_splits):
        part = p[i * n // num_splits : (i + 1) * n // num_splits]
        kl = part * (np.log(part) - np.log(np.mean(part, axis=0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


def test_uninformative_predictions_score_one():
    assert inception_score(np.zeros((100, 1008)))["is"] == pytest.approx(1.0, abs=1e-12)


def test_confident_balanced_predictions_score_the_class_count():
    k = 10
    logits = np.full((1000, k), -40.0)
    logits[np.arange(1000), np.arange(1000) % k] = 40.0
    result = inception_score(logits, num_splits=10)
    assert result["is"] == pytest.approx(k, rel=1e-6) and result["is_std"] < 1e-6
    assert result["num_samples"] == 1000 and result["num_splits"] == 10


def test_matches_reference_and_streams():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(203, 50)) * 3
    want = _reference_is(logits, 10)
    acc = InceptionScoreAccumulator(203, 10)
    for start in range(0, 203, 17):  # batches straddle the parts
        acc.update(logits[start : start + 17])
    got = acc.result()
    assert (got["is"], got["is_std"]) == pytest.approx(want, rel=1e-10)


def test_errors():
    with pytest.raises(ValueError, match="num_samples >= num_splits"):
        InceptionScoreAccumulator(5, 10)
    acc = InceptionScoreAccumulator(20, 2)
    with pytest.raises(ValueError, match="more than the announced"):
        acc.update(np.zeros((21, 3)))
    acc.update(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="expected 20 samples, got 10"):
        acc.result()


def test_streams_from_image_batches():
    """``inception_score_of_batches`` takes the generator's batches (uint8 or [-1, 1] floats)."""
    from gans_jax.metrics.inception_score import inception_score_of_batches

    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, (40, 4, 4, 3)).astype(np.float32)

    class Extractor:
        has_logits = True

        def __call__(self, batch):  # logits from the uint8 pixels
            return {"logits_unbiased": batch.reshape(len(batch), -1)[:, :20].astype(np.float64) / 40}

    batches = (images[i : i + 16] for i in range(0, 40, 16))
    got = inception_score_of_batches(batches, Extractor(), num=30, num_splits=3, progress=False)
    from gans_jax.metrics.features import images_to_uint8

    want = inception_score(Extractor()(images_to_uint8(images[:30]))["logits_unbiased"], num_splits=3)
    assert got == want
    Extractor.has_logits = False
    with pytest.raises(ValueError, match="output layer"):
        inception_score_of_batches(iter([images]), Extractor(), num=10, progress=False)
