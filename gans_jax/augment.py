"""Discriminator augmentation for training with limited data: StyleGAN2-ADA's pipeline with its adaptive
probability, and DiffAugment.

Both augment every image the discriminator sees, real and generated, in both players' updates and
inside its regularisers, with transforms that are differentiable so that the generator's gradient passes
through them (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data", Sec. 2;
Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training", Sec. 3). The train
step (:mod:`gans_jax.training.step`) holds an :class:`Augmentation` and draws one PRNG key per example
of the global batch, so a sharded or pmapped step augments exactly as the single-device one.

**The ADA pipeline** (:func:`augment`, NVlabs ``training/augment.py``'s ``AugmentPipe``): each transform
is applied to an example with probability ``multiplier * p``, in the official order and with the
official strengths (:class:`AugmentSpec`, presets :data:`PRESETS`):

1. Geometric, composed into one inverse homogeneous transform ``G^-1`` (output pixel -> input pixel,
   centred pixel coordinates) and executed once: x-flip, rotation by ``i * 90`` degrees, integer
   translation ``round(U(-0.125, 0.125) * size)``; isotropic scaling ``2^N(0, 0.2^2)``, pre-rotation
   ``U(-pi, pi)``, anisotropic scaling ``2^N(0, 0.2^2)`` (``s, 1/s``), post-rotation, fractional
   translation ``N(0, 0.125^2) * size``. The two rotations each happen with probability
   ``1 - sqrt(1 - p)`` so that one or the other happens with probability ``p``. Execution: reflect
   padding, 2x upsampling with the ``sym6`` wavelet low-pass filter (``upfirdn2d``), bilinear
   ``grid_sample`` at the transformed positions, filtering with the same filter and 2x downsampling.
2. Colour, composed into one 4x4 matrix ``C`` acting on ``(r, g, b, 1)``: brightness ``+N(0, 0.2^2)``,
   contrast ``x 2^N(0, 0.5^2)``, luma flip (Householder reflection along the luma axis
   ``v = (1, 1, 1) / sqrt(3)``), hue rotation ``U(-pi, pi)`` about ``v``, saturation ``2^N(0, 1)`` of
   the chroma. Single-channel images take the mean of ``C``'s first three rows (brightness, contrast
   and luma flip act; hue and saturation are skipped), as the official code does.
3. Image-space filtering: four frequency bands (from the ``sym2`` wavelet) amplified by ``2^N(0, 1)``
   each, the total power kept against the expected ``1/f`` spectrum ``(10, 1, 1, 1) / 13``.
4. Corruptions: additive Gaussian noise of standard deviation ``|N(0, 0.1^2)|``; cutout of a
   ``0.5 x 0.5`` rectangle centred uniformly at random.

Examples that no transform of a stage touches pass through that stage unchanged, so ``p = 0`` is the
identity bit for bit (the official code resamples them through an identity transform, equal to the
input up to float rounding).

Deviation from the official code: it pads each batch by the margin the batch's most extreme
transform needs (a data-dependent shape), which jit cannot compile; we always reflect-pad by the
largest margin it allows (``size - 1`` per side). The sampled values agree wherever the official
padding covers the sampled positions, that is always except at the borders of zoomed-out images,
where the official code reads its zero border and we read the reflection.

**The adaptive p** (:func:`adjust_p`, Karras et al. 2020, Sec. 3): the overfitting heuristic
``r_t = E[sign(D(x_real))]`` over the reals D saw in the last ``interval`` steps, and
``p <- clip(p + sign(r_t - target) * batch * interval / (speed_kimg * 1000), 0, 1)`` every
``interval`` (4) steps: p can move from 0 to 1 in ``speed_kimg`` (500) thousand images; target 0.6.

**DiffAugment** (:func:`diff_augment`, the authors' ``DiffAugment_pytorch.py``): policies ``color``
(brightness ``+U(-0.5, 0.5)``, saturation ``x U(0, 2)``, contrast ``x U(0.5, 1.5)``), ``translation``
(integer shifts up to 1/8 of the size, zero fill) and ``cutout`` (a zeroed square of half the size),
applied to every image.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    "AUGMENT_KINDS",
    "DIFFAUGMENT_POLICIES",
    "PRESETS",
    "AugmentParams",
    "AugmentSpec",
    "Augmentation",
    "adjust_p",
    "augment",
    "augment_examples",
    "augment_parameters",
    "augment_spec",
    "augmentation",
    "apply_augmentation",
    "diff_augment",
    "diff_augment_examples",
    "random_variables",
]

# Low-pass filters of the wavelet decompositions the pipeline uses (the official ``wavelets`` table).
WAVELETS = {
    "sym2": (-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025),
    "sym6": (
        0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
    ),
}  # fmt: skip
EXPECTED_BAND_POWER = np.array([10.0, 1.0, 1.0, 1.0]) / 13.0  # the 1/f spectrum of the filter bands

# ------------------------------------------------------------------------------------------- the pipeline


@dataclasses.dataclass(frozen=True)
class AugmentSpec:
    """What the ADA pipeline does: a probability multiplier per transform (0 = off; the transform happens
    with probability ``multiplier * p``) and its strength, named and defaulted as the official
    ``AugmentPipe`` (every multiplier 0, every strength as in the paper)."""

    # Pixel blitting.
    xflip: float = 0.0
    rotate90: float = 0.0
    xint: float = 0.0
    xint_max: float = 0.125  # range of integer translation, relative to the image size
    # General geometric transformations.
    scale: float = 0.0
    rotate: float = 0.0
    aniso: float = 0.0
    xfrac: float = 0.0
    scale_std: float = 0.2  # log2 standard deviation of isotropic scaling
    rotate_max: float = 1.0  # range of arbitrary rotation, 1 = full circle
    aniso_std: float = 0.2  # log2 standard deviation of anisotropic scaling
    xfrac_std: float = 0.125  # standard deviation of fractional translation, relative to the size
    # Colour transformations.
    brightness: float = 0.0
    contrast: float = 0.0
    lumaflip: float = 0.0
    hue: float = 0.0
    saturation: float = 0.0
    brightness_std: float = 0.2
    contrast_std: float = 0.5  # log2
    hue_max: float = 1.0  # range of hue rotation, 1 = full circle
    saturation_std: float = 1.0  # log2
    # Image-space filtering.
    imgfilter: float = 0.0
    imgfilter_bands: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)  # multipliers of the 4 frequency bands
    imgfilter_std: float = 1.0  # log2 standard deviation of the band amplification
    # Image-space corruptions.
    noise: float = 0.0
    cutout: float = 0.0
    noise_std: float = 0.1
    cutout_size: float = 0.5  # side of the cutout rectangle, relative to the image size

    def __post_init__(self):
        object.__setattr__(self, "imgfilter_bands", tuple(float(b) for b in self.imgfilter_bands))
        if len(self.imgfilter_bands) != 4:
            raise ValueError(f"imgfilter_bands needs 4 band multipliers, got {self.imgfilter_bands}")
        for f in dataclasses.fields(self):
            values = getattr(self, f.name)
            for v in values if isinstance(values, tuple) else (values,):
                if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                    raise ValueError(f"augmentation {f.name}={values!r}: expected a finite number >= 0")

    def multiplier(self, name: str) -> float:
        """The probability multiplier of a random variable's transform (``rotate_pre``/``rotate_post``:
        ``rotate``)."""
        return getattr(self, {"rotate_pre": "rotate", "rotate_post": "rotate"}.get(name, name))


_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
PRESETS: dict[str, dict[str, float]] = {
    "blit": _BLIT,
    "geom": _GEOM,
    "color": _COLOR,
    "filter": dict(imgfilter=1),
    "noise": dict(noise=1),
    "cutout": dict(cutout=1),
    "bg": {**_BLIT, **_GEOM},
    "bgc": {**_BLIT, **_GEOM, **_COLOR},
    "bgcf": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1},
    "bgcfn": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1},
    "bgcfnc": {**_BLIT, **_GEOM, **_COLOR, "imgfilter": 1, "noise": 1, "cutout": 1},
}
"""The official ``train.py --augpipe`` presets: the multipliers they set to 1 (``bgc`` is the default)."""


def augment_spec(preset: str | Mapping[str, Any] | AugmentSpec, **overrides) -> AugmentSpec:
    """An :class:`AugmentSpec` from a preset name of :data:`PRESETS` (or a mapping of field values), with
    ``overrides`` (e.g. ``augment_spec("bgc", rotate_max=0.5)``)."""
    if isinstance(preset, AugmentSpec):
        return dataclasses.replace(preset, **overrides)
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown augmentation preset {preset!r}; expected one of {list(PRESETS)}")
        preset = PRESETS[preset]
    fields = {f.name for f in dataclasses.fields(AugmentSpec)}
    values = {**dict(preset), **overrides}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(f"unknown augmentation option(s) {unknown}; expected among {sorted(fields)}")
    return AugmentSpec(**values)


# The random variables of one example in the official order: (name, distribution of its value, size).
# Each also has a selection draw u ~ U[0, 1): the transform happens when u < multiplier * p.
_VARIABLES = (
    ("xflip", "uniform", 1),
    ("rotate90", "uniform", 1),
    ("xint", "uniform", 2),
    ("scale", "normal", 1),
    ("rotate_pre", "uniform", 1),
    ("aniso", "normal", 1),
    ("rotate_post", "uniform", 1),
    ("xfrac", "normal", 2),
    ("brightness", "normal", 1),
    ("contrast", "normal", 1),
    ("lumaflip", "uniform", 1),
    ("hue", "uniform", 1),
    ("saturation", "normal", 1),
    ("imgfilter", "normal", 4),
    ("noise", "normal", 1),
    ("cutout", "uniform", 2),
)
_CHROMA = ("hue", "saturation")  # skipped for single-channel images
_GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate_pre", "aniso", "rotate_post", "xfrac")
_COLOR_VARIABLES = ("brightness", "contrast", "lumaflip", "hue", "saturation")


def random_variables(
    key: jax.Array, spec: AugmentSpec, channels: int
) -> dict[str, tuple[jax.Array, jax.Array]]:
    """One example's draws, ``name -> (selection u ~ U[0, 1), value)``, for the transforms ``spec``
    enables (the value is U[0, 1) or N(0, 1) of the size in ``_VARIABLES``; ``imgfilter`` draws one
    selection per band). Batch it with ``jax.vmap`` over per-example keys."""
    out = {}
    for i, (name, dist, size) in enumerate(_VARIABLES):
        if spec.multiplier(name) <= 0 or (name in _CHROMA and channels == 1):
            continue
        k_select, k_value = jax.random.split(jax.random.fold_in(key, i))
        select = jax.random.uniform(k_select, (4,) if name == "imgfilter" else ())
        draw = jax.random.uniform if dist == "uniform" else jax.random.normal
        out[name] = (select, draw(k_value, (size,)))
    return out


class AugmentParams(NamedTuple):
    """The transforms of a batch, from :func:`augment_parameters`; ``None`` where the spec disables a
    stage. ``geometric``: ``G^-1`` (B, 3, 3), output pixel -> input pixel in pixel units about the image
    centre; ``color``: ``C`` (B, 4, 4) on ``(r, g, b, 1)``; ``filter_gains``: (B, 4) band gains;
    ``noise_sigma``: (B,); ``cutout_size`` (B,) and ``cutout_center`` (B, 2) (x, y), relative to the size."""

    geometric: jax.Array | None = None
    color: jax.Array | None = None
    filter_gains: jax.Array | None = None
    noise_sigma: jax.Array | None = None
    cutout_size: jax.Array | None = None
    cutout_center: jax.Array | None = None


def _matrix(*rows) -> jax.Array:
    """A batch of matrices from rows of scalars and (B,) arrays (the official ``matrix``)."""
    batch = jnp.broadcast_shapes(*(jnp.shape(x) for row in rows for x in row))
    cols = [
        jnp.stack([jnp.broadcast_to(jnp.asarray(x, jnp.float32), batch) for x in row], -1) for row in rows
    ]
    return jnp.stack(cols, -2)


def translate2d(tx, ty):
    return _matrix([1, 0, tx], [0, 1, ty], [0, 0, 1])


def scale2d(sx, sy):
    return _matrix([sx, 0, 0], [0, sy, 0], [0, 0, 1])


def rotate2d(theta):
    c, s = jnp.cos(theta), jnp.sin(theta)
    return _matrix([c, -s, 0], [s, c, 0], [0, 0, 1])


def translate3d(tx, ty, tz):
    return _matrix([1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1])


def scale3d(sx, sy, sz):
    return _matrix([sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1])


def rotate3d(v, theta):
    """Rotation by ``theta`` about the unit axis ``v`` (Rodrigues), homogeneous 4x4."""
    vx, vy, vz = (float(c) for c in v[:3])
    s, c = jnp.sin(theta), jnp.cos(theta)
    cc = 1 - c
    return _matrix(
        [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
        [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
        [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
        [0, 0, 0, 1],
    )


LUMA_AXIS = np.array([1.0, 1.0, 1.0, 0.0]) / np.sqrt(3.0)


def augment_parameters(
    variables: Mapping[str, tuple[jax.Array, jax.Array]], p, spec: AugmentSpec, size: tuple[int, int]
) -> AugmentParams:
    """The transforms of a batch from its :func:`random_variables` (batched: selections (B,) or (B, 4),
    values (B, k)) at probability ``p`` for images of ``size = (height, width)``, composed in the
    official order (``G^-1 <- G^-1 @ T^-1`` for each geometric ``T``; ``C <- T @ C`` for each colour
    ``T``). Transform ``t`` happens where ``u_t < multiplier_t * p``."""
    height, width = size
    p = jnp.asarray(p, jnp.float32)
    batch = next(iter(variables.values()))[0].shape[0] if variables else 0

    def chosen(name, value, identity, probability=None):
        select = variables[name][0]
        probability = spec.multiplier(name) * p if probability is None else probability
        taken = select < probability
        return jnp.where(taken.reshape(taken.shape + (1,) * (jnp.ndim(value) - 1)), value, identity)

    def value(name):
        return variables[name][1]

    params = {}
    if any(name in variables for name in _GEOMETRIC):
        g = jnp.broadcast_to(jnp.eye(3, dtype=jnp.float32), (batch, 3, 3))
        if "xflip" in variables:
            i = chosen("xflip", jnp.floor(value("xflip")[:, 0] * 2), 0.0)
            g = g @ scale2d(1 / (1 - 2 * i), 1.0)
        if "rotate90" in variables:
            i = chosen("rotate90", jnp.floor(value("rotate90")[:, 0] * 4), 0.0)
            g = g @ rotate2d(np.pi / 2 * i)  # rotate2d_inv(-pi / 2 * i)
        if "xint" in variables:
            t = chosen("xint", (value("xint") * 2 - 1) * spec.xint_max, 0.0)
            g = g @ translate2d(-jnp.round(t[:, 0] * width), -jnp.round(t[:, 1] * height))
        if "scale" in variables:
            s = chosen("scale", jnp.exp2(value("scale")[:, 0] * spec.scale_std), 1.0)
            g = g @ scale2d(1 / s, 1 / s)
        p_rot = 1 - jnp.sqrt(jnp.clip(1 - spec.rotate * p, 0, 1))  # P(pre or post) = rotate * p
        if "rotate_pre" in variables:
            theta = chosen(
                "rotate_pre", (value("rotate_pre")[:, 0] * 2 - 1) * np.pi * spec.rotate_max, 0.0, p_rot
            )
            g = g @ rotate2d(theta)  # rotate2d_inv(-theta): before anisotropic scaling
        if "aniso" in variables:
            s = chosen("aniso", jnp.exp2(value("aniso")[:, 0] * spec.aniso_std), 1.0)
            g = g @ scale2d(1 / s, 1 / (1 / s))  # scale2d_inv(s, 1 / s)
        if "rotate_post" in variables:
            theta = chosen(
                "rotate_post", (value("rotate_post")[:, 0] * 2 - 1) * np.pi * spec.rotate_max, 0.0, p_rot
            )
            g = g @ rotate2d(theta)  # after anisotropic scaling
        if "xfrac" in variables:
            t = chosen("xfrac", value("xfrac") * spec.xfrac_std, 0.0)
            g = g @ translate2d(-t[:, 0] * width, -t[:, 1] * height)
        params["geometric"] = g
    if any(name in variables for name in _COLOR_VARIABLES):
        c = jnp.broadcast_to(jnp.eye(4, dtype=jnp.float32), (batch, 4, 4))
        v = jnp.asarray(LUMA_AXIS, jnp.float32)
        vv = jnp.outer(v, v)
        if "brightness" in variables:
            b = chosen("brightness", value("brightness")[:, 0] * spec.brightness_std, 0.0)
            c = translate3d(b, b, b) @ c
        if "contrast" in variables:
            s = chosen("contrast", jnp.exp2(value("contrast")[:, 0] * spec.contrast_std), 1.0)
            c = scale3d(s, s, s) @ c
        if "lumaflip" in variables:
            i = chosen("lumaflip", jnp.floor(value("lumaflip")[:, 0] * 2), 0.0)
            c = (jnp.eye(4) - 2 * vv * i[:, None, None]) @ c  # Householder reflection
        if "hue" in variables:
            theta = chosen("hue", (value("hue")[:, 0] * 2 - 1) * np.pi * spec.hue_max, 0.0)
            c = rotate3d(LUMA_AXIS, theta) @ c
        if "saturation" in variables:
            s = chosen("saturation", jnp.exp2(value("saturation")[:, 0] * spec.saturation_std), 1.0)
            c = (vv + (jnp.eye(4) - vv) * s[:, None, None]) @ c
        params["color"] = c
    if "imgfilter" in variables:
        select, amplify = variables["imgfilter"]
        power = jnp.asarray(EXPECTED_BAND_POWER, jnp.float32)
        gains = jnp.ones((batch, 4), jnp.float32)
        for i, band in enumerate(spec.imgfilter_bands):
            t_i = jnp.where(
                select[:, i] < spec.imgfilter * p * band, jnp.exp2(amplify[:, i] * spec.imgfilter_std), 1.0
            )
            t = jnp.ones((batch, 4), jnp.float32).at[:, i].set(t_i)
            t = t / jnp.sqrt(jnp.sum(power * jnp.square(t), axis=-1, keepdims=True))  # keep the total power
            gains = gains * t
        params["filter_gains"] = gains
    if "noise" in variables:
        params["noise_sigma"] = chosen("noise", jnp.abs(value("noise")[:, 0]) * spec.noise_std, 0.0)
    if "cutout" in variables:
        params["cutout_size"] = chosen("cutout", jnp.full((batch,), spec.cutout_size, jnp.float32), 0.0)
        params["cutout_center"] = value("cutout")
    return AugmentParams(**params)


def apply_augmentation(images: jax.Array, params: AugmentParams, noise: jax.Array | None = None) -> jax.Array:
    """``images`` (B, H, W, C) transformed by ``params``: geometric, colour, filtering, noise (``noise``:
    N(0, 1) of the images' shape, scaled by ``noise_sigma``), cutout, in that order."""
    if images.ndim != 4:
        raise ValueError(f"images must be NHWC (B, H, W, C), got shape {images.shape}")
    x = images.astype(jnp.float32)
    if params.geometric is not None:
        g = params.geometric
        moved = jnp.any(g != jnp.eye(3, dtype=g.dtype), axis=(1, 2))
        x = _where_any(moved, lambda x: _geometric(x, g), x)
    if params.color is not None:
        x = _color(x, params.color)
    if params.filter_gains is not None:
        gains = params.filter_gains
        x = _where_any(jnp.any(gains != 1, axis=1), lambda x: _band_filter(x, gains), x)
    if params.noise_sigma is not None:
        if noise is None:
            raise ValueError("params.noise_sigma is set: pass the N(0, 1) noise of the images' shape")
        x = x + noise.astype(jnp.float32) * params.noise_sigma[:, None, None, None]
    if params.cutout_size is not None:
        x = x * _cutout_mask(x.shape, params.cutout_size, params.cutout_center)
    return x


def _where_any(active: jax.Array, fn, x: jax.Array) -> jax.Array:
    """``fn(x)`` for the examples where ``active``, ``x`` elsewhere; skips ``fn`` when none is active."""
    return lax.cond(
        jnp.any(active), lambda x: jnp.where(active[:, None, None, None], fn(x), x), lambda x: x, x
    )


def _fir_filter(name: str) -> np.ndarray:
    """``setup_filter(wavelets[name])``: normalised to unit DC gain, float32."""
    f = np.asarray(WAVELETS[name], np.float32)
    return f / f.sum()


def _upfirdn_axis(
    x, taps: np.ndarray, axis: int, *, up: int = 1, down: int = 1, pad=(0, 0), gain: float = 1.0
):
    """``upfirdn2d`` along one axis: insert ``up - 1`` zeros after each sample, zero-pad (negative:
    crop) by ``pad``, correlate with ``taps * gain`` (pass the flipped filter for a convolution), keep
    every ``down``-th output."""
    if up > 1:
        shape = list(x.shape)
        x = jnp.stack([x] + [jnp.zeros_like(x)] * (up - 1), axis=axis + 1)
        shape[axis] *= up
        x = x.reshape(shape)
    n = x.shape[axis]
    x = lax.slice_in_dim(x, max(-pad[0], 0), n - max(-pad[1], 0), axis=axis)
    widths = [(0, 0)] * x.ndim
    widths[axis] = (max(pad[0], 0), max(pad[1], 0))
    x = jnp.pad(x, widths)
    length = (x.shape[axis] - len(taps)) // down + 1
    out = None
    for m, tap in enumerate(taps):
        term = lax.slice_in_dim(x, m, m + down * (length - 1) + 1, stride=down, axis=axis) * float(tap * gain)
        out = term if out is None else out + term
    return out


def _geometric(x: jax.Array, g_inv: jax.Array) -> jax.Array:
    """The official execution of ``G^-1``: reflect padding, ``sym6`` 2x upsampling, bilinear
    ``grid_sample`` (zeros outside, ``align_corners=False``), ``sym6`` filtering and 2x downsampling."""
    _, height, width, _ = x.shape
    f = _fir_filter("sym6")
    hz_pad = len(f) // 4
    my, mx = height - 1, width - 1  # the largest margin the official padding takes, for any transform
    x = jnp.pad(x, ((0, 0), (my, my), (mx, mx), (0, 0)), mode="reflect")
    up_pad = ((len(f) + 1) // 2, (len(f) - 2) // 2)
    for axis in (1, 2):  # upsample2d: a convolution (the flipped filter), gain 2 per axis
        x = _upfirdn_axis(x, f[::-1], axis, up=2, pad=up_pad, gain=2.0)
    g = scale2d(2.0, 2.0) @ g_inv @ scale2d(0.5, 0.5)
    g = translate2d(-0.5, -0.5) @ g @ translate2d(0.5, 0.5)
    out_h, out_w = (height + hz_pad * 2) * 2, (width + hz_pad * 2) * 2
    g = scale2d(2 / x.shape[2], 2 / x.shape[1]) @ g @ scale2d(out_w / 2, out_h / 2)
    x = _grid_sample(x, lax.stop_gradient(g[:, :2, :]), out_h, out_w)
    down_pad = (-hz_pad * 2 + (len(f) - 1) // 2, -hz_pad * 2 + (len(f) - 2) // 2)
    for axis in (1, 2):  # downsample2d(padding=-2 * hz_pad, flip_filter=True): a correlation
        x = _upfirdn_axis(x, f, axis, down=2, pad=down_pad)
    return x


def _grid_sample(x: jax.Array, theta: jax.Array, out_h: int, out_w: int) -> jax.Array:
    """``grid_sample(x, affine_grid(theta, (out_h, out_w), align_corners=False))``, bilinear, zeros
    outside: output pixel (i, j) at normalised ``(x, y) = ((2j + 1) / W - 1, (2i + 1) / H - 1)`` samples
    the input at ``theta @ (x, y, 1)``, unnormalised as ``((u + 1) * size - 1) / 2``."""
    batch, in_h, in_w, channels = x.shape
    xs = (2 * jnp.arange(out_w, dtype=jnp.float32) + 1) / out_w - 1
    ys = (2 * jnp.arange(out_h, dtype=jnp.float32) + 1) / out_h - 1
    base = jnp.stack(jnp.broadcast_arrays(xs[None, :], ys[:, None], jnp.ones((1, 1), jnp.float32)), -1)
    grid = jnp.einsum("hwk,bjk->bhwj", base, theta)
    ix = ((grid[..., 0] + 1) * in_w - 1) / 2
    iy = ((grid[..., 1] + 1) * in_h - 1) / 2
    x0, y0 = jnp.floor(ix), jnp.floor(iy)
    flat = x.reshape(batch, in_h * in_w, channels)
    out = 0.0
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = x0 + dx, y0 + dy
            weight = (1 - jnp.abs(ix - cx)) * (1 - jnp.abs(iy - cy))
            inside = (cx >= 0) & (cx <= in_w - 1) & (cy >= 0) & (cy <= in_h - 1)
            index = (jnp.clip(cy, 0, in_h - 1) * in_w + jnp.clip(cx, 0, in_w - 1)).astype(jnp.int32)
            values = jnp.take_along_axis(flat, index.reshape(batch, -1, 1), axis=1)
            out = (
                out
                + values.reshape(batch, out_h, out_w, channels) * jnp.where(inside, weight, 0.0)[..., None]
            )
    return out


def _color(x: jax.Array, c: jax.Array) -> jax.Array:
    """``C`` applied to RGB pixels ``(r, g, b, 1)``; a grey image takes the mean of ``C``'s colour rows."""
    channels = x.shape[-1]
    if channels == 3:
        return jnp.einsum("bij,bhwj->bhwi", c[:, :3, :3], x) + c[:, None, None, :3, 3]
    if channels == 1:
        m = jnp.mean(c[:, :3, :], axis=1)  # (B, 4)
        return x * jnp.sum(m[:, :3], axis=1)[:, None, None, None] + m[:, 3][:, None, None, None]
    raise ValueError(f"colour augmentation needs RGB (3 channels) or grey (1 channel) images, got {channels}")


def filter_bank() -> np.ndarray:
    """The official (4, 43) bank of the image-space filtering: band ``i``'s symmetric filter, from the
    ``sym2`` wavelet's low-pass ``H(z)`` and high-pass ``H(-z)`` by repeated 2x dilation and low-pass
    filtering with ``H(z) H(z^-1) / 2`` (the bands sum to the identity)."""
    lo = np.asarray(WAVELETS["sym2"])
    hi = lo * (-1.0) ** np.arange(lo.size)
    lo2 = np.convolve(lo, lo[::-1]) / 2
    hi2 = np.convolve(hi, hi[::-1]) / 2
    bank = np.eye(4, 1)
    for i in range(1, bank.shape[0]):
        dilated = np.zeros((bank.shape[0], bank.shape[1] * 2 - 1))
        dilated[:, ::2] = bank
        bank = np.stack([np.convolve(row, lo2) for row in dilated])
        start = (bank.shape[1] - hi2.size) // 2
        bank[i, start : start + hi2.size] += hi2
    return bank.astype(np.float32)


def _band_filter(x: jax.Array, gains: jax.Array) -> jax.Array:
    """Each example filtered separably by ``gains @ filter_bank()`` (reflect padding)."""
    bank = filter_bank()
    taps = gains @ jnp.asarray(bank)  # (B, taps), symmetric
    pad = bank.shape[1] // 2
    x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    for axis in (2, 1):  # horizontal, then vertical
        n = x.shape[axis] - bank.shape[1] + 1
        out = 0.0
        for m in range(bank.shape[1]):
            out = out + lax.slice_in_dim(x, m, m + n, axis=axis) * taps[:, m, None, None, None]
        x = out
    return x


def _cutout_mask(shape, size: jax.Array, center: jax.Array) -> jax.Array:
    """1 outside each example's ``size x size`` rectangle centred at ``center`` (relative units), else 0."""
    _, height, width, _ = shape
    cx = (jnp.arange(width, dtype=jnp.float32) + 0.5) / width
    cy = (jnp.arange(height, dtype=jnp.float32) + 0.5) / height
    outside_x = jnp.abs(cx[None, :] - center[:, 0:1]) >= size[:, None] / 2  # (B, W)
    outside_y = jnp.abs(cy[None, :] - center[:, 1:2]) >= size[:, None] / 2  # (B, H)
    return (outside_x[:, None, :] | outside_y[:, :, None]).astype(jnp.float32)[..., None]


def augment_examples(keys: jax.Array, images: jax.Array, p, spec: AugmentSpec) -> jax.Array:
    """:func:`augment` with one PRNG key per example (``keys`` of shape (B, ...)): example ``b``'s
    transforms depend on ``keys[b]`` and ``p`` only, so any slice of a batch augments as it would within
    the whole batch (what the data-parallel train step relies on)."""
    if images.ndim != 4:
        raise ValueError(f"images must be NHWC (B, H, W, C), got shape {images.shape}")
    if keys.shape[0] != images.shape[0]:
        raise ValueError(f"{keys.shape[0]} augmentation keys for a batch of {images.shape[0]} images")
    _, height, width, channels = images.shape
    variables = jax.vmap(lambda k: random_variables(jax.random.fold_in(k, 0), spec, channels))(keys)
    params = augment_parameters(variables, p, spec, (height, width))
    noise = None
    if params.noise_sigma is not None:
        noise = jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, 1), images.shape[1:]))(keys)
    return apply_augmentation(images, params, noise).astype(images.dtype)


