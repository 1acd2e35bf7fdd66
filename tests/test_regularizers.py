"""Regularisers against hand computations."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax import regularizers

KEY = jax.random.key(0)


def batch(seed, shape=(5, 2, 3)):
    return jax.random.normal(jax.random.key(seed), shape)


def linear_critic(w):
    """critic(x)_b = <x_b, w>: its input gradient is w for every example."""
    return lambda x: x.reshape(x.shape[0], -1) @ w


# ---- gradient penalty ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", [1.0, 0.5])
def test_gradient_penalty_linear_critic(target):
    w = jnp.array([0.3, -1.2, 0.5, 2.0, 0.0, -0.7])
    real, fake = batch(1), batch(2)
    penalty = regularizers.gradient_penalty(linear_critic(w), real, fake, KEY, target=target)
    np.testing.assert_allclose(penalty, (np.linalg.norm(w) - target) ** 2, rtol=1e-5)


def test_gradient_penalty_nonlinear_critic():
    real, fake = batch(1), batch(2)

    def critic(x):  # sum of squares per example, output (B, 1); gradient 2 * x.
        return jnp.sum(x**2, axis=(1, 2))[:, None]

    eps = np.asarray(jax.random.uniform(KEY, (5, 1, 1)))
    x_hat = eps * np.asarray(real) + (1 - eps) * np.asarray(fake)
    norms = np.linalg.norm((2 * x_hat).reshape(5, -1), axis=1)
    expected = np.mean((norms - 1.0) ** 2)
    penalty = regularizers.gradient_penalty(critic, real, fake, KEY)
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)


def test_gradient_penalty_differentiable_in_critic_params():
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: double backpropagation through the penalty.
    w = jnp.array([0.3, -1.2, 0.5, 2.0, 0.0, -0.7])
    real, fake = batch(1), batch(2)
    grad = jax.grad(lambda w: regularizers.gradient_penalty(linear_critic(w), real, fake, KEY))(w)
    norm = np.linalg.norm(w)
    np.testing.assert_allclose(grad, 2 * (norm - 1) * w / norm, rtol=1e-5)
    # A critic with zero input gradient still has a finite penalty gradient.
    grad = jax.grad(lambda w: regularizers.gradient_penalty(linear_critic(w), real, fake, KEY))(jnp.zeros(6))
    assert np.all(np.isfinite(grad))


def test_gradient_penalty_jit_and_errors():
    w = jnp.ones(6)
    real, fake = batch(1), batch(2)
    penalty = jax.jit(lambda r, f, k: regularizers.gradient_penalty(linear_critic(w), r, f, k))(
        real, fake, KEY
    )
    np.testing.assert_allclose(penalty, (np.sqrt(6) - 1) ** 2, rtol=1e-5)
    with pytest.raises(ValueError, match=r"\(4, 2, 3\)"):
        regularizers.gradient_penalty(linear_critic(w), real, batch(2, (4, 2, 3)), KEY)
    with pytest.raises(ValueError, match=r"shape \(\)"):  # a critic that averages the batch
        regularizers.gradient_penalty(lambda x: jnp.mean(linear_critic(w)(x)), real, fake, KEY)


# ---- R1 / R2 -------------------------------------------------------------------------------------


def quadratic_critic(a):
    """critic(x)_b = 0.5 * sum(a * x_b^2): its input gradient is a * x_b."""
    return lambda x: 0.5 * jnp.sum(a * x**2, axis=(1, 2))


def test_r1_r2_quadratic_critic():
    a = jnp.array([[1.0, -2.0, 0.5], [3.0, 0.0, 1.5]])
    real, fake = batch(3), batch(4)
    for penalty, x in ((regularizers.r1_penalty, real), (regularizers.r2_penalty, fake)):
        expected = np.mean(np.sum((np.asarray(a) * np.asarray(x)) ** 2, axis=(1, 2)))
        np.testing.assert_allclose(penalty(quadratic_critic(a), x), expected, rtol=1e-5)


def test_r1_linear_critic_is_squared_weight_norm():
    w = jnp.array([0.3, -1.2, 0.5, 2.0, 0.0, -0.7])
    np.testing.assert_allclose(
        regularizers.r1_penalty(linear_critic(w), batch(5)), np.sum(np.asarray(w) ** 2), rtol=1e-5
    )


# ---- orthogonal regularisation -------------------------------------------------------------------

W_DENSE = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, -1.0]], np.float32)  # W^T W = [[2, 1], [1, 6]]
W_CONV = np.array([1.0, 0.0, 0.0, 2.0, 1.0, 1.0, 0.0, 0.0], np.float32).reshape(2, 2, 1, 2)
# W_CONV reshaped to (4, 2) is [[1, 0], [0, 2], [1, 1], [0, 0]], W^T W = [[2, 1], [1, 5]].
PARAMS = {
    "params": {
        "Dense_0": {"kernel": W_DENSE, "bias": np.array([5.0, -3.0], np.float32)},
        "Conv_0": {"kernel": W_CONV, "bias": np.ones(2, np.float32)},
        "BatchNorm_0": {"scale": 3 * np.ones((2, 2), np.float32), "bias": np.ones(2, np.float32)},
        "Embed_0": {"embedding": 7 * np.ones((3, 2), np.float32)},
        "Odd_0": {"kernel": np.ones(4, np.float32)},  # a 1-D "kernel" has no W^T W: ignored.
    }
}


def test_orthogonal_regularization_off_diagonal():
    # Off-diagonal entries: dense 2 * 1^2, conv 2 * 1^2.
    np.testing.assert_allclose(regularizers.orthogonal_regularization(PARAMS), 4.0, rtol=1e-6)


def test_orthogonal_regularization_full():
    # ||W^T W - I||_F^2: dense 1 + 25 + 2, conv 1 + 16 + 2.
    np.testing.assert_allclose(
        regularizers.orthogonal_regularization(PARAMS, off_diagonal=False), 47.0, rtol=1e-6
    )


def test_orthogonal_regularization_orthogonal_kernel_and_no_kernels():
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 4)))
    params = {"kernel": q.astype(np.float32)}
    np.testing.assert_allclose(regularizers.orthogonal_regularization(params), 0.0, atol=1e-10)
    np.testing.assert_allclose(
        regularizers.orthogonal_regularization(params, off_diagonal=False), 0.0, atol=1e-10
    )
    # Scaled orthogonal columns: free in the off-diagonal form only.
    params = {"kernel": 2 * q.astype(np.float32)}
    np.testing.assert_allclose(regularizers.orthogonal_regularization(params), 0.0, atol=1e-10)
    np.testing.assert_allclose(
        regularizers.orthogonal_regularization(params, off_diagonal=False), 4 * 9.0, rtol=1e-5
    )
    assert regularizers.orthogonal_regularization({"bias": np.ones(3)}) == 0.0


def test_orthogonal_regularization_gradient_under_jit():
    value, grads = jax.jit(jax.value_and_grad(regularizers.orthogonal_regularization))(PARAMS)
    np.testing.assert_allclose(value, 4.0, rtol=1e-6)
    # d/dW ||W^T W (1 - I)||^2 = 4 W (W^T W (1 - I)).
    gram = W_DENSE.T @ W_DENSE
    np.testing.assert_allclose(
        grads["params"]["Dense_0"]["kernel"], 4 * W_DENSE @ (gram * (1 - np.eye(2))), rtol=1e-6
    )
    assert np.all(grads["params"]["BatchNorm_0"]["scale"] == 0)


# ---- weight clipping -----------------------------------------------------------------------------


def test_weight_clipping_hand_computed():
    clip = regularizers.weight_clipping(0.01)
    params = {"w": jnp.array([0.005, -0.02, 0.0, 0.002])}
    updates = {"w": jnp.array([0.01, 0.0, -0.003, 0.001])}
    state = clip.init(params)
    new_updates, _ = clip.update(updates, state, params)
    np.testing.assert_allclose(new_updates["w"], [0.005, 0.01, -0.003, 0.001], atol=1e-9)
    np.testing.assert_allclose(
        optax.apply_updates(params, new_updates)["w"], [0.01, -0.01, -0.003, 0.003], atol=1e-9
    )


def test_weight_clipping_chained_after_rmsprop():
    clip_value = 0.01
    tx = optax.chain(optax.rmsprop(5e-5), regularizers.weight_clipping(clip_value))
    # Large initial weights: the first update's clip - params is rounded at their scale.
    params = {"kernel": 3 * batch(6, (64, 32)), "bias": 0.1 * batch(7, (32,))}
    state = tx.init(params)

    @jax.jit
    def step(params, state, key):
        k1, k2 = jax.random.split(key)
        grads = {"kernel": jax.random.normal(k1, (64, 32)), "bias": jax.random.normal(k2, (32,))}
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for i in range(20):
        params, state = step(params, state, jax.random.key(i))
        for leaf in jax.tree.leaves(params):
            assert np.all(np.abs(np.asarray(leaf)) <= np.float32(clip_value))
    # The parameters did not all collapse onto the boundary: rmsprop still moves them.
    assert np.any(np.abs(np.asarray(params["kernel"])) < clip_value - 1e-5)


def test_weight_clipping_errors():
    with pytest.raises(ValueError, match="-0.1"):
        regularizers.weight_clipping(-0.1)
    clip = regularizers.weight_clipping(0.01)
    params = {"w": jnp.zeros(2)}
    with pytest.raises(ValueError, match="params"):
        clip.update(params, clip.init(params))
