"""BigGAN-PyTorch's layers: the power iteration against numpy, u in the reference's row space (classes for
an embedding), batch norm's running statistics as F.batch_norm / myBN update them, across replicas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.layers.biggan_pytorch import BatchNorm, SNEmbedding, SNLinear


def power_iteration(w, u, eps, itrs):
    """layers.power_iteration + SN.W_ in numpy (one singular vector): (sigma, new u)."""
    normalize = lambda x: x / max(np.linalg.norm(x), eps)
    for _ in range(itrs):
        v = normalize(u @ w)
        u = normalize(v @ w.T)
    return float((v @ w.T @ u.T)[0, 0]), u


@pytest.mark.parametrize("train, itrs", [(False, 1), (True, 1), (True, 3)])
def test_spectral_norm_of_an_embedding_keeps_u_over_classes(train, itrs):
    layer = SNEmbedding(5, 3, num_itrs=itrs, eps=1e-6)
    labels = jnp.array([4, 0, 2])
    variables = layer.init(jax.random.key(0), labels, train=False)
    table = np.asarray(variables["params"]["embedding"], np.float64)
    u0 = np.asarray(variables["batch_stats"]["u0"], np.float64)
    assert u0.shape == (1, 5)  # one entry per class, as the reference's SNEmbedding
    out, updated = layer.apply(variables, labels, train=train, mutable=["batch_stats"])
    sigma, u = power_iteration(table, u0, 1e-6, itrs if train else 1)
    np.testing.assert_allclose(out, table[[4, 0, 2]] / sigma, rtol=1e-5)
    if train:
        np.testing.assert_allclose(updated["batch_stats"]["u0"], u, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(updated["batch_stats"]["sv0"], [sigma], rtol=1e-5)
    else:  # evaluation mode stores nothing
        np.testing.assert_array_equal(updated["batch_stats"]["u0"], variables["batch_stats"]["u0"])
        np.testing.assert_array_equal(updated["batch_stats"]["sv0"], [1.0])


def test_spectral_norm_of_a_linear_map_divides_by_sigma():
    layer = SNLinear(4, eps=1e-6)
    x = jax.random.normal(jax.random.key(1), (2, 6))
    variables = layer.init(jax.random.key(0), x, train=False)
    kernel = np.asarray(variables["params"]["kernel"], np.float64)
    u0 = np.asarray(variables["batch_stats"]["u0"], np.float64)
    assert u0.shape == (1, 4)  # output units, as weight.view(out, -1)
    sigma, _ = power_iteration(kernel.T, u0, 1e-6, 1)
    want = np.asarray(x, np.float64) @ kernel / sigma + np.asarray(variables["params"]["bias"])
    np.testing.assert_allclose(layer.apply(variables, x, train=False), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("unbiased", [True, False])
def test_batch_norm_running_statistics_and_replicas(unbiased):
    """Batch statistics normalise (biased variance); the running variance takes the unbiased batch
    variance (F.batch_norm) or the biased one (myBN), momentum 0.1 in PyTorch's convention; over two
    replicas with ``axis_name`` it equals one batch of both halves."""
    x = jax.random.normal(jax.random.key(2), (4, 3, 3, 2)) * 3 + 1
    layer = BatchNorm(epsilon=1e-4, unbiased_var=unbiased)
    variables = layer.init(jax.random.key(0), x, train=False)
    out, updated = layer.apply(variables, x, train=True, mutable=["batch_stats"])
    xs = np.asarray(x, np.float64).reshape(-1, 2)
    mean, var = xs.mean(0), xs.var(0)
    np.testing.assert_allclose(out, (np.asarray(x) - mean) / np.sqrt(var + 1e-4), rtol=1e-5, atol=1e-5)
    running_var = var * 36 / 35 if unbiased else var
    np.testing.assert_allclose(updated["batch_stats"]["mean"], 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(updated["batch_stats"]["var"], 0.9 + 0.1 * running_var, rtol=1e-5)

    replicated = BatchNorm(epsilon=1e-4, unbiased_var=unbiased, axis_name="replicas")

    def per_replica(half):
        return replicated.apply(variables, half, train=True, mutable=["batch_stats"])

    halves_out, halves_stats = jax.vmap(per_replica, axis_name="replicas")(x.reshape(2, 2, 3, 3, 2))
    np.testing.assert_allclose(halves_out.reshape(x.shape), out, rtol=1e-5, atol=1e-5)
    for name in ("mean", "var"):
        np.testing.assert_allclose(
            halves_stats["batch_stats"][name][0], updated["batch_stats"][name], rtol=1e-5
        )
    np.testing.assert_allclose(
        layer.apply(updated, x, train=False),
        (np.asarray(x) - 0.1 * mean) / np.sqrt(0.9 + 0.1 * running_var + 1e-4),
        rtol=1e-5,
        atol=1e-5,
    )
