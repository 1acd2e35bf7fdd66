"""Layers of the style-based generators (Karras et al. 2019, "A Style-Based Generator Architecture for
GANs"; Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), as the official
``stylegan2-ada-pytorch`` code (``training/networks.py``) computes them.

- Equalized-learning-rate layers and the minibatch standard deviation come from
  :mod:`gans_jax.layers.equalized` (shared with the progressive GAN); FIR resampling and the resampling
  convolutions from :mod:`gans_jax.layers.fir`. StyleGAN's layers use ``gain=1`` and put the sqrt(2) of
  the leaky ReLU into the activation (:func:`bias_act`, :func:`lrelu_gain`).
- :func:`bias_act`: bias, activation, gain and StyleGAN2-ADA's ``conv_clamp`` clamping.
- :class:`MappingNetwork`: ``z -> w``, z normalised to unit second moment, FC layers at lr 0.01x, with
  ``w_avg`` tracked as an EMA in the ``w_avg`` collection (StyleGAN, Sec. 2 and App. B); also the label
  mapping of the conditional discriminator (no z, no broadcast, no ``w_avg``).
- :class:`ModulatedConv`: StyleGAN2's modulation / demodulation (Sec. 2.2, Eq. 1-3), computed in the
  batched form: scale the input by the style, convolve with the shared weight, scale the output by
  the demodulation coefficient (exactly the per-sample weight ``w' = s w / sqrt(sum (s w)^2)``).
- :class:`NoiseInjection` with per-layer constant noise (``noise_const``) and the noise modes
  ``const | random | none`` (:data:`NOISE_MODES`); :func:`adaptive_instance_norm` (StyleGAN's AdaIN, Eq. 1).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.equalized import EqualizedDense
from gans_jax.layers.fir import conv2d

SQRT2 = math.sqrt(2.0)
# StyleGAN2-ADA's noise_mode: "random" draws from the ``noise`` PRNG stream, "const" uses each layer's
# noise_const, "none" adds no noise.
NOISE_MODES = ("const", "random", "none")


def lrelu_gain(x: jax.Array) -> jax.Array:
    """Leaky ReLU (slope 0.2) times ``sqrt(2)``, keeping unit second moment (StyleGAN's ``lrelu``)."""
    return nn.leaky_relu(x, 0.2) * SQRT2


_DEFAULT_GAINS = {"linear": 1.0, "lrelu": SQRT2}


def bias_act(
    x: jax.Array,
    bias: jax.Array | None = None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> jax.Array:
    """StyleGAN2-ADA's ``bias_act`` (``torch_utils/ops/bias_act.py``) on the last (channel) axis:
    ``clip(act(x + bias) * gain, -clamp, clamp)``. ``act``: ``linear`` or ``lrelu`` (slope 0.2); ``gain``
    ``None`` is the activation's default (1, sqrt(2)); ``clamp`` ``None`` is no clamping (the official
    configs clamp every convolution's output at ``conv_clamp = 256``, which StyleGAN2-ADA adds against
    float16 overflow)."""
    if act not in _DEFAULT_GAINS:
        raise ValueError(f"unknown activation {act!r}; expected one of {tuple(_DEFAULT_GAINS)}")
    if bias is not None:
        x = x + bias.astype(x.dtype)
    if act == "lrelu":
        x = nn.leaky_relu(x, 0.2)
    gain = _DEFAULT_GAINS[act] if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None:
        if not clamp >= 0:
            raise ValueError(f"clamp must be >= 0 or None, got {clamp}")
        x = jnp.clip(x, -clamp, clamp)
    return x


# --------------------------------------------------------------------------------------------------
# Mapping network, noise, AdaIN, modulated convolution
# --------------------------------------------------------------------------------------------------


def normalize_2nd_moment(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """``x / sqrt(mean(x^2) + eps)`` over the last axis (StyleGAN's pixel norm of z)."""
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


class MappingNetwork(nn.Module):
    """``f: Z -> W`` (StyleGAN, Sec. 2; StyleGAN2-ADA's ``MappingNetwork``): normalised ``z`` (concatenated
    with the normalised label embedding ``embed`` when conditional), ``num_layers`` equalized FC layers
    (``fc0`` ...) with lr multiplier ``lr_multiplier`` and leaky ReLU, broadcast to ``num_ws`` copies:
    ``(B, num_ws, w_dim)``. In train mode ``w_avg <- lerp(mean_batch w, w_avg, w_avg_beta)`` (collection
    ``w_avg``, used by truncation).

    ``hidden`` is the official ``layer_features``; ``embed_features`` ``None`` is ``w_dim``. The
    conditional discriminator's label mapping is this network without z (``z=None``), without
    broadcast (``num_ws=None``: returns ``(B, w_dim)``) and without ``w_avg`` (``w_avg_beta=None``)."""

    w_dim: int = 512
    num_layers: int = 8
    hidden: int = 512
    num_ws: int | None = 18
    num_classes: int | None = None
    lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.995
    embed_features: int | None = None

    @nn.compact
    def __call__(self, z: jax.Array | None, labels: jax.Array | None = None, train: bool = False):
        parts = []
        if z is not None:
            parts.append(normalize_2nd_moment(z.reshape(z.shape[0], -1)))
        if self.num_classes is not None:
            if labels is None:
                raise ValueError(f"a conditional mapping network ({self.num_classes} classes) needs labels")
            dtype = z.dtype if z is not None else jnp.float32
            y = EqualizedDense(self.embed_features or self.w_dim, gain=1.0, name="embed")(
                jax.nn.one_hot(labels, self.num_classes, dtype=dtype)
            )
            parts.append(normalize_2nd_moment(y))
        if not parts:
            raise ValueError("a mapping network needs z, labels (num_classes) or both")
        x = jnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            width = self.w_dim if i == self.num_layers - 1 else self.hidden
            dense = EqualizedDense(width, gain=1.0, lr_multiplier=self.lr_multiplier, name=f"fc{i}")
            x = bias_act(dense(x), act="lrelu")
        if self.w_avg_beta is not None:
            w_avg = self.variable("w_avg", "w_avg", lambda: jnp.zeros((x.shape[-1],), jnp.float32))
            if train and not self.is_initializing():
                batch_mean = jnp.mean(x.astype(jnp.float32), axis=0)
                w_avg.value = batch_mean + self.w_avg_beta * (w_avg.value - batch_mean)
        if self.num_ws is None:
            return x
        return jnp.broadcast_to(x[:, None], (x.shape[0], self.num_ws, x.shape[-1]))


def truncate(ws: jax.Array, w_avg: jax.Array, psi: float, cutoff: int | None = None) -> jax.Array:
    """The truncation trick in W (StyleGAN, Sec. 3.1 / App. B): ``w' = w_avg + psi (w - w_avg)`` on the
    layers before ``cutoff`` (all when ``None``), as ``MappingNetwork.forward`` of StyleGAN2-ADA."""
    truncated = w_avg + psi * (ws - w_avg)
    if cutoff is None:
        return truncated
    layer = jnp.arange(ws.shape[1])[None, :, None]
    return jnp.where(layer < cutoff, truncated, ws)


def style_mix(ws: jax.Array, ws2: jax.Array, crossover: jax.Array) -> jax.Array:
    """Style mixing (StyleGAN, Sec. 3.1): layers ``< crossover`` take ``ws``, the rest ``ws2``."""
    layer = jnp.arange(ws.shape[1])[None, :, None]
    return jnp.where(layer < crossover, ws, ws2)


def resolve_noise_mode(module: nn.Module, noise_mode: str | None) -> str:
    """``noise_mode`` checked against :data:`NOISE_MODES`; ``None`` is ``random`` when the ``noise`` PRNG
    stream is given (the train step), else ``const``."""
    if noise_mode is None:
        return "random" if module.has_rng("noise") else "const"
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"unknown noise_mode {noise_mode!r}; expected one of {NOISE_MODES}")
    return noise_mode


class NoiseInjection(nn.Module):
    """``x + strength * noise`` with single-channel per-pixel noise broadcast over channels; the learned
    scale is per channel in StyleGAN (Sec. 2, "B") and one scalar in StyleGAN2 (``per_channel=False``).

    The noise follows ``noise_mode`` (StyleGAN2-ADA's ``SynthesisLayer``): ``random``: ``N(0, 1)`` of shape
    ``(B, H, W, 1)`` from the ``noise`` PRNG stream; ``const``: this layer's own fixed ``(H, W)`` draw,
    the variable ``noise_const`` of the ``noise_const`` collection (the official per-layer
    ``noise_const`` buffer: drawn from the ``params`` stream at init, filled by a converter), the same
    for every image so that an image does not depend on its batch; ``none``: no noise. ``None``:
    ``random`` when the ``noise`` stream is given, else ``const``."""

    per_channel: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, noise_mode: str | None = None) -> jax.Array:
        shape = (x.shape[-1],) if self.per_channel else ()
        strength = self.param("strength", nn.initializers.zeros, shape)
        const = self.variable(
            "noise_const",
            "noise_const",
            lambda: jax.random.normal(self.make_rng("params"), x.shape[1:3], jnp.float32),
        )
        mode = resolve_noise_mode(self, noise_mode)
        if mode == "none":
            return x
        if mode == "random":
            if not self.has_rng("noise"):
                raise ValueError("noise_mode='random' needs the 'noise' PRNG stream (rngs={'noise': key})")
            noise = jax.random.normal(self.make_rng("noise"), (*x.shape[:3], 1), x.dtype)
        else:
            if const.value.shape != x.shape[1:3]:
                raise ValueError(f"noise_const has shape {const.value.shape}, the layer's input {x.shape}")
            noise = const.value.astype(x.dtype)[None, :, :, None]
        return x + noise * strength.astype(x.dtype)


def adaptive_instance_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, eps: float = 1e-8) -> jax.Array:
    """AdaIN (StyleGAN, Eq. 1): ``scale * (x - mu(x)) / sigma(x) + bias`` per example and channel, with
    ``(B, C)`` styles ``scale`` (``y_s``) and ``bias`` (``y_b``)."""
    x = x - jnp.mean(x, axis=(1, 2), keepdims=True)
    x = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=(1, 2), keepdims=True) + eps)
    return x * scale[:, None, None, :] + bias[:, None, None, :]


