"""StyleGAN (Karras et al. 2019, "A Style-Based Generator Architecture for Generative Adversarial
Networks"), without progressive growing: the official ``G_style`` / ``D_basic`` networks.

Generator (Fig. 1b): the mapping network ``f`` (8 FC layers, lr x0.01, normalised z; shared with
StyleGAN2, :class:`gans_jax.layers.style.MappingNetwork`), a learned constant 4x4x512 input, and per
resolution two 3x3 convolutions each followed by the "epilogue": per-pixel noise with learned
per-channel scales ("B"), bias, leaky ReLU, and AdaIN with the style ``y = A(w)`` (Eq. 1, scale
``y_s + 1``). Upsampling is bilinear-filtered (nearest 2x, conv, ``[1, 2, 1]`` blur, which is zero
insertion, the ``[1, 3, 3, 1]`` filter and the conv: :func:`gans_jax.layers.style.conv2d` with ``up``,
equal up to the border handling). Style mixing regularisation (probability 0.9, random crossover) and
truncation in W (``w_avg`` EMA, ``psi``, cutoff) come from :class:`gans_jax.models.stylegan2.Generator`.
Discriminator: fromRGB, per resolution conv, blur + conv + downsample (fused, stride 2), then
minibatch stddev, conv, FC, FC. Channels ``min(16384 // res, 512)`` (16 at 1024x1024).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.equalized import EqualizedConv, EqualizedDense, minibatch_stddev
from gans_jax.layers.style import NoiseInjection, adaptive_instance_norm
from gans_jax.models import stylegan2
from gans_jax.models.stylegan2 import channels_at, log2_resolution, num_ws

SQRT2 = 2.0**0.5  # He gain of the weights; the leaky ReLU then has none (official TF code)


def lrelu(x: jax.Array) -> jax.Array:
    return nn.leaky_relu(x, 0.2)


class Epilogue(nn.Module):
    """Noise (per-channel scales), bias, leaky ReLU, AdaIN with ``y = A(w)`` (StyleGAN Fig. 1b)."""

    @nn.compact
    def __call__(self, x: jax.Array, w: jax.Array, noise_mode: str | None = None) -> jax.Array:
        c = x.shape[-1]
        x = NoiseInjection(per_channel=True, name="noise")(x, noise_mode)
        x = lrelu(x + self.param("bias", nn.initializers.zeros, (c,)).astype(x.dtype))
        style = EqualizedDense(2 * c, gain=1.0, name="style")(w)  # A: y_s, y_b
        return adaptive_instance_norm(x, style[:, :c] + 1.0, style[:, c:])


class SynthesisNetwork(nn.Module):
    """StyleGAN's synthesis network ``g(w)`` (Fig. 1b), one tRGB at the output resolution."""

    resolution: int = 1024
    channel_base: int = 16384
    channel_max: int = 512
    out_channels: int = 3

    @nn.compact
    def __call__(self, ws: jax.Array, noise_mode: str | None = None) -> jax.Array:
        top = log2_resolution(self.resolution)
        if ws.shape[1] != num_ws(self.resolution):
            raise ValueError(f"synthesis needs {num_ws(self.resolution)} ws, got shape {ws.shape}")
        ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
        const = self.param("const", nn.initializers.ones, (4, 4, ch(4)))
        x = jnp.broadcast_to(const.astype(ws.dtype), (ws.shape[0], 4, 4, ch(4)))
        x = Epilogue(name="b4_epilogue0")(x, ws[:, 0], noise_mode)
        x = EqualizedConv(ch(4), 3, SQRT2, use_bias=False, name="b4_conv")(x)
        x = Epilogue(name="b4_epilogue1")(x, ws[:, 1], noise_mode)
        for log2 in range(3, top + 1):
            r, layer = 2**log2, 2 * log2 - 4
            x = EqualizedConv(ch(r), 3, SQRT2, use_bias=False, up=True, name=f"b{r}_conv0_up")(x)
            x = Epilogue(name=f"b{r}_epilogue0")(x, ws[:, layer], noise_mode)
            x = EqualizedConv(ch(r), 3, SQRT2, use_bias=False, name=f"b{r}_conv1")(x)
            x = Epilogue(name=f"b{r}_epilogue1")(x, ws[:, layer + 1], noise_mode)
        return EqualizedConv(self.out_channels, 1, 1.0, name=f"b{self.resolution}_torgb")(x)


class Generator(stylegan2.Generator):
    """StyleGAN generator ``G(z) = g(f(z))`` (same interface as StyleGAN2's: ``mapping``, ``synthesis``,
    style mixing in train mode, ``truncation_psi`` / ``truncation_cutoff``; the paper samples with
    psi = 0.7 on the first 8 layers). StyleGAN2's ``architecture`` and ``conv_clamp`` do not apply."""

    channel_base: int = 16384

    def make_synthesis(self) -> nn.Module:
        """AdaIN synthesis instead of StyleGAN2's modulated convolutions."""
        if self.architecture != "skip" or self.conv_clamp is not None:
            raise ValueError(
                f"StyleGAN (v1) has no architecture={self.architecture!r} / conv_clamp={self.conv_clamp} "
                "options (StyleGAN2's)"
            )
        return SynthesisNetwork(self.resolution, self.channel_base, self.channel_max, self.out_channels)


class Discriminator(nn.Module):
    """StyleGAN's discriminator (``D_basic``, the progressive GAN's without growing)."""

    resolution: int = 1024
    channel_base: int = 16384
    channel_max: int = 512
    num_classes: int | None = None
    mbstd_group_size: int = 4

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = False) -> jax.Array:
        del train
        top = log2_resolution(self.resolution)
        if x.shape[1] != self.resolution or x.shape[2] != self.resolution:
            raise ValueError(f"discriminator for {self.resolution}x{self.resolution} got images {x.shape}")
        ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
        x = lrelu(EqualizedConv(ch(self.resolution), 1, SQRT2, name="fromrgb")(x))
        for log2 in range(top, 2, -1):
            r = 2**log2
            x = lrelu(EqualizedConv(ch(r), 3, SQRT2, name=f"b{r}_conv0")(x))
            x = lrelu(EqualizedConv(ch(r // 2), 3, SQRT2, down=True, name=f"b{r}_conv1_down")(x))
        x = minibatch_stddev(x, self.mbstd_group_size, 1)
        x = lrelu(EqualizedConv(ch(4), 3, SQRT2, name="b4_conv")(x))
        x = lrelu(EqualizedDense(ch(4), SQRT2, name="b4_fc")(x.reshape(x.shape[0], -1)))
        out = EqualizedDense(max(self.num_classes or 1, 1), gain=1.0, name="b4_out")(x)
        if self.num_classes is None:
            return out[:, 0]
        if labels is None:
            raise ValueError(f"a conditional discriminator ({self.num_classes} classes) needs labels")
        return jnp.take_along_axis(out, labels[:, None].astype(jnp.int32), axis=1)[:, 0]


__all__ = ["Discriminator", "Generator", "SynthesisNetwork"]
