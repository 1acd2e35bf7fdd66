"""CycleGAN (Zhu et al. 2017): the ResNet generator, the composite networks and the cycle loss.

:class:`ResnetGenerator` is the generator of App. 7.2 (after Johnson et al. 2016), as in the authors'
PyTorch code: ``c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3`` with reflection padding
before every stride-1 convolution, instance normalisation without affine parameters, ReLU and a tanh
output; 6 blocks for 128x128 images, 9 for 256x256. ``dk`` is a 3x3 stride-2 convolution (zero padding
1); ``uk`` a 3x3 stride-2 transposed convolution with padding 1 and output padding 1, computed exactly by
:class:`gans_jax.layers.SubPixelConvTranspose` (as a 4x4 sub-pixel layer whose last tap is zero; the
parameter stays the 3x3 kernel). Convolutions carry a bias as in the authors' code
(:func:`gans_jax.models.pix2pix.use_bias`: with instance norm only; the output layer always).

One compiled train step updates all four networks through the generic step factory by composing them:
:class:`CycleGANGenerator` holds ``G: X -> Y`` and ``F: Y -> X`` and returns every image the losses need
(translations, reconstructions, identity mappings); :class:`CycleGANDiscriminator` holds ``D_X`` and
``D_Y`` (PatchGANs, :class:`gans_jax.models.pix2pix.PatchDiscriminator` with ``conditional=False``) and
judges a dict of ``x`` and ``y`` images at once. Eq. 2's cycle term is the step's auxiliary loss
``"cycle_consistency"`` (:func:`gans_jax.auxiliary_losses.auxiliary_loss`).
"""

from __future__ import annotations

from collections.abc import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.image import reflection_pad
from gans_jax.layers.upsample import SubPixelConvTranspose
from gans_jax.models.pix2pix import PatchDiscriminator, conv, image_norm, pix2pix_init, use_bias


class ResnetBlock(nn.Module):
    """``R_k``: ``x + norm(conv3x3(pad(relu(norm(conv3x3(pad(x)))))))``, reflection padding."""

    normalization: str = "instance"
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        features, bias = x.shape[-1], use_bias(self.normalization)
        h = conv(features, 3, 1, "VALID", bias, name="conv_0")(reflection_pad(x, 1))
        h = nn.relu(image_norm(self.normalization, train, self.axis_name, name="norm_0")(h))
        h = conv(features, 3, 1, "VALID", bias, name="conv_1")(reflection_pad(h, 1))
        return x + image_norm(self.normalization, train, self.axis_name, name="norm_1")(h)


class ResnetGenerator(nn.Module):
    """CycleGAN ResNet generator ``image -> image`` in [-1, 1] (Zhu et al. 2017, App. 7.2).

    Called as ``generator(x, train=...)`` directly, or through the generic interface as
    ``generator(z=None, labels=x, train=...)``. ``H`` and ``W`` must be multiples of 4."""

    out_channels: int = 3
    base_channels: int = 64
    n_blocks: int = 9
    normalization: str = "instance"
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array | None, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
        if x is None:
            x = labels
        if x is None or x.ndim != 4 or x.shape[1] % 4 or x.shape[2] % 4:
            raise ValueError(
                "ResnetGenerator needs NHWC images with H and W multiples of 4, got "
                f"{None if x is None else x.shape}"
            )
        bias = use_bias(self.normalization)
        norm = lambda name: image_norm(self.normalization, train, self.axis_name, name)
        ngf = self.base_channels
        h = conv(ngf, 7, 1, "VALID", bias, name="c7s1_in")(reflection_pad(x, 3))
        h = nn.relu(norm("norm_in")(h))
        for i in range(2):  # d128, d256
            h = conv(ngf * 2 ** (i + 1), 3, 2, 1, bias, name=f"down_{i}")(h)
            h = nn.relu(norm(f"down_norm_{i}")(h))
        for i in range(self.n_blocks):
            h = ResnetBlock(self.normalization, self.axis_name, name=f"block_{i}")(h, train)
        for i in range(2):  # u128, u64
            h = SubPixelConvTranspose(
                ngf * 2 ** (1 - i),
                kernel_size=3,
                strides=2,
                padding=1,
                output_padding=1,
                use_bias=bias,
                kernel_init=pix2pix_init,
                name=f"up_{i}",
            )(h)
            h = nn.relu(norm(f"up_norm_{i}")(h))
        h = conv(self.out_channels, 7, 1, "VALID", True, name="c7s1_out")(reflection_pad(h, 3))
        return jnp.tanh(h)


