"""The GAN theory of Goodfellow et al. 2014 (Prop. 1, Thm. 1, Sec. 3), checked numerically.

Densities are 1-D Gaussian mixtures evaluated on a fine grid and normalised to probability weights,
so every expectation is an exact weighted sum. The value function goes through the library's
``gan_discriminator_loss``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy, norm

from gans_jax.losses import (
    gan_discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
)

GRID = np.linspace(-10.0, 10.0, 20001)
# A logit this large is a certain discriminator: log_sigmoid(1e4) == 0 exactly in float32.
CERTAIN = 1e4


def mixture(means, scales, weights):
    density = sum(w * norm.pdf(GRID, m, s) for m, s, w in zip(means, scales, weights, strict=True))
    return density / density.sum()


P_DATA = mixture([-2.0, 1.5], [0.7, 1.0], [0.4, 0.6])
P_G = mixture([-0.5, 2.5, 4.0], [1.2, 0.8, 0.9], [0.5, 0.3, 0.2])


def optimal_logits(p_data, p_g):
    """logit(D*) with D* = p_data / (p_data + p_g) (Prop. 1), i.e. log p_data - log p_g."""
    return np.log(p_data) - np.log(p_g)


def value(logits, p_data, p_g):
    """V(D) = E_pdata[log D(x)] + E_pg[log(1 - D(x))] through ``gan_discriminator_loss``.

    On one real logit l and one fake logit l', the loss is -log D(l) - log(1 - D(l')); pairing a
    grid point with a certain logit on the other side isolates each term, which the density then
    weights.
    """
    logits = jnp.asarray(logits, jnp.float32)
    pointwise = jax.vmap(gan_discriminator_loss)
    neg_log_d = pointwise(logits, jnp.full_like(logits, -CERTAIN))
    neg_log_one_minus_d = pointwise(jnp.full_like(logits, CERTAIN), logits)
    return -(p_data @ np.asarray(neg_log_d, np.float64) + p_g @ np.asarray(neg_log_one_minus_d))


def jsd(p, q):
    """Jensen-Shannon divergence in nats, from KL divergences to the mixture."""
    m = 0.5 * (p + q)
    return 0.5 * entropy(p, m) + 0.5 * entropy(q, m)


def test_value_matches_numpy_weighted_sums():
    d = np.clip(np.random.default_rng(0).uniform(size=GRID.size), 0.01, 0.99)
    expected = P_DATA @ np.log(d) + P_G @ np.log(1 - d)
    np.testing.assert_allclose(value(np.log(d / (1 - d)), P_DATA, P_G), expected, rtol=1e-6)


def test_optimal_discriminator_maximises_value():
    """Prop. 1: for fixed G, D*(x) = p_data / (p_data + p_g) maximises V(D)."""
    best = value(optimal_logits(P_DATA, P_G), P_DATA, P_G)
    rng = np.random.default_rng(1)
    base = optimal_logits(P_DATA, P_G)
    for scale in (0.05, 0.2, 1.0, 3.0):
        for _ in range(25):
            perturbed = base + scale * rng.normal(size=GRID.size)
            assert value(perturbed, P_DATA, P_G) < best
        # Smooth perturbations (a shifted or rescaled logit) are also worse.
        assert value(base + scale, P_DATA, P_G) < best
        assert value(base * (1 + scale), P_DATA, P_G) < best


def test_optimal_value_is_jensen_shannon():
    """Thm. 1: V(D*, G) = -log 4 + 2 JSD(p_data || p_g)."""
    v = value(optimal_logits(P_DATA, P_G), P_DATA, P_G)
    divergence = jsd(P_DATA, P_G)
    # scipy's jensenshannon is the square root of the JSD (natural log by default).
    np.testing.assert_allclose(divergence, jensenshannon(P_DATA, P_G) ** 2, rtol=1e-9)
    assert 0.1 < divergence < np.log(2)  # a non-trivial pair of densities
    np.testing.assert_allclose(v, -np.log(4) + 2 * divergence, atol=1e-6)


def test_global_minimum_at_data_distribution():
    """Thm. 1: when p_g = p_data, D* = 1/2 everywhere and V(D*) = -log 4, the global minimum."""
    logits = optimal_logits(P_DATA, P_DATA)
    np.testing.assert_array_equal(logits, 0.0)
    np.testing.assert_allclose(value(logits, P_DATA, P_DATA), -np.log(4), atol=1e-6)
    # Any other generator scores higher against its own optimal discriminator.
    assert value(optimal_logits(P_DATA, P_G), P_DATA, P_G) > -np.log(4) + 0.1


@pytest.mark.parametrize("logit", [-10.0, -20.0])
def test_minimax_generator_gradient_vanishes(logit):
    """Sec. 3: when D rejects the fakes (D(G(z)) -> 0), log(1 - D) saturates; -log D does not."""
    fake = jnp.full(8, logit)
    # Per-logit gradients: the loss averages over the batch, so scale by the batch size.
    minimax = jax.grad(minimax_generator_loss)(fake) * fake.size
    non_saturating = jax.grad(non_saturating_generator_loss)(fake) * fake.size
    d = jax.nn.sigmoid(logit)
    np.testing.assert_allclose(minimax, -d, rtol=1e-5)
    np.testing.assert_allclose(non_saturating, -(1 - d), rtol=1e-6)
    assert np.all(np.abs(minimax) < 1e-4)
    assert np.all(np.abs(non_saturating) > 0.9999)
