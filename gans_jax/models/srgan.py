"""SRGAN (Ledig et al. 2017, Fig. 4): the SRResNet generator and the SRGAN discriminator.

- :class:`SRResNetGenerator`: a 9x9 convolution to 64 channels and PReLU; ``num_blocks`` (B = 16)
  residual blocks ``x + BN(conv3x3(PReLU(BN(conv3x3(x)))))``; a 3x3 convolution and batch norm added to
  the first layer's output (the long skip); ``log2(upscale_factor)`` sub-pixel upsampling blocks
  (3x3 convolution to 256 = 4 x 64 channels, :func:`gans_jax.layers.resample.pixel_shuffle` by 2, PReLU;
  Shi et al. 2016); a 9x9 convolution to ``out_channels``. The output is ``tanh`` by default (images
  in [-1, 1], as the library's are; the paper scales HR images to [-1, 1]), ``output="linear"`` leaves
  it unbounded, and ``output="bicubic_residual"`` adds the linear output to the bicubic upsampling of
  the input (global residual learning, Kim et al. 2016, "Accurate Image Super-Resolution Using Very
  Deep Convolutional Networks", Sec. 3.3) with the last convolution initialised to zero, so that the
  untrained network is bicubic interpolation. ``normalization="none"`` drops the batch norms (as EDSR,
  Lim et al. 2017, Sec. 3.1, and ESRGAN do). ``icnr=True`` initialises the sub-pixel convolutions
  with :func:`icnr`. PReLU slopes are shared per layer (PyTorch's ``nn.PReLU()``, initialised to
  0.25), or per channel with ``prelu_channelwise``. About 1.55M parameters for B = 16.
- :class:`SRGANDiscriminator`: eight 3x3 convolutions with 64, 64, 128, 128, 256, 256, 512, 512
  filters, strides alternating 1 and 2, batch norm (not on the first) and LeakyReLU 0.2, then Dense 1024,
  LeakyReLU 0.2, Dense 1: logits ``(B,)``. The default head flattens the last feature map, as in the
  paper (6 x 6 x 512 for 96 x 96 crops); ``pool_size=k`` first averages it to ``k x k`` (``k=1``: global
  average pooling), so one head serves any crop size (tiny CPU crops).

Convolution weights use PyTorch's default initialisation (uniform, fan-in variance / 3).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.image import PReLU
from gans_jax.layers.resample import pixel_shuffle
from gans_jax.models.pix2pix import conv_impl

torch_default_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
OUTPUTS = ("tanh", "linear", "bicubic_residual")
NORMALIZATIONS = ("batch", "none")


def icnr(base_init, factor: int):
    """ICNR initialisation of a sub-pixel convolution (Aitken et al. 2017, "Checkerboard artifact free
    sub-pixel convolution", Sec. 3): ``base_init`` draws a kernel with ``1 / factor^2`` of the output
    channels and each is repeated ``factor^2`` times, so that after :func:`pixel_shuffle` (PyTorch's
    channel order ``c r^2 + i r + j``) the layer starts as a convolution followed by nearest-neighbour
    upsampling."""

    def init(key, shape, dtype=jnp.float32):
        r2 = factor * factor
        if shape[-1] % r2:
            raise ValueError(f"ICNR by {factor} needs output channels divisible by {r2}, got kernel {shape}")
        return jnp.repeat(base_init(key, (*shape[:-1], shape[-1] // r2), dtype), r2, axis=-1)

    return init


def _conv(
    features: int, kernel: int, stride: int = 1, name: str | None = None, kernel_init=torch_default_init
) -> nn.Conv:
    pad = kernel // 2
    return nn.Conv(
        features,
        (kernel, kernel),
        (stride, stride),
        padding=((pad, pad), (pad, pad)),
        kernel_init=kernel_init,
        conv_general_dilated=conv_impl(kernel),
        name=name,
    )


def _bn(train: bool, axis_name: str | None, name: str | None = None) -> nn.BatchNorm:
    return nn.BatchNorm(
        use_running_average=not train, momentum=0.9, epsilon=1e-5, axis_name=axis_name, name=name
    )


class SRResNetGenerator(nn.Module):
    """SRResNet ``low-res (B, h, w, C) -> high-res (B, r h, r w, out_channels)`` (Ledig et al. 2017, Fig. 4).

    Called as ``generator(z=None, labels=low_res, train)``; ``z`` is ignored."""

    out_channels: int = 3
    base_channels: int = 64
    num_blocks: int = 16
    upscale_factor: int = 4
    output: str = "tanh"
    normalization: str = "batch"
    prelu_channelwise: bool = False
    icnr: bool = False
    axis_name: str | None = None

    @nn.compact
    def __call__(self, z, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        if labels is None:
            raise ValueError(
                "SRResNetGenerator is image-conditional: pass the low-resolution image as labels"
            )
        if self.output not in OUTPUTS:
            raise ValueError(f"unknown output {self.output!r}; expected one of {OUTPUTS}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"unknown SRResNet normalization {self.normalization!r}; expected one of {NORMALIZATIONS}"
            )
        if self.output == "bicubic_residual" and labels.shape[-1] != self.out_channels:
            raise ValueError(
                f"output='bicubic_residual' adds the upsampled input: it needs out_channels "
                f"{self.out_channels} equal to the input's channels, got input of shape {labels.shape}"
            )
        r = self.upscale_factor
        if r < 2 or r & (r - 1):
            raise ValueError(f"upscale_factor must be a power of two >= 2, got {r}")
        c = self.base_channels
        prelu = lambda name: PReLU(self.prelu_channelwise, name=name)
        if self.normalization == "batch":
            bn = lambda name: _bn(train, self.axis_name, name)
        else:
            bn = lambda name: lambda x: x
        skip = h = prelu("prelu_in")(_conv(c, 9, name="conv_in")(labels))
        for i in range(self.num_blocks):
            t = prelu(f"block_{i}_prelu")(bn(f"block_{i}_bn_0")(_conv(c, 3, name=f"block_{i}_conv_0")(h)))
            h = h + bn(f"block_{i}_bn_1")(_conv(c, 3, name=f"block_{i}_conv_1")(t))
        h = skip + bn("bn_mid")(_conv(c, 3, name="conv_mid")(h))
        for i in range(int(math.log2(r))):
            init = icnr(torch_default_init, 2) if self.icnr else torch_default_init
            h = pixel_shuffle(_conv(4 * c, 3, name=f"up_{i}_conv", kernel_init=init)(h), 2)
            h = prelu(f"up_{i}_prelu")(h)
        residual = self.output == "bicubic_residual"
        init = nn.initializers.zeros if residual else torch_default_init
        h = _conv(self.out_channels, 9, name="conv_out", kernel_init=init)(h)
        if residual:
            n, lh, lw, ch = labels.shape
            return h + jax.image.resize(labels.astype(h.dtype), (n, r * lh, r * lw, ch), "bicubic")
        return jnp.tanh(h) if self.output == "tanh" else h


def adaptive_average_pool(x: jax.Array, size: int) -> jax.Array:
    """Average NHWC ``x`` over ``size x size`` equal blocks (PyTorch's ``AdaptiveAvgPool2d`` when H and W
    are multiples of ``size``)."""
    n, h, w, c = x.shape
    if size < 1 or h % size or w % size:
        raise ValueError(f"adaptive pooling to {size}x{size} needs H, W divisible by {size}, got {x.shape}")
    return x.reshape(n, size, h // size, size, w // size, c).mean(axis=(2, 4))


class SRGANDiscriminator(nn.Module):
    """SRGAN discriminator ``image -> logit`` ``(B,)`` (Ledig et al. 2017, Fig. 4); ``labels`` is ignored.

    ``pool_size=None`` (default, the paper): flatten the last feature map into the Dense 1024 layer;
    ``pool_size=k``: average it to ``k x k`` first (1 = global average pooling)."""

    base_channels: int = 64
    dense_features: int = 1024
    pool_size: int | None = None
    negative_slope: float = 0.2
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, labels=None, train: bool = True) -> jax.Array:
        h = x
        for i in range(8):
            features = self.base_channels * 2 ** (i // 2)
            h = _conv(features, 3, 1 + i % 2, name=f"conv_{i}")(h)
            if i > 0:
                h = _bn(train, self.axis_name, name=f"bn_{i}")(h)
            h = nn.leaky_relu(h, self.negative_slope)
        if self.pool_size is not None:
            h = adaptive_average_pool(h, self.pool_size)
        h = h.reshape(h.shape[0], -1)
        h = nn.leaky_relu(
            nn.Dense(self.dense_features, kernel_init=torch_default_init, name="dense_0")(h),
            self.negative_slope,
        )
        return nn.Dense(1, kernel_init=torch_default_init, name="dense_out")(h)[:, 0]


__all__ = ["SRGANDiscriminator", "SRResNetGenerator", "adaptive_average_pool", "icnr"]
