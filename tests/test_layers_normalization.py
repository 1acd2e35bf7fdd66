"""Spectral normalisation (Miyato et al. 2018) and conditional batch norm against numpy references."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.layers import ConditionalBatchNorm, spectral_norm
from gans_jax.layers.conv import conv_general_dilated_cpu


class _SNLayer(nn.Module):
    layer: nn.Module

    @nn.compact
    def __call__(self, x, train: bool):
        return spectral_norm(self.layer, enabled=True, train=train)(x)


def _run_power_iteration(layer, x, steps):
    module = _SNLayer(layer)
    variables = module.init(jax.random.PRNGKey(0), x, train=False)
    apply = jax.jit(lambda v: module.apply(v, x, train=True, mutable=["batch_stats"]))
    for _ in range(steps):
        _, updates = apply(variables)
        variables = {**variables, **updates}
    return module, variables


@pytest.mark.parametrize(
    "layer,x_shape",
    [
        (nn.Dense(6), (2, 9)),
        (nn.Conv(8, (3, 3), padding=1), (2, 5, 5, 4)),
        (nn.Conv(8, (4, 4), (2, 2), padding=1, conv_general_dilated=conv_general_dilated_cpu), (2, 8, 8, 3)),
    ],
    ids=["dense", "conv3x3", "conv4x4s2"],
)
def test_sigma_converges_to_top_singular_value(layer, x_shape):
    """sigma -> the top singular value of W reshaped to (out, in * kh * kw) (Miyato's layout; numpy SVD),
    and the normalised layer equals the layer with W / sigma_max."""
    x = jax.random.normal(jax.random.PRNGKey(1), x_shape)
    module, variables = _run_power_iteration(layer, x, steps=200)
    (stats,) = variables["batch_stats"].values()
    sigma = float(next(v for k, v in stats.items() if k.endswith("kernel/sigma")))
    u = next(v for k, v in stats.items() if k.endswith("kernel/u"))
    kernel = np.asarray(variables["params"]["layer"]["kernel"], np.float64)
    miyato = np.moveaxis(kernel, -1, 0).reshape(kernel.shape[-1], -1)  # (out, kh * kw * in)
    top = np.linalg.svd(miyato, compute_uv=False)[0]
    assert abs(sigma - top) < 1e-3 * max(top, 1.0), (sigma, top)
    assert u.shape == (1, kernel.shape[-1])
    # the layer in eval mode computes with W / sigma(W) and leaves the statistics unchanged
    y = module.apply(variables, x, train=False)
    plain = layer.apply({"params": {"kernel": kernel / top, "bias": variables["params"]["layer"]["bias"]}}, x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(plain), rtol=1e-4, atol=1e-5)
    normalised = miyato / sigma
    assert abs(np.linalg.svd(normalised, compute_uv=False)[0] - 1.0) < 1e-3


def test_eval_mode_leaves_u_unchanged():
    x = jnp.ones((2, 4))
    module = _SNLayer(nn.Dense(3))
    variables = module.init(jax.random.PRNGKey(0), x, train=False)
    _, updates = module.apply(variables, x, train=False, mutable=["batch_stats"])
    for a, b in zip(jax.tree.leaves(updates), jax.tree.leaves(variables["batch_stats"]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    _, updates = module.apply(variables, x, train=True, mutable=["batch_stats"])
    (stats,) = updates["batch_stats"].values()
    (old,) = variables["batch_stats"].values()
    assert not np.allclose(np.asarray(stats["layer/kernel/u"]), np.asarray(old["layer/kernel/u"]))


def _bn_reference(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    shape = (x.shape[0], 1, 1, x.shape[-1])
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape), mean, var


def test_class_conditional_batch_norm_by_hand():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=(3, 2, 2, 2)).astype(np.float32)
    labels = np.array([1, 0, 1], np.int32)
    gamma = np.array([[2.0, 0.5], [-1.0, 3.0]], np.float32)
    beta = np.array([[0.0, 1.0], [0.25, -2.0]], np.float32)
    cbn = ConditionalBatchNorm(num_classes=2)
    variables = cbn.init(jax.random.PRNGKey(0), jnp.asarray(x), jnp.asarray(labels), train=False)
    np.testing.assert_array_equal(np.asarray(variables["params"]["gamma"]["embedding"]), np.ones((2, 2)))
    np.testing.assert_array_equal(np.asarray(variables["params"]["beta"]["embedding"]), np.zeros((2, 2)))
    params = {"gamma": {"embedding": gamma}, "beta": {"embedding": beta}}
    out, updates = cbn.apply(
        {"params": params, "batch_stats": variables["batch_stats"]},
        x,
        labels,
        train=True,
        mutable=["batch_stats"],
    )
    expected, mean, var = _bn_reference(x, gamma[labels], beta[labels])
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-4, atol=1e-5)
    stats = updates["batch_stats"]["BatchNorm_0"]
    np.testing.assert_allclose(np.asarray(stats["mean"]), 0.1 * mean, rtol=1e-5)  # momentum 0.9 from 0
    np.testing.assert_allclose(np.asarray(stats["var"]), 0.9 + 0.1 * var, rtol=1e-5)  # biased batch variance
    # eval mode: running statistics, same per-class affine map
    out = cbn.apply({"params": params, "batch_stats": updates["batch_stats"]}, x, labels, train=False)
    shape = (3, 1, 1, 2)
    ref = (x - 0.1 * mean) / np.sqrt(0.9 + 0.1 * var + 1e-5) * gamma[labels].reshape(shape)
    np.testing.assert_allclose(np.asarray(out), ref + beta[labels].reshape(shape), rtol=1e-4, atol=1e-5)


def test_vector_conditioned_batch_norm_is_linear_in_condition():
    """BigGAN form: gamma = 1 + c W_gamma, beta = c W_beta."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    c = rng.normal(size=(4, 5)).astype(np.float32)
    w_gamma = rng.normal(size=(5, 2)).astype(np.float32)
    w_beta = rng.normal(size=(5, 2)).astype(np.float32)
    cbn = ConditionalBatchNorm()
    variables = cbn.init(jax.random.PRNGKey(0), jnp.asarray(x), jnp.asarray(c), train=False)
    params = {"gamma": {"kernel": w_gamma}, "beta": {"kernel": w_beta}}
    out, _ = cbn.apply(
        {"params": params, "batch_stats": variables["batch_stats"]}, x, c, train=True, mutable=["batch_stats"]
    )
    expected, _, _ = _bn_reference(x, 1.0 + c @ w_gamma, c @ w_beta)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-4, atol=1e-4)
    sn = ConditionalBatchNorm(spectral_norm=True)
    sn_vars = sn.init(jax.random.PRNGKey(0), jnp.asarray(x), jnp.asarray(c), train=False)
    assert {k for stats in sn_vars["batch_stats"].values() for k in stats if k.endswith("/u")} == {
        "gamma/kernel/u",
        "beta/kernel/u",
    }


def test_conditional_batch_norm_refuses_labels_without_classes():
    with pytest.raises(ValueError, match="num_classes=None"):
        ConditionalBatchNorm().init(
            jax.random.PRNGKey(0), jnp.ones((2, 2, 2, 3)), jnp.zeros((2,), jnp.int32), train=False
        )
