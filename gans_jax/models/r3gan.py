"""R3GAN's networks (Huang et al. 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline",
Sec. 4 "A roadmap to a new baseline", config E; the official brownvc/R3GAN ``R3GAN/Networks.py``).

StyleGAN2 stripped of its tricks and rebuilt as a modern ConvNet (Sec. 4, Fig. 2): no mapping network,
no style modulation, no noise, no normalisation, no minibatch stddev, no equalised learning rate, no
``tanh``. Both networks are stacks of stages; a stage is a transition layer and ResNeXt-style residual
blocks (Xie et al. 2017; Sec. 4 "Step 4/5"):

- :class:`ResidualBlock`: ``x + conv1x1(act(conv3x3_grouped(act(conv1x1(x)))))``, the first 1x1 expanding
  the width by ``expansion`` (2 in every official config), the 3x3 a grouped convolution with
  ``cardinality`` groups, the last 1x1 back to the width; ``act`` a learned per-channel bias followed by
  leaky ReLU 0.2 (``BiasedActivation``); the convolutions themselves have no bias.
- Fix-up initialisation (Zhang et al. 2019; the paper's Sec. 4 "Step 2" and ``MSRInitializer``): every
  weight is ``N(0, (gain / sqrt(fan_in))^2)`` -- plain weights, not an equalised learning rate -- with
  ``gain = sqrt(2 / (1 + 0.2^2)) * L^(-1/4)`` for the first two layers of a residual branch (``L`` = the
  network's number of residual blocks, ``L^(-1 / (2m - 2))`` with ``m = 3`` layers per branch), gain 0
  (a zero initialisation) for the branch's last layer, gain 1 elsewhere. At initialisation every block is
  the identity.
- Resampling (Sec. 4 "Step 2"): bilinear, through the ``[1, 2, 1]`` filter as the official code expands
  it (``CreateLowpassKernel``: convolved with ``[1, 1]`` to ``[1, 3, 3, 1]``, i.e. StyleGAN2's
  ``upfirdn2d.upsample2d`` / ``downsample2d``: :mod:`gans_jax.layers.fir`). G's transition is a 1x1
  convolution (when the width changes) then the 2x upsampling; D's the 2x downsampling then a 1x1
  convolution.
- The 4x4 stages: G starts from a learned ``4 x 4 x C`` basis scaled per channel by a linear map of the
  latent (``GenerativeBasis``); D ends with a depthwise 4x4 convolution (one learned 4x4 basis per
  channel, "valid", to ``1 x 1``) and a linear layer (``DiscriminativeBasis``).
- G's output is a 1x1 convolution of the last stage to the image channels (``AggregationLayer``); D's
  input a 1x1 convolution of the image (``ExtractionLayer``). No activation outside the blocks.
- Class conditioning (the official ``ConditionDimension`` path): G concatenates the latent with a learned
  class embedding of ``g_embed_dim`` (the latent size, 64, officially); D's basis outputs ``d_embed_dim``
  features (its widest stage's width, officially) and the logit is their inner product with a learned
  class embedding -- a projection discriminator (Miyato & Koyama 2018) without the unconditional term.
  The embeddings are bias-free linear maps of one-hot labels (here: a table indexed by the label), G's
  initialised with gain 1, D's with gain ``1 / sqrt(d_embed_dim)``.

Widths, cardinalities and block counts are given per stage from 4x4 upwards (G's order); D uses them
reversed, as the official ``train.py`` does. The official CIFAR-10 preset is widths ``4 x 768``,
cardinality ``4 x 96``, ``4 x 2`` blocks, expansion 2, latent 64 (:data:`PRESETS`); its parameter counts
are checked in ``tests/test_r3gan.py``. bfloat16 stages (the official ``FP16Stages``) are not modelled:
``train.compute_dtype`` casts the whole network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.fir import downsample_2d, upsample_2d

__all__ = ["ACTIVATION_GAIN", "PRESETS", "Discriminator", "Generator", "ResidualBlock", "msr_init"]

NEGATIVE_SLOPE = 0.2
ACTIVATION_GAIN = math.sqrt(2 / (1 + NEGATIVE_SLOPE**2))  # the official BiasedActivation.Gain

# The official train.py presets: G's widths, cardinalities and blocks per stage from 4x4 up.
PRESETS = {
    "CIFAR10": dict(widths=(768,) * 4, cardinalities=(96,) * 4, blocks=(2,) * 4),
    "FFHQ-64": dict(widths=(768,) * 4 + (384,), cardinalities=(96,) * 4 + (48,), blocks=(2,) * 5),
    "FFHQ-256": dict(
        widths=(768,) * 4 + (384, 192, 96), cardinalities=(96,) * 4 + (48, 24, 12), blocks=(2,) * 7
    ),
    "ImageNet-32": dict(widths=(1536,) * 4, cardinalities=(96,) * 4, blocks=(2,) * 4),
    "ImageNet-64": dict(widths=(1536,) * 5, cardinalities=(96,) * 5, blocks=(2,) * 5),
}


def msr_init(gain: float) -> nn.initializers.Initializer:
    """The official ``MSRInitializer``: ``N(0, (gain / sqrt(fan_in))^2)`` (He et al. 2015 with an explicit
    gain); ``fan_in`` is the kernel's input channels per group times its spatial taps. Gain 0: zeros."""
    if gain == 0:
        return nn.initializers.zeros
    return nn.initializers.variance_scaling(gain**2, "fan_in", "normal")


