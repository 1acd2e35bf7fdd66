"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), config F:
the skip-connection generator with modulated / demodulated convolutions and the residual discriminator
(Sec. 4.1, Fig. 7), no progressive growing. Layer for layer the official ``stylegan2-ada-pytorch``
networks (``training/networks.py``; :mod:`gans_jax.pretrained.stylegan2` converts their pickles),
channels ``min(channel_base // res, channel_max)`` (32768 / 512: 512 up to 64x64, then 256, 128, 64, 32
at 1024x1024), with the official options:

- ``architecture``: the generator's ``orig`` (tRGB at the last resolution only), ``skip`` (default: the
  images of every resolution summed, Fig. 7b) or ``resnet`` (residual blocks, tRGB at the end); the
  discriminator's ``orig`` (fromRGB at the first block only), ``skip`` (fromRGB at every block) or
  ``resnet`` (default, Fig. 7c).
- ``conv_clamp``: convolution outputs clamped to ``+-conv_clamp`` (StyleGAN2-ADA's guard against
  float16 overflow; 256 in every official config, :func:`gans_jax.layers.style.bias_act`).
- per-layer constant noise and ``noise_mode`` (:class:`gans_jax.layers.style.NoiseInjection`).
- the conditional discriminator projects onto ``cmap``, the label mapped by its own
  :class:`~gans_jax.layers.style.MappingNetwork` (``mapping_layers`` FC layers, lr 0.01x), ``cmap_dim``
  (default: the 4x4 channels) wide.

Everything is computed in float32 (``compute_dtype`` of the train step aside): the official networks'
``num_fp16_res`` float16 layers correspond to running them with ``force_fp32=True``.

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
from gans_jax.layers.fir import downsample_2d, upsample_2d
from gans_jax.layers.style import MappingNetwork, StyleLayer, ToRGB, bias_act, style_mix, truncate

ARCHITECTURES = ("orig", "skip", "resnet")
SQRT2 = math.sqrt(2.0)
SQRT_HALF = math.sqrt(0.5)


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


def check_architecture(architecture: str, network: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown {network} architecture {architecture!r}; expected one of {ARCHITECTURES}")


def mixing_crossover(module: nn.Module, ws: jax.Array, prob: float) -> jax.Array:
    """The crossover layer for style mixing: uniform in ``[1, num_ws)`` with probability ``prob``, else
    ``num_ws`` (no mixing); one per batch as in the official code."""
    key = module.make_rng("mixing")
    k_cut, k_prob = jax.random.split(key)
    n = ws.shape[1]
    cutoff = jax.random.randint(k_cut, (), 1, n)
    return jnp.where(jax.random.uniform(k_prob, ()) < prob, cutoff, n)


def _lrelu(x: jax.Array, gain: float = 1.0, conv_clamp: float | None = None) -> jax.Array:
    """``Conv2dLayer``'s activation: leaky ReLU with gain ``sqrt(2) * gain``, clamped to
    ``+-conv_clamp * gain`` (the bias is the convolution's own)."""
    return bias_act(x, None, "lrelu", SQRT2 * gain, None if conv_clamp is None else conv_clamp * gain)


class SynthesisNetwork(nn.Module):
    """StyleGAN2's synthesis network ``g(w)`` (``SynthesisNetwork``): learned constant 4x4 input, per
    resolution an upsampling style layer and a style layer (3x3 modulated convs, noise, bias, leaky
    ReLU) and, for ``architecture='skip'``, a tRGB whose output is added to the upsampled image so far
    (Fig. 7b); ``resnet`` adds each block's input through an upsampling 1x1 conv (``b{r}_skip``) and
    scales the sum by ``sqrt(1/2)``; ``orig`` and ``resnet`` have a tRGB at the last resolution only."""

    resolution: int = 1024
    channel_base: int = 32768
    channel_max: int = 512
    out_channels: int = 3
    architecture: str = "skip"
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, ws: jax.Array, noise_mode: str | None = None) -> jax.Array:
        check_architecture(self.architecture, "generator")
        top = log2_resolution(self.resolution)
        if ws.shape[1] != num_ws(self.resolution):
            raise ValueError(
                f"synthesis at {self.resolution} needs {num_ws(self.resolution)} ws, got {ws.shape}"
            )
        ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
        clamp, skip = self.conv_clamp, self.architecture == "skip"
        const = self.param("const", nn.initializers.normal(1.0), (4, 4, ch(4)))
        x = jnp.broadcast_to(const.astype(ws.dtype), (ws.shape[0], 4, 4, ch(4)))
        x = StyleLayer(ch(4), conv_clamp=clamp, name="b4_conv1")(x, ws[:, 0], noise_mode)
        img = None
        if skip or top == 2:
            img = ToRGB(self.out_channels, clamp, name="b4_torgb")(x, ws[:, 1])
        for i, log2 in enumerate(range(3, top + 1)):
            r, w0 = 2**log2, 1 + 2 * i
            if self.architecture == "resnet":
                y = EqualizedConv(ch(r), 1, SQRT_HALF, use_bias=False, up=True, name=f"b{r}_skip")(x)
                x = StyleLayer(ch(r), up=True, conv_clamp=clamp, name=f"b{r}_conv0")(x, ws[:, w0], noise_mode)
                conv1 = StyleLayer(ch(r), conv_clamp=clamp, gain=SQRT_HALF, name=f"b{r}_conv1")
                x = y + conv1(x, ws[:, w0 + 1], noise_mode)
            else:
                x = StyleLayer(ch(r), up=True, conv_clamp=clamp, name=f"b{r}_conv0")(x, ws[:, w0], noise_mode)
                x = StyleLayer(ch(r), conv_clamp=clamp, name=f"b{r}_conv1")(x, ws[:, w0 + 1], noise_mode)
            if img is not None:
                img = upsample_2d(img)
            if skip or log2 == top:
                y = ToRGB(self.out_channels, clamp, name=f"b{r}_torgb")(x, ws[:, w0 + 2])
                img = y if img is None else img + y
        return img


