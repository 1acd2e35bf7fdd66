"""Layers of the image-to-image networks: pixel shuffle, reflection padding, PReLU, instance norm and the
sub-pixel transposed convolution with output padding (CycleGAN's up-convolution)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.layers.image import PReLU, reflection_pad
from gans_jax.layers.normalization import instance_norm
from gans_jax.layers.resample import pixel_shuffle
from gans_jax.layers.upsample import SubPixelConvTranspose, reference_conv_transpose


def test_pixel_shuffle_matches_pytorch_channel_order():
    r, c, h, w = 3, 2, 4, 5
    x_nchw = np.random.default_rng(0).normal(size=(2, c * r * r, h, w)).astype(np.float32)
    ref = np.zeros((2, c, h * r, w * r), np.float32)  # torch.nn.PixelShuffle, written out
    for ch in range(c):
        for i in range(r):
            for j in range(r):
                ref[:, ch, i::r, j::r] = x_nchw[:, ch * r * r + i * r + j]
    out = np.asarray(pixel_shuffle(jnp.asarray(x_nchw.transpose(0, 2, 3, 1)), r))
    np.testing.assert_array_equal(out, ref.transpose(0, 2, 3, 1))
    with pytest.raises(ValueError, match="divisible by 4"):
        pixel_shuffle(jnp.zeros((1, 2, 2, 6)), 2)


def test_reflection_pad_does_not_repeat_the_edge():
    x = jnp.asarray([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 4, 1)
    x = jnp.broadcast_to(x, (1, 4, 4, 1))
    out = np.asarray(reflection_pad(x, 2))
    assert out.shape == (1, 8, 8, 1)
    np.testing.assert_array_equal(out[0, 0, :, 0], [3, 2, 1, 2, 3, 4, 3, 2])
    with pytest.raises(ValueError, match="reflection padding 4"):
        reflection_pad(x, 4)


def test_prelu_slopes():
    x = jnp.asarray([[-2.0, -1.0, 0.5, 3.0]])
    shared = PReLU()
    v = shared.init(jax.random.PRNGKey(0), x)
    assert v["params"]["negative_slope"].shape == ()
    np.testing.assert_allclose(shared.apply(v, x), [[-0.5, -0.25, 0.5, 3.0]])
    per_channel = PReLU(channelwise=True)
    v = per_channel.init(jax.random.PRNGKey(0), x)
    v = {"params": {"negative_slope": jnp.asarray([0.1, 0.2, 0.3, 0.4])}}
    np.testing.assert_allclose(per_channel.apply(v, x), [[-0.2, -0.2, 0.5, 3.0]], rtol=1e-6)


def test_instance_norm_matches_pytorch_default():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 6, 3)) * 3.0 + 1.0
    layer = instance_norm()
    v = layer.init(jax.random.PRNGKey(0), x)
    assert jax.tree.leaves(v) == []  # affine=False: no parameters, no running statistics
    xn = np.asarray(x, np.float64)
    mean, var = xn.mean(axis=(1, 2), keepdims=True), xn.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(layer.apply(v, x), (xn - mean) / np.sqrt(var + 1e-5), atol=1e-5)


def test_transposed_convolution_with_output_padding():
    """3x3, stride 2, padding 1, output_padding 1 (PyTorch's ConvTranspose2d): output 2H x 2W."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 6)).astype(np.float32)
    b = rng.normal(size=(6,)).astype(np.float32)
    layer = SubPixelConvTranspose(6, kernel_size=3, strides=2, padding=1, output_padding=1)
    v = layer.init(jax.random.PRNGKey(0), jnp.asarray(x))
    assert v["params"]["kernel"].shape == (3, 3, 3, 6)
    y = np.asarray(layer.apply({"params": {"kernel": w, "bias": b}}, jnp.asarray(x)))
    full = reference_conv_transpose(x, w, 2, 0)  # (2, 11, 9, 6): (H-1)*2 + 3 rows
    ref = full[:, 1 : 1 + 10, 1 : 1 + 8] + b  # crop padding 1; output_padding 1 adds the last row
    assert y.shape == ref.shape == (2, 10, 8, 6)
    np.testing.assert_allclose(y, ref, atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError, match="output_padding"):
        SubPixelConvTranspose(6, 3, 2, 1, output_padding=2).init(jax.random.PRNGKey(0), jnp.asarray(x))
