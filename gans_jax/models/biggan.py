"""BigGAN (Brock, Donahue & Simonyan 2019), with the details of the authors' BigGAN-PyTorch.

Generator (paper App. B, Table 4 (a) and Fig. 15 (a)): a linear layer maps the first chunk of ``z`` to a
``4 x 4 x 16ch`` map; residual up-blocks (class-conditional batch norm, ReLU, nearest 2x upsampling,
3x3 convolutions, 1x1 shortcut); SAGAN self-attention at one resolution; batch norm, ReLU, a 3x3
convolution to RGB and tanh. Class conditioning: a *shared* class embedding (128-d) is concatenated
with the next chunk of ``z`` for every block (*hierarchical latents*, "skip-z"), and linear maps of that
vector give each conditional batch norm its gains ``1 + W_gamma c`` and biases ``W_beta c``.

Discriminator (Table 4 (b), Fig. 15 (b)): residual down-blocks (pre-activation ReLU, 3x3 convolutions,
2x2 average pooling), self-attention, ReLU, global sum pooling and the projection head (Miyato & Koyama
2018). Spectral normalisation on every weight of both networks except G's shared embedding (as
BigGAN-PyTorch, which found that normalising it hurts), orthogonal initialisation everywhere.

Channel widths per resolution are BigGAN-PyTorch's ``G_arch``/``D_arch`` tables (paper Tables 4-9).
``resolution=128, ch=96`` with shared embedding and hierarchical latents has 70,433,988 generator and
87,982,370 discriminator parameters, as BigGAN-PyTorch counts them; the paper's table (Table 1, 158.3M)
leaves out G's 1000 x 128 shared embedding.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.attention import SelfAttention
from gans_jax.layers.conditioning import ProjectionHead
from gans_jax.layers.conv import conv_general_dilated_cpu
from gans_jax.layers.normalization import ConditionalBatchNorm, spectral_norm
from gans_jax.layers.resample import mean_pool, nearest_upsample

ortho = nn.initializers.orthogonal()

# resolution -> channel multipliers of ch: (G block inputs, G block outputs).
G_ARCH: dict[int, tuple[Sequence[int], Sequence[int]]] = {
    16: ((4, 4), (4, 4)),  # not in BigGAN-PyTorch: the 32x32 widths with one block fewer (CPU tests)
    32: ((4, 4, 4), (4, 4, 4)),
    64: ((16, 16, 8, 4), (16, 8, 4, 2)),
    128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1)),
    256: ((16, 16, 8, 8, 4, 2), (16, 8, 8, 4, 2, 1)),
    512: ((16, 16, 8, 8, 4, 2, 1), (16, 8, 8, 4, 2, 1, 1)),
}
# resolution -> (D block output multipliers, which blocks downsample); inputs are 3 then the outputs.
D_ARCH: dict[int, tuple[Sequence[int], Sequence[bool]]] = {
    16: ((4, 4, 4), (True, True, False)),  # not in BigGAN-PyTorch, like G_ARCH[16]
    32: ((4, 4, 4, 4), (True, True, False, False)),
    64: ((1, 2, 4, 8, 16), (True,) * 4 + (False,)),
    128: ((1, 2, 4, 8, 16, 16), (True,) * 5 + (False,)),
    256: ((1, 2, 4, 8, 8, 16, 16), (True,) * 6 + (False,)),
    512: ((1, 1, 2, 4, 8, 8, 16, 16), (True,) * 7 + (False,)),
}


def _check_resolution(resolution: int) -> None:
    if resolution not in G_ARCH:
        raise ValueError(f"BigGAN resolution must be one of {sorted(G_ARCH)}, got {resolution}")


def _conv(features: int, kernel: int, train: bool, name: str | None = None):
    """A spectrally normalised, orthogonally initialised 'same' convolution (matrix products on CPU)."""
    conv = nn.Conv(
        features,
        (kernel, kernel),
        padding="SAME",
        kernel_init=ortho,
        conv_general_dilated=conv_general_dilated_cpu,
        name=name,
    )
    return spectral_norm(conv, enabled=True, train=train)


class GBlock(nn.Module):
    """``x + F(x)`` with ``F = conv3(relu(cbn(conv3(up(relu(cbn(x)))))))`` and a 1x1 shortcut on ``up(x)``
    (Fig. 15 (b)). The 1x1 shortcut is applied before upsampling: both orders give the same result."""

    features: int
    num_classes: int | None = None
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, condition: jax.Array, train: bool) -> jax.Array:
        """``condition``: the vector ``[shared(y), z_i]`` (B, D), or class labels (B,) without a shared
        embedding (then each batch norm has its own class embeddings, the SAGAN baseline)."""
        cbn = lambda: ConditionalBatchNorm(self.num_classes, spectral_norm=True, axis_name=self.axis_name)
        h = nearest_upsample(nn.relu(cbn()(x, condition, train)))
        h = _conv(self.features, 3, train)(h)
        h = _conv(self.features, 3, train)(nn.relu(cbn()(h, condition, train)))
        return h + nearest_upsample(_conv(self.features, 1, train, name="shortcut")(x))


class DBlock(nn.Module):
    """``shortcut(x) + pool(conv3(relu(conv3(relu?(x)))))`` (Fig. 15 (c)); the first block has no
    pre-activation and pools before its 1x1 shortcut, later blocks convolve first (BigGAN-PyTorch)."""

    features: int
    downsample: bool
    preactivation: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        h = nn.relu(x) if self.preactivation else x
        h = _conv(self.features, 3, train)(h)
        h = _conv(self.features, 3, train)(nn.relu(h))
        if self.downsample:
            h = mean_pool(h)
        shortcut = x
        if self.features != x.shape[-1] or self.downsample:
            sc = _conv(self.features, 1, train, name="shortcut")
            if self.preactivation:
                shortcut = sc(shortcut)
                shortcut = mean_pool(shortcut) if self.downsample else shortcut
            else:
                shortcut = sc(mean_pool(shortcut) if self.downsample else shortcut)
        return h + shortcut


class Generator(nn.Module):
    """BigGAN generator ``(z, y) -> image`` in [-1, 1], NHWC.

    Attributes:
      resolution: 32, 64, 128, 256 or 512.
      ch: channel multiplier (96 for BigGAN-128).
      num_classes: number of classes (1000 for ImageNet).
      latent_dim: size of ``z`` (120 at 128x128 with hierarchical latents; rounded down to a multiple of
        the number of chunks, ``blocks + 1``).
      shared_dim: size of the shared class embedding (128); 0 = per-block class embeddings instead.
      hierarchical: split ``z`` into one chunk for the input layer and one per block (skip-z).
      attention: resolution of the self-attention block (0 = none).
      out_channels: image channels (3; 1 for grey-scale data).
    """

    resolution: int = 128
    ch: int = 96
    num_classes: int = 1000
    latent_dim: int = 120
    shared_dim: int = 128
    hierarchical: bool = True
    attention: int = 64
    out_channels: int = 3
    axis_name: str | None = None

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
                f"BigGAN generator expects z of size {chunk * self.num_chunks} "
                f"({self.num_chunks} chunks of {chunk}), got shape {z.shape}"
            )
        if self.shared_dim:
            y = nn.Embed(self.num_classes, self.shared_dim, embedding_init=ortho, name="shared")(labels)
        else:
            y = labels
        if self.hierarchical:
            z0, *chunks = jnp.split(z, self.num_chunks, axis=-1)
            conditions = [jnp.concatenate([y, c], -1) for c in chunks]
        else:
            z0, conditions = z, [y] * len(in_mult)
        dense = nn.Dense(16 * in_mult[0] * self.ch, kernel_init=ortho, name="linear")
        h = spectral_norm(dense, enabled=True, train=train)(z0).reshape(-1, 4, 4, in_mult[0] * self.ch)
        size = 4
        for mult, condition in zip(out_mult, conditions, strict=True):
            h = GBlock(mult * self.ch, self.num_classes, self.axis_name)(h, condition, train)
            size *= 2
            if size == self.attention:
                h = SelfAttention(spectral_norm=True)(h, train)
        bn = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, axis_name=self.axis_name)
        h = _conv(self.out_channels, 3, train, name="to_rgb")(nn.relu(bn(h)))
        return jnp.tanh(h)


class Discriminator(nn.Module):
    """BigGAN discriminator ``(x, y) -> logit`` with a projection head."""

    resolution: int = 128
    ch: int = 96
    num_classes: int | None = 1000
    attention: int = 64

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        _check_resolution(self.resolution)
        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(
                f"discriminator built for {self.resolution}x{self.resolution} images, got shape {x.shape}"
            )
        out_mult, downsample = D_ARCH[self.resolution]
        h, size = x, self.resolution
        for index, (mult, down) in enumerate(zip(out_mult, downsample, strict=True)):
            h = DBlock(mult * self.ch, down, preactivation=index > 0)(h, train)
            size //= 2 if down else 1
            if size == self.attention and down:
                h = SelfAttention(spectral_norm=True)(h, train)
        features = jnp.sum(nn.relu(h), axis=(1, 2))
        return ProjectionHead(self.num_classes, spectral_norm=True, kernel_init=ortho)(
            features, labels, train
        )