class Generator(nn.Module):
    """StyleGAN2 generator ``G(z) = g(f(z))``: :class:`gans_jax.layers.style.MappingNetwork` then
    :class:`SynthesisNetwork`. ``__call__(z, labels, train, truncation_psi=1, truncation_cutoff=None,
    noise_mode=None)``; ``mapping`` and ``synthesis`` are exposed for the path-length regulariser and the
    sampling tools (``method=``). ``noise_mode`` (``const | random | none``, ``None``: random in the
    train step, const otherwise) as :class:`gans_jax.layers.style.NoiseInjection`."""

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
    w_avg_beta: float = 0.995
    architecture: str = "skip"
    conv_clamp: float | None = None
    rng_streams = ("noise", "mixing")  # train-mode PRNG streams: per-pixel noise, style mixing

    def setup(self):
        self.mapping_network = MappingNetwork(
            self.w_dim,
            self.mapping_layers,
            self.w_dim,
            num_ws(self.resolution),
            self.num_classes,
            self.mapping_lr_multiplier,
            self.w_avg_beta,
        )
        self.synthesis_network = self.make_synthesis()

    def make_synthesis(self) -> nn.Module:
        """The synthesis network (StyleGAN v1's generator overrides it)."""
        return SynthesisNetwork(
            self.resolution,
            self.channel_base,
            self.channel_max,
            self.out_channels,
            self.architecture,
            self.conv_clamp,
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

    def synthesis(self, ws, train: bool = False, noise_mode: str | None = None):
        del train
        return self.synthesis_network(ws, noise_mode)

    def __call__(
        self,
        z,
        labels=None,
        train: bool = False,
        truncation_psi: float = 1.0,
        truncation_cutoff=None,
        noise_mode: str | None = None,
    ):
        ws = self.mapping(z, labels, train, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)


class Discriminator(nn.Module):
    """StyleGAN2's discriminator (``Discriminator``; Fig. 7c): per resolution down to 8x8 a block of two
    3x3 convs, the second downsampling (FIR-filtered), preceded by a fromRGB 1x1 conv at the first block
    (``orig``, ``resnet``) or at every block on the downsampled image (``skip``); ``resnet`` adds the
    block's input through a filtered 1x1 downsampling conv without bias (``b{r}_skip``) and scales the
    sum by ``sqrt(1/2)``. Then at 4x4 (``b4``) the minibatch stddev (``mbstd_group_size``, ``None``: the
    whole minibatch; ``mbstd_num_channels``, 0: no such layer), a 3x3 conv, FC and the output FC. Leaky
    ReLU with gain sqrt(2), convolution outputs clamped to ``+-conv_clamp``. Class-conditional through the
    projection ``sum(out * cmap) / sqrt(cmap_dim)`` with ``cmap`` the label mapped by the official
    :class:`~gans_jax.layers.style.MappingNetwork` (``mapping``: embedding, normalisation,
    ``mapping_layers`` FC layers at lr ``mapping_lr_multiplier``); ``cmap_dim`` ``None`` is the 4x4
    channels. Returns one logit per image."""

    resolution: int = 1024
    channel_base: int = 32768
    channel_max: int = 512
    num_classes: int | None = None
    mbstd_group_size: int | None = 4
    mbstd_num_channels: int = 1
    architecture: str = "resnet"
    conv_clamp: float | None = None
    cmap_dim: int | None = None
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01

    @nn.compact
    def __call__(self, img: jax.Array, labels: jax.Array | None = None, train: bool = False) -> jax.Array:
        del train
        check_architecture(self.architecture, "discriminator")
        top = log2_resolution(self.resolution)
        if img.shape[1] != self.resolution or img.shape[2] != self.resolution:
            raise ValueError(f"discriminator for {self.resolution}x{self.resolution} got images {img.shape}")
        if self.num_classes is not None and labels is None:
            raise ValueError(f"a conditional discriminator ({self.num_classes} classes) needs labels")
        ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
        clamp, skip = self.conv_clamp, self.architecture == "skip"
        x = None
        for log2 in range(top, 2, -1):
            r = 2**log2
            if x is None or skip:
                y = _lrelu(EqualizedConv(ch(r), 1, 1.0, name=f"b{r}_fromrgb")(img), conv_clamp=clamp)
                x = y if x is None else x + y
                if skip:
                    img = downsample_2d(img)
            if self.architecture == "resnet":
                y = EqualizedConv(ch(r // 2), 1, SQRT_HALF, use_bias=False, down=True, name=f"b{r}_skip")(x)
                h = _lrelu(EqualizedConv(ch(r), 3, 1.0, name=f"b{r}_conv0")(x), conv_clamp=clamp)
                h = EqualizedConv(ch(r // 2), 3, 1.0, down=True, name=f"b{r}_conv1")(h)
                x = y + _lrelu(h, SQRT_HALF, clamp)
            else:
                x = _lrelu(EqualizedConv(ch(r), 3, 1.0, name=f"b{r}_conv0")(x), conv_clamp=clamp)
                x = EqualizedConv(ch(r // 2), 3, 1.0, down=True, name=f"b{r}_conv1")(x)
                x = _lrelu(x, conv_clamp=clamp)
        if x is None or skip:  # the epilogue's fromRGB (4x4 images: the only one), not clamped
            y = _lrelu(EqualizedConv(ch(4), 1, 1.0, name="b4_fromrgb")(img))
            x = y if x is None else x + y
        if self.mbstd_num_channels > 0:
            group = self.mbstd_group_size or x.shape[0]
            x = minibatch_stddev(x, group, self.mbstd_num_channels)
        x = _lrelu(EqualizedConv(ch(4), 3, 1.0, name="b4_conv")(x), conv_clamp=clamp)
        # the official FC reads the NCHW-flattened features; ours reads NHWC (a converter permutes it)
        x = _lrelu(EqualizedDense(ch(4), gain=1.0, name="b4_fc")(x.reshape(x.shape[0], -1)))
        if self.num_classes is None:
            return EqualizedDense(1, gain=1.0, name="b4_out")(x)[:, 0]
        cmap_dim = self.cmap_dim or ch(4)
        out = EqualizedDense(cmap_dim, gain=1.0, name="b4_out")(x)
        cmap = MappingNetwork(
            w_dim=cmap_dim,
            num_layers=self.mapping_layers,
            hidden=cmap_dim,
            num_ws=None,
            num_classes=self.num_classes,
            lr_multiplier=self.mapping_lr_multiplier,
            w_avg_beta=None,
            name="mapping",
        )(None, labels)
        return jnp.sum(out * cmap.astype(out.dtype), axis=-1) / math.sqrt(cmap_dim)


__all__ = [
    "ARCHITECTURES",
    "Discriminator",
    "Generator",
    "SynthesisNetwork",
    "channels_at",
    "num_ws",
]
