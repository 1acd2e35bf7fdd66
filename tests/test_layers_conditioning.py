"""The projection discriminator head (Miyato & Koyama 2018, Eq. 3) against hand-computed values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.layers import ProjectionHead


def _head_values():
    features = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], np.float32)
    labels = np.array([2, 0], np.int32)
    kernel = np.array([[0.5], [-1.0], [2.0]], np.float32)
    bias = np.array([0.25], np.float32)
    embedding = np.array([[1.0, 0.0, 1.0], [2.0, 2.0, 2.0], [0.0, -1.0, 0.5]], np.float32)
    return features, labels, kernel, bias, embedding


def test_projection_logits_by_hand():
    features, labels, kernel, bias, embedding = _head_values()
    head = ProjectionHead(num_classes=3)
    params = {"psi": {"kernel": kernel, "bias": bias}, "embed": {"embedding": embedding}}
    out = head.apply({"params": params}, features, labels, train=True)
    # example 0: psi = 0.5 - 2 - 2 + 0.25 = -3.25; <e_2, phi> = 0 - 2 - 0.5 = -2.5
    # example 1: psi = 0.25 + 0 + 6 + 0.25 = 6.5;  <e_0, phi> = 0.5 + 0 + 3 = 3.5
    np.testing.assert_allclose(np.asarray(out), [-5.75, 10.0], rtol=1e-6)


def test_unconditional_head_is_psi_only():
    features, _, kernel, bias, _ = _head_values()
    head = ProjectionHead(num_classes=None)
    variables = head.init(jax.random.PRNGKey(0), jnp.asarray(features), None, train=False)
    assert set(variables["params"]) == {"psi"}
    out = head.apply({"params": {"psi": {"kernel": kernel, "bias": bias}}}, features, None, train=False)
    np.testing.assert_allclose(np.asarray(out), [-3.25, 6.5], rtol=1e-6)


def test_spectrally_normalised_projection():
    """With SN, psi's kernel (a column) is divided by its norm exactly, the embedding by its top
    singular value once the power iteration has converged."""
    features, labels, kernel, bias, embedding = _head_values()
    head = ProjectionHead(num_classes=3, spectral_norm=True)
    variables = head.init(jax.random.PRNGKey(1), jnp.asarray(features), jnp.asarray(labels), train=False)
    params = {"psi": {"kernel": kernel, "bias": bias}, "embed": {"embedding": embedding}}
    stats = variables["batch_stats"]
    for _ in range(50):
        out, updates = head.apply(
            {"params": params, "batch_stats": stats}, features, labels, train=True, mutable=["batch_stats"]
        )
        stats = updates["batch_stats"]
    psi = features @ (kernel[:, 0] / np.linalg.norm(kernel)) + bias[0]
    e = embedding / np.linalg.svd(embedding, compute_uv=False)[0]
    expected = psi + np.sum(e[labels] * features, axis=1)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5)


def test_conditional_head_needs_labels():
    head = ProjectionHead(num_classes=3)
    with pytest.raises(ValueError, match="needs labels"):
        head.init(jax.random.PRNGKey(0), jnp.ones((2, 3)), None, train=False)