class ModulatedConv(nn.Module):
    """StyleGAN2's modulated convolution (Sec. 2.2; ``modulated_conv2d``): the per-sample weight is
    ``w'_ijk = s_i w_ijk`` (Eq. 1) and, with ``demodulate``, ``w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 +
    eps)`` (Eq. 3), with the stored ``N(0, 1)`` weight ``w`` as the official code (demodulation makes its
    scale irrelevant). Computed as ``conv(x * s, w) * d`` with ``d_bj = 1 / sqrt(sum_i s_bi^2 sum_k
    w_ijk^2 + eps)``, which is exactly the grouped convolution with per-sample weights. ``s = affine(w)``
    (equalized dense, bias init 1). Without demodulation (``ToRGB``) the weight is scaled by
    ``1 / sqrt(fan_in)``. ``up``: FIR upsampling fused into the convolution (a correlation with the
    kernel; the official up-sampling layers convolve, so a converter flips their kernels). Returns the
    output before noise, bias and activation."""

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
        modulated = x * styles[:, None, None, :].astype(x.dtype)
        if not self.demodulate:  # ToRGB: the weight gain (applied to the styles in the official code)
            return conv2d(modulated, kernel * (1.0 / math.sqrt(k * k * cin)), self.up)
        y = conv2d(modulated, kernel, self.up)
        power = jnp.square(styles) @ jnp.sum(jnp.square(kernel), axis=(0, 1))  # (B, C_out)
        return y * jax.lax.rsqrt(power + self.eps)[:, None, None, :].astype(y.dtype)