def _conv(features: int, kernel: int, gain: float = 1.0, groups: int = 1, name: str | None = None) -> nn.Conv:
    pad = (kernel - 1) // 2
    return nn.Conv(
        features,
        (kernel, kernel),
        padding=((pad, pad), (pad, pad)),
        feature_group_count=groups,
        use_bias=False,
        kernel_init=msr_init(gain),
        name=name,
    )


class GroupedConv(nn.Module):
    """A ``k x k`` grouped convolution (stride 1, "same" zero padding, no bias) with ``nn.Conv``'s kernel
    layout ``(k, k, in / groups, out)`` and initialiser, computed as a batched matrix product over the
    ``k^2`` shifted inputs (one product per group): XLA:CPU's ``feature_group_count`` convolutions take
    seconds per gradient at these sizes, the product form is ordinary matmuls (the same result)."""

    features: int
    kernel_size: int
    groups: int
    gain: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k, g, (n, h, w, c) = self.kernel_size, self.groups, x.shape
        kernel = self.param("kernel", msr_init(self.gain), (k, k, c // g, self.features))
        pad = (k - 1) // 2
        xp = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        taps = jnp.stack([xp[:, a : a + h, b : b + w] for a in range(k) for b in range(k)], axis=3)
        taps = taps.reshape(n, h, w, k * k, g, c // g)
        kernel = kernel.astype(x.dtype).reshape(k * k, c // g, g, self.features // g)
        y = jnp.einsum("nhwtgi,tigo->nhwgo", taps, kernel)
        return y.reshape(n, h, w, self.features)


class BiasedActivation(nn.Module):
    """``leaky_relu(x + b, 0.2)`` with a learned per-channel bias ``b`` (zeros at initialisation)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        bias = self.param("bias", nn.initializers.zeros, (x.shape[-1],))
        return nn.leaky_relu(x + bias.astype(x.dtype), NEGATIVE_SLOPE)


class ResidualBlock(nn.Module):
    """``x + conv1x1(act(conv_kxk_grouped(act(conv1x1(x)))))`` (module doc); ``num_blocks`` is the whole
    network's residual block count ``L`` of the fix-up gain ``L^(-1/4)``."""

    cardinality: int
    expansion: int
    num_blocks: int
    kernel_size: int = 3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        channels = x.shape[-1]
        expanded = channels * self.expansion
        if expanded % self.cardinality:
            raise ValueError(
                f"R3GAN block: expanded width {expanded} (= {channels} x expansion {self.expansion}) is not "
                f"divisible by the cardinality {self.cardinality}"
            )
        gain = ACTIVATION_GAIN * self.num_blocks ** (-1 / (2 * 3 - 2))
        y = _conv(expanded, 1, gain, name="conv1")(x)
        y = BiasedActivation(name="act1")(y)
        y = GroupedConv(expanded, self.kernel_size, self.cardinality, gain, name="conv2")(y)
        y = BiasedActivation(name="act2")(y)
        y = _conv(channels, 1, 0.0, name="conv3")(y)  # fix-up: zero-initialised
        return x + y


def _check_stages(widths, cardinalities, blocks, who: str) -> None:
    if not widths or not (len(widths) == len(cardinalities) == len(blocks)):
        raise ValueError(
            f"R3GAN {who}: widths, cardinalities and blocks need one entry per stage (at least one), got "
            f"{tuple(widths)}, {tuple(cardinalities)}, {tuple(blocks)}"
        )
    if min(blocks) < 0 or min(widths) < 1 or min(cardinalities) < 1:
        raise ValueError(
            f"R3GAN {who}: widths and cardinalities must be >= 1 and blocks >= 0, got "
            f"{tuple(widths)}, {tuple(cardinalities)}, {tuple(blocks)}"
        )


def _embedding(num_classes: int, dim: int, gain: float, name: str):
    """A bias-free linear map of one-hot labels as a ``(num_classes, dim)`` table, ``N(0, gain^2 /
    num_classes)`` (``MSRInitializer`` of ``nn.Linear(num_classes, dim)``)."""
    std = gain / math.sqrt(num_classes)
    return lambda mdl: mdl.param(name, nn.initializers.normal(std), (num_classes, dim))


def _labels(num_classes: int | None, labels, who: str):
    if num_classes is None:
        return None
    if labels is None:
        raise ValueError(f"conditional R3GAN {who} (num_classes={num_classes}) needs labels")
    return jnp.asarray(labels).astype(jnp.int32).reshape(-1)


class Generator(nn.Module):
    """R3GAN's generator (module doc): ``z`` (and a class embedding) -> 4x4 learned basis -> stages of
    residual blocks, each after a 2x upsampling -> 1x1 convolution to ``out_channels``; the output side
    is ``4 * 2^(stages - 1)``. Unbounded output (no ``tanh``), as the official code."""

    widths: Sequence[int] = (768,) * 4
    cardinalities: Sequence[int] = (96,) * 4
    blocks: Sequence[int] = (2,) * 4
    expansion: int = 2
    out_channels: int = 3
    num_classes: int | None = None
    embed_dim: int = 64

    @property
    def resolution(self) -> int:
        return 4 * 2 ** (len(self.widths) - 1)

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = False) -> jax.Array:
        del train
        _check_stages(self.widths, self.cardinalities, self.blocks, "generator")
        labels = _labels(self.num_classes, labels, "generator")
        x = z.reshape(z.shape[0], -1)
        if labels is not None:
            table = _embedding(self.num_classes, self.embed_dim, 1.0, "class_embedding")(self)
            x = jnp.concatenate([x, table[labels].astype(x.dtype)], axis=-1)
        total = sum(self.blocks)
        width = self.widths[0]
        basis = self.param("basis", nn.initializers.normal(1.0), (4, 4, width))
        scale = nn.Dense(width, use_bias=False, kernel_init=msr_init(1.0), name="basis_linear")(x)
        x = basis.astype(scale.dtype)[None] * scale[:, None, None, :]
        for stage, (width, cardinality, count) in enumerate(
            zip(self.widths, self.cardinalities, self.blocks, strict=True)
        ):
            if stage:
                if x.shape[-1] != width:
                    x = _conv(width, 1, name=f"up{stage}_conv")(x)
                x = upsample_2d(x)
            for i in range(count):
                x = ResidualBlock(cardinality, self.expansion, total, name=f"stage{stage}_block{i}")(x)
        return _conv(self.out_channels, 1, name="aggregation")(x)


class Discriminator(nn.Module):
    """R3GAN's discriminator (module doc): 1x1 convolution of the image -> stages of residual blocks, each
    followed by a 2x downsampling -> at 4x4 a depthwise 4x4 basis and a linear layer -> one logit (or,
    class-conditional, the projection on the label's embedding). ``widths``, ``cardinalities`` and
    ``blocks`` are in G's order (4x4 first) and used reversed. Returns logits of shape ``(N,)``."""

    widths: Sequence[int] = (768,) * 4
    cardinalities: Sequence[int] = (96,) * 4
    blocks: Sequence[int] = (2,) * 4
    expansion: int = 2
    num_classes: int | None = None
    embed_dim: int = 0  # 0: the 4x4 stage's width (the official WidthPerStage[0] of G)

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = False) -> jax.Array:
        del train
        _check_stages(self.widths, self.cardinalities, self.blocks, "discriminator")
        widths, cards, blocks = (tuple(reversed(v)) for v in (self.widths, self.cardinalities, self.blocks))
        side = 4 * 2 ** (len(widths) - 1)
        if x.ndim != 4 or x.shape[1:3] != (side, side):
            raise ValueError(
                f"R3GAN discriminator: {len(widths)} stages take {side}x{side} NHWC images, got {x.shape}"
            )
        labels = _labels(self.num_classes, labels, "discriminator")
        total = sum(blocks)
        x = _conv(widths[0], 1, name="extraction")(x)
        for stage, (cardinality, count) in enumerate(zip(cards, blocks, strict=True)):
            for i in range(count):
                x = ResidualBlock(cardinality, self.expansion, total, name=f"stage{stage}_block{i}")(x)
            if stage + 1 < len(widths):
                x = downsample_2d(x)
                if x.shape[-1] != widths[stage + 1]:
                    x = _conv(widths[stage + 1], 1, name=f"down{stage}_conv")(x)
        channels = x.shape[-1]
        embed_dim = self.embed_dim or self.widths[0]
        # depthwise 4x4 'valid' convolution on the 4x4 map: one learned 4x4 basis per channel
        basis = self.param("basis", msr_init(1.0), (4, 4, 1, channels))[:, :, 0, :]
        x = jnp.einsum("nhwc,hwc->nc", x, basis.astype(x.dtype))
        linear = nn.Dense(
            1 if labels is None else embed_dim, use_bias=False, kernel_init=msr_init(1.0), name="basis_linear"
        )
        out = linear(x)
        if labels is None:
            return out[:, 0]
        table = _embedding(self.num_classes, embed_dim, 1 / math.sqrt(embed_dim), "class_embedding")(self)
        return jnp.sum(out * table[labels].astype(out.dtype), axis=-1)
