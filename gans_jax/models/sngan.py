"""SNGAN (Miyato et al. 2018): the standard CNN and the ResNet for 32x32 images, spectral normalisation on
every discriminator layer, optionally class-conditional with conditional batch norm in G and the
projection discriminator (Miyato & Koyama 2018).

- Standard CNN (Miyato et al. 2018, Table 3): G ``z -> dense 4x4x512 -> BN ReLU -> 3 x (4x4 stride-2
  deconv, BN, ReLU: 256, 128, 64) -> 3x3 conv -> tanh``; D seven convolutions (3x3 stride 1 and 4x4
  stride 2 alternating, 64, 64, 128, 128, 256, 256, 512) with LeakyReLU(0.1), then a dense layer on the
  4x4x512 map. Weights from N(0, 0.02) as in the authors' chainer-gan-lib.
- ResNet (Miyato et al. 2018, Table 4; Gulrajani et al. 2017, App. F; the authors' ``resnet_32.py`` and
  ``snresnet_32.py``): G ``z -> dense 4x4x256 -> 3 up-ResBlocks(256) -> BN ReLU -> 3x3 conv -> tanh``;
  D an "optimized" first down-block(128), a down-block, two plain blocks, ReLU, global SUM pooling,
  a bias-free dense layer (or the projection head). Convolutions Glorot-uniform with gain sqrt(2),
  shortcuts and dense layers Glorot-uniform, as in the authors' code.

Widths generalise to other resolutions (powers of two >= 8): ``log2(resolution) - 2`` up/down stages.
``g_channels``/``d_channels`` are the widths named above for the base (64 for the CNN's first D
layer and G's last deconvolution, 256 and 128 for the ResNet's G and D). On CPU the resampling
convolutions run as matrix products (:mod:`gans_jax.layers.conv`, :mod:`gans_jax.layers.resample`).
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers import ConditionalBatchNorm, ProjectionHead, SubPixelConvTranspose, spectral_norm
from gans_jax.layers.conv import conv_general_dilated_cpu
from gans_jax.layers.resample import ConvMeanPool, UpsampleConv, mean_pool

cnn_init = nn.initializers.normal(0.02)
glorot = nn.initializers.xavier_uniform()
glorot_relu = nn.initializers.variance_scaling(2.0, "fan_avg", "uniform")  # GlorotUniform(sqrt(2))


def _num_stages(resolution: int) -> int:
    if resolution < 8 or resolution > 1024 or resolution & (resolution - 1):
        raise ValueError(f"SNGAN resolution must be a power of two in [8, 1024], got {resolution}")
    return int(math.log2(resolution)) - 2


def _check_labels(num_classes: int | None, labels, who: str):
    if num_classes is not None and labels is None:
        raise ValueError(f"conditional {who} (num_classes={num_classes}) needs labels")
    return labels if num_classes is not None else None


class _BatchNorm(nn.Module):
    """Batch norm, class-conditional (:class:`ConditionalBatchNorm`) when labels are given."""

    num_classes: int | None
    axis_name: str | None

    @nn.compact
    def __call__(self, x, labels, train: bool):
        if labels is not None:
            return ConditionalBatchNorm(self.num_classes, axis_name=self.axis_name)(x, labels, train)
        return nn.BatchNorm(
            use_running_average=not train, momentum=0.9, epsilon=1e-5, axis_name=self.axis_name
        )(x)


def _conv(features, kernel, strides=1, padding=1, **kwargs):
    # conv_general_dilated_cpu: on CPU a matrix-product form (fast gradients), parameters unchanged.
    return nn.Conv(
        features,
        (kernel, kernel),
        (strides, strides),
        padding=padding,
        conv_general_dilated=conv_general_dilated_cpu,
        **kwargs,
    )


class CNNGenerator(nn.Module):
    """The standard CNN generator of Miyato et al. 2018, Table 3(a) (module doc)."""

    resolution: int = 32
    base_channels: int = 64
    out_channels: int = 3
    num_classes: int | None = None
    axis_name: str | None = None

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True):
        stages = _num_stages(self.resolution)
        labels = _check_labels(self.num_classes, labels, "generator")
        bn = functools.partial(_BatchNorm, self.num_classes, self.axis_name)
        channels = self.base_channels * 2**stages
        h = nn.Dense(16 * channels, kernel_init=cnn_init)(z.reshape(z.shape[0], -1))
        h = nn.relu(bn()(h.reshape(-1, 4, 4, channels), labels, train))
        for _ in range(stages):
            channels //= 2
            h = SubPixelConvTranspose(channels, kernel_init=cnn_init)(h)
            h = nn.relu(bn()(h, labels, train))
        return jnp.tanh(_conv(self.out_channels, 3, kernel_init=cnn_init)(h))


class CNNDiscriminator(nn.Module):
    """The standard CNN discriminator of Miyato et al. 2018, Table 3(b), spectrally normalised."""

    resolution: int = 32
    base_channels: int = 64
    num_classes: int | None = None
    negative_slope: float = 0.1
    spectral_norm: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        stages = _num_stages(self.resolution)
        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(f"discriminator built for {self.resolution}x{self.resolution}, got {x.shape}")
        labels = _check_labels(self.num_classes, labels, "discriminator")
        sn = lambda layer: spectral_norm(layer, enabled=self.spectral_norm, train=train)
        act = lambda h: nn.leaky_relu(h, self.negative_slope)
        channels = self.base_channels
        h = act(sn(_conv(channels, 3, kernel_init=cnn_init))(x))
        for _ in range(stages):
            h = act(sn(_conv(channels, 4, 2, kernel_init=cnn_init))(h))
            channels *= 2
            h = act(sn(_conv(channels, 3, kernel_init=cnn_init))(h))
        head = ProjectionHead(self.num_classes, spectral_norm=self.spectral_norm, kernel_init=cnn_init)
        return head(h.reshape(h.shape[0], -1), labels, train)


class GBlock(nn.Module):
    """Generator ResBlock with 2x upsampling (Gulrajani et al. 2017; the authors' ``gen_models/resblocks``):
    ``conv(ReLU(BN(up(conv(ReLU(BN(x))))))) + conv1x1(up(x))``, BN class-conditional given labels."""

    features: int
    num_classes: int | None = None
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x, labels, train: bool):
        bn = functools.partial(_BatchNorm, self.num_classes, self.axis_name)
        h = nn.relu(bn()(x, labels, train))
        h = UpsampleConv(self.features, kernel_init=glorot_relu)(h)
        h = nn.relu(bn()(h, labels, train))
        h = _conv(self.features, 3, kernel_init=glorot_relu)(h)
        # 1x1 convolution and nearest upsampling commute: convolve the 4x smaller map
        shortcut = _conv(self.features, 1, padding=0, kernel_init=glorot, name="shortcut")(x)
        return h + jnp.repeat(jnp.repeat(shortcut, 2, axis=1), 2, axis=2)


class DBlock(nn.Module):
    """Discriminator ResBlock (the authors' ``dis_models/resblocks``), every convolution spectrally
    normalised: ``pool(conv(ReLU(conv(ReLU(x))))) + pool(conv1x1(x))``; ``optimized`` is the first block
    (no ReLU on the input, shortcut ``conv1x1(pool(x))``), ``downsample=False`` drops the pooling and keeps
    the identity shortcut when the width is unchanged."""

    features: int
    downsample: bool = True
    optimized: bool = False
    spectral_norm: bool = True

    @nn.compact
    def __call__(self, x, train: bool):
        sn = lambda layer: spectral_norm(layer, enabled=self.spectral_norm, train=train)
        h = x if self.optimized else nn.relu(x)
        h = nn.relu(sn(_conv(self.features, 3, kernel_init=glorot_relu))(h))
        if self.downsample:
            h = sn(ConvMeanPool(self.features, kernel_init=glorot_relu))(h)
        else:
            h = sn(_conv(self.features, 3, kernel_init=glorot_relu))(h)
        if self.downsample or x.shape[-1] != self.features:
            # 1x1 convolution and average pooling commute: pool first
            shortcut = mean_pool(x) if self.downsample else x
            shortcut = sn(_conv(self.features, 1, padding=0, kernel_init=glorot, name="shortcut"))(shortcut)
        else:
            shortcut = x
        return h + shortcut


class ResNetGenerator(nn.Module):
    """The SNGAN ResNet generator for 32x32 (Miyato et al. 2018, Table 4(a)), conditional BN given
    ``num_classes`` (Miyato & Koyama 2018)."""

    resolution: int = 32
    base_channels: int = 256
    out_channels: int = 3
    num_classes: int | None = None
    axis_name: str | None = None

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True):
        stages = _num_stages(self.resolution)
        labels = _check_labels(self.num_classes, labels, "generator")
        ch = self.base_channels
        h = nn.Dense(16 * ch, kernel_init=glorot)(z.reshape(z.shape[0], -1)).reshape(-1, 4, 4, ch)
        for _ in range(stages):
            h = GBlock(ch, self.num_classes, self.axis_name)(h, labels, train)
        h = nn.relu(_BatchNorm(None, self.axis_name)(h, None, train))
        return jnp.tanh(_conv(self.out_channels, 3, kernel_init=glorot)(h))


class ResNetDiscriminator(nn.Module):
    """The SNGAN ResNet discriminator for 32x32 (Miyato et al. 2018, Table 4(b)), with the projection
    head (Miyato & Koyama 2018) given ``num_classes``; spectral normalisation on every layer."""

    resolution: int = 32
    base_channels: int = 128
    num_classes: int | None = None
    spectral_norm: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        stages = _num_stages(self.resolution)
        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(f"discriminator built for {self.resolution}x{self.resolution}, got {x.shape}")
        labels = _check_labels(self.num_classes, labels, "discriminator")
        ch, sn = self.base_channels, self.spectral_norm
        h = DBlock(ch, optimized=True, spectral_norm=sn)(x, train)
        for _ in range(stages - 2):
            h = DBlock(ch, spectral_norm=sn)(h, train)
        for _ in range(2):
            h = DBlock(ch, downsample=False, spectral_norm=sn)(h, train)
        features = jnp.sum(nn.relu(h), axis=(1, 2))  # global sum pooling
        head = ProjectionHead(self.num_classes, spectral_norm=sn, kernel_init=glorot, use_bias=False)
        return head(features, labels, train)


__all__ = [
    "CNNDiscriminator",
    "CNNGenerator",
    "DBlock",
    "GBlock",
    "ResNetDiscriminator",
    "ResNetGenerator",
]
