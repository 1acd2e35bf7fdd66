"""DCGAN (Radford, Metz & Chintala 2016), optionally class-conditional (Mirza & Osindero 2014).

The architecture guidelines of the paper (Sec. 3): strided convolutions in D and fractionally strided
(transposed) convolutions in G instead of pooling, batch norm in both networks (not on G's output
nor D's input layer), no hidden fully connected layers, ReLU in G with tanh output, LeakyReLU(0.2)
in D, weights from N(0, 0.02). Channel widths follow the PyTorch examples' DCGAN (``ngf``/``ndf``):
the feature map at 4x4 has ``base_channels * 2**(n - 1)`` channels for ``n = log2(resolution) - 2``
up/down-sampling stages, halving (G) or doubling (D) per stage. G's 1x1 -> 4x4 transposed
convolution is written as the equivalent dense layer; its upsampling layers use the exact sub-pixel
form (:class:`gans_jax.layers.SubPixelConvTranspose`). On CPU both networks' strided convolutions run
as matrix products (:mod:`gans_jax.layers.conv`, ``SubPixelConvTranspose(method="auto")``), which
XLA:CPU differentiates several times faster than its convolutions; the parameters are the same.

Options for the variants built on DCGAN: the discriminator's normalisation (``"batch"``, ``"layer"``
as WGAN-GP's critic must avoid batch norm, Gulrajani et al. 2017 Sec. 4; ``"none"``), spectral
normalisation of every discriminator convolution (Miyato et al. 2018), minibatch discrimination and
virtual batch normalisation in the generator (Salimans et al. 2016, Secs. 3.2 and 3.4).
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax import sampling
from gans_jax.layers import SubPixelConvTranspose
from gans_jax.layers.conditioning import ProjectionHead
from gans_jax.layers.conv import conv_general_dilated_cpu
from gans_jax.layers.heads import AuxiliaryHeads
from gans_jax.layers.salimans import MinibatchDiscrimination, VirtualBatchNorm

dcgan_init = nn.initializers.normal(0.02)


def _num_stages(resolution: int) -> int:
    if resolution < 16 or resolution > 1024 or resolution & (resolution - 1):
        raise ValueError(f"DCGAN resolution must be a power of two in [16, 1024], got {resolution}")
    return int(math.log2(resolution)) - 2


def _batch_norm(train: bool, axis_name: str | None) -> nn.BatchNorm:
    # momentum 0.9 = PyTorch's 0.1; scale ~ N(1, 0.02) as in the PyTorch example's weights_init.
    return nn.BatchNorm(
        use_running_average=not train,
        momentum=0.9,
        epsilon=1e-5,
        axis_name=axis_name,
        scale_init=lambda k, s, d=jnp.float32: 1.0 + 0.02 * jax.random.normal(k, s, d),
    )


G_NORMALIZATIONS = ("batch", "virtual_batch")
D_NORMALIZATIONS = ("batch", "layer", "none")


def _check_option(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"DCGAN {name}={value!r}; expected one of {allowed}")


class Generator(nn.Module):
    """DCGAN generator ``z (, y) -> image`` in [-1, 1], NHWC.

    ``normalization="virtual_batch"`` replaces every batch norm by virtual batch norm (Salimans et
    al. 2016, Sec. 3.4): a reference batch of ``vbn_reference_size`` latents (``latent_distribution``,
    drawn once from ``PRNGKey(vbn_reference_seed)``; labels ``0, 1, ..., num_classes - 1, 0, ...``) is
    kept in the non-trainable ``vbn_reference`` collection and run through the network ahead of every
    batch, so each example is normalised with the reference batch's statistics and its own.
    """

    resolution: int = 64
    base_channels: int = 64
    out_channels: int = 3
    num_classes: int | None = None
    embed_dim: int = 32
    axis_name: str | None = None
    normalization: str = "batch"
    vbn_reference_size: int = 64
    vbn_reference_seed: int = 0
    latent_distribution: str = "normal"
    upsample: str = "auto"  # SubPixelConvTranspose's method: every one computes the same function

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True):
        stages = _num_stages(self.resolution)
        _check_option("g_normalization", self.normalization, G_NORMALIZATIONS)
        virtual = self.normalization == "virtual_batch"
        num_ref = self.vbn_reference_size if virtual else 0
        if virtual:
            ref_z = self.variable(
                "vbn_reference",
                "z",
                lambda: sampling.sample_latents(
                    jax.random.PRNGKey(self.vbn_reference_seed),
                    num_ref,
                    z.shape[1:],
                    self.latent_distribution,
                ),
            )
            z = jnp.concatenate([ref_z.value.astype(z.dtype), z])
            if self.num_classes is not None and labels is not None:
                ref_labels = self.variable(
                    "vbn_reference", "labels", lambda: jnp.arange(num_ref, dtype=jnp.int32) % self.num_classes
                )
                labels = jnp.concatenate([ref_labels.value, labels.astype(jnp.int32)])

        def norm():
            return VirtualBatchNorm(num_ref) if virtual else _batch_norm(train, self.axis_name)

        def upsample(features):
            method = self.upsample
            return SubPixelConvTranspose(features, use_bias=False, kernel_init=dcgan_init, method=method)

        h = z.reshape(z.shape[0], -1)
        if self.num_classes is not None:
            if labels is None:
                raise ValueError("conditional generator (num_classes set) needs labels")
            h = jnp.concatenate([h, nn.Embed(self.num_classes, self.embed_dim)(labels)], -1)
        channels = self.base_channels * 2 ** (stages - 1)
        h = nn.Dense(16 * channels, use_bias=False, kernel_init=dcgan_init)(h)
        h = h.reshape(-1, 4, 4, channels)
        h = nn.relu(norm()(h))
        for _ in range(stages - 1):
            channels //= 2
            h = upsample(channels)(h)
            h = nn.relu(norm()(h))
        h = upsample(self.out_channels)(h)
        return jnp.tanh(h[num_ref:])


CONDITIONINGS = ("concat", "acgan", "projection")


class Discriminator(nn.Module):
    """DCGAN discriminator ``image (, y) -> logit``.

    ``conditioning="concat"``: labels enter as embedding maps on the input (Mirza & Osindero 2014);
    ``"acgan"``: D does not see the label and predicts it with a class head (Odena et al. 2017);
    ``"projection"``: the output layer is the projection head on the last features (Miyato & Koyama 2018).
    ``categorical_codes``/``continuous_codes`` add InfoGAN's Q head, ``return_features`` the last hidden
    feature map (feature matching). With any of these the output is a dict with ``"logits"`` and the
    heads (:class:`gans_jax.layers.heads.AuxiliaryHeads`).

    Options: ``normalization`` of the hidden layers (``"batch"``; ``"layer"``: per example over
    H, W, C with a scale and bias per channel, the layer norm of Gulrajani et al.'s code; ``"none"``),
    ``spectral_norm`` (``nn.SpectralNorm`` around every convolution, its ``u``/``sigma`` in
    ``batch_stats``, power iteration in training mode), and ``minibatch_kernels`` = B > 0 with
    ``minibatch_kernel_dim`` = C: the B minibatch features (Salimans et al. 2016, Sec. 3.2) of the final
    4x4 feature map enter the output convolution as B constant 4x4 maps.
    """

    resolution: int = 64
    base_channels: int = 64
    num_classes: int | None = None
    embed_dim: int = 8
    negative_slope: float = 0.2
    axis_name: str | None = None
    conditioning: str = "concat"
    categorical_codes: tuple[int, ...] = ()
    continuous_codes: int = 0
    q_hidden: int = 128
    return_features: bool = False
    normalization: str = "batch"
    spectral_norm: bool = False
    minibatch_kernels: int = 0
    minibatch_kernel_dim: int = 5

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        stages = _num_stages(self.resolution)
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"unknown conditioning {self.conditioning!r}; expected one of {CONDITIONINGS}")
        _check_option("d_normalization", self.normalization, D_NORMALIZATIONS)
        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(
                f"discriminator built for {self.resolution}x{self.resolution} images, got shape {x.shape}"
            )
        h = x
        if self.num_classes is not None and self.conditioning == "concat":
            if labels is None:
                raise ValueError("conditional discriminator (num_classes set) needs labels")
            e = nn.Embed(self.num_classes, self.embed_dim)(labels).astype(x.dtype)
            h = jnp.concatenate([h, jnp.broadcast_to(e[:, None, None], (*x.shape[:3], e.shape[-1]))], -1)
        channels = self.base_channels

        # conv_general_dilated_cpu: on CPU a matrix-product form (fast gradients), parameters unchanged.
        def conv(c, *args, **kwargs):
            layer = nn.Conv(
                c,
                *args,
                use_bias=False,
                kernel_init=dcgan_init,
                conv_general_dilated=conv_general_dilated_cpu,
                **kwargs,
            )
            if not self.spectral_norm:
                return layer
            return functools.partial(nn.SpectralNorm(layer), update_stats=train)

        def norm(h):
            if self.normalization == "batch":
                return _batch_norm(train, self.axis_name)(h)
            if self.normalization == "layer":
                return nn.LayerNorm(epsilon=1e-5, reduction_axes=(1, 2, 3), feature_axes=-1)(h)
            return h

        h = nn.leaky_relu(conv(channels, (4, 4), (2, 2), padding=1)(h), self.negative_slope)
        for _ in range(stages - 1):
            channels *= 2
            h = nn.leaky_relu(norm(conv(channels, (4, 4), (2, 2), padding=1)(h)), self.negative_slope)
        features = h
        if self.minibatch_kernels:
            o = MinibatchDiscrimination(self.minibatch_kernels, self.minibatch_kernel_dim, self.axis_name)(h)
            h = jnp.concatenate(
                [h, jnp.broadcast_to(o[:, None, None].astype(h.dtype), (*h.shape[:3], o.shape[-1]))], -1
            )
        if self.num_classes is not None and self.conditioning == "projection":
            # The final 4x4 "valid" convolution is a linear map of the flattened features: psi of the
            # projection head, which adds <embed(y), phi(x)> (Miyato & Koyama 2018, Eq. 3).
            head = ProjectionHead(self.num_classes, spectral_norm=self.spectral_norm, kernel_init=dcgan_init)
            logits = head(h.reshape(h.shape[0], -1), labels, train)
        else:
            logits = conv(1, (4, 4), padding="VALID")(h).reshape(-1)
        heads = AuxiliaryHeads(
            self.num_classes if self.conditioning == "acgan" else None,
            tuple(self.categorical_codes),
            self.continuous_codes,
            self.q_hidden,
            axis_name=self.axis_name,
        )(features, train)
        if heads or self.return_features:
            return {"logits": logits, **heads, **({"features": features} if self.return_features else {})}
        return logits
