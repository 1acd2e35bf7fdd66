"""How image-to-image generators are run for held-out metrics, sample grids and ``gans-jax translate``
(``eval.batch_stats``): running statistics, or as the pix2pix/CycleGAN authors' ``test.py`` without
``--eval`` (batch size 1 in training mode: each image's own batch-norm statistics, dropout on)."""

import jax
import numpy as np
import pytest

from gans_jax import builders, configs, evaluation
from tests.helpers import experiment_config

SHAPE = (64, 64, 3)  # 6 downs: one dropout layer (decoder layer 1), as the authors' unet at 64x64


@pytest.fixture(scope="module")
def pix2pix():
    config = experiment_config("pix2pix_facades:tiny")
    config.model.update(resolution=64, g_channels=4, d_channels=4)
    gan = builders.build_gan(config, SHAPE, None, SHAPE)
    state = builders.init_state(config, gan, jax.random.PRNGKey(0), SHAPE)
    # running statistics far from any image's own, so the two modes differ
    stats = jax.tree.map(lambda a: a + 0.5, state.g_collections)
    state = state.replace(g_collections=stats)
    images = np.asarray(jax.random.uniform(jax.random.PRNGKey(1), (4, *SHAPE), minval=-1, maxval=1))
    return config, gan, state, images


def test_batch_stats_translate_each_image_alone_in_training_mode(pix2pix):
    config, gan, state, images = pix2pix
    generate = evaluation.translator(gan, batch_stats=True, seed=3)
    out = evaluation.translate(gan, state, images, batch_size=2, generate=generate)
    for i in range(len(images)):
        alone = gan.generate(
            state,
            None,
            images[i : i + 1],
            train=True,
            dropout_key=jax.random.fold_in(jax.random.PRNGKey(3), i),
        )
        np.testing.assert_allclose(out[i], np.asarray(alone[0]), atol=1e-5)
    # the same image gives the same output however the set is batched (start = its index in the set)
    tail = evaluation.translate(gan, state, images[2:], batch_size=2, generate=generate, start=2)
    np.testing.assert_allclose(tail, out[2:], atol=1e-5)
    # dropout is on: another seed, another output; no running statistics involved
    other = evaluation.translate(gan, state, images, batch_stats=True, seed=4, batch_size=2)
    assert not np.allclose(other, out, atol=1e-3)
    moved = state.replace(g_collections=jax.tree.map(lambda a: a + 1.0, state.g_collections))
    np.testing.assert_allclose(
        evaluation.translate(gan, moved, images, batch_size=2, generate=generate), out, atol=1e-5
    )


def test_running_statistics_mode_is_the_generator_in_evaluation_mode(pix2pix):
    config, gan, state, images = pix2pix
    out = evaluation.translate(gan, state, images, batch_stats=False, batch_size=2)
    np.testing.assert_allclose(out, np.asarray(gan.generate(state, None, images)), atol=1e-5)
    per_image = evaluation.translate(gan, state, images, batch_stats=True, batch_size=2)
    assert np.abs(out - per_image).mean() > 1e-2


def test_defaults_follow_the_authors_test_script_for_their_models():
    assert configs.default_config().eval.batch_stats is False  # other models: running statistics
    assert configs.default_config().model.g_test_dropout is True
    for name in ("pix2pix_facades", "cyclegan_horse2zebra"):
        assert experiment_config(name).eval.batch_stats is True
