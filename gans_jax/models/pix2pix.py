"""pix2pix (Isola et al. 2017): the U-Net generator and the PatchGAN discriminator.

Both follow App. 6.1.1-6.1.2 of the paper and the authors' PyTorch code (``networks.py`` of
junyanz/pytorch-CycleGAN-and-pix2pix: ``UnetGenerator``, ``NLayerDiscriminator``, ``PixelDiscriminator``),
so parameter shapes and counts match and weights port 1:1 (transpose PyTorch's OIHW kernels to HWIO and
ConvTranspose's IOHW to HWIO; :mod:`gans_jax.pretrained.pytorch_i2i` converts the authors' checkpoints).
``Ck`` is a 4x4 stride-2 convolution with ``k`` filters, normalisation and a (Leaky)ReLU; ``CDk`` adds
dropout 0.5.

- :class:`UNetGenerator`: encoder ``C64-C128-C256-C512-C512-C512-C512-C512`` (LeakyReLU 0.2, no
  normalisation on the first layer nor, as in the authors' code, on the 1x1 bottleneck), decoder
  ``C512-CD512-CD512-CD512-C256-C128-C64`` (ReLU) whose every layer reads the previous decoder output
  concatenated with the mirrored encoder layer's output (skip first, as ``torch.cat([x, model(x)], 1)``),
  then an up-convolution to ``out_channels`` and tanh. The number of down-sampling layers is
  ``log2(resolution)`` (8 at 256x256, down to a 1x1 bottleneck) unless ``num_downs`` is set; widths are
  ``base_channels * min(2**i, 8)``. Dropout sits where the authors' ``UnetGenerator`` puts it: in the
  ``num_downs - 5`` decoder layers after the innermost one (layers 2-4 of 8 at 256x256, 2-3 at 128x128,
  none below 64x64); the paper's table lists it in the first three. The paper applies dropout at test
  time too ("the noise z is dropout", Sec. 2.2): ``test_dropout=True`` keeps it on with ``train=False``,
  which then needs a ``"dropout"`` PRNG stream. Up-convolutions are
  :class:`gans_jax.layers.SubPixelConvTranspose` (exactly the 4x4 stride-2 transposed convolution, whose
  kernel gradient is ~24x slower on XLA:CPU).
- :class:`PatchDiscriminator`: ``C64-C128-C256-C512`` (the last stride 1) and a 1-channel 4x4 stride-1
  convolution: one logit per overlapping ``70 x 70`` patch for ``n_layers=3`` (:func:`receptive_field`),
  shape ``(B, h, w)``. ``n_layers=0`` is the authors' ``PixelDiscriminator`` (the 1x1 "PixelGAN": 1x1
  convolutions to ``base_channels``, ``2 * base_channels`` and 1). With ``conditional=True`` (pix2pix) it
  judges the condition and the image concatenated on channels (condition first); CycleGAN uses it
  unconditionally.

Convolutions carry a bias exactly where the authors' code gives them one (:func:`use_bias`): with instance
norm, not with batch norm nor without normalisation (its ``use_bias`` is true only for
``InstanceNorm2d``), and always on the first discriminator layer and on each network's output layer
(the PixelGAN's output layer follows ``use_bias``, as there). Weights are drawn from N(0, 0.02) and
batch-norm scales from N(1, 0.02).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from gans_jax.layers.conv import conv_general_dilated_cpu
from gans_jax.layers.normalization import instance_norm
from gans_jax.layers.upsample import SubPixelConvTranspose

pix2pix_init = nn.initializers.normal(0.02)
NORMALIZATIONS = ("batch", "instance", "none")


def image_norm(kind: str, train: bool, axis_name: str | None = None, name: str | None = None):
    """The normalisation of the image-to-image networks: ``"batch"`` (momentum 0.9 = PyTorch's 0.1,
    epsilon 1e-5, scale ~ N(1, 0.02)), ``"instance"`` (:func:`gans_jax.layers.normalization.instance_norm`,
    no affine parameters as in PyTorch's default) or ``"none"``."""
    if kind == "batch":
        return nn.BatchNorm(
            use_running_average=not train,
            momentum=0.9,
            epsilon=1e-5,
            axis_name=axis_name,
            scale_init=lambda k, s, d=jnp.float32: 1.0 + 0.02 * jax.random.normal(k, s, d),
            name=name,
        )
    if kind == "instance":
        return instance_norm(name=name)
    if kind == "none":
        return lambda h: h
    raise ValueError(f"unknown normalization {kind!r}; expected one of {NORMALIZATIONS}")


def use_bias(normalization: str) -> bool:
    """Whether a convolution followed by ``normalization`` has a bias: only with instance norm, as the
    authors' ``use_bias = norm_layer.func == nn.InstanceNorm2d`` (so neither with batch norm, whose shift
    replaces it, nor with ``"none"``, whose layers are an ``Identity``)."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}; expected one of {NORMALIZATIONS}")
    return normalization == "instance"


def conv_impl(kernel: int):
    """The convolution primitive for a ``kernel x kernel`` layer: up to 4x4 the matrix-product form on
    CPU (:mod:`gans_jax.layers.conv`, fast gradients); larger kernels (CycleGAN's 7x7, SRGAN's 9x9) use
    ``lax.conv_general_dilated``, as im2col would materialise ``kernel**2`` copies of the input (0.8 GB
    per 256x256x64 image for 7x7) and compiles several times slower."""
    return conv_general_dilated_cpu if kernel <= 4 else lax.conv_general_dilated


def conv(features: int, kernel: int, stride: int, padding, use_bias: bool, name: str | None = None):
    """``nn.Conv`` (NHWC/HWIO) with N(0, 0.02) weights and the primitive of :func:`conv_impl`;
    ``padding`` is an int or a flax padding spec."""
    if isinstance(padding, int):
        padding = ((padding, padding), (padding, padding))
    return nn.Conv(
        features,
        (kernel, kernel),
        (stride, stride),
        padding=padding,
        use_bias=use_bias,
        kernel_init=pix2pix_init,
        conv_general_dilated=conv_impl(kernel),
        name=name,
    )


def _condition(labels, name: str) -> jax.Array:
    if labels is None:
        raise ValueError(f"{name} is image-conditional: pass the condition image as labels, got None")
    return labels


class UNetGenerator(nn.Module):
    """pix2pix U-Net generator ``G(condition) -> image`` in [-1, 1] (Isola et al. 2017, App. 6.1.1).

    Called as ``generator(z, labels=condition, train)``; ``z`` is ignored (``None``): the noise is
    dropout, drawn from the ``"dropout"`` PRNG stream. ``condition`` is ``(B, H, W, C)`` with ``H = W`` a
    multiple of ``2**num_downs``. Decoder layers ``1 .. num_downs - 5`` (counted from the innermost, 0)
    use dropout ``dropout_rate`` after their normalisation, as the authors' ``UnetSkipConnectionBlock``
    with ``use_dropout`` (the ``num_downs - 5`` blocks of ``ngf * 8`` filters between the innermost block
    and the four outer ones).
    """

    out_channels: int = 3
    base_channels: int = 64
    num_downs: int | None = None  # None: log2(resolution), a 1x1 bottleneck
    normalization: str = "batch"
    dropout_rate: float = 0.5
    test_dropout: bool = True
    negative_slope: float = 0.2
    axis_name: str | None = None

    @nn.compact
    def __call__(self, z, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        x = _condition(labels, "UNetGenerator")
        n = self.num_downs
        if n is None:
            size = x.shape[1]
            if x.shape[1] != x.shape[2] or size < 2 or size & (size - 1):
                raise ValueError(
                    f"UNetGenerator with num_downs=None needs square power-of-two images, got shape {x.shape}"
                )
            n = int(math.log2(size))
        if n < 2 or x.shape[1] % 2**n or x.shape[2] % 2**n:
            raise ValueError(f"num_downs={n} needs H and W divisible by 2**{n} (and n >= 2), got {x.shape}")
        bias = use_bias(self.normalization)
        widths = [self.base_channels * min(2**i, 8) for i in range(n)]
        norm = lambda name: image_norm(self.normalization, train, self.axis_name, name)

        skips = []
        h = conv(widths[0], 4, 2, 1, bias, name="down_0")(x)
        for i in range(1, n):
            skips.append(h)
            h = conv(widths[i], 4, 2, 1, bias, name=f"down_{i}")(nn.leaky_relu(h, self.negative_slope))
            if i < n - 1:  # no norm on the 1x1 bottleneck (authors' code)
                h = norm(f"down_norm_{i}")(h)
        deterministic = not (train or self.test_dropout)
        for j, i in enumerate(range(n - 2, -1, -1)):  # decoder layer j mirrors encoder layer i
            h = SubPixelConvTranspose(widths[i], use_bias=bias, kernel_init=pix2pix_init, name=f"up_{j}")(
                nn.relu(h)
            )
            h = norm(f"up_norm_{j}")(h)
            if 1 <= j <= n - 5:  # the authors' use_dropout blocks
                h = nn.Dropout(self.dropout_rate, deterministic=deterministic)(h)
            h = jnp.concatenate([skips[i], h], axis=-1)
        h = SubPixelConvTranspose(self.out_channels, kernel_init=pix2pix_init, name="up_out")(nn.relu(h))
        return jnp.tanh(h)


def patch_layers(n_layers: int) -> list[tuple[int, int]]:
    """``(kernel, stride)`` of every convolution of the PatchGAN with ``n_layers`` stride-2 layers; for
    ``n_layers=0`` the three 1x1 convolutions of the PixelGAN."""
    if n_layers < 0:
        raise ValueError(f"PatchGAN n_layers must be >= 0 (0 = the 1x1 PixelGAN), got {n_layers}")
    if n_layers == 0:
        return [(1, 1)] * 3
    return [(4, 2)] * n_layers + [(4, 1), (4, 1)]


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Receptive field (pixels per side) of one output of a stack of ``(kernel, stride)`` convolutions:
    ``1 + sum_l (k_l - 1) prod_{m<l} s_m``. PatchGAN: 16, 34, 70 for 1, 2, 3 layers (Isola et al.
    2017, Sec. 4.4 / App. 6.1.2); 1 for the PixelGAN."""
    field, jump = 1, 1
    for kernel, stride in layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator (Isola et al. 2017, App. 6.1.2): ``(B, H, W, C) -> (B, h, w)`` logits, each
    judging one ``receptive_field(patch_layers(n_layers))``-pixel patch (70x70 for ``n_layers=3``).

    ``conditional``: the condition image (``labels``) is concatenated before ``x`` on channels (pix2pix);
    otherwise ``labels`` is ignored (CycleGAN). No normalisation on the first layer; widths
    ``base_channels * min(2**i, 8)``. ``n_layers=0``: the PixelGAN (1x1 convolutions, logits
    ``(B, H, W)``)."""

    base_channels: int = 64
    n_layers: int = 3
    conditional: bool = True
    normalization: str = "batch"
    negative_slope: float = 0.2
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        if self.conditional:
            c = _condition(labels, "PatchDiscriminator(conditional=True)")
            if c.shape[:3] != x.shape[:3]:
                raise ValueError(f"condition shape {c.shape} does not match image shape {x.shape}")
            x = jnp.concatenate([c.astype(x.dtype), x], axis=-1)
        bias = use_bias(self.normalization)
        layers = patch_layers(self.n_layers)
        padding = 0 if self.n_layers == 0 else 1
        h = x
        for i, (kernel, stride) in enumerate(layers[:-1]):
            width = self.base_channels * min(2**i, 8)
            h = conv(width, kernel, stride, padding, use_bias=bias or i == 0, name=f"conv_{i}")(h)
            if i > 0:
                h = image_norm(self.normalization, train, self.axis_name, name=f"norm_{i}")(h)
            h = nn.leaky_relu(h, self.negative_slope)
        kernel, stride = layers[-1]
        out_bias = bias if self.n_layers == 0 else True  # PixelDiscriminator: bias=use_bias there too
        h = conv(1, kernel, stride, padding, use_bias=out_bias, name="conv_out")(h)
        return h[..., 0]


__all__ = [
    "PatchDiscriminator",
    "UNetGenerator",
    "conv",
    "conv_impl",
    "image_norm",
    "patch_layers",
    "receptive_field",
    "use_bias",
]
