"""The sub-pixel transposed convolution equals the transposed convolution, values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gans_jax.layers.upsample import (
    SubPixelConvTranspose,
    conv_transpose_subpixel,
    reference_conv_transpose,
)

CASES = [(4, 2, 1), (2, 2, 0), (6, 2, 2), (3, 1, 1), (5, 1, 2), (8, 4, 2), (3, 3, 0), (1, 1, 0)]


def _lax_transpose(x, w, stride, padding):
    """lax.conv_transpose with PyTorch semantics: flipped kernel, padding k - 1 - p."""
    k = w.shape[0]
    return lax.conv_transpose(
        x,
        w[::-1, ::-1],
        (stride, stride),
        ((k - 1 - padding,) * 2,) * 2,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


@pytest.mark.parametrize("k,s,p", CASES)
def test_matches_naive_transposed_convolution(k, s, p):
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    x = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)
    w = rng.normal(size=(k, k, 3, 7)).astype(np.float32)
    y = np.asarray(conv_transpose_subpixel(jnp.asarray(x), jnp.asarray(w), s, p))
    ref = reference_conv_transpose(x, w, s, p)
    assert y.shape == ref.shape == (2, 5 * s, 4 * s, 7)
    np.testing.assert_allclose(y, ref, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(y, np.asarray(_lax_transpose(x, w, s, p)), atol=1e-5, rtol=1e-5)


def test_gradients_match_lax_conv_transpose():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(3, 6, 6, 4)).astype(np.float32))
    w = jnp.asarray(rng.normal(size=(4, 4, 4, 5)).astype(np.float32))
    target = jnp.asarray(rng.normal(size=(3, 12, 12, 5)).astype(np.float32))
    loss = lambda f: lambda w, x: jnp.sum((f(x, w, 2, 1) - target) ** 2)
    g_ours = jax.grad(loss(conv_transpose_subpixel), argnums=(0, 1))(w, x)
    g_ref = jax.grad(loss(_lax_transpose), argnums=(0, 1))(w, x)
    for a, b in zip(g_ours, g_ref, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-3)


def test_module_parameters_and_bias():
    layer = SubPixelConvTranspose(6, kernel_size=4, strides=2, padding=1)
    x = jnp.ones((2, 4, 4, 3))
    variables = layer.init(jax.random.PRNGKey(0), x)
    assert variables["params"]["kernel"].shape == (4, 4, 3, 6)
    assert variables["params"]["bias"].shape == (6,)
    variables = jax.tree.map(lambda v: v, variables)
    variables["params"]["bias"] = jnp.arange(6.0)
    y = layer.apply(variables, x)
    expected = reference_conv_transpose(
        np.ones((2, 4, 4, 3)), np.asarray(variables["params"]["kernel"]), 2, 1
    )
    np.testing.assert_allclose(np.asarray(y), expected + np.arange(6.0), atol=1e-5)


def test_rejects_non_exact_upsampling_geometry():
    with pytest.raises(ValueError, match="kernel_size=4, stride=2, padding=0"):
        conv_transpose_subpixel(jnp.ones((1, 2, 2, 1)), jnp.ones((4, 4, 1, 1)), 2, 0)


@pytest.mark.parametrize("method", ["xla", "conv", "im2col", "col2im"])
@pytest.mark.parametrize("k,s,p", [(4, 2, 1), (6, 2, 2), (3, 1, 1), (8, 4, 2)])
def test_every_method_is_the_same_function(method, k, s, p):
    from gans_jax.layers.upsample import METHODS

    assert method in METHODS
    rng = np.random.default_rng(k + s + p)
    x = jnp.asarray(rng.normal(size=(2, 5, 4, 3)).astype(np.float32))
    w = jnp.asarray(rng.normal(size=(k, k, 3, 6)).astype(np.float32))
    y = conv_transpose_subpixel(x, w, s, p, method=method)
    np.testing.assert_allclose(
        np.asarray(y), reference_conv_transpose(np.asarray(x), np.asarray(w), s, p), atol=1e-4
    )
    loss = lambda w, x: jnp.sum(conv_transpose_subpixel(x, w, s, p, method=method) ** 2)
    ref = lambda w, x: jnp.sum(_lax_transpose(x, w, s, p) ** 2)
    for a, b in zip(jax.grad(loss, (0, 1))(w, x), jax.grad(ref, (0, 1))(w, x), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("backend,expected", [("cpu", "dot_general"), ("gpu", "conv_general_dilated"),
                                              ("tpu", "conv_general_dilated")])  # fmt: skip
def test_auto_method_is_chosen_by_platform(monkeypatch, backend, expected):
    """CPU: matrix products (XLA:CPU's convolution gradients are slow); accelerators: the plain
    transposed convolution (input dilated by the stride), which cuDNN and the TPU run as it is."""
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    x, w = jnp.ones((2, 8, 8, 16)), jnp.ones((4, 4, 16, 8))
    jaxpr = jax.make_jaxpr(lambda x, w: conv_transpose_subpixel(x, w, 2, 1))(x, w)
    convs = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "conv_general_dilated"]
    names = {e.primitive.name for e in jaxpr.jaxpr.eqns}
    assert expected in names
    if backend == "cpu":
        assert not convs
    else:
        assert [tuple(e.params["lhs_dilation"]) for e in convs] == [(2, 2)]


@pytest.mark.parametrize(
    "shape,kernel,strides,padding",
    [((2, 16, 16, 3), (4, 4), (2, 2), ((1, 1), (1, 1))), ((2, 4, 4, 8), (4, 4), (1, 1), ((0, 0), (0, 0))),
     ((1, 9, 7, 2), (3, 3), (2, 2), ((1, 1), (1, 1))), ((1, 8, 8, 2), (3, 3), (1, 1), "SAME")],
)  # fmt: skip
def test_cpu_matrix_product_convolution_equals_lax(shape, kernel, strides, padding):
    from gans_jax.layers.conv import conv_general_dilated_cpu

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=shape).astype(np.float32))
    w = jnp.asarray(rng.normal(size=(*kernel, shape[-1], 5)).astype(np.float32))
    dn = ("NHWC", "HWIO", "NHWC")
    ours = lambda w, x: conv_general_dilated_cpu(x, w, strides, padding, dimension_numbers=dn)
    ref = lambda w, x: lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=dn)
    np.testing.assert_allclose(np.asarray(ours(w, x)), np.asarray(ref(w, x)), rtol=1e-4, atol=1e-4)
    g_ours = jax.grad(lambda w, x: jnp.sum(ours(w, x) ** 2), (0, 1))(w, x)
    g_ref = jax.grad(lambda w, x: jnp.sum(ref(w, x) ** 2), (0, 1))(w, x)
    for a, b in zip(g_ours, g_ref, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_strided_convolution_form_is_chosen_by_platform(monkeypatch, backend):
    """conv_general_dilated_cpu: one matrix product on CPU, the plain NHWC convolution elsewhere."""
    from gans_jax.layers.conv import conv_general_dilated_cpu

    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    dn = ("NHWC", "HWIO", "NHWC")
    fn = lambda x, w: conv_general_dilated_cpu(x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=dn)
    jaxpr = jax.make_jaxpr(fn)(jnp.ones((2, 8, 8, 4)), jnp.ones((4, 4, 4, 6)))
    names = {e.primitive.name for e in jaxpr.jaxpr.eqns}
    assert ("conv_general_dilated" in names) == (backend != "cpu")
    assert ("dot_general" in names) == (backend == "cpu")
