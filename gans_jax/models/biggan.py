"""BigGAN (Brock, Donahue & Simonyan 2019) as the authors' BigGAN-PyTorch builds it (``BigGAN.py``).

Generator (paper App. B, Table 4 (a) and Fig. 15 (a)): a linear layer maps the first chunk of ``z`` to a
``4 x 4 x 16ch`` map; residual up-blocks (class-conditional batch norm, ReLU, nearest 2x upsampling,
3x3 convolutions, 1x1 shortcut); self-attention after the blocks of the resolutions in ``attention``;
batch norm, ReLU, a 3x3 convolution to RGB and tanh (``output_layer``). Class conditioning: a *shared*
class embedding (``G_shared``, ``shared_dim``) is concatenated with the next chunk of ``z`` for every
block (*hierarchical latents*, ``hier``), and bias-free linear maps of that vector give each ``ccbn`` its
gains ``1 + W_gain c`` and biases ``W_bias c``; without a shared embedding every ``ccbn`` has its own class
embeddings, again as ``1 + gain(y)`` and ``bias(y)`` (the SA-GAN baseline).

Discriminator (Table 4 (b), Fig. 15 (b)): residual down-blocks (pre-activation ReLU but for the first
block, 3x3 convolutions, 2x2 average pooling), self-attention after the blocks listed at the resolutions
in ``attention`` (``D_arch``'s ``resolution`` rows: at 32x32 every block is listed as 16, so ``'16'``
puts attention after all four), ReLU, global sum pooling, ``linear`` plus the projection ``<embed(y),
h>`` (Miyato & Koyama 2018). Spectral normalisation on every weight of both networks except G's shared
embedding and non-shared ``ccbn`` embeddings (as BigGAN-PyTorch), the authors' way
(:mod:`gans_jax.layers.biggan_pytorch`).

Module and variable names are BigGAN-PyTorch's state-dict names (``blocks.3.1.theta.weight`` is
``params/blocks_3_1/theta/kernel``), so its checkpoints convert one array to one array
(:mod:`gans_jax.pretrained.biggan`). Channel widths, upsampling/downsampling and attention placement per
resolution are BigGAN-PyTorch's ``G_arch``/``D_arch`` tables (paper Tables 4-9). ``resolution=128, ch=96``
with shared embedding and hierarchical latents has 70,433,988 generator and 87,982,370 discriminator
parameters, as BigGAN-PyTorch counts them; the paper's table (Table 1, 158.3M) leaves out G's
1000 x 128 shared embedding.

Settings of BigGAN-PyTorch's that are options here, defaults as its launch scripts and released ImageNet
checkpoint (``launch_BigGAN_bs256x8.sh``): ``sn_eps`` 1e-6 (``SN_eps``; ``utils.py``'s default is 1e-8,
the classes' 1e-12), ``bn_eps`` 1e-5 (``BN_eps``, the ``ccbn`` layers; G's output ``bn`` always uses
1e-5), ``sn_itrs`` 1 (``num_G_SV_itrs``; ``num_D_SV_itrs`` for D), ``weight_init`` ``'ortho'``
(``G_init``/``D_init``; the released checkpoint's run used ``'N02'``), ``bn_unbiased_var`` True (the
running variance of ``F.batch_norm``; False as ``--mybn``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.biggan_pytorch import (
    BN,
    CCBN,
    Attention,
    SNConv2d,
    SNEmbedding,
    SNLinear,
    weight_init,
)
from gans_jax.layers.resample import mean_pool, nearest_upsample

# resolution -> channel multipliers of ch: (G block inputs, G block outputs) (BigGAN-PyTorch G_arch).
# Block i outputs resolution 8 * 2**i.
G_ARCH: dict[int, tuple[Sequence[int], Sequence[int]]] = {
    16: ((4, 4), (4, 4)),  # not in BigGAN-PyTorch: the 32x32 widths with one block fewer (CPU tests)
    32: ((4, 4, 4), (4, 4, 4)),
    64: ((16, 16, 8, 4), (16, 8, 4, 2)),
    128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1)),
    256: ((16, 16, 8, 8, 4, 2), (16, 8, 8, 4, 2, 1)),
    512: ((16, 16, 8, 8, 4, 2, 1), (16, 8, 8, 4, 2, 1, 1)),
}
# resolution -> (D block output multipliers, which blocks downsample, the resolution D_arch lists for each
# block, which decides where attention goes); inputs are 3 channels, then the previous outputs.
D_ARCH: dict[int, tuple[Sequence[int], Sequence[bool], Sequence[int]]] = {
    16: ((4, 4, 4), (True, True, False), (8, 4, 4)),  # not in BigGAN-PyTorch, like G_ARCH[16]
    32: ((4, 4, 4, 4), (True, True, False, False), (16, 16, 16, 16)),
    64: ((1, 2, 4, 8, 16), (True,) * 4 + (False,), (32, 16, 8, 4, 4)),
    128: ((1, 2, 4, 8, 16, 16), (True,) * 5 + (False,), (64, 32, 16, 8, 4, 4)),
    256: ((1, 2, 4, 8, 8, 16, 16), (True,) * 6 + (False,), (128, 64, 32, 16, 8, 4, 4)),
    # not in BigGAN-PyTorch's D_arch: the paper's Table 9 (b)
    512: ((1, 1, 2, 4, 8, 8, 16, 16), (True,) * 7 + (False,), (256, 128, 64, 32, 16, 8, 4, 4)),
}


def _check_resolution(resolution: int) -> None:
    if resolution not in G_ARCH:
        raise ValueError(f"BigGAN resolution must be one of {sorted(G_ARCH)}, got {resolution}")


def attention_resolutions(attention: int | str | Sequence[int]) -> frozenset[int]:
    """The resolutions of ``G_attn``/``D_attn``: ``'64'`` or 64 -> {64}, ``'32_64'`` -> {32, 64}, ``'0'``,
    0 or ``''`` -> none; a sequence of ints as it is."""
    if isinstance(attention, str):
        try:
            values = [int(a) for a in attention.split("_") if a]
        except ValueError:
            raise ValueError(
                f"attention must be resolutions joined by '_' (e.g. '64', '32_64', '0'), got {attention!r}"
            ) from None
    elif isinstance(attention, int):
        values = [attention]
    else:
        values = [int(a) for a in attention]
    return frozenset(v for v in values if v > 0)


class GBlock(nn.Module):
    """``layers.GBlock``: ``conv_sc(up(x)) + conv2(relu(bn2(conv1(up(relu(bn1(x, y)))), y)))`` (Fig. 15 (b)).
    The 1x1 shortcut is applied before upsampling, which gives the same result at a quarter of the cost."""

    features: int
    which_conv: functools.partial
    which_bn: functools.partial

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array, train: bool) -> jax.Array:
        h = nearest_upsample(nn.relu(self.which_bn(name="bn1")(x, y, train)))
        h = self.which_conv(self.features, name="conv1")(h, train)
        h = nn.relu(self.which_bn(name="bn2")(h, y, train))
        h = self.which_conv(self.features, name="conv2")(h, train)
        return h + nearest_upsample(self.which_conv(self.features, kernel_size=1, name="conv_sc")(x, train))


class DBlock(nn.Module):
    """``layers.DBlock`` (wide): ``shortcut(x) + pool(conv2(relu(conv1(relu?(x)))))`` (Fig. 15 (c)); the
    first block has no pre-activation and pools before its 1x1 shortcut, later blocks convolve first.
    The shortcut convolution exists when the block changes the width or downsamples."""

    features: int
    downsample: bool
    preactivation: bool
    which_conv: functools.partial

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        h = nn.relu(x) if self.preactivation else x
        h = self.which_conv(self.features, name="conv1")(h, train)
        h = self.which_conv(self.features, name="conv2")(nn.relu(h), train)
        if self.downsample:
            h = mean_pool(h)
        shortcut = x
        if self.features != x.shape[-1] or self.downsample:
            sc = self.which_conv(self.features, kernel_size=1, name="conv_sc")
            if self.preactivation:
                shortcut = sc(shortcut, train)
                shortcut = mean_pool(shortcut) if self.downsample else shortcut
            else:
                shortcut = sc(mean_pool(shortcut) if self.downsample else shortcut, train)
        return h + shortcut


class Generator(nn.Module):
    """BigGAN generator ``(z, y) -> image`` in [-1, 1], NHWC (``BigGAN.Generator``).

    Attributes:
      resolution: 32, 64, 128, 256 or 512 (16: a small variant for tests).
      ch: channel multiplier ``G_ch`` (96 for BigGAN-128).
      num_classes: number of classes ``n_classes`` (1000 for ImageNet).
      latent_dim: size of ``z`` (``dim_z``: 120 at 128x128 with hierarchical latents; with ``hierarchical``
        rounded down to a multiple of the number of chunks, ``blocks + 1``, as the reference does).
      shared_dim: size of the shared class embedding (``shared_dim``, 128); 0 = no shared embedding
        (``G_shared=False``: per-layer class embeddings).
      hierarchical: split ``z`` into one chunk for the input layer and one per block (``hier``, skip-z).
      attention: ``G_attn``: resolutions of self-attention blocks, ``'64'``, ``'32_64'``; ``'0'`` = none.
      out_channels: image channels (3; 1 for grey-scale data).
      bn_eps, sn_eps, sn_itrs, weight_init, bn_unbiased_var: ``BN_eps``, ``SN_eps``, ``num_G_SV_itrs``,
        ``G_init`` and the running variance (module doc).
    """

    resolution: int = 128
    ch: int = 96
    num_classes: int = 1000
    latent_dim: int = 120
    shared_dim: int = 128
    hierarchical: bool = True
    attention: int | str | Sequence[int] = "64"
    out_channels: int = 3
    axis_name: str | None = None
    bn_eps: float = 1e-5
    sn_eps: float = 1e-6
    sn_itrs: int = 1
    weight_init: str = "ortho"
    bn_unbiased_var: bool = True

    @property
    def num_chunks(self) -> int:
        return len(G_ARCH[self.resolution][0]) + 1 if self.hierarchical else 1

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array, train: bool = True) -> jax.Array:
        _check_resolution(self.resolution)
        if labels is None:
            raise ValueError("BigGAN's generator is class-conditional: pass labels")
        if self.hierarchical and not self.shared_dim:
            raise ValueError("hierarchical latents need the shared embedding (shared_dim > 0)")
        in_mult, out_mult = G_ARCH[self.resolution]
        chunk = self.latent_dim // self.num_chunks
        if z.shape[-1] != chunk * self.num_chunks:
            raise ValueError(
                f"BigGAN generator (latent_dim={self.latent_dim}) expects z of size "
                f"{chunk * self.num_chunks} ({self.num_chunks} chunks of {chunk}), got shape {z.shape}"
            )
        init = weight_init(self.weight_init)
        sn = dict(num_itrs=self.sn_itrs, eps=self.sn_eps, kernel_init=init)
        which_conv = functools.partial(SNConv2d, **sn)
        which_linear = functools.partial(SNLinear, **sn)
        which_bn = functools.partial(
            CCBN,
            which_linear,
            num_classes=self.num_classes,
            epsilon=self.bn_eps,
            unbiased_var=self.bn_unbiased_var,
            axis_name=self.axis_name,
            embedding_init=init,
        )
        if self.shared_dim:
            y = nn.Embed(self.num_classes, self.shared_dim, embedding_init=init, name="shared")(labels)
        else:
            y = labels
        if self.hierarchical:
            z0, *chunks = jnp.split(z, self.num_chunks, axis=-1)
            conditions = [jnp.concatenate([y, c.astype(y.dtype)], -1) for c in chunks]
        else:
            z0, conditions = z, [y] * len(in_mult)
        h = which_linear(16 * in_mult[0] * self.ch, name="linear")(z0, train)
        h = h.reshape(-1, in_mult[0] * self.ch, 4, 4).transpose(0, 2, 3, 1)  # h.view(B, -1, 4, 4), NCHW
        attention = attention_resolutions(self.attention)
        for index, (mult, condition) in enumerate(zip(out_mult, conditions, strict=True)):
            h = GBlock(mult * self.ch, which_conv, which_bn, name=f"blocks_{index}_0")(h, condition, train)
            if 8 * 2**index in attention:
                h = Attention(which_conv, name=f"blocks_{index}_1")(h, train)
        output_bn = BN(unbiased_var=self.bn_unbiased_var, axis_name=self.axis_name, name="output_layer_0")
        h = which_conv(self.out_channels, name="output_layer_2")(nn.relu(output_bn(h, train)), train)
        return jnp.tanh(h)


class Discriminator(nn.Module):
    """BigGAN discriminator ``(x, y) -> logit`` of shape ``(B,)`` (``BigGAN.Discriminator``, wide).

    Attributes: ``resolution``, ``ch`` (``D_ch``), ``num_classes``, ``attention`` (``D_attn``), and
    ``sn_eps``, ``sn_itrs`` (``num_D_SV_itrs``), ``weight_init`` (``D_init``) as the generator's."""

    resolution: int = 128
    ch: int = 96
    num_classes: int = 1000
    attention: int | str | Sequence[int] = "64"
    sn_eps: float = 1e-6
    sn_itrs: int = 1
    weight_init: str = "ortho"

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        _check_resolution(self.resolution)
        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(
                f"discriminator built for {self.resolution}x{self.resolution} images, got shape {x.shape}"
            )
        if labels is None or labels.shape != x.shape[:1]:
            raise ValueError(
                f"BigGAN's discriminator is class-conditional: labels of shape {x.shape[:1]} needed, got "
                f"{None if labels is None else labels.shape}"
            )
        init = weight_init(self.weight_init)
        sn = dict(num_itrs=self.sn_itrs, eps=self.sn_eps)
        which_conv = functools.partial(SNConv2d, kernel_init=init, **sn)
        out_mult, downsample, resolutions = D_ARCH[self.resolution]
        attention = attention_resolutions(self.attention)
        h = x
        for index, (mult, down) in enumerate(zip(out_mult, downsample, strict=True)):
            block = DBlock(mult * self.ch, down, index > 0, which_conv, name=f"blocks_{index}_0")
            h = block(h, train)
            if resolutions[index] in attention:
                h = Attention(which_conv, name=f"blocks_{index}_1")(h, train)
        h = jnp.sum(nn.relu(h), axis=(1, 2))
        out = SNLinear(1, kernel_init=init, name="linear", **sn)(h, train)[:, 0]
        embed = SNEmbedding(self.num_classes, h.shape[-1], embedding_init=init, name="embed", **sn)
        return out + jnp.sum(embed(labels, train).astype(h.dtype) * h, axis=-1)
