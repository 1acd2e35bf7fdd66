"""Auxiliary losses as pure functions: InfoGAN, AC-GAN and feature matching on discriminator heads,
and the reconstruction terms of image-to-image GANs (L1, MSE).

The train step (:func:`gans_jax.training.step.auxiliary_loss`) adds them to the players' losses;
here they are plain functions of head outputs, codes and labels. All return scalars (float32) and
average over the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import optax

LOG_2 = float(jnp.log(2.0))


def categorical_mutual_information(code_logits: jax.Array, codes: Sequence[jax.Array]) -> jax.Array:
    """InfoGAN's variational lower bound L_I for categorical codes (Chen et al. 2016, Eq. 5).

    ``L_I = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c)``, summed over the codes; a uniform code
    with ``K`` values has ``H(c) = log K``. ``code_logits`` is ``(B, sum K_i)`` (the Q head's logits of
    every code, concatenated in order) and ``codes`` the one-hot codes ``[(B, K_i)]`` that made the
    samples. L_I <= I(c; G(z, c)) <= H(c), with equality for a perfect Q: the players *maximise* it.
    """
    total = jnp.zeros((), jnp.float32)
    start = 0
    for onehot in codes:
        size = onehot.shape[-1]
        if code_logits.shape[-1] < start + size:
            raise ValueError(
                f"code_logits of shape {code_logits.shape} hold fewer than {start + size} logits"
            )
        logits = code_logits[:, start : start + size].astype(jnp.float32)
        start += size
        log_q = jnp.mean(jnp.sum(onehot * jax.nn.log_softmax(logits), axis=-1))
        total = total + log_q + jnp.log(float(size))
    if start != code_logits.shape[-1]:
        raise ValueError(f"code_logits of shape {code_logits.shape} but the codes have {start} values")
    return total


def gaussian_mutual_information(mean: jax.Array, log_std: jax.Array, codes: jax.Array) -> jax.Array:
    """InfoGAN's lower bound L_I for continuous codes ``c ~ Unif(-1, 1)^n`` with a factored Gaussian Q.

    Chen et al. 2016, Eq. 5 and Sec. 6 ("for continuous latent codes ... a factored Gaussian"):
    ``L_I = E[sum_j log N(c_j; mu_j(x), sigma_j(x)^2)] + n log 2`` (H of Unif(-1, 1) is log 2). Pass a
    constant ``log_std`` (e.g. 0) for the fixed-variance Q of the authors' code.
    """
    mean, codes = mean.astype(jnp.float32), codes.astype(jnp.float32)
    log_std = jnp.broadcast_to(jnp.asarray(log_std, jnp.float32), mean.shape)
    if mean.shape != codes.shape:
        raise ValueError(
            f"Q mean of shape {mean.shape} does not match continuous codes of shape {codes.shape}"
        )
    z = (codes - mean) * jnp.exp(-log_std)
    log_q = -0.5 * jnp.square(z) - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    return jnp.mean(jnp.sum(log_q, axis=-1)) + codes.shape[-1] * LOG_2


def auxiliary_classifier_loss(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
    """AC-GAN's class term as a loss, ``-E[log P(C = c | X)]`` (Odena et al. 2017, Eq. 2: L_C is its
    negation; D maximises L_S + L_C, G maximises L_C - L_S, so both *minimise* this on fakes)."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits.astype(jnp.float32), labels))


def feature_matching_loss(real_features: jax.Array, fake_features: jax.Array) -> jax.Array:
    """``|| E_x f(x) - E_z f(G(z)) ||_2^2`` over an intermediate discriminator layer ``f`` (Salimans et
    al. 2016, "Improved Techniques for Training GANs", Sec. 3.1); features are flattened per example."""
    real = real_features.reshape(real_features.shape[0], -1).astype(jnp.float32)
    fake = fake_features.reshape(fake_features.shape[0], -1).astype(jnp.float32)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real features {real_features.shape} and fake {fake_features.shape} differ in size")
    return jnp.sum(jnp.square(jnp.mean(real, axis=0) - jnp.mean(fake, axis=0)))


def _matching(a: jax.Array, b: jax.Array, what: str) -> tuple[jax.Array, jax.Array]:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes {a.shape} and {b.shape} differ")
    return a.astype(jnp.float32), b.astype(jnp.float32)


def l1_loss(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """Mean absolute error ``E |target - prediction|`` over all elements: pix2pix's L1 term (Isola et al.
    2017, Eq. 3) and CycleGAN's cycle-consistency and identity terms (Zhu et al. 2017, Eq. 2)."""
    prediction, target = _matching(prediction, target, "l1_loss")
    return jnp.mean(jnp.abs(target - prediction))


def l2_loss(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error over all elements: SRGAN's pixel-wise (or feature-wise) content loss
    (Ledig et al. 2017, Eq. 4-5)."""
    prediction, target = _matching(prediction, target, "l2_loss")
    return jnp.mean(jnp.square(target - prediction))
