"""Equalized learning rate, pixel norm and minibatch standard deviation (Karras et al. 2018)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.layers.equalized import (
    EqualizedConv,
    EqualizedDense,
    he_constant,
    minibatch_stddev,
    pixel_norm,
    stddev_group_size,
)


def test_dense_scales_unit_normal_weights_by_he_constant_at_run_time():
    layer = EqualizedDense(300, gain=math.sqrt(2))
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 200))
    variables = layer.init(jax.random.PRNGKey(0), x)
    w = np.asarray(variables["params"]["kernel"])
    assert w.shape == (200, 300) and abs(w.std() - 1.0) < 0.01 and abs(w.mean()) < 0.01  # N(0, 1) stored
    np.testing.assert_array_equal(variables["params"]["bias"], np.zeros(300))
    bias = np.arange(300, dtype=np.float32)
    y = layer.apply({"params": {"kernel": w, "bias": bias}}, x)
    np.testing.assert_allclose(y, np.asarray(x) @ (w * math.sqrt(2 / 200)) + bias, rtol=1e-5, atol=1e-5)
    assert he_constant(200) == pytest.approx(math.sqrt(2 / 200))


def test_lr_multiplier_stores_scaled_weights_and_bias():
    layer = EqualizedDense(64, gain=1.0, lr_multiplier=0.01, bias_init=1.0)
    x = jax.random.normal(jax.random.PRNGKey(1), (3, 128))
    params = layer.init(jax.random.PRNGKey(0), x)["params"]
    w, b = np.asarray(params["kernel"]), np.asarray(params["bias"])
    assert abs(w.std() - 100.0) < 3.0  # N(0, 1) / lr_multiplier
    np.testing.assert_allclose(b, 100.0)  # bias_init / lr_multiplier: effective bias 1
    y = layer.apply({"params": params}, x)
    expected = np.asarray(x) @ (w * 0.01 / math.sqrt(128)) + b * 0.01
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="lr_multiplier must be positive, got 0"):
        EqualizedDense(4, lr_multiplier=0).init(jax.random.PRNGKey(0), x)


@pytest.mark.parametrize("k", [1, 3])
def test_conv_equals_lax_conv_with_he_scaled_kernel(k):
    layer = EqualizedConv(6, k, gain=2.0, use_bias=False)
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 5))
    params = layer.init(jax.random.PRNGKey(0), x)["params"]
    w = params["kernel"]
    assert set(params) == {"kernel"} and w.shape == (k, k, 5, 6)
    expected = jax.lax.conv_general_dilated(
        x, w * 2.0 / math.sqrt(k * k * 5), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    np.testing.assert_allclose(layer.apply({"params": params}, x), expected, rtol=1e-5, atol=1e-5)


def test_pixel_norm_formula():
    x = jnp.array([[[[3.0, 4.0]]], [[[0.0, 0.0]]]])  # (2, 1, 1, 2)
    y = np.asarray(pixel_norm(x))
    norm = math.sqrt(12.5 + 1e-8)
    np.testing.assert_allclose(y[0, 0, 0], [3 / norm, 4 / norm], rtol=1e-6)
    np.testing.assert_array_equal(y[1], 0.0)


def test_minibatch_stddev_hand_made_batch():
    # Batch of 4 (one group), 1x1 pixels, two features: feature 0 = (1, 3, 5, 7) -> population std
    # sqrt(5); feature 1 = (2, 2, 2, 2) -> std sqrt(1e-8). The new channel is their mean for every example.
    x = jnp.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0], [7.0, 2.0]]).reshape(4, 1, 1, 2)
    y = np.asarray(minibatch_stddev(x, group_size=4))
    assert y.shape == (4, 1, 1, 3)
    np.testing.assert_array_equal(y[..., :2], np.asarray(x))
    np.testing.assert_allclose(y[:, 0, 0, 2], (math.sqrt(5 + 1e-8) + math.sqrt(1e-8)) / 2, rtol=1e-6)


def test_minibatch_stddev_groups_are_strided_and_fall_back_to_a_divisor():
    # Batch 6 with group size 4 -> groups of 3 (largest divisor <= 4): {0, 2, 4} and {1, 3, 5}.
    assert stddev_group_size(6, 4) == 3 and stddev_group_size(14, 4) == 2 and stddev_group_size(3, 4) == 3
    values = np.array([0.0, 10.0, 3.0, 10.0, 6.0, 40.0], np.float32)
    y = np.asarray(minibatch_stddev(jnp.asarray(values).reshape(6, 1, 1, 1), group_size=4))[:, 0, 0, 1]
    even, odd = np.std(values[0::2]), np.std(values[1::2])  # sqrt(6), sqrt(200)
    np.testing.assert_allclose(y, [even, odd] * 3, rtol=1e-5)
    with pytest.raises(ValueError, match="group_size must be >= 1, got 0"):
        stddev_group_size(4, 0)
