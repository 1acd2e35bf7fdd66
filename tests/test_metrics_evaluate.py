"""Metrics of trained runs: metric names, deterministic sampling, and the plumbing of evaluate_run
(with a cheap stand-in feature extractor; the Inception network itself is tested elsewhere)."""

import numpy as np
import pytest

from gans_jax import builders
from gans_jax.data.pipeline import make_dataset
from gans_jax.metrics import evaluate
from gans_jax.metrics.features import images_to_uint8
from gans_jax.metrics.fid import FeatureStats, frechet_distance, generator_batches
from gans_jax.metrics.precision_recall import precision_recall
from gans_jax.training import loop
from tests.helpers import ONE_DEVICE, experiment_config


def test_metric_names_follow_stylegan():
    assert evaluate.parse_metric("fid50k") == ("fid", 50_000, None)
    assert evaluate.parse_metric("pr50k3") == ("pr", 50_000, 3)
    assert evaluate.parse_metric("kid1k") == ("kid", 1000, None)
    assert evaluate.parse_metric("pr50k3_inception") == ("pr_inception", 50_000, 3)
    assert evaluate.parse_metric("pr50k3_inception_full") == ("pr_inception", 50_000, 3)
    assert evaluate.needs_vgg16(["fid50k", "pr50k3_full"]) and not evaluate.needs_vgg16(["pr50k3_inception"])
    for bad in ["fid", "fid50", "kid50k3", "ppl50k", "fid50k_inception", "pr50k3_full_inception"]:
        with pytest.raises(ValueError, match=bad):
            evaluate.parse_metric(bad)


class PixelFeatures:
    """A stand-in extractor: 16 fixed random projections of the uint8 pixels, plus fake logits."""

    has_logits = True

    def __call__(self, images):
        x = np.asarray(images, np.float32).reshape(len(images), -1) / 255.0
        w = np.random.default_rng(0).normal(size=(x.shape[1], 16)).astype(np.float32)
        f = x @ w
        return {"pool3": f, "logits_unbiased": np.concatenate([f, -f], axis=1)}


def vgg_stand_in(images):
    """A stand-in for the VGG16 extractor: 8 other random projections, as ``{"fc7": ...}``."""
    x = np.asarray(images, np.float32).reshape(len(images), -1) / 255.0
    return {"fc7": x @ np.random.default_rng(1).normal(size=(x.shape[1], 8)).astype(np.float32)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    config = experiment_config("dcgan_digits", **{"train.steps": 2, "train.log_every": 1})
    loop.train(config, str(workdir), progress=False, devices=ONE_DEVICE)
    config, gan, state = builders.load_run(str(workdir))
    dataset = make_dataset(config.data, resolution=16, batch_size=50, seed=0)
    return gan, state, dataset


def test_run_sampler_is_deterministic(run):
    gan, state, _ = run
    sample = evaluate.run_sampler(gan, state, seed=1)
    np.testing.assert_array_equal(sample(3, 5), sample(3, 5))
    assert not np.array_equal(sample(3, 5), sample(4, 5))


def test_evaluate_run_computes_every_metric_from_one_pass(run):
    gan, state, dataset = run
    names = ["fid1k", "kid1k", "pr1k3", "pr1k3_inception", "is1k"]
    with pytest.raises(ValueError, match=r"pr1k3 uses the fc7 features of NVIDIA's VGG16.*pr1k3_inception"):
        evaluate.evaluate_run(gan, state, dataset, names, PixelFeatures(), batch_size=100, progress=False)
    results = evaluate.evaluate_run(
        gan, state, dataset, names, PixelFeatures(), vgg16_extractor=vgg_stand_in, batch_size=100,
        progress=False,
    )  # fmt: skip
    assert results["fid1k_num_fake"] == 1000 and results["fid1k_num_real"] == 1000
    assert results["fid1k"] > 0 and np.isfinite(results["kid1k"])
    for name in ("pr1k3", "pr1k3_inception"):
        assert 0 <= results[f"{name}_precision"] <= 1 and 0 <= results[f"{name}_recall"] <= 1
    assert results["is1k"] >= 1.0
    # the FID equals the Frechet distance of the two feature sets computed directly
    extractor = PixelFeatures()
    fake = np.concatenate(
        [extractor(images_to_uint8(b))["pool3"] for b in generator_batches(
            evaluate.run_sampler(gan, state), 1000, 100)]
    )  # fmt: skip
    real = np.concatenate(
        [extractor(images_to_uint8(b))["pool3"] for b in evaluate.dataset_batches(dataset, 1000)]
    )
    f, r = FeatureStats(16).update(fake), FeatureStats(16).update(real)
    np.testing.assert_allclose(results["fid1k"], frechet_distance(f.mu, f.sigma, r.mu, r.sigma), rtol=1e-5)
    # pr1k3 is precision/recall of the VGG16 features in float16, pr1k3_inception of the Inception ones
    vgg = {
        side: np.concatenate([vgg_stand_in(images_to_uint8(b))["fc7"] for b in batches])
        for side, batches in (
            ("fake", generator_batches(evaluate.run_sampler(gan, state), 1000, 100)),
            ("real", evaluate.dataset_batches(dataset, 1000)),
        )
    }
    expected = precision_recall(vgg["real"], vgg["fake"], k=3, float16=True)
    assert (results["pr1k3_precision"], results["pr1k3_recall"]) == (
        expected["precision"],
        expected["recall"],
    )
    expected = precision_recall(real, fake, k=3)
    assert results["pr1k3_inception_precision"] == expected["precision"]
    assert results["pr1k3_inception_recall"] == expected["recall"]


def test_full_metrics_compare_with_the_whole_dataset(run):
    """``fid1k`` reads as many real images as generated ones; ``fid1k_full`` (StyleGAN2-ADA's suffix)
    reads the whole dataset, and equals the Frechet distance to all of its features."""
    gan, state, dataset = run
    assert evaluate.parse_metric("fid50k_full") == ("fid", 50_000, None) and evaluate.is_full("kid1k_full")
    with pytest.raises(ValueError, match="reads no real images"):
        evaluate.parse_metric("is50k_full")
    results = evaluate.evaluate_run(
        gan, state, dataset, ["fid1k", "fid1k_full", "pr1k3_inception_full"], PixelFeatures(), batch_size=100,
        progress=False,
    )  # fmt: skip
    assert dataset.num_examples > 1000
    assert results["fid1k_num_real"] == 1000 and results["fid1k_full_num_real"] == dataset.num_examples
    assert results["pr1k3_inception_full_num_real"] == dataset.num_examples
    extractor = PixelFeatures()
    fake = np.concatenate(
        [
            extractor(images_to_uint8(b))["pool3"]
            for b in generator_batches(evaluate.run_sampler(gan, state), 1000, 100)
        ]
    )
    real = np.concatenate(
        [
            extractor(images_to_uint8(b))["pool3"]
            for b in evaluate.dataset_batches(dataset, dataset.num_examples)
        ]
    )
    f, r = FeatureStats(16).update(fake), FeatureStats(16).update(real)
    np.testing.assert_allclose(
        results["fid1k_full"], frechet_distance(f.mu, f.sigma, r.mu, r.sigma), rtol=1e-5
    )
    r1k = FeatureStats(16).update(real[:1000])
    np.testing.assert_allclose(
        results["fid1k"], frechet_distance(f.mu, f.sigma, r1k.mu, r1k.sigma), rtol=1e-5
    )
