"""The InfoGAN MNIST networks (Chen et al. 2016, App. C.1, Table 1).

Discriminator D / recognition network Q: 4x4 conv 64 stride 2, leaky ReLU; 4x4 conv 128 stride 2, BN,
leaky ReLU; FC 1024, BN, leaky ReLU; FC output for D; Q shares all of this and adds FC 128 - BN -
leaky ReLU - FC output (:class:`gans_jax.layers.heads.AuxiliaryHeads`). Generator: FC 1024, BN, ReLU;
FC (R/4)^2 x 128, BN, ReLU; 4x4 up-conv 64 stride 2, BN, ReLU; 4x4 up-conv 1 stride 2 (tanh here, as
images are in [-1, 1]). R = 28 for MNIST; any side divisible by 4 works (16 for the digits).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers import SubPixelConvTranspose
from gans_jax.layers.conv import conv_general_dilated_cpu
from gans_jax.layers.heads import AuxiliaryHeads
from gans_jax.models.dcgan import _batch_norm, dcgan_init


def _check_resolution(resolution: int) -> int:
    if resolution < 8 or resolution % 4:
        raise ValueError(f"InfoGAN networks need a resolution divisible by 4 and >= 8, got {resolution}")
    return resolution // 4


class Generator(nn.Module):
    """``z (74 = 62 noise + 10 + 2 codes on MNIST) -> image``; labels (if any) are one-hot concatenated."""

    resolution: int = 28
    base_channels: int = 64
    hidden: int = 1024
    out_channels: int = 1
    num_classes: int | None = None
    axis_name: str | None = None

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True):
        side = _check_resolution(self.resolution)
        h = z.reshape(z.shape[0], -1)
        if self.num_classes is not None:
            if labels is None:
                raise ValueError("conditional generator (num_classes set) needs labels")
            h = jnp.concatenate([h, jax.nn.one_hot(labels, self.num_classes, dtype=h.dtype)], -1)
        h = nn.relu(_batch_norm(train, self.axis_name)(nn.Dense(self.hidden, kernel_init=dcgan_init)(h)))
        channels = 2 * self.base_channels
        h = nn.Dense(side * side * channels, kernel_init=dcgan_init)(h)
        h = nn.relu(_batch_norm(train, self.axis_name)(h)).reshape(-1, side, side, channels)
        h = SubPixelConvTranspose(self.base_channels, kernel_init=dcgan_init)(h)
        h = nn.relu(_batch_norm(train, self.axis_name)(h))
        return jnp.tanh(SubPixelConvTranspose(self.out_channels, kernel_init=dcgan_init)(h))


class Discriminator(nn.Module):
    """``image -> logit``, or a dict with ``"logits"``, the Q head's code outputs, AC-GAN's
    ``"class_logits"`` (``num_classes``: D predicts labels, it never sees them) and the 1024-unit
    ``"features"`` (``return_features``)."""

    resolution: int = 28
    base_channels: int = 64
    hidden: int = 1024
    num_classes: int | None = None
    categorical_codes: tuple[int, ...] = ()
    continuous_codes: int = 0
    q_hidden: int = 128
    return_features: bool = False
    negative_slope: float = 0.1
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        _check_resolution(self.resolution)
        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(
                f"discriminator built for {self.resolution}x{self.resolution} images, got {x.shape}"
            )
        conv = lambda c: nn.Conv(
            c,
            (4, 4),
            (2, 2),
            padding=1,
            kernel_init=dcgan_init,
            conv_general_dilated=conv_general_dilated_cpu,
        )
        h = nn.leaky_relu(conv(self.base_channels)(x), self.negative_slope)
        h = nn.leaky_relu(
            _batch_norm(train, self.axis_name)(conv(2 * self.base_channels)(h)), self.negative_slope
        )
        h = nn.Dense(self.hidden, kernel_init=dcgan_init)(h.reshape(h.shape[0], -1))
        h = nn.leaky_relu(_batch_norm(train, self.axis_name)(h), self.negative_slope)
        logits = nn.Dense(1, kernel_init=dcgan_init)(h)[:, 0]
        heads = AuxiliaryHeads(
            self.num_classes,
            tuple(self.categorical_codes),
            self.continuous_codes,
            self.q_hidden,
            self.negative_slope,
            self.axis_name,
        )(h, train)
        if heads or self.return_features:
            return {"logits": logits, **heads, **({"features": h} if self.return_features else {})}
        return logits
