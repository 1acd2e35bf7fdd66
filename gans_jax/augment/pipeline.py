"""StyleGAN2-ADA's augmentation pipeline (NVlabs ``training/augment.py``'s ``AugmentPipe``; Karras et
al. 2020, Sec. 2 and Appendix B): its options and presets (:class:`AugmentSpec`, :data:`PRESETS`), the
per-example random draws in the official order, their composition into one geometric and one colour
transform per example (:func:`augment_parameters`) and the batch augmentation (:func:`augment`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gans_jax.augment.transforms import (
    EXPECTED_BAND_POWER,
    LUMA_AXIS,
    band_filter,
    color_transform,
    cutout_mask,
    geometric_margin,
    geometric_transform,
    rotate2d,
    rotate3d,
    scale2d,
    scale3d,
    translate2d,
    translate3d,
    where_any,
)

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
    names = [
        (name, dist, size)
        for name, dist, size in _VARIABLES
        if spec.multiplier(name) > 0 and not (name in _CHROMA and channels == 1)
    ]
    # Two draws in all (threefry compiles slowly: one call per variable took seconds to compile).
    num_select = sum(4 if name == "imgfilter" else 1 for name, _, _ in names)
    num_uniform = sum(size for _, dist, size in names if dist == "uniform")
    num_normal = sum(size for _, dist, size in names if dist == "normal")
    k_uniform, k_normal = jax.random.split(key)
    uniform = jax.random.uniform(k_uniform, (num_select + num_uniform,))
    normal = jax.random.normal(k_normal, (num_normal,))
    out, i_sel, i_uni, i_nor = {}, 0, num_select, 0
    for name, dist, size in names:
        k = 4 if name == "imgfilter" else 1
        select = uniform[i_sel : i_sel + k] if k == 4 else uniform[i_sel]
        i_sel += k
        if dist == "uniform":
            value, i_uni = uniform[i_uni : i_uni + size], i_uni + size
        else:
            value, i_nor = normal[i_nor : i_nor + size], i_nor + size
        out[name] = (select, value)
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


def apply_augmentation(
    images: jax.Array, params: AugmentParams, noise: jax.Array | None = None, *, axis_name=None
) -> jax.Array:
    """``images`` (B, H, W, C) transformed by ``params``: geometric, colour, filtering, noise (``noise``:
    N(0, 1) of the images' shape, scaled by ``noise_sigma``), cutout, in that order. The geometric
    stage pads by the official margin of the whole batch (:func:`~gans_jax.augment.transforms.
    geometric_margin`), under ``axis_name`` (pmap, shard_map) the maximum over its replicas, so that a
    split batch pads as the whole batch would."""
    if images.ndim != 4:
        raise ValueError(f"images must be NHWC (B, H, W, C), got shape {images.shape}")
    x = images.astype(jnp.float32)
    if params.geometric is not None:
        g = params.geometric
        moved = jnp.any(g != jnp.eye(3, dtype=g.dtype), axis=(1, 2))
        margin = geometric_margin(g, x.shape[1], x.shape[2])  # outside the cond: a collective
        if axis_name is not None:
            margin = lax.pmax(margin, axis_name)
        x = where_any(moved, lambda x: geometric_transform(x, g, margin), x)
    if params.color is not None:
        x = color_transform(x, params.color)
    if params.filter_gains is not None:
        gains = params.filter_gains
        x = where_any(jnp.any(gains != 1, axis=1), lambda x: band_filter(x, gains), x)
    if params.noise_sigma is not None:
        if noise is None:
            raise ValueError("params.noise_sigma is set: pass the N(0, 1) noise of the images' shape")
        x = x + noise.astype(jnp.float32) * params.noise_sigma[:, None, None, None]
    if params.cutout_size is not None:
        x = x * cutout_mask(x.shape, params.cutout_size, params.cutout_center)
    return x


def augment_examples(
    keys: jax.Array, images: jax.Array, p, spec: AugmentSpec, *, axis_name=None
) -> jax.Array:
    """:func:`augment` with one PRNG key per example (``keys`` of shape (B, ...)): example ``b``'s
    transforms depend on ``keys[b]`` and ``p`` only, and the geometric padding on the whole batch (the
    official margin; over the replicas of ``axis_name`` when given), so a batch split across devices
    augments as the whole batch does on one (what the data-parallel train step relies on)."""
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
    return apply_augmentation(images, params, noise, axis_name=axis_name).astype(images.dtype)


def augment(key: jax.Array, images: jax.Array, p, spec: AugmentSpec | str = "bgc") -> jax.Array:
    """StyleGAN2-ADA's augmentation of NHWC ``images`` (in [-1, 1]; 1 or 3 channels for colour
    transforms) at probability ``p`` (a float or a traced scalar) with the transforms of ``spec``
    (an :class:`AugmentSpec` or a preset name of :data:`PRESETS`). Pure, differentiable with respect to
    ``images``, jit-able; ``p = 0`` returns ``images`` unchanged."""
    spec = augment_spec(spec) if isinstance(spec, str) else spec
    return augment_examples(jax.random.split(key, images.shape[0]), images, p, spec)
