"""Latent and label samplers: every draw takes an explicit ``jax.random`` key."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

LATENT_DISTRIBUTIONS = ("normal", "uniform")


def sample_latents(key: jax.Array, num: int, shape: Sequence[int], distribution: str = "normal") -> jax.Array:
    """``z ~ N(0, I)`` (``"normal"``) or ``z ~ U[-1, 1]`` (``"uniform"``, Goodfellow 2014).

    Shape ``(num, *shape)``."""
    if distribution == "normal":
        return jax.random.normal(key, (num, *shape))
    if distribution == "uniform":
        return jax.random.uniform(key, (num, *shape), minval=-1.0, maxval=1.0)
    raise ValueError(f"unknown latent distribution {distribution!r}; expected one of {LATENT_DISTRIBUTIONS}")


def sample_labels(key: jax.Array, num: int, num_classes: int) -> jax.Array:
    """Class labels drawn uniformly from ``{0, ..., num_classes - 1}``, int32."""
    return jax.random.randint(key, (num,), 0, num_classes, dtype=jnp.int32)


def grid_labels(num_classes: int, per_class: int) -> jax.Array:
    """Labels ``0,0,..,1,1,..`` (``per_class`` of each): one row per class in a sample grid."""
    return jnp.repeat(jnp.arange(num_classes, dtype=jnp.int32), per_class)


def truncated_latents(key: jax.Array, num: int, shape: Sequence[int], threshold: float) -> jax.Array:
    """The truncation trick (Brock et al. 2019, Sec. 3.1): ``z ~ N(0, I)`` with every component whose
    magnitude exceeds ``threshold`` resampled, i.e. a normal truncated to ``[-threshold, threshold]``."""
    if threshold <= 0:
        raise ValueError(f"truncation threshold must be positive, got {threshold}")
    return jax.random.truncated_normal(key, -threshold, threshold, (num, *shape))


def slerp(z0: jax.Array, z1: jax.Array, t: jax.Array) -> jax.Array:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents) along the last axis."""
    unit0 = z0 / jnp.linalg.norm(z0, axis=-1, keepdims=True)
    unit1 = z1 / jnp.linalg.norm(z1, axis=-1, keepdims=True)
    omega = jnp.arccos(jnp.clip(jnp.sum(unit0 * unit1, -1, keepdims=True), -1.0, 1.0))
    sin = jnp.sin(omega)
    safe = jnp.where(sin < 1e-6, 1.0, sin)
    spherical = (jnp.sin((1 - t) * omega) * z0 + jnp.sin(t * omega) * z1) / safe
    return jnp.where(sin < 1e-6, (1 - t) * z0 + t * z1, spherical)
