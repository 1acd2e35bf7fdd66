"""Layers of Progressive GAN (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation"), reusable by the StyleGAN family.

- :class:`EqualizedDense`, :class:`EqualizedConv`: the *equalized learning rate* of Sec. 4.1. Weights
  are stored as ``N(0, 1) / lr_multiplier`` and multiplied at run time by the He constant
  ``gain / sqrt(fan_in)`` times ``lr_multiplier``, so every layer's weights see the same dynamic
  range and Adam's per-parameter normalisation updates them at the same speed. ``lr_multiplier``
  < 1 is StyleGAN's mapping-network learning-rate reduction (Karras et al. 2019, App. C): the
  stored bias is multiplied by it too.
- :func:`pixel_norm`: pixelwise feature-vector normalisation of Sec. 4.2 (Eq. 1).
- :func:`minibatch_stddev`: the minibatch standard-deviation layer of Sec. 3, computed over groups
  of ``group_size`` examples as the authors' code.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.fir import conv2d

HE_GAIN = math.sqrt(2.0)  # the gain for (leaky) ReLU layers


def he_constant(fan_in: int, gain: float = HE_GAIN) -> float:
    """``gain / sqrt(fan_in)``: He et al. 2015's initialiser standard deviation, the run-time weight
    scale of the equalized learning rate (Karras et al. 2018, Sec. 4.1)."""
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    return gain / math.sqrt(fan_in)


def _check(lr_multiplier: float) -> None:
    if not lr_multiplier > 0:
        raise ValueError(f"lr_multiplier must be positive, got {lr_multiplier}")


class EqualizedDense(nn.Module):
    """A dense layer with the equalized learning rate (Karras et al. 2018, Sec. 4.1).

    ``y = x @ (w * gain / sqrt(fan_in) * lr_multiplier) + b * lr_multiplier`` with ``w`` stored as
    ``N(0, 1) / lr_multiplier`` and ``b`` as ``bias_init / lr_multiplier`` (zero by default).
    """

    features: int
    gain: float = HE_GAIN
    lr_multiplier: float = 1.0
    use_bias: bool = True
    bias_init: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check(self.lr_multiplier)
        fan_in = x.shape[-1]
        kernel = self.param(
            "kernel",
            lambda k, s: jax.random.normal(k, s, jnp.float32) / self.lr_multiplier,
            (fan_in, self.features),
        )
        scale = he_constant(fan_in, self.gain) * self.lr_multiplier
        y = x @ (kernel * scale).astype(x.dtype)
        if self.use_bias:
            bias = self.param(
                "bias",
                lambda k, s: jnp.full(s, self.bias_init / self.lr_multiplier, jnp.float32),
                (self.features,),
            )
            y = y + (bias * self.lr_multiplier).astype(y.dtype)
        return y


class EqualizedConv(nn.Module):
    """A ``kernel_size x kernel_size`` 'same' convolution (NHWC, odd kernel) with the equalized learning
    rate (Karras et al. 2018, Sec. 4.1): the kernel (HWIO, ``N(0, 1) / lr_multiplier``) is scaled by
    ``gain / sqrt(k * k * in_channels) * lr_multiplier`` at run time. ``up`` / ``down``: StyleGAN2's
    resampling convolutions with the FIR filter (:func:`gans_jax.layers.fir.conv2d`), output 2x / 0.5x."""

    features: int
    kernel_size: int = 3
    gain: float = HE_GAIN
    lr_multiplier: float = 1.0
    use_bias: bool = True
    up: bool = False
    down: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check(self.lr_multiplier)
        k, cin = self.kernel_size, x.shape[-1]
        kernel = self.param(
            "kernel",
            lambda key, s: jax.random.normal(key, s, jnp.float32) / self.lr_multiplier,
            (k, k, cin, self.features),
        )
        scale = he_constant(k * k * cin, self.gain) * self.lr_multiplier
        w = (kernel * scale).astype(x.dtype)
        if k == 1 and not (self.up or self.down):
            y = x @ w[0, 0]
        else:
            y = conv2d(x, w, self.up, self.down)
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, (self.features,))
            y = y + (bias * self.lr_multiplier).astype(y.dtype)
        return y


def pixel_norm(x: jax.Array, epsilon: float = 1e-8) -> jax.Array:
    """Pixelwise feature vector normalisation (Karras et al. 2018, Sec. 4.2, Eq. 1):
    ``b = a / sqrt(mean_j a_j^2 + epsilon)`` over the channels (last axis) of every pixel."""
    x32 = x.astype(jnp.float32)
    return (x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + epsilon)).astype(x.dtype)


def stddev_group_size(batch: int, group_size: int) -> int:
    """The group size actually used: ``group_size`` when it divides ``batch``, else the largest divisor of
    ``batch`` below it (the authors' code asserts divisibility; a batch of 14 uses groups of 2)."""
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    g = min(group_size, batch)
    while batch % g:
        g -= 1
    return g


def minibatch_stddev(
    x: jax.Array, group_size: int = 4, num_channels: int = 1, epsilon: float = 1e-8
) -> jax.Array:
    """Append the minibatch standard deviation as extra feature maps (Karras et al. 2018, Sec. 3).

    As the authors' code (``minibatch_stddev_layer``): the batch ``(N, H, W, C)`` is split into groups
    of ``G`` examples ``{i, i + N/G, i + 2N/G, ...}`` (:func:`stddev_group_size`); for each group the
    standard deviation over its ``G`` members (population form, ``sqrt(var + epsilon)``) is computed
    for every feature and pixel and averaged over them, per slice of ``C / num_channels`` features
    (StyleGAN2's ``num_channels``), and replicated over ``H x W`` as ``num_channels`` new channels for
    the group's members. Returns ``(N, H, W, C + num_channels)``.
    """
    n, h, w, c = x.shape
    g, f = stddev_group_size(n, group_size), num_channels
    if c % f:
        raise ValueError(f"minibatch_stddev: {c} channels do not split into num_channels={f}")
    y = x.astype(jnp.float32).reshape(g, n // g, h, w, f, c // f)
    y = y - jnp.mean(y, axis=0)
    y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + epsilon)  # (M, H, W, F, C / F)
    y = jnp.mean(y, axis=(1, 2, 4))  # (M, F)
    y = jnp.tile(y, (g, 1))  # example i belongs to group i % M
    feature = jnp.broadcast_to(y[:, None, None, :], (n, h, w, f)).astype(x.dtype)
    return jnp.concatenate([x, feature], axis=-1)


__all__ = [
    "HE_GAIN",
    "EqualizedConv",
    "EqualizedDense",
    "he_constant",
    "minibatch_stddev",
    "pixel_norm",
    "stddev_group_size",
]