def augment(key: jax.Array, images: jax.Array, p, spec: AugmentSpec | str = "bgc") -> jax.Array:
    """StyleGAN2-ADA's augmentation of NHWC ``images`` (in [-1, 1]; 1 or 3 channels for colour
    transforms) at probability ``p`` (a float or a traced scalar) with the transforms of ``spec``
    (an :class:`AugmentSpec` or a preset name of :data:`PRESETS`). Pure, differentiable with respect to
    ``images``, jit-able; ``p = 0`` returns ``images`` unchanged."""
    spec = augment_spec(spec) if isinstance(spec, str) else spec
    return augment_examples(jax.random.split(key, images.shape[0]), images, p, spec)


# ----------------------------------------------------------------------------------------------- DiffAugment

DIFFAUGMENT_POLICIES = {
    "color": ("brightness", "saturation", "contrast"),
    "translation": ("translation",),
    "cutout": ("cutout",),
}
"""DiffAugment's policies and the operations each applies, in order (``AUGMENT_FNS``)."""


def diffaugment_policy(policy: str | Sequence[str]) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> ``("color", "translation", "cutout")``, each name checked."""
    names = tuple(n for n in (policy.split(",") if isinstance(policy, str) else policy) if n)
    unknown = [n for n in names if n not in DIFFAUGMENT_POLICIES]
    if unknown:
        raise ValueError(
            f"unknown DiffAugment policy {unknown} in {policy!r}; expected {list(DIFFAUGMENT_POLICIES)}"
        )
    return names


def _translate_example(x: jax.Array, shift: jax.Array) -> jax.Array:
    """``out[i, j] = x[i + shift_0, j + shift_1]``, 0 outside (one HWC image)."""
    h, w = x.shape[0] // 8, x.shape[1] // 8
    padded = jnp.pad(x, ((h, h), (w, w), (0, 0)))
    return lax.dynamic_slice(padded, (h + shift[0], w + shift[1], 0), x.shape)


def diff_augment_examples(keys: jax.Array, images: jax.Array, policy: str | Sequence[str]) -> jax.Array:
    """:func:`diff_augment` with one PRNG key per example (see :func:`augment_examples`)."""
    names = diffaugment_policy(policy)
    if images.ndim != 4:
        raise ValueError(f"images must be NHWC (B, H, W, C), got shape {images.shape}")
    if keys.shape[0] != images.shape[0]:
        raise ValueError(f"{keys.shape[0]} augmentation keys for a batch of {images.shape[0]} images")
    _, height, width, _ = images.shape
    x = images
    ops = [op for name in names for op in DIFFAUGMENT_POLICIES[name]]
    for i, op in enumerate(ops):
        op_keys = jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(keys)
        if op in ("brightness", "saturation", "contrast"):
            u = jax.vmap(lambda k: jax.random.uniform(k, ()))(op_keys)[:, None, None, None]
            if op == "brightness":
                x = x + (u - 0.5)
            elif op == "saturation":
                mean = jnp.mean(x, axis=3, keepdims=True)
                x = (x - mean) * (u * 2) + mean
            else:
                mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
                x = (x - mean) * (u + 0.5) + mean
        elif op == "translation":
            limits = jnp.array([height // 8, width // 8])
            shifts = jax.vmap(
                functools.partial(jax.random.randint, shape=(2,), minval=-limits, maxval=limits + 1)
            )(op_keys)
            x = jax.vmap(_translate_example)(x, shifts)
        else:  # cutout: a (H // 2, W // 2) rectangle at offset - size // 2, offset ~ U{0..H (- 1 if odd)}
            size = jnp.array([height // 2, width // 2])
            high = jnp.array([height, width]) + (1 - size % 2)
            offsets = jax.vmap(functools.partial(jax.random.randint, shape=(2,), minval=0, maxval=high))(
                op_keys
            )
            start = offsets - size // 2
            rows = jnp.arange(height)[None, :] - start[:, 0:1]
            cols = jnp.arange(width)[None, :] - start[:, 1:2]
            inside = ((rows >= 0) & (rows < size[0]))[:, :, None] & ((cols >= 0) & (cols < size[1]))[
                :, None, :
            ]
            x = x * (~inside).astype(x.dtype)[..., None]
    return x


def diff_augment(key: jax.Array, images: jax.Array, policy: str | Sequence[str] = "color,translation,cutout"):
    """DiffAugment (Zhao et al. 2020) of NHWC ``images`` with ``policy``, a comma-separated subset of
    :data:`DIFFAUGMENT_POLICIES` applied in the given order to every image."""
    return diff_augment_examples(jax.random.split(key, images.shape[0]), images, policy)


# --------------------------------------------------------------------------------------------- adaptive p


def adjust_p(p, sign_sum, rt, step, *, target: float, interval: int, batch_size: int, speed_kimg: float):
    """The ADA heuristic after train step ``step`` (0-based) whose reals gave ``rt = mean(sign(D(x)))``:
    ``sign_sum`` accumulates ``rt``; after every ``interval``-th step, with ``r_t = sign_sum / interval``,
    ``p <- clip(p + sign(r_t - target) * batch_size * interval / (speed_kimg * 1000), 0, 1)`` and the sum
    restarts (Karras et al. 2020, Sec. 3; ``training_loop.py``). Returns ``(p, sign_sum)``.

    (The official code only clips at 0; above 1 every probability is already saturated, and the clip keeps
    p from drifting where it would take that much longer to come back.)"""
    sign_sum = sign_sum + jnp.asarray(rt, jnp.float32)
    due = (step + 1) % interval == 0
    r_t = sign_sum / interval
    step_size = batch_size * interval / (speed_kimg * 1000)
    adjusted = jnp.clip(p + jnp.sign(r_t - target) * step_size, 0.0, 1.0)
    return jnp.where(due, adjusted, p), jnp.where(due, jnp.zeros_like(sign_sum), sign_sum)


# ------------------------------------------------------------------------------------- what the step holds

AUGMENT_KINDS = ("ada", "diffaugment")


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """The augmentation a train step applies to every image its discriminator sees (build it with
    :func:`augmentation`). ``kind="ada"``: the pipeline ``spec`` at probability ``p``, kept in
    ``GANState.extra["augment_p"]`` (from the initial ``p``) and, when ``adaptive``, adjusted by
    :func:`adjust_p` (running sum in ``extra["augment_signs"]``). ``kind="diffaugment"``: ``policy``."""

    kind: str
    spec: AugmentSpec | None = None
    policy: tuple[str, ...] = ()
    p: float = 0.0
    adaptive: bool = False
    target: float = 0.6
    interval: int = 4
    speed_kimg: float = 500.0

    def __post_init__(self):
        if self.kind not in AUGMENT_KINDS:
            raise ValueError(f"unknown augmentation kind {self.kind!r}; expected one of {AUGMENT_KINDS}")
        if self.kind == "ada" and self.spec is None:
            raise ValueError("kind='ada' needs an AugmentSpec (augment_spec('bgc'))")
        if self.kind == "diffaugment":
            object.__setattr__(self, "policy", diffaugment_policy(self.policy))
            if not self.policy:
                raise ValueError("kind='diffaugment' needs a policy, e.g. 'color,translation,cutout'")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"augmentation p={self.p!r}: expected a probability in [0, 1]")
        if not 0.0 <= self.target <= 1.0:
            raise ValueError(f"augmentation target={self.target!r}: expected a value of E[sign(D)] in [0, 1]")
        if not (isinstance(self.interval, int) and self.interval >= 1):
            raise ValueError(f"augmentation interval={self.interval!r}: expected an integer >= 1")
        if not self.speed_kimg > 0:
            raise ValueError(f"augmentation speed_kimg={self.speed_kimg!r}: expected a number > 0")

    @property
    def init_extra(self) -> dict[str, float]:
        """The ``GANState.extra`` entries this augmentation keeps, with their initial values."""
        if self.kind != "ada":
            return {}
        return {"augment_p": self.p, **({"augment_signs": 0.0} if self.adaptive else {})}

    def __call__(self, keys: jax.Array, images: jax.Array, extra: Mapping[str, Any]) -> jax.Array:
        """``images`` augmented with one key per example, at the state's p."""
        if self.kind == "ada":
            return augment_examples(keys, images, extra["augment_p"], self.spec)
        return diff_augment_examples(keys, images, self.policy)

    def update(
        self, extra: Mapping[str, Any], rt, step, batch_size: int
    ) -> tuple[dict, dict[str, jax.Array]]:
        """``(extra updates, metrics)`` after a step whose reals scored ``rt = mean(sign(D(x_real)))``:
        ``augment/rt``, and for ADA ``augment/p`` (the step's p) and the adjusted p."""
        metrics = {"augment/rt": jnp.asarray(rt, jnp.float32)}
        if self.kind != "ada":
            return {}, metrics
        p = extra["augment_p"]
        metrics["augment/p"] = p
        if not self.adaptive:
            return {}, metrics
        p, signs = adjust_p(
            p, extra["augment_signs"], rt, step, target=self.target, interval=self.interval,
            batch_size=batch_size, speed_kimg=self.speed_kimg,
        )  # fmt: skip
        return {"augment_p": p, "augment_signs": signs}, metrics


def augmentation(
    kind: str,
    *,
    preset: str | Mapping[str, Any] = "bgc",
    policy: str | Sequence[str] = "color,translation,cutout",
    p: float = 0.0,
    adaptive: bool = True,
    target: float = 0.6,
    interval: int = 4,
    speed_kimg: float = 500.0,
) -> Augmentation | None:
    """The :class:`Augmentation` of a config's ``augment`` section (``None`` for ``kind=""``): ``"ada"``
    with ``preset`` (:data:`PRESETS` name or :class:`AugmentSpec` fields), initial ``p``, and, when
    ``adaptive``, the heuristic's ``target``, ``interval`` and ``speed_kimg``; ``"diffaugment"`` with
    ``policy``."""
    if not kind:
        return None
    if kind not in AUGMENT_KINDS:
        raise ValueError(f"unknown augment.kind {kind!r}; expected '' (off) or one of {AUGMENT_KINDS}")
    if kind == "diffaugment":
        return Augmentation("diffaugment", policy=diffaugment_policy(policy))
    return Augmentation(
        "ada", spec=augment_spec(preset), p=float(p), adaptive=bool(adaptive), target=float(target),
        interval=int(interval), speed_kimg=float(speed_kimg),
    )  # fmt: skip
