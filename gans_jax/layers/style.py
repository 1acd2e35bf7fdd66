"""Layers of the style-based generators (Karras et al. 2019, "A Style-Based Generator Architecture for
GANs"; Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN").

- Equalized-learning-rate layers and the minibatch standard deviation come from
  :mod:`gans_jax.layers.equalized` (shared with the progressive GAN); FIR resampling and the resampling
  convolutions from :mod:`gans_jax.layers.fir`. StyleGAN's layers use ``gain=1`` (``lrelu_gain`` carries
  the sqrt(2)).
- :class:`MappingNetwork`: ``z -> w``, z normalised to unit second moment, 8 FC layers at lr 0.01x,
  with ``w_avg`` tracked as an EMA in the ``w_avg`` collection (StyleGAN, Sec. 2 and App. B).
- :class:`ModulatedConv`: StyleGAN2's modulation / demodulation (Sec. 2.2, Eq. 1-3), computed in the
  batched form: scale the input by the style, convolve with the shared weight, scale the output by
  the demodulation coefficient (exactly the per-sample weight ``w' = s w / sqrt(sum (s w)^2)``).
- :class:`NoiseInjection`, :func:`adaptive_instance_norm` (StyleGAN's AdaIN, Eq. 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.equalized import EqualizedDense
from gans_jax.layers.fir import conv2d

SQRT2 = math.sqrt(2.0)


def lrelu_gain(x: jax.Array) -> jax.Array:
    """Leaky ReLU (slope 0.2) times ``sqrt(2)``, keeping unit second moment (StyleGAN's ``lrelu``)."""
    return nn.leaky_relu(x, 0.2) * SQRT2


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
            y = EqualizedDense(self.w_dim, gain=1.0, name="embed")(
                jax.nn.one_hot(labels, self.num_classes, dtype=x.dtype)
            )
            x = jnp.concatenate([x, normalize_2nd_moment(y)], axis=-1)
        for i in range(self.num_layers):
            width = self.w_dim if i == self.num_layers - 1 else self.hidden
            x = lrelu_gain(
                EqualizedDense(width, gain=1.0, lr_multiplier=self.lr_multiplier, name=f"fc{i}")(x)
            )
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
    """Per-pixel noise ``N(0, 1)`` of ``shape`` ``(B, H, W, 1)`` from the ``noise`` PRNG stream when given
    (training, ``noise_mode='random'``), else one fixed ``(1, H, W, 1)`` draw shared by every image
    (StyleGAN2-ADA's ``noise_mode='const'``: an image does not depend on the batch it is drawn in)."""
    if module.has_rng("noise"):
        return jax.random.normal(module.make_rng("noise"), tuple(shape), dtype)
    const = jax.random.normal(jax.random.PRNGKey(0), (1, *tuple(shape)[1:]), dtype)
    return jnp.broadcast_to(const, tuple(shape))


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
        styles = EqualizedDense(cin, gain=1.0, bias_init=1.0, name="affine")(w)  # (B, C_in)
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


__all__ = [
    "MappingNetwork",
    "ModulatedConv",
    "NoiseInjection",
    "StyleLayer",
    "ToRGB",
    "adaptive_instance_norm",
    "lrelu_gain",
    "normalize_2nd_moment",
    "style_mix",
    "truncate",
]
