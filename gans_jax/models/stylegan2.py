"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), config F:
the skip-connection generator with modulated / demodulated convolutions and the residual discriminator
(Sec. 4.1, Fig. 7), no progressive growing. Layer for layer the official ``stylegan2-ada-pytorch``
networks (``architecture='skip'`` / ``'resnet'``), channels ``min(channel_base // res, channel_max)``
(32768 / 512: 512 up to 64x64, then 256, 128, 64, 32 at 1024x1024).

Randomness in train mode comes from the ``noise`` (per-pixel noise inputs) and ``mixing`` (style
mixing: with probability ``style_mixing_prob`` the layers from a random crossover on take the styles of
a second latent) PRNG streams that :func:`gans_jax.training.step.make_train_step` passes.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.equalized import EqualizedConv, EqualizedDense, minibatch_stddev
from gans_jax.layers.fir import upsample_2d
from gans_jax.layers.style import MappingNetwork, StyleLayer, ToRGB, lrelu_gain, style_mix, truncate


def log2_resolution(resolution: int) -> int:
    """``log2(resolution)`` for a power of two >= 4, else a ValueError naming it."""
    log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
    if resolution < 4 or 2**log2 != resolution:
        raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
    return log2


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """StyleGAN2's channel schedule ``min(channel_base // resolution, channel_max)``."""
    return min(channel_base // resolution, channel_max)


def num_ws(resolution: int) -> int:
    """Styles the synthesis network reads: two per resolution from 8x8 on, one conv + one tRGB at 4x4."""
    return 2 * log2_resolution(resolution) - 2


def mixing_crossover(module: nn.Module, ws: jax.Array, prob: float) -> jax.Array:
    """The crossover layer for style mixing: uniform in ``[1, num_ws)`` with probability ``prob``, else
    ``num_ws`` (no mixing); one per batch as in the official code."""
    key = module.make_rng("mixing")
    k_cut, k_prob = jax.random.split(key)
    n = ws.shape[1]
    cutoff = jax.random.randint(k_cut, (), 1, n)
    return jnp.where(jax.random.uniform(k_prob, ()) < prob, cutoff, n)


class SynthesisNetwork(nn.Module):
    """StyleGAN2's skip generator ``g(w)``: learned constant 4x4 input, per resolution an upsampling
    style layer and a style layer (3x3 modulated convs, noise, bias, leaky ReLU) and a tRGB whose output
    is added to the upsampled image so far (Fig. 7b)."""

    resolution: int = 1024
    channel_base: int = 32768
    channel_max: int = 512
    out_channels: int = 3

    @nn.compact
    def __call__(self, ws: jax.Array) -> jax.Array:
        top = log2_resolution(self.resolution)
        if ws.shape[1] != num_ws(self.resolution):
            raise ValueError(
                f"synthesis at {self.resolution} needs {num_ws(self.resolution)} ws, got {ws.shape}"
            )
        ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
        const = self.param("const", nn.initializers.normal(1.0), (4, 4, ch(4)))
        x = jnp.broadcast_to(const.astype(ws.dtype), (ws.shape[0], 4, 4, ch(4)))
        x = StyleLayer(ch(4), name="b4_conv1")(x, ws[:, 0])
        img = ToRGB(self.out_channels, name="b4_torgb")(x, ws[:, 1])
        for i, log2 in enumerate(range(3, top + 1)):
            r = 2**log2
            w0 = 1 + 2 * i
            x = StyleLayer(ch(r), up=True, name=f"b{r}_conv0")(x, ws[:, w0])
            x = StyleLayer(ch(r), name=f"b{r}_conv1")(x, ws[:, w0 + 1])
            img = upsample_2d(img) + ToRGB(self.out_channels, name=f"b{r}_torgb")(x, ws[:, w0 + 2])
        return img


class Generator(nn.Module):
    """StyleGAN2 generator ``G(z) = g(f(z))``: :class:`gans_jax.layers.style.MappingNetwork` then
    :class:`SynthesisNetwork`. ``__call__(z, labels, train, truncation_psi=1, truncation_cutoff=None)``;
    ``mapping`` and ``synthesis`` are exposed for the path-length regulariser (``method=``)."""

    resolution: int = 1024
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    channel_base: int = 32768
    channel_max: int = 512
    out_channels: int = 3
    num_classes: int | None = None
    style_mixing_prob: float = 0.9
    mapping_lr_multiplier: float = 0.01
    synthesis_class = SynthesisNetwork  # a class attribute, not a field: StyleGAN (v1) swaps it
    rng_streams = ("noise", "mixing")  # train-mode PRNG streams: per-pixel noise, style mixing

    def setup(self):
        self.mapping_network = MappingNetwork(
            self.w_dim,
            self.mapping_layers,
            self.w_dim,
            num_ws(self.resolution),
            self.num_classes,
            self.mapping_lr_multiplier,
        )
        self.synthesis_network = self.synthesis_class(
            self.resolution, self.channel_base, self.channel_max, self.out_channels
        )

    def mapping(
        self, z, labels=None, train: bool = False, truncation_psi: float = 1.0, truncation_cutoff=None
    ):
        """``(B, num_ws, w_dim)`` styles; in train mode with style mixing (a second latent drawn from the
        ``mixing`` stream), otherwise truncated toward ``w_avg`` when ``truncation_psi != 1``."""
        ws = self.mapping_network(z, labels, train)
        if train and self.style_mixing_prob > 0 and self.has_rng("mixing"):
            z2 = jax.random.normal(self.make_rng("mixing"), z.shape, z.dtype)
            ws2 = self.mapping_network(z2, labels, False)
            ws = style_mix(ws, ws2, mixing_crossover(self, ws, self.style_mixing_prob))
        if truncation_psi != 1.0:
            w_avg = self.mapping_network.variables["w_avg"]["w_avg"]
            ws = truncate(ws, w_avg.astype(ws.dtype), truncation_psi, truncation_cutoff)
        return ws

    def synthesis(self, ws, train: bool = False):
        del train
        return self.synthesis_network(ws)

    def __call__(
        self, z, labels=None, train: bool = False, truncation_psi: float = 1.0, truncation_cutoff=None
    ):
        return self.synthesis(self.mapping(z, labels, train, truncation_psi, truncation_cutoff))


class Discriminator(nn.Module):
    """StyleGAN2's residual discriminator (Fig. 7c): fromRGB 1x1 at the top resolution, per resolution
    down to 8x8 a block ``(skip(x) + conv_down(conv(x))) / sqrt(2)`` (3x3 convs, the downsampling ones
    FIR-filtered; skip: filtered 1x1 downsampling conv without bias), then at 4x4 the minibatch stddev
    (group 4, 1 channel), a 3x3 conv, FC and the output FC. Leaky ReLU with gain sqrt(2) throughout.
    Class-conditional via the projection of ``ada`` (``cmap``) when ``num_classes`` is set."""

    resolution: int = 1024
    channel_base: int = 32768
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
        x = lrelu_gain(EqualizedConv(ch(self.resolution), 1, 1.0, name=f"b{self.resolution}_fromrgb")(x))
        for log2 in range(top, 2, -1):
            r = 2**log2
            skip = EqualizedConv(ch(r // 2), 1, 1.0, use_bias=False, down=True, name=f"b{r}_skip")(x)
            h = lrelu_gain(EqualizedConv(ch(r), 3, 1.0, name=f"b{r}_conv0")(x))
            h = lrelu_gain(EqualizedConv(ch(r // 2), 3, 1.0, down=True, name=f"b{r}_conv1")(h))
            x = (skip + h) * math.sqrt(0.5)
        x = minibatch_stddev(x, self.mbstd_group_size, 1)
        x = lrelu_gain(EqualizedConv(ch(4), 3, 1.0, name="b4_conv")(x))
        x = lrelu_gain(EqualizedDense(ch(4), gain=1.0, name="b4_fc")(x.reshape(x.shape[0], -1)))
        if self.num_classes is None:
            return EqualizedDense(1, gain=1.0, name="b4_out")(x)[:, 0]
        if labels is None:
            raise ValueError(f"a conditional discriminator ({self.num_classes} classes) needs labels")
        cmap_dim = ch(4)
        out = EqualizedDense(cmap_dim, gain=1.0, name="b4_out")(x)
        cmap = EqualizedDense(cmap_dim, gain=1.0, name="embed")(
            jax.nn.one_hot(labels, self.num_classes, dtype=x.dtype)
        )
        return jnp.sum(out * cmap, axis=-1) / math.sqrt(cmap_dim)


__all__ = ["Discriminator", "Generator", "SynthesisNetwork", "channels_at", "num_ws"]