class StyleLayer(nn.Module):
    """StyleGAN2's synthesis layer (``SynthesisLayer``): modulated 3x3 conv (optionally upsampling),
    noise, bias, leaky ReLU with gain ``sqrt(2) * gain``, clamped to ``+-conv_clamp * gain``."""

    features: int
    up: bool = False
    use_noise: bool = True
    conv_clamp: float | None = None
    gain: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array, w: jax.Array, noise_mode: str | None = None) -> jax.Array:
        x = ModulatedConv(self.features, 3, up=self.up, name="conv")(x, w)
        if self.use_noise:
            x = NoiseInjection(per_channel=False, name="noise")(x, noise_mode)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        clamp = None if self.conv_clamp is None else self.conv_clamp * self.gain
        return bias_act(x, bias, "lrelu", SQRT2 * self.gain, clamp)


class ToRGB(nn.Module):
    """StyleGAN2's ``tRGB`` (``ToRGBLayer``): modulated 1x1 conv without demodulation, plus bias, linear,
    clamped to ``+-conv_clamp``."""

    channels: int = 3
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
        y = ModulatedConv(self.channels, 1, demodulate=False, name="conv")(x, w)
        bias = self.param("bias", nn.initializers.zeros, (self.channels,))
        return bias_act(y, bias, "linear", clamp=self.conv_clamp)


__all__ = [
    "NOISE_MODES",
    "MappingNetwork",
    "ModulatedConv",
    "NoiseInjection",
    "StyleLayer",
    "ToRGB",
    "adaptive_instance_norm",
    "bias_act",
    "lrelu_gain",
    "normalize_2nd_moment",
    "resolve_noise_mode",
    "style_mix",
    "truncate",
]
