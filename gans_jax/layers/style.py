"""Layers of the style-based generators (Karras et al. 2019, "A Style-Based Generator Architecture for
GANs"; Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN").

- :class:`EqualizedDense` / :class:`EqualizedConv`: equalized learning rate (Karras et al. 2018, Sec. 4.1):
  weights stored ``N(0, 1 / lr_multiplier^2)`` and scaled at run time by
  ``gain / sqrt(fan_in) * lr_multiplier``; the bias is stored divided by ``lr_multiplier``.
- :class:`MappingNetwork`: ``z -> w``, z normalised to unit second moment, 8 FC layers at lr 0.01x,
  with ``w_avg`` tracked as an EMA in the ``w_avg`` collection (StyleGAN, Sec. 2 and App. B).
- :class:`ModulatedConv`: StyleGAN2's modulation / demodulation (Sec. 2.2, Eq. 1-3), computed in the
  batched form: scale the input by the style, convolve with the shared weight, scale the output by
  the demodulation coefficient (exactly the per-sample weight ``w' = s w / sqrt(sum (s w)^2)``).
- :class:`NoiseInjection`, :func:`adaptive_instance_norm` (StyleGAN's AdaIN, Eq. 1).
- FIR ``[1, 3, 3, 1]`` resampling (StyleGAN's bilinear-filtered up/downsampling, StyleGAN2's
  ``upfirdn2d``): :func:`upsample_2d`, :func:`downsample_2d`, and the resampling convolutions of
  :func:`conv2d` in the official order and FLOPs (upsampling through the library's fast exact
  transposed convolution :func:`gans_jax.layers.conv_transpose_subpixel`, strided convolutions through
  :func:`gans_jax.layers.conv.conv_general_dilated_cpu`; no custom kernels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gans_jax.layers.conv import conv_general_dilated_cpu
from gans_jax.layers.upsample import conv_transpose_subpixel

SQRT2 = math.sqrt(2.0)
FIR = np.array([1.0, 3.0, 3.0, 1.0], np.float32)  # the binomial filter of StyleGAN's blur
_NHWC = ("NHWC", "HWIO", "NHWC")


def lrelu_gain(x: jax.Array) -> jax.Array:
    """Leaky ReLU (slope 0.2) times ``sqrt(2)``, keeping unit second moment (StyleGAN's ``lrelu``)."""
    return nn.leaky_relu(x, 0.2) * SQRT2


# --------------------------------------------------------------------------------------------------
# FIR resampling
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Equalized learning rate
# --------------------------------------------------------------------------------------------------


class EqualizedDense(nn.Module):
    """Dense layer with equalized learning rate: ``x @ (W * gain / sqrt(fan_in) * lr_multiplier) +
    b * lr_multiplier``, ``W ~ N(0, 1 / lr_multiplier^2)``, ``b = bias_init / lr_multiplier``."""

    features: int
    gain: float = 1.0
    lr_multiplier: float = 1.0
    use_bias: bool = True
    bias_init: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in = x.shape[-1]
        kernel = self.param(
            "kernel", nn.initializers.normal(1.0 / self.lr_multiplier), (fan_in, self.features)
        )
        y = x @ (kernel * (self.gain / math.sqrt(fan_in) * self.lr_multiplier)).astype(x.dtype)
        if self.use_bias:
            bias = self.param(
                "bias", nn.initializers.constant(self.bias_init / self.lr_multiplier), (self.features,)
            )
            y = y + (bias * self.lr_multiplier).astype(x.dtype)
        return y


class EqualizedConv(nn.Module):
    """``k x k`` 'same' convolution with equalized learning rate (``fan_in = k * k * C_in``); ``up`` /
    ``down`` resample by the FIR filter fused into the convolution (:func:`conv2d`)."""

    features: int
    kernel_size: int = 3
    gain: float = 1.0
    lr_multiplier: float = 1.0
    use_bias: bool = True
    up: bool = False
    down: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k, cin = self.kernel_size, x.shape[-1]
        kernel = self.param(
            "kernel", nn.initializers.normal(1.0 / self.lr_multiplier), (k, k, cin, self.features)
        )
        scale = self.gain / math.sqrt(k * k * cin) * self.lr_multiplier
        y = conv2d(x, kernel * scale, self.up, self.down)
        if self.use_bias:
            y = y + (self.param("bias", nn.initializers.zeros, (self.features,)) * self.lr_multiplier).astype(
                y.dtype
            )
        return y


# --------------------------------------------------------------------------------------------------
# Mapping network, noise, AdaIN, modulated convolution
# --------------------------------------------------------------------------------------------------


def normalize_2nd_moment(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """``x / sqrt(mean(x^2) + eps)`` over the last axis (StyleGAN's pixel norm of z)."""
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


class MappingNetwork(nn.Module):
    """``f: Z -> W`` (StyleGAN, Sec. 2): normalised ``z`` (concatenated with a normalised label
    embedding when conditional), ``num_layers`` equalized FC layers with lr multiplier 0.01 and leaky
    ReLU, broadcast to ``num_ws`` copies. In train mode ``w_avg <- lerp(mean_batch w, w_avg, w_avg_beta)``
    (collection ``w_avg``, used by truncation). Returns ``(B, num_ws, w_dim)``."""

    w_dim: int = 512
    num_layers: int = 8
    hidden: int = 512
    num_ws: int = 18
    num_classes: int | None = None
    lr_multiplier: float = 0.01
    w_avg_beta: float = 0.995

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = False) -> jax.Array:
        x = normalize_2nd_moment(z.reshape(z.shape[0], -1))
        if self.num_classes is not None:
            if labels is None:
                raise ValueError(f"a conditional mapping network ({self.num_classes} classes) needs labels")
            y = EqualizedDense(self.w_dim, name="embed")(
                jax.nn.one_hot(labels, self.num_classes, dtype=x.dtype)
            )
            x = jnp.concatenate([x, normalize_2nd_moment(y)], axis=-1)
        for i in range(self.num_layers):
            width = self.w_dim if i == self.num_layers - 1 else self.hidden
            x = lrelu_gain(EqualizedDense(width, lr_multiplier=self.lr_multiplier, name=f"fc{i}")(x))
        w_avg = self.variable("w_avg", "w_avg", lambda: jnp.zeros((self.w_dim,), jnp.float32))
        if train and not self.is_initializing():
            batch_mean = jnp.mean(x.astype(jnp.float32), axis=0)
            w_avg.value = batch_mean + self.w_avg_beta * (w_avg.value - batch_mean)
        return jnp.broadcast_to(x[:, None], (x.shape[0], self.num_ws, x.shape[-1]))


def truncate(ws: jax.Array, w_avg: jax.Array, psi: float, cutoff: int | None = None) -> jax.Array:
    """The truncation trick in W (StyleGAN, Sec. 3.1 / App. B): ``w' = w_avg + psi (w - w_avg)`` on the
    layers before ``cutoff`` (all when ``None``)."""
    truncated = w_avg + psi * (ws - w_avg)
    if cutoff is None:
        return truncated
    layer = jnp.arange(ws.shape[1])[None, :, None]
    return jnp.where(layer < cutoff, truncated, ws)


def style_mix(ws: jax.Array, ws2: jax.Array, crossover: jax.Array) -> jax.Array:
    """Style mixing (StyleGAN, Sec. 3.1): layers ``< crossover`` take ``ws``, the rest ``ws2``."""
    layer = jnp.arange(ws.shape[1])[None, :, None]
    return jnp.where(layer < crossover, ws, ws2)


def random_noise(module: nn.Module, shape: Sequence[int], dtype) -> jax.Array:
    """Per-pixel noise ``N(0, 1)`` from the ``noise`` PRNG stream when given (training), else a fixed
    draw (StyleGAN2's ``noise_mode='const'``-like deterministic sampling)."""
    key = module.make_rng("noise") if module.has_rng("noise") else jax.random.PRNGKey(0)
    return jax.random.normal(key, tuple(shape), dtype)


class NoiseInjection(nn.Module):
    """``x + strength * noise`` with single-channel per-pixel noise broadcast over channels; the learned
    scale is per channel in StyleGAN (Sec. 2, "B") and one scalar in StyleGAN2 (``per_channel=False``)."""

    per_channel: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (x.shape[-1],) if self.per_channel else ()
        strength = self.param("strength", nn.initializers.zeros, shape)
        noise = random_noise(self, (*x.shape[:3], 1), x.dtype)
        return x + noise * strength.astype(x.dtype)


def adaptive_instance_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, eps: float = 1e-8) -> jax.Array:
    """AdaIN (StyleGAN, Eq. 1): ``scale * (x - mu(x)) / sigma(x) + bias`` per example and channel, with
    ``(B, C)`` styles ``scale`` (``y_s``) and ``bias`` (``y_b``)."""
    x = x - jnp.mean(x, axis=(1, 2), keepdims=True)
    x = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=(1, 2), keepdims=True) + eps)
    return x * scale[:, None, None, :] + bias[:, None, None, :]


