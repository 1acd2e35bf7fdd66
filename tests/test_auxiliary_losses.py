"""InfoGAN, AC-GAN and feature-matching losses, latent codes and code purity against hand-computed values."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import auxiliary_losses as aux
from gans_jax.latent_codes import LatentCodes, structured_latents
from gans_jax.metrics.purity import code_purity


def test_categorical_mutual_information_of_a_perfect_q_is_the_entropy_bound():
    """L_I = E log Q(c|x) + H(c) reaches H(c) = log K when Q recovers c exactly (Chen et al., Eq. 5)."""
    rng = np.random.default_rng(0)
    c1, c2 = rng.integers(0, 10, 64), rng.integers(0, 3, 64)
    onehots = [jax.nn.one_hot(c1, 10), jax.nn.one_hot(c2, 3)]
    perfect = 100.0 * jnp.concatenate(onehots, -1)
    value = aux.categorical_mutual_information(perfect, onehots)
    np.testing.assert_allclose(float(value), math.log(10) + math.log(3), rtol=1e-6)
    # A Q that knows nothing (uniform) gives the bound's minimum, 0.
    uniform = jnp.zeros((64, 13))
    np.testing.assert_allclose(float(aux.categorical_mutual_information(uniform, onehots)), 0.0, atol=1e-6)
    # By hand for one example: log softmax([1, 2, 0])[1] + log 3.
    logits = jnp.array([[1.0, 2.0, 0.0]])
    expected = 2.0 - math.log(math.e + math.e**2 + 1.0) + math.log(3)
    got = aux.categorical_mutual_information(logits, [jax.nn.one_hot(jnp.array([1]), 3)])
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="13"):
        aux.categorical_mutual_information(jnp.zeros((64, 14)), onehots)


def test_gaussian_mutual_information_by_hand():
    mean = jnp.array([[0.5, -0.2], [0.0, 0.3]])
    log_std = jnp.array([[0.0, math.log(0.5)], [math.log(2.0), 0.0]])
    codes = jnp.array([[0.1, -0.4], [0.9, 0.3]])
    log_pdf = lambda c, m, s: -0.5 * ((c - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
    per_example = [
        log_pdf(0.1, 0.5, 1.0) + log_pdf(-0.4, -0.2, 0.5),
        log_pdf(0.9, 0.0, 2.0) + log_pdf(0.3, 0.3, 1.0),
    ]
    expected = np.mean(per_example) + 2 * math.log(2.0)  # + H(Unif(-1, 1)^2)
    np.testing.assert_allclose(
        float(aux.gaussian_mutual_information(mean, log_std, codes)), expected, rtol=1e-6
    )
    # Fixed std: a scalar log_std broadcasts.
    fixed = aux.gaussian_mutual_information(mean, 0.0, codes)
    expected = (
        np.mean(np.sum(-0.5 * (np.asarray(codes - mean)) ** 2, -1)) - math.log(2 * math.pi) + 2 * math.log(2)
    )
    np.testing.assert_allclose(float(fixed), expected, rtol=1e-6)


def test_auxiliary_classifier_and_feature_matching_by_hand():
    logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    labels = jnp.array([0, 2])
    expected = 0.5 * (-(2.0 - math.log(math.e**2 + 2)) + math.log(3))
    np.testing.assert_allclose(float(aux.auxiliary_classifier_loss(logits, labels)), expected, rtol=1e-6)

    real = jnp.array([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = jnp.array([[0.0, 0.0], [1.0, 1.0], [2.0, -4.0]])  # mean (1, -1)
    np.testing.assert_allclose(float(aux.feature_matching_loss(real, fake)), 1.0 + 16.0, rtol=1e-6)
    maps = jnp.arange(2 * 2 * 2 * 3, dtype=jnp.float32).reshape(2, 2, 2, 3)  # flattened per example
    np.testing.assert_allclose(
        float(aux.feature_matching_loss(maps, maps[::-1] * 0)),
        float(jnp.sum(jnp.mean(maps.reshape(2, -1), 0) ** 2)),
        rtol=1e-6,
    )


def test_latent_codes_sample_split_and_set():
    codes = LatentCodes((10, 3), 2)
    assert codes.dim == 15 and bool(codes) and not LatentCodes()
    z = structured_latents(jax.random.PRNGKey(0), 500, 20, codes, "uniform")
    assert z.shape == (500, 20)
    noise, onehots, continuous = codes.split(z)
    assert noise.shape == (500, 5) and continuous.shape == (500, 2)
    for onehot, size in zip(onehots, (10, 3), strict=True):
        assert onehot.shape == (500, size)
        np.testing.assert_array_equal(np.sort(np.unique(np.asarray(onehot))), [0.0, 1.0])
        np.testing.assert_array_equal(np.asarray(onehot.sum(-1)), 1.0)
        assert len(np.unique(np.argmax(np.asarray(onehot), -1))) == size  # every value drawn
    assert float(jnp.min(continuous)) >= -1 and float(jnp.max(continuous)) <= 1
    assert float(jnp.std(continuous)) == pytest.approx(2 / math.sqrt(12), rel=0.1)  # Unif(-1, 1)
    values = jnp.arange(500) % 3
    z2 = codes.set_categorical(z, values, index=1)
    np.testing.assert_array_equal(np.argmax(np.asarray(codes.split(z2)[1][1]), -1), np.asarray(values))
    np.testing.assert_array_equal(np.asarray(codes.split(z2)[1][0]), np.asarray(onehots[0]))
    with pytest.raises(ValueError, match="15 code"):
        structured_latents(jax.random.PRNGKey(0), 2, 14, codes)
    with pytest.raises(ValueError, match=r"\(1,\)"):
        LatentCodes((1,))


def test_code_purity_by_hand():
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    preds = np.array([7, 7, 7, 1, 3, 3, 7, 7, 7, 7])
    # majorities 7, 3, 7: agreeing 3 + 2 + 3 = 8 of 10; two distinct classes.
    assert code_purity(codes, preds) == {"purity": 0.8, "distinct_classes": 2}
    with pytest.raises(ValueError, match="equal"):
        code_purity(codes, preds[:3])
