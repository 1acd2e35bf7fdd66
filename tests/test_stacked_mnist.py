"""Real stacked MNIST (``data.source="tfds:mnist"``, ``data.stacked=True``; gans_jax.data.stacked) and its
judge trained on MNIST (gans_jax.metrics.digits_classifier), offline: TFDS's ``mock_data`` gives random
MNIST-shaped examples (so the mock classifier's accuracy means nothing: these tests check the mechanics),
and the judge's trainer is checked to learn on the bundled digits."""

import math

import jax
import numpy as np
import pytest

from gans_jax import builders
from gans_jax.data.digits import NUM_CLASSES, load_digits_dataset
from gans_jax.data.pipeline import make_dataset, make_source
from gans_jax.data.shapes import example_shapes
from gans_jax.data.sources import ArraySource
from gans_jax.data.stacked import NUM_TRIPLES, StackedDigitsSource, StackedSource, source_labels
from gans_jax.evaluation import evaluate
from gans_jax.metrics.digits_classifier import DigitsJudge, stacked_judge
from gans_jax.metrics.modes import stacked_modes
from tests.helpers import experiment_config

tfds = pytest.importorskip("tensorflow_datasets")

MNIST = {"source": "tfds:mnist", "stacked": True, "split": "train", "label_key": "label"}


def _chi2(counts, expected):
    keep = expected > 0
    return float(np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])), int(np.sum(keep)) - 1


def test_stacked_mnist_triples_are_independent_and_labelled_right():
    with tfds.testing.mock_data(num_examples=60):
        source = make_source(MNIST, resolution=None)
        assert isinstance(source, StackedSource) and len(source) == NUM_TRIPLES
        assert source.sample_shape == (28, 28, 3) and source.num_classes == 1000
        base = source.base
        shapes = example_shapes(MNIST, resolution=32)
        assert shapes.sample_shape == (32, 32, 3) and shapes.num_classes == 1000
        rows = [0, 7, NUM_TRIPLES - 1]
        batch = source.read_batch(rows)
        for j, i in enumerate(rows):  # channel c is base example index[i, c]; the label is the triple
            parts = base.read_batch(source.index[i])
            for c in range(3):
                np.testing.assert_array_equal(batch["image"][j, ..., c], parts["image"][c, ..., 0])
            r, g, b = parts["label"]
            assert batch["label"][j] == 100 * r + 10 * g + b
        assert batch["image"].shape == (3, 28, 28, 3) and batch["image"].dtype == np.float32
        data = make_dataset(MNIST, resolution=32, batch_size=4, seed=0)
        first = next(data.iterator())
        assert first["image"].shape == (4, 32, 32, 3) and first["label"].max() < 1000
        base_labels = source_labels(base)
    # Each channel's class follows the base's class proportions, and the three are independent: the
    # triple counts match prod_c p(d_c) (chi-square within 5 sd of its mean).
    p = np.bincount(base_labels, minlength=10) / len(base_labels)
    for c in range(3):
        np.testing.assert_allclose(
            np.bincount(source.channel_labels[:, c], minlength=10) / NUM_TRIPLES, p, atol=0.006
        )
    expected = np.einsum("i,j,k->ijk", p, p, p).reshape(-1) * NUM_TRIPLES
    chi2, dof = _chi2(np.bincount(source.labels, minlength=1000), expected)
    assert chi2 < dof + 5 * math.sqrt(2 * dof), (chi2, dof)


def test_stacking_balanced_digits_is_uniform_and_refuses_other_data():
    """Over balanced classes the 1000 triples are uniform; stacking needs one channel and ten classes."""
    digits = load_digits_dataset(8, split="all")
    keep = np.concatenate([np.flatnonzero(digits["label"] == k)[:170] for k in range(10)])
    source = StackedSource(ArraySource({k: v[keep] for k, v in digits.items()}, NUM_CLASSES))
    chi2, dof = _chi2(np.bincount(source.labels, minlength=1000), np.full(1000, NUM_TRIPLES / 1000))
    assert dof == 999 and chi2 < 999 + 5 * 45, chi2
    with pytest.raises(ValueError, match=r"one-channel images .* shape \(4, 4, 3\)"):
        StackedSource(ArraySource({"image": np.zeros((5, 4, 4, 3)), "label": np.zeros(5)}, 10))
    with pytest.raises(ValueError, match="10 digit classes, got num_classes=None"):
        StackedSource(ArraySource({"image": np.zeros((5, 4, 4, 1))}))
    with pytest.raises(ValueError, match="data.stacked stacks .* data.source='offline:edges2faces'"):
        make_source({"source": "offline:edges2faces", "stacked": True}, resolution=16)
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(ValueError, match=r"one-channel images .* \(32, 32, 3\)"):
            make_source({**MNIST, "source": "tfds:cifar10"}, resolution=32)
        with pytest.raises(ValueError, match="num_classes=None"):
            make_source({**MNIST, "label_key": ""}, resolution=28)


def test_judge_trainer_learns_digits_and_scores_stacked_digits():
    """``DigitsJudge.fit_source`` (the MNIST judge's trainer) on the bundled 16x16 digits: >= 95% held out,
    chance with shuffled labels; with it, real stacked digits cover ~all modes and one triple is 1 mode."""
    train, test = (ArraySource(load_digits_dataset(16, split=s), NUM_CLASSES) for s in ("train", "test"))
    judge = DigitsJudge.fit_source(train, test)
    assert judge.side == 8 and judge.real_accuracy() >= 0.95, judge.real_accuracy()
    shuffled = np.random.default_rng(0).permutation(train.arrays["label"])
    noise_judge = DigitsJudge.fit_images(
        train.arrays["image"], shuffled, test.arrays["image"], test.arrays["label"], side=8
    )
    assert noise_judge.real_accuracy() < 0.3
    real = StackedDigitsSource(16, "test", num_triples=5000)
    got = stacked_modes(real.read_batch(np.arange(5000))["image"], judge)
    assert got["modes"] >= 980 and got["kl"] < 0.15, got
    one = stacked_modes(np.repeat(real.read_batch([0])["image"], 50, axis=0), judge)
    assert one["modes"] == 1 and one["kl"] == pytest.approx(math.log(1000))
    with pytest.raises(ValueError, match="at least two classes"):
        DigitsJudge.fit_images(
            train.arrays["image"][:5], np.zeros(5), test.arrays["image"], test.arrays["label"], side=8
        )


def test_stacked_mnist_evaluation_runs_end_to_end_with_an_mnist_judge():
    """The final evaluation of a run on stacked MNIST: a judge trained on the (mock) MNIST train split at the
    model's resolution labels each channel of the generated images; modes, KL and its held-out accuracy."""
    config = experiment_config(
        "dcgan_digits",
        **{"model.resolution": 32, "model.conditional": False, "model.g_channels": 8, "model.d_channels": 8},
    )
    config.data.update(source="tfds:mnist", stacked=True, split="train")
    config.eval.num_samples = 64
    gan = builders.build_gan(config, (32, 32, 3), None)
    state = builders.init_state(config, gan, jax.random.PRNGKey(0), (32, 32, 3))
    with tfds.testing.mock_data(num_examples=40):
        judge = stacked_judge(config.data, 32)
        assert judge.side == 16 and len(judge.test_labels) == 40
        results = evaluate(config, gan, state, jax.random.PRNGKey(1))
    assert results["num_samples"] == 64 and 1 <= results["modes"] <= 64
    assert 0.0 <= results["kl"] <= math.log(1000) + 1e-9 and 0.0 <= results["real_accuracy"] <= 1.0