def _domains(images, name: str) -> Mapping[str, jax.Array]:
    if not isinstance(images, Mapping) or "x" not in images or "y" not in images:
        got = sorted(images) if isinstance(images, Mapping) else type(images).__name__
        raise ValueError(f"{name} needs a dict with images 'x' and 'y', got {got}")
    return images


class CycleGANGenerator(nn.Module):
    """Both CycleGAN generators, ``G: X -> Y`` and ``F: Y -> X`` (Zhu et al. 2017, Sec. 3).

    Called as ``generator(z=None, labels={"x": x, "y": y}, train)``; returns ``{"x": F(y), "y": G(x),
    "rec_x": F(G(x)), "rec_y": G(F(y))}`` (fakes and the cycle reconstructions of Eq. 2) and, when
    ``identity``, ``"idt_x": F(x)`` and ``"idt_y": G(y)`` for the identity loss (Sec. 5.2). The output's
    ``"x"``/``"y"`` are the fakes of each domain, ready for :class:`CycleGANDiscriminator`.
    ``out_channels`` are Y's channels (G's output), ``x_channels`` X's (F's output; ``None`` = the same)."""

    out_channels: int = 3
    base_channels: int = 64
    n_blocks: int = 9
    normalization: str = "instance"
    identity: bool = True
    axis_name: str | None = None
    x_channels: int | None = None

    @nn.compact
    def __call__(self, z, labels=None, train: bool = True) -> dict[str, jax.Array]:
        domains = _domains(labels, "CycleGANGenerator")
        x, y = domains["x"], domains["y"]
        make = lambda name: ResnetGenerator(
            self.out_channels if name == "G" else (self.x_channels or self.out_channels),
            self.base_channels,
            self.n_blocks,
            self.normalization,
            self.axis_name,
            name=name,
        )
        g, f = make("G"), make("F")
        fake_y, fake_x = g(x, train=train), f(y, train=train)
        out = {"x": fake_x, "y": fake_y, "rec_x": f(fake_y, train=train), "rec_y": g(fake_x, train=train)}
        if self.identity:
            if x.shape[-1] != y.shape[-1]:
                raise ValueError(
                    f"the identity loss maps each domain into the other: X has {x.shape[-1]} channels, Y "
                    f"{y.shape[-1]}; set identity=False (model.identity_mapping)"
                )
            out["idt_x"], out["idt_y"] = f(x, train=train), g(y, train=train)
        return out


class CycleGANDiscriminator(nn.Module):
    """``D_X`` and ``D_Y`` (70x70 PatchGANs, Zhu et al. 2017, App. 7.2) judging ``images["x"]`` and
    ``images["y"]``: logits ``(2B, h, w)``, ``D_X(x)`` first then ``D_Y(y)`` along the batch axis, or,
    with ``return_dict``, ``{"logits": that, "logits_x": D_X(x), "logits_y": D_Y(y)}``. ``labels`` is
    ignored. Other keys of ``images`` (reconstructions) are ignored too."""

    base_channels: int = 64
    n_layers: int = 3
    normalization: str = "instance"
    return_dict: bool = False
    axis_name: str | None = None

    @nn.compact
    def __call__(self, images, labels=None, train: bool = True):
        images = _domains(images, "CycleGANDiscriminator")
        make = lambda name: PatchDiscriminator(
            self.base_channels,
            self.n_layers,
            conditional=False,
            normalization=self.normalization,
            axis_name=self.axis_name,
            name=name,
        )
        logits_x = make("D_X")(images["x"], train=train)
        logits_y = make("D_Y")(images["y"], train=train)
        logits = jnp.concatenate([logits_x, logits_y], axis=0)
        if self.return_dict:
            return {"logits": logits, "logits_x": logits_x, "logits_y": logits_y}
        return logits


__all__ = [
    "CycleGANDiscriminator",
    "CycleGANGenerator",
    "ResnetBlock",
    "ResnetGenerator",
]
