"""FIR ``[1, 3, 3, 1]`` resampling (StyleGAN's bilinear-filtered up/downsampling, StyleGAN2's
``upfirdn2d``): :func:`upsample_2d`, :func:`downsample_2d`, and the resampling convolutions of
:func:`conv2d` in the official order and FLOPs (upsampling through the library's fast exact transposed
convolution :func:`gans_jax.layers.conv_transpose_subpixel`, strided convolutions through
:func:`gans_jax.layers.conv.conv_general_dilated_cpu`; no custom kernels).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gans_jax.layers.conv import conv_general_dilated_cpu
from gans_jax.layers.upsample import conv_transpose_subpixel

FIR = np.array([1.0, 3.0, 3.0, 1.0], np.float32)  # the binomial filter of StyleGAN's blur
_NHWC = ("NHWC", "HWIO", "NHWC")


def upsample_2d(x: jax.Array) -> jax.Array:
    """2x upsampling of NHWC ``x`` by zero insertion and the ``[1, 3, 3, 1]`` filter (gain 4), zero
    padded: ``y[2i] = (x[i-1] + 3 x[i]) / 4``, ``y[2i+1] = (3 x[i] + x[i+1]) / 4`` per axis (StyleGAN2's
    ``upfirdn2d.upsample2d``; bilinear upsampling with zero borders)."""

    def axis_up(v, axis):
        n = v.shape[axis]
        pad = [(0, 0)] * v.ndim
        pad[axis] = (1, 1)
        p = jnp.pad(v, pad)
        take = lambda s: jax.lax.slice_in_dim(p, s, s + n, axis=axis)
        even = (take(0) + 3 * take(1)) / 4
        odd = (3 * take(1) + take(2)) / 4
        y = jnp.stack([even, odd], axis=axis + 1)
        shape = list(v.shape)
        shape[axis] = 2 * n
        return y.reshape(shape)

    return axis_up(axis_up(x, 1), 2)


def downsample_2d(x: jax.Array) -> jax.Array:
    """2x downsampling of NHWC ``x`` by the ``[1, 3, 3, 1] / 8`` filter (zero padding 1) and decimation:
    ``y[i] = (x[2i-1] + 3 x[2i] + 3 x[2i+1] + x[2i+2]) / 8`` per axis (``upfirdn2d.downsample2d``)."""
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"downsample_2d needs even height and width, got shape {x.shape}")

    def axis_down(v, axis):
        n = v.shape[axis] // 2
        pad = [(0, 0)] * v.ndim
        pad[axis] = (1, 1)
        p = jnp.pad(v, pad)
        take = lambda s: jax.lax.slice_in_dim(p, s, s + 2 * n - 1, stride=2, axis=axis)
        return (take(0) + 3 * take(1) + 3 * take(2) + take(3)) / 8

    return axis_down(axis_down(x, 1), 2)


def _fir_valid(x: jax.Array, f: np.ndarray, axis: int, stride: int = 1) -> jax.Array:
    """``y[o] = sum_m f[m] x[stride * o + m]`` along ``axis`` (valid correlation, depthwise)."""
    n = (x.shape[axis] - len(f)) // stride + 1
    taps = [
        jax.lax.slice_in_dim(x, m, m + stride * (n - 1) + 1, stride=stride, axis=axis) * float(f[m])
        for m in range(len(f))
    ]
    return sum(taps[1:], taps[0])


def _fir_2d(x: jax.Array, f: np.ndarray, pad: int) -> jax.Array:
    """Zero-pad H and W by ``pad`` and apply the separable filter ``f (x) f`` (valid correlation)."""
    x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    return _fir_valid(_fir_valid(x, f, 1), f, 2)


def conv2d(x: jax.Array, kernel: jax.Array, up: bool = False, down: bool = False) -> jax.Array:
    """``'same'`` convolution of NHWC ``x`` with an HWIO ``k x k`` kernel (odd ``k``), or StyleGAN2's
    resampling convolutions (``conv2d_resample``), in the official order and FLOPs:

    - ``up``: zero insertion, ``[1, 3, 3, 1] / 4`` filter per axis and the convolution, output ``2H``
      (the full composition, cropped). Computed as the stride-2 transposed convolution with the
      flipped kernel (the library's fast exact :func:`conv_transpose_subpixel`), then the filter.
    - ``down``: ``[1, 3, 3, 1] / 8`` filter per axis (zero padding ``(k + 1) / 2``), then the convolution
      with stride 2, output ``H / 2``.
    """
    k = kernel.shape[0]
    kernel = kernel.astype(x.dtype)
    if k % 2 == 0:
        raise ValueError(f"conv2d needs an odd kernel size, got {kernel.shape}")
    if up and down:
        raise ValueError("conv2d: up and down are exclusive")
    if up:
        if k == 1:  # a 1x1 convolution commutes with the upsampling
            return upsample_2d(conv2d(x, kernel))
        # Conv first (filter and convolution commute on the fine grid): v[2i - p + m] += x[i] W[m] with
        # W = flip(w) zero-padded to k + 1 taps (so k + 1 - 2p = stride), x padded by one pixel so that v
        # covers positions -2 .. 2H (stored at + 2); then z[o] = sum_m f[m] v[o + m - 2].
        p = (k - 1) // 2
        flipped = jnp.pad(kernel[::-1, ::-1], ((0, 1), (0, 1), (0, 0), (0, 0)))
        v = conv_transpose_subpixel(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), flipped, 2, p)
        n = 2 * x.shape[1] + 3
        v = v[:, :n, : 2 * x.shape[2] + 3]
        return _fir_valid(_fir_valid(v, FIR / 4, 1), FIR / 4, 2)
    if down:
        y = _fir_2d(x, FIR / 8, (k + 1) // 2)
        return conv_general_dilated_cpu(y, kernel, (2, 2), ((0, 0), (0, 0)), dimension_numbers=_NHWC)
    pad = (k - 1) // 2
    return conv_general_dilated_cpu(x, kernel, (1, 1), ((pad, pad), (pad, pad)), dimension_numbers=_NHWC)
