"""History of generated images for the discriminator (Shrivastava et al. 2017, Sec. 2.3; CycleGAN,
Zhu et al. 2017, Sec. 4: a buffer of the 50 last generated images).

A pure-function port of the CycleGAN authors' ``ImagePool``: the pool is a pytree (``images``: the
stored images, ``count``: how many are stored), kept in the training state and updated inside the
compiled step. Images of a batch are processed one after another (``lax.scan``): while the pool is not
full, each is stored and returned as it is; once full, each is, with probability 1/2, swapped with a
uniformly chosen stored image (the stored one is returned to the discriminator, the new one takes its
place), and otherwise returned itself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

ImagePool = dict  # {"images": (size, *example_shape), "count": int32 scalar}


def init_image_pool(size: int, example_shape, dtype=jnp.float32) -> ImagePool:
    """An empty pool for ``size`` images of shape ``example_shape`` (e.g. ``(H, W, C)``); ``size=0``
    makes :func:`query_image_pool` return its input (no history)."""
    if size < 0:
        raise ValueError(f"image pool size must be >= 0, got {size}")
    return {"images": jnp.zeros((size, *example_shape), dtype), "count": jnp.zeros((), jnp.int32)}


def query_image_pool(pool: ImagePool, images: jax.Array, key: jax.Array) -> tuple[jax.Array, ImagePool]:
    """Images for the discriminator and the updated pool (module doc). ``images``: ``(B, *example_shape)``.

    Works under ``jit``; deterministic given ``key``."""
    stored = pool["images"]
    size = stored.shape[0]
    if images.shape[1:] != stored.shape[1:]:
        raise ValueError(f"image pool holds images of shape {stored.shape[1:]}, got a batch {images.shape}")
    if size == 0:
        return images, pool

    def step(carry, inputs):
        stored, count = carry
        image, k = inputs
        k_swap, k_index = jax.random.split(k)
        full = count >= size
        swap = full & (jax.random.uniform(k_swap) < 0.5)
        index = jnp.where(full, jax.random.randint(k_index, (), 0, size), jnp.minimum(count, size - 1))
        old = stored[index]
        out = jnp.where(swap, old, image)
        stored = stored.at[index].set(jnp.where(full & ~swap, old, image))
        return (stored, jnp.minimum(count + 1, size)), out

    keys = jax.random.split(key, images.shape[0])
    (stored, count), out = lax.scan(step, (stored, pool["count"]), (images.astype(stored.dtype), keys))
    return out.astype(images.dtype), {"images": stored, "count": count}


__all__ = ["ImagePool", "init_image_pool", "query_image_pool"]