class ModulatedConv(nn.Module):
    """StyleGAN2's modulated convolution (Sec. 2.2): the per-sample weight is ``w'_ijk = s_i w_ijk``
    (Eq. 1) and, with ``demodulate``, ``w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + eps)`` (Eq. 3).
    Computed as ``conv(x * s, w) * d`` with ``d_bj = 1 / sqrt(sum_i s_bi^2 sum_k w_ijk^2 + eps)``, which is
    exactly the grouped convolution with per-sample weights. ``s = affine(w) `` (equalized dense, bias
    init 1). ``up``: FIR upsampling fused into the convolution. Returns the output before bias and
    activation (:class:`StyleLayer` adds them)."""

    features: int
    kernel_size: int = 3
    demodulate: bool = True
    up: bool = False
    eps: float = 1e-8

    @nn.compact
    def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
        k, cin = self.kernel_size, x.shape[-1]
        styles = EqualizedDense(cin, bias_init=1.0, name="affine")(w)  # (B, C_in)
        kernel = self.param("kernel", nn.initializers.normal(1.0), (k, k, cin, self.features))
        kernel = kernel * (1.0 / math.sqrt(k * k * cin))
        if not self.demodulate:  # ToRGB: the weight gain is applied to the styles (official code)
            return conv2d(x * styles[:, None, None, :].astype(x.dtype), kernel, self.up)
        y = conv2d(x * styles[:, None, None, :].astype(x.dtype), kernel, self.up)
        power = jnp.square(styles) @ jnp.sum(jnp.square(kernel), axis=(0, 1))  # (B, C_out)
        return y * jax.lax.rsqrt(power + self.eps)[:, None, None, :].astype(y.dtype)


