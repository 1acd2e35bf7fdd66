"""Resampling convolutions of ResNet GANs (Gulrajani et al. 2017; Miyato et al. 2018), fused exactly.

- :class:`UpsampleConv`: nearest-neighbour 2x upsampling followed by a ``3 x 3`` convolution (padding 1).
  Per axis, output pixel ``2i`` reads ``x[i-1] w0 + x[i] (w1 + w2)`` and pixel ``2i+1`` reads
  ``x[i] (w0 + w1) + x[i+1] w2``: a ``4 x 4`` stride-2 transposed convolution (padding 1) whose taps are
  ``(w2, w1 + w2, w0 + w1, w0)``, computed by :func:`gans_jax.layers.conv_transpose_subpixel` with 16
  instead of 36 multiply-adds per input pixel and channel pair, and fast gradients on CPU.
- :class:`ConvMeanPool`: a ``3 x 3`` convolution (padding 1) followed by ``2 x 2`` average pooling: a
  ``4 x 4`` stride-2 convolution (padding 1) with taps ``(w0, w0 + w1, w1 + w2, w2) / 2``.

The parameter is the ``3 x 3`` kernel itself (HWIO), so spectral normalisation wrapped around these
layers normalises that kernel, as the authors' code does, and weights port 1:1.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gans_jax.layers.conv import conv_general_dilated_cpu
from gans_jax.layers.upsample import conv_transpose_subpixel

Initializer = nn.initializers.Initializer

# rows: taps k = 0..3 of the fused 4-tap kernel; columns: taps t = 0..2 of the 3x3 kernel
_UPSAMPLE_TAPS = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], np.float32)
_MEANPOOL_TAPS = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], np.float32) / 2


def _fuse(kernel: jax.Array, taps: np.ndarray) -> jax.Array:
    taps = jnp.asarray(taps, kernel.dtype)
    return jnp.einsum("ai,bj,ijco->abco", taps, taps, kernel)


def nearest_upsample(x: jax.Array, factor: int = 2) -> jax.Array:
    """Nearest-neighbour upsampling of NHWC ``x`` (Chainer's ``unpooling_2d``, PyTorch's ``nearest``)."""
    return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def pixel_shuffle(x: jax.Array, factor: int) -> jax.Array:
    """Depth-to-space of NHWC ``x`` ``(N, H, W, C r^2) -> (N, H r, W r, C)``, the sub-pixel convolution
    layer's periodic shuffle (Shi et al. 2016, Eq. 4; SRGAN, Ledig et al. 2017, Fig. 4), with PyTorch's
    ``nn.PixelShuffle`` channel order: ``out[h r + i, w r + j, c] = in[h, w, c r^2 + i r + j]``, so
    convolution weights port 1:1."""
    n, h, w, c = x.shape
    r = factor
    if r < 1 or c % (r * r):
        raise ValueError(
            f"pixel_shuffle by {factor} needs channels divisible by {r * r}, got shape {x.shape}"
        )
    x = x.reshape(n, h, w, c // (r * r), r, r).transpose(0, 1, 4, 2, 5, 3)  # (N, H, i, W, j, C)
    return x.reshape(n, h * r, w * r, c // (r * r))


def mean_pool(x: jax.Array) -> jax.Array:
    """``2 x 2`` average pooling, stride 2, of NHWC ``x``."""
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


class UpsampleConv(nn.Module):
    """``conv3x3(nearest_upsample(x))``, computed as one fused transposed convolution (module doc)."""

    features: int
    use_bias: bool = True
    kernel_init: Initializer = nn.initializers.lecun_normal()
    bias_init: Initializer = nn.initializers.zeros

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (3, 3, x.shape[-1], self.features))
        y = conv_transpose_subpixel(x, _fuse(kernel, _UPSAMPLE_TAPS).astype(x.dtype), 2, 1)
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,)).astype(y.dtype)
        return y


class ConvMeanPool(nn.Module):
    """``mean_pool(conv3x3(x))``, computed as one ``4 x 4`` stride-2 convolution (module doc)."""

    features: int
    use_bias: bool = True
    kernel_init: Initializer = nn.initializers.lecun_normal()
    bias_init: Initializer = nn.initializers.zeros

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.shape[1] % 2 or x.shape[2] % 2:
            raise ValueError(f"ConvMeanPool needs even height and width, got shape {x.shape}")
        kernel = self.param("kernel", self.kernel_init, (3, 3, x.shape[-1], self.features))
        y = conv_general_dilated_cpu(
            x,
            _fuse(kernel, _MEANPOOL_TAPS).astype(x.dtype),
            (2, 2),
            ((1, 1), (1, 1)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,)).astype(y.dtype)
        return y


__all__ = ["ConvMeanPool", "UpsampleConv", "mean_pool", "nearest_upsample", "pixel_shuffle"]
