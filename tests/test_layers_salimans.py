"""Minibatch discrimination and virtual batch norm (Salimans et al. 2016) against hand computations."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.layers.salimans import MinibatchDiscrimination, VirtualBatchNorm


def minibatch_features_by_hand(f, t, num_kernels, kernel_dim):
    """o(x_i)_b = sum_{j != i} exp(-sum_c |M_ibc - M_jbc|), M_i = f_i T, in float64 loops."""
    f, t = np.asarray(f, np.float64).reshape(len(f), -1), np.asarray(t, np.float64)
    m = (f @ t).reshape(len(f), num_kernels, kernel_dim)
    out = np.zeros((len(f), num_kernels))
    for i in range(len(f)):
        for j in range(len(f)):
            if i != j:
                for b in range(num_kernels):
                    out[i, b] += np.exp(-np.sum(np.abs(m[i, b] - m[j, b])))
    return out


def test_minibatch_discrimination_hand_computed():
    f = np.array([[0.5, -1.0, 0.0], [0.2, 0.3, 1.0], [-0.4, 0.1, 0.6], [0.5, -1.0, 0.1]], np.float32)
    layer = MinibatchDiscrimination(num_kernels=2, kernel_dim=3)
    params = layer.init(jax.random.PRNGKey(0), f)
    t = params["params"]["T"]
    assert t.shape == (3, 6)
    np.testing.assert_allclose(layer.apply(params, f), minibatch_features_by_hand(f, t, 2, 3), rtol=1e-5)
    # A hand-picked T with C = 1: kernel 0 sees M_i = f_i0 + f_i1 = (-0.5, 0.5, -0.3, -0.5) and kernel 1
    # M_i = 2 f_i2 = (0, 2, 1.2, 0.2); o(x_0)_b = sum over j = 1, 2, 3 of exp(-|M_0b - M_jb|).
    t1 = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]], np.float32)
    out = MinibatchDiscrimination(2, 1).apply({"params": {"T": t1}}, f)
    np.testing.assert_allclose(out[0, 0], np.exp(-1.0) + np.exp(-0.2) + np.exp(-0.0), rtol=1e-6)
    np.testing.assert_allclose(out[0, 1], np.exp(-2.0) + np.exp(-1.2) + np.exp(-0.2), rtol=1e-6)
    np.testing.assert_allclose(out[1, 1], np.exp(-2.0) + np.exp(-0.8) + np.exp(-1.8), rtol=1e-6)


def test_minibatch_discrimination_across_replicas_equals_global_batch():
    """With axis_name, each replica's features are those of the global batch (vmap simulates replicas)."""
    f = jax.random.normal(jax.random.PRNGKey(1), (6, 2, 2, 3))
    layer = MinibatchDiscrimination(4, 2)
    params = layer.init(jax.random.PRNGKey(0), f)
    expected = layer.apply(params, f)
    sharded = jax.vmap(
        lambda x: MinibatchDiscrimination(4, 2, axis_name="r").apply(params, x), axis_name="r"
    )(f.reshape(3, 2, 2, 2, 3))
    np.testing.assert_allclose(sharded.reshape(6, 4), expected, rtol=1e-5, atol=1e-7)


def vbn_by_hand(ref, x, eps=1e-5):
    """Reference rows: batch norm over the reference batch; each other row x_i: batch norm statistics of
    the reference batch with x_i appended (population variance over batch and spatial axes)."""
    ref, x = np.asarray(ref, np.float64), np.asarray(x, np.float64)
    axes = tuple(range(ref.ndim - 1))
    out_ref = (ref - ref.mean(axes)) / np.sqrt(ref.var(axes) + eps)
    out = []
    for xi in x:
        pool = np.concatenate([ref, xi[None]])
        out.append((xi - pool.mean(axes)) / np.sqrt(pool.var(axes) + eps))
    return np.concatenate([out_ref, np.stack(out)])


@pytest.mark.parametrize("shape", [(3, 2, 2, 2), (3, 4)], ids=["nhwc", "dense"])
def test_virtual_batch_norm_hand_computed(shape):
    key_r, key_x = jax.random.split(jax.random.PRNGKey(0))
    ref = np.asarray(jax.random.normal(key_r, shape)) * 2.0 + 1.0
    x = np.asarray(jax.random.normal(key_x, (2, *shape[1:])))
    layer = VirtualBatchNorm(num_reference=3)
    variables = layer.init(jax.random.PRNGKey(1), np.concatenate([ref, x]))
    assert set(variables) == {"params"}  # no running statistics: the same in training and evaluation
    c = shape[-1]
    variables = {"params": {"scale": jnp.ones(c), "bias": jnp.zeros(c)}}
    out = layer.apply(variables, np.concatenate([ref, x]))
    np.testing.assert_allclose(out, vbn_by_hand(ref, x), rtol=1e-4, atol=1e-5)
    # scale and bias per channel
    scaled = layer.apply(
        {"params": {"scale": 2 * jnp.ones(c), "bias": jnp.full(c, 0.5)}}, np.concatenate([ref, x])
    )
    np.testing.assert_allclose(scaled, 2 * out + 0.5, rtol=1e-5, atol=1e-6)


def test_virtual_batch_norm_example_ignores_its_batch():
    ref = jax.random.normal(jax.random.PRNGKey(0), (4, 3, 3, 2))
    a, b, c = (jax.random.normal(jax.random.PRNGKey(i), (1, 3, 3, 2)) * (i + 1) for i in (1, 2, 3))
    layer = VirtualBatchNorm(4)
    variables = layer.init(jax.random.PRNGKey(0), jnp.concatenate([ref, a]))
    alone = layer.apply(variables, jnp.concatenate([ref, a]))[4]
    with_b = layer.apply(variables, jnp.concatenate([ref, a, b]))[4]
    with_bc = layer.apply(variables, jnp.concatenate([ref, c, b, a]))[-1]
    np.testing.assert_allclose(with_b, alone, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(with_bc, alone, rtol=1e-6, atol=1e-6)
    # ... whereas batch norm would not be independent of the batch:
    bn = nn.BatchNorm(use_running_average=False)
    bn_vars = bn.init(jax.random.PRNGKey(0), jnp.concatenate([a, b]))
    bn_ab = bn.apply(bn_vars, jnp.concatenate([a, b]), mutable=["batch_stats"])[0][0]
    bn_ac = bn.apply(bn_vars, jnp.concatenate([a, c]), mutable=["batch_stats"])[0][0]
    assert not np.allclose(bn_ab, bn_ac, atol=1e-3)


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="num_reference=4"):
        VirtualBatchNorm(4).init(jax.random.PRNGKey(0), jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="num_kernels >= 1"):
        MinibatchDiscrimination(0).init(jax.random.PRNGKey(0), jnp.ones((4, 2)))
