"""Progressive GAN (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability,
and Variation"): the generator and discriminator of Table 2 at one stage of their growth.

A network built with ``resolution = R`` is the stage that outputs (G) or reads (D) ``R x R`` images:
G is a 4x4 block (pixel-normalised latent -> dense to 4x4 -> conv 3x3) followed by one block per
doubling (nearest-neighbour 2x upsampling, two conv 3x3), each conv followed by LeakyReLU(0.2) and
pixelwise normalisation (Sec. 4.2), and a linear 1x1 toRGB; D mirrors it with a 1x1 fromRGB, blocks of
two conv 3x3 and 2x2 average pooling, and a 4x4 block with the minibatch standard deviation (Sec. 3),
conv 3x3, dense and a linear dense output. Every layer uses the equalized learning rate (Sec. 4.1).

Fade-in (Sec. 2, Fig. 2): while the ``R x R`` block is new, G outputs
``(1 - alpha) * upsample(toRGB_{R/2}(h_{R/2})) + alpha * toRGB_R(h_R)`` and D blends
``(1 - alpha) * fromRGB_{R/2}(avgpool(x))`` with the output of its new block. ``alpha`` is the
variable ``alpha`` of the ``"progress"`` collection (default 1 = the grown network alone); the stage
driver (:mod:`gans_jax.training.progressive`) sets it from the train step's counter, so it lives in
the checkpointed state and a resumed run continues the fade exactly. Parameter names carry the
resolution (``block_8``, ``to_rgb_8``, ``from_rgb_8``), so stage ``R``'s parameters are stage
``R/2``'s plus the new block's and toRGB/fromRGB (stage ``R/2``'s ``R/4`` toRGB/fromRGB retire).

Feature maps: ``channels(r) = min(channel_base // r, channel_max)`` (the authors' ``nf``), 512 up to 32x32
then 256, 128, 64, 32, 16 for 64..1024 with the paper's ``channel_base = 16384``, ``channel_max = 512``:
23.1M parameters in each network at 1024x1024 (Table 2).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.equalized import EqualizedConv, EqualizedDense, minibatch_stddev, pixel_norm
from gans_jax.layers.resample import mean_pool, nearest_upsample

PROGRESS = "progress"  # the Flax collection holding the fade-in alpha


def channels(resolution: int, channel_base: int = 16384, channel_max: int = 512) -> int:
    """Feature maps at ``resolution``: ``min(channel_base // resolution, channel_max)`` (Table 2)."""
    return max(1, min(channel_base // resolution, channel_max))


def check_resolution(resolution: int) -> int:
    """``log2(resolution)`` for a power of two in [4, 1024]; anything else is refused."""
    if not isinstance(resolution, int) or not 4 <= resolution <= 1024 or resolution & (resolution - 1):
        raise ValueError(f"progressive GAN resolution must be a power of two in [4, 1024], got {resolution}")
    return int(math.log2(resolution))


def _lrelu(x: jax.Array) -> jax.Array:
    return nn.leaky_relu(x, 0.2)


def _alpha(module: nn.Module) -> jax.Array:
    return module.variable(PROGRESS, "alpha", lambda: jnp.ones((), jnp.float32)).value


def _no_labels(labels) -> None:
    if labels is not None:
        raise ValueError("the progressive GAN is unconditional; got labels (set model.conditional=False)")


class Generator(nn.Module):
    """G of Table 2 at stage ``resolution``: ``(N, latent_dim)`` latents -> ``(N, R, R, out_channels)``."""

    resolution: int
    out_channels: int = 3
    channel_base: int = 16384
    channel_max: int = 512
    normalize_latents: bool = True  # latents on the hypersphere of radius sqrt(latent_dim) (App. A.1)

    def nf(self, r: int) -> int:
        return channels(r, self.channel_base, self.channel_max)

    @nn.compact
    def __call__(self, z: jax.Array, labels=None, train: bool = False) -> jax.Array:
        del train  # no dropout or batch norm
        _no_labels(labels)
        top = check_resolution(self.resolution)
        alpha = _alpha(self)
        x = pixel_norm(z) if self.normalize_latents else z

        def conv(features, name):
            return lambda h: pixel_norm(_lrelu(EqualizedConv(features, 3, name=name)(h)))

        # 4x4: the "Conv 4x4" on the 1x1 latent of Table 2, written as a dense layer (gain sqrt(2)/4 as the
        # authors' code), then conv 3x3.
        x = EqualizedDense(16 * self.nf(4), gain=math.sqrt(2) / 4, name="block_4_dense")(x)
        x = pixel_norm(_lrelu(x.reshape(x.shape[0], 4, 4, self.nf(4))))
        x = conv(self.nf(4), "block_4_conv")(x)
        previous = None
        for level in range(3, top + 1):
            r = 2**level
            previous = x
            x = nearest_upsample(x)
            x = conv(self.nf(r), f"block_{r}_conv0")(x)
            x = conv(self.nf(r), f"block_{r}_conv1")(x)

        def to_rgb(h, r):
            return EqualizedConv(self.out_channels, 1, gain=1.0, name=f"to_rgb_{r}")(h)

        out = to_rgb(x, self.resolution)
        if previous is None:
            return out
        old = nearest_upsample(to_rgb(previous, self.resolution // 2))
        return (1.0 - alpha).astype(out.dtype) * old + alpha.astype(out.dtype) * out


class Discriminator(nn.Module):
    """D of Table 2 at stage ``resolution``: ``(N, R, R, C)`` images -> ``(N,)`` critic values."""

    resolution: int
    channel_base: int = 16384
    channel_max: int = 512
    mbstd_group_size: int = 4  # 0 = no minibatch standard deviation layer

    def nf(self, r: int) -> int:
        return channels(r, self.channel_base, self.channel_max)

    @nn.compact
    def __call__(self, x: jax.Array, labels=None, train: bool = False) -> jax.Array:
        del train
        _no_labels(labels)
        top = check_resolution(self.resolution)
        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(f"discriminator for {self.resolution}x{self.resolution} got shape {x.shape}")
        alpha = _alpha(self)

        def from_rgb(img, r):
            return _lrelu(EqualizedConv(self.nf(r), 1, name=f"from_rgb_{r}")(img))

        def block(h, r):
            h = _lrelu(EqualizedConv(self.nf(r), 3, name=f"block_{r}_conv0")(h))
            h = _lrelu(EqualizedConv(self.nf(r // 2), 3, name=f"block_{r}_conv1")(h))
            return mean_pool(h)

        h = from_rgb(x, self.resolution)
        for level in range(top, 2, -1):
            r = 2**level
            h = block(h, r)
            if r == self.resolution:  # fade-in of the newest block
                old = from_rgb(mean_pool(x), r // 2)
                h = (1.0 - alpha).astype(h.dtype) * old + alpha.astype(h.dtype) * h
        if self.mbstd_group_size:
            h = minibatch_stddev(h, self.mbstd_group_size)
        h = _lrelu(EqualizedConv(self.nf(4), 3, name="block_4_conv")(h))
        h = _lrelu(EqualizedDense(self.nf(2), name="block_4_dense0")(h.reshape(h.shape[0], -1)))
        return EqualizedDense(1, gain=1.0, name="block_4_dense1")(h)[:, 0]


__all__ = ["PROGRESS", "Discriminator", "Generator", "channels", "check_resolution"]
