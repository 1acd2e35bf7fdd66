"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training", Sec. 3;
the authors' ``DiffAugment_pytorch.py``): policies ``color`` (brightness ``+U(-0.5, 0.5)``, saturation
``x U(0, 2)``, contrast ``x U(0.5, 1.5)``), ``translation`` (integer shifts up to 1/8 of the size, zero
fill) and ``cutout`` (a zeroed rectangle of half the size), applied to every image.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

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
