"""SAGAN self-attention against a direct numpy computation of its formula."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.layers.attention import SelfAttention


def naive_attention(x, p, gamma):
    n, h, w, c = x.shape
    theta = x.reshape(n, h * w, c) @ p["theta"]

    def pooled(kernel):
        y = (x @ kernel).reshape(n, h // 2, 2, w // 2, 2, -1).max(axis=(2, 4))
        return y.reshape(n, h * w // 4, -1)

    phi, g = pooled(p["phi"]), pooled(p["g"])
    s = np.einsum("nqc,nkc->nqk", theta, phi)
    beta = np.exp(s - s.max(-1, keepdims=True))
    beta /= beta.sum(-1, keepdims=True)
    o = np.einsum("nqk,nkc->nqc", beta, g) @ p["o"]
    return x + gamma * o.reshape(n, h, w, c)


def test_starts_as_identity_and_matches_the_formula():
    x = jax.random.normal(jax.random.key(0), (2, 4, 6, 16))
    layer = SelfAttention(spectral_norm=False)
    variables = layer.init(jax.random.key(1), x)
    np.testing.assert_allclose(layer.apply(variables, x), x)  # gamma = 0 at init
    params = dict(variables["params"])
    params["gamma"] = jnp.asarray(0.7)
    got = layer.apply({"params": params}, x)
    kernels = {k: np.asarray(params[k]["kernel"], np.float64) for k in ("theta", "phi", "g", "o")}
    want = naive_attention(np.asarray(x, np.float64), kernels, 0.7)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_spectral_norm_keeps_power_iteration_vectors():
    x = jnp.ones((1, 4, 4, 8))
    variables = SelfAttention(spectral_norm=True).init(jax.random.key(0), x)
    assert sorted(variables["params"]) == ["g", "gamma", "o", "phi", "theta"]
    assert len(jax.tree.leaves(variables["batch_stats"])) == 8  # u and sigma per projection


def test_rejects_odd_shapes():
    with pytest.raises(ValueError, match="even H, W"):
        SelfAttention().init(jax.random.key(0), jnp.ones((1, 3, 4, 8)))
