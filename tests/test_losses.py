"""Adversarial losses against hand-computed values, at extreme logits, and through the registry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import losses

REAL = np.array([1.5, -0.5, 0.0, 3.0], np.float32)
FAKE = np.array([-2.0, 0.5, 1.0, -1.0], np.float32)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


D_REAL, D_FAKE = sigmoid(REAL), sigmoid(FAKE)

D_LOSSES = [
    losses.gan_discriminator_loss,
    losses.least_squares_discriminator_loss,
    losses.wasserstein_discriminator_loss,
    losses.hinge_discriminator_loss,
]
G_LOSSES = [
    losses.minimax_generator_loss,
    losses.non_saturating_generator_loss,
    losses.least_squares_generator_loss,
    losses.wasserstein_generator_loss,
    losses.hinge_generator_loss,
]

# (discriminator loss, its value on (REAL, FAKE)), computed in float64 numpy from the formulas.
D_CASES = [
    (losses.gan_discriminator_loss, -np.mean(np.log(D_REAL)) - np.mean(np.log(1 - D_FAKE))),
    (
        losses.least_squares_discriminator_loss,
        0.5 * np.mean((REAL - 1.0) ** 2) + 0.5 * np.mean(FAKE**2),
    ),
    (losses.wasserstein_discriminator_loss, np.mean(FAKE) - np.mean(REAL)),
    (
        losses.hinge_discriminator_loss,
        np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)),
    ),
]
G_CASES = [
    (losses.minimax_generator_loss, np.mean(np.log(1 - D_FAKE))),
    (losses.non_saturating_generator_loss, -np.mean(np.log(D_FAKE))),
    (losses.least_squares_generator_loss, 0.5 * np.mean((FAKE - 1.0) ** 2)),
    (losses.wasserstein_generator_loss, -np.mean(FAKE)),
    (losses.hinge_generator_loss, -np.mean(FAKE)),
]


@pytest.mark.parametrize("fn, expected", D_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_discriminator_loss_values(fn, expected):
    np.testing.assert_allclose(fn(REAL, FAKE), expected, rtol=1e-6)
    # Any logits shape: (B, 1) gives the same value; the result is a scalar.
    out = fn(REAL[:, None], FAKE[:, None])
    assert out.shape == ()
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize("fn, expected", G_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_generator_loss_values(fn, expected):
    np.testing.assert_allclose(fn(FAKE), expected, rtol=1e-6)
    np.testing.assert_allclose(fn(FAKE.reshape(2, 2, 1)), expected, rtol=1e-6)


def test_least_squares_targets():
    a, b, c = -1.0, 1.0, 0.0
    np.testing.assert_allclose(
        losses.least_squares_discriminator_loss(REAL, FAKE, a=a, b=b),
        0.5 * np.mean((REAL - b) ** 2) + 0.5 * np.mean((FAKE - a) ** 2),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        losses.least_squares_generator_loss(FAKE, c=c), 0.5 * np.mean(FAKE**2), rtol=1e-6
    )


def test_one_sided_label_smoothing():
    r = 0.9
    expected = -np.mean(r * np.log(D_REAL) + (1 - r) * np.log(1 - D_REAL)) - np.mean(np.log(1 - D_FAKE))
    np.testing.assert_allclose(losses.gan_discriminator_loss(REAL, FAKE, real_label=r), expected, rtol=1e-6)
    # Smoothing touches only the reals: the fake logits' gradient is unchanged.
    grad_fake = jax.grad(losses.gan_discriminator_loss, argnums=1)
    np.testing.assert_allclose(grad_fake(REAL, FAKE, real_label=r), grad_fake(REAL, FAKE), rtol=1e-6)
    # The optimal real logit becomes logit(0.9) instead of +infinity.
    grad_real = jax.grad(losses.gan_discriminator_loss)(
        jnp.array([np.log(r / (1 - r))]), jnp.zeros(1), real_label=r
    )
    np.testing.assert_allclose(grad_real, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="1.5"):
        losses.gan_discriminator_loss(REAL, FAKE, real_label=1.5)


BIG = 100.0
# (loss on logits at +-100, its asymptotic value). log(1 + e^-100) ~ 4e-44 is below float32 eps.
EXTREME_CASES = [
    (lambda: losses.gan_discriminator_loss(jnp.full(3, BIG), jnp.full(3, -BIG)), 0.0),
    (lambda: losses.gan_discriminator_loss(jnp.full(3, -BIG), jnp.full(3, BIG)), 2 * BIG),
    (
        lambda: losses.gan_discriminator_loss(jnp.full(3, BIG), jnp.full(3, -BIG), real_label=0.9),
        0.1 * BIG,
    ),
    (lambda: losses.minimax_generator_loss(jnp.full(3, -BIG)), 0.0),
    (lambda: losses.minimax_generator_loss(jnp.full(3, BIG)), -BIG),
    (lambda: losses.non_saturating_generator_loss(jnp.full(3, -BIG)), BIG),
    (lambda: losses.non_saturating_generator_loss(jnp.full(3, BIG)), 0.0),
]


@pytest.mark.parametrize("case, expected", EXTREME_CASES)
def test_extreme_logits_asymptotics(case, expected):
    np.testing.assert_allclose(case(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("fn", D_LOSSES, ids=lambda f: f.__name__)
def test_discriminator_losses_finite_at_extremes(fn, sign):
    real = jnp.array([sign * BIG, -sign * BIG, sign * 1e4])
    fake = -real
    value, grads = jax.value_and_grad(fn, argnums=(0, 1))(real, fake)
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(g)) for g in grads)


@pytest.mark.parametrize("fn", G_LOSSES, ids=lambda f: f.__name__)
def test_generator_losses_finite_at_extremes(fn):
    fake = jnp.array([BIG, -BIG, 1e4, -1e4])
    value, grad = jax.value_and_grad(fn)(fake)
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))


def test_sigmoid_gradients_at_extremes():
    # d/dl of -log sigmoid(l) is -(1 - sigmoid(l)): -1 for l -> -inf, 0 for l -> +inf.
    grad = jax.grad(losses.non_saturating_generator_loss)(jnp.array([-BIG, BIG])) * 2
    np.testing.assert_allclose(grad, [-1.0, 0.0], atol=1e-6)
    # d/dl of log(1 - sigmoid(l)) is -sigmoid(l): 0 for l -> -inf, -1 for l -> +inf.
    grad = jax.grad(losses.minimax_generator_loss)(jnp.array([-BIG, BIG])) * 2
    np.testing.assert_allclose(grad, [0.0, -1.0], atol=1e-6)


def test_bfloat16_logits_give_float32_loss():
    out = losses.hinge_discriminator_loss(REAL.astype(jnp.bfloat16), FAKE.astype(jnp.bfloat16))
    assert out.dtype == jnp.float32


# ---- registry ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, d_loss, g_loss",
    [
        ("minimax", losses.gan_discriminator_loss, losses.minimax_generator_loss),
        ("non_saturating", losses.gan_discriminator_loss, losses.non_saturating_generator_loss),
        (
            "least_squares",
            losses.least_squares_discriminator_loss,
            losses.least_squares_generator_loss,
        ),
        ("wasserstein", losses.wasserstein_discriminator_loss, losses.wasserstein_generator_loss),
        ("hinge", losses.hinge_discriminator_loss, losses.hinge_generator_loss),
    ],
)
def test_registry_defaults(name, d_loss, g_loss):
    objective = losses.get_objective(name)
    assert isinstance(objective, losses.Objective)
    assert objective == losses.OBJECTIVES[name]
    assert objective.name == name
    np.testing.assert_allclose(objective.discriminator_loss(REAL, FAKE), d_loss(REAL, FAKE))
    np.testing.assert_allclose(objective.generator_loss(FAKE), g_loss(FAKE))


def test_registry_names():
    assert set(losses.OBJECTIVES) == {
        "minimax",
        "non_saturating",
        "least_squares",
        "wasserstein",
        "hinge",
        "relativistic_pairing",
    }


def test_registry_binds_hyperparameters():
    objective = losses.get_objective("least_squares", a=-1.0, b=1.0, c=0.0)
    np.testing.assert_allclose(
        objective.discriminator_loss(REAL, FAKE),
        losses.least_squares_discriminator_loss(REAL, FAKE, a=-1.0, b=1.0),
    )
    np.testing.assert_allclose(
        objective.generator_loss(FAKE), losses.least_squares_generator_loss(FAKE, c=0.0)
    )
    for name in ("minimax", "non_saturating"):
        objective = losses.get_objective(name, real_label=0.9)
        np.testing.assert_allclose(
            objective.discriminator_loss(REAL, FAKE),
            losses.gan_discriminator_loss(REAL, FAKE, real_label=0.9),
        )
    # Bound losses still compile.
    jitted = jax.jit(losses.get_objective("non_saturating", real_label=0.9).discriminator_loss)
    np.testing.assert_allclose(
        jitted(REAL, FAKE), losses.gan_discriminator_loss(REAL, FAKE, real_label=0.9), rtol=1e-6
    )


def test_registry_unknown_name():
    with pytest.raises(ValueError, match="'bogus'") as info:
        losses.get_objective("bogus")
    for name in losses.OBJECTIVES:
        assert name in str(info.value)


@pytest.mark.parametrize(
    "name, kwargs, bad, valid",
    [
        ("wasserstein", {"real_label": 0.9}, "real_label", "none"),
        ("hinge", {"c": 1.0}, "'c'", "none"),
        ("least_squares", {"real_label": 0.9}, "real_label", "['a', 'b', 'c']"),
        ("minimax", {"a": 0.0}, "'a'", "['real_label']"),
    ],
)
def test_registry_unknown_hyperparameter(name, kwargs, bad, valid):
    with pytest.raises(ValueError) as info:
        losses.get_objective(name, **kwargs)
    message = str(info.value)
    assert bad in message and valid in message and name in message