class StyleLayer(nn.Module):
    """StyleGAN2 synthesis layer: modulated 3x3 conv (optionally upsampling), noise, bias, leaky ReLU."""

    features: int
    up: bool = False
    use_noise: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
        x = ModulatedConv(self.features, 3, up=self.up, name="conv")(x, w)
        if self.use_noise:
            x = NoiseInjection(per_channel=False, name="noise")(x)
        x = x + self.param("bias", nn.initializers.zeros, (self.features,)).astype(x.dtype)
        return lrelu_gain(x)


class ToRGB(nn.Module):
    """StyleGAN2's ``tRGB``: modulated 1x1 conv without demodulation, plus bias, linear."""

    channels: int = 3

    @nn.compact
    def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
        y = ModulatedConv(self.channels, 1, demodulate=False, name="conv")(x, w)
        return y + self.param("bias", nn.initializers.zeros, (self.channels,)).astype(y.dtype)


def minibatch_stddev(x: jax.Array, group_size: int = 4, num_channels: int = 1) -> jax.Array:
    """Minibatch standard deviation layer (Karras et al. 2018, Sec. 3; StyleGAN2's variant): the std of
    each feature over groups of ``group_size`` examples, averaged over features and pixels into
    ``num_channels`` extra feature maps."""
    n, h, w, c = x.shape
    g = min(group_size, n)
    if n % g:
        raise ValueError(f"minibatch_stddev: batch {n} is not a multiple of the group size {g}")
    f = num_channels
    y = x.reshape(g, n // g, h, w, f, c // f).astype(jnp.float32)
    y = jnp.sqrt(jnp.var(y, axis=0) + 1e-8)  # (n/g, h, w, f, c/f)
    y = jnp.mean(y, axis=(1, 2, 4))  # (n/g, f)
    y = jnp.tile(y, (g, 1))[:, None, None, :]
    return jnp.concatenate([x, jnp.broadcast_to(y, (n, h, w, f)).astype(x.dtype)], axis=-1)


__all__ = [
    "EqualizedConv",
    "EqualizedDense",
    "MappingNetwork",
    "ModulatedConv",
    "NoiseInjection",
    "StyleLayer",
    "ToRGB",
    "adaptive_instance_norm",
    "conv2d",
    "downsample_2d",
    "lrelu_gain",
    "minibatch_stddev",
    "normalize_2nd_moment",
    "style_mix",
    "truncate",
    "upsample_2d",
]
