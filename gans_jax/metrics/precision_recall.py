"""Improved precision and recall (Kynkäänniemi et al., 2019, "Improved Precision and Recall Metric for
Assessing Generative Models", Sec. 2).

Each set of feature vectors approximates its manifold by the union of balls around its samples, the
radius of each ball the distance to the sample's k-th nearest neighbour in the same set (k = 3).
**Precision** is the fraction of generated samples inside the real manifold; **recall** the fraction
of real samples inside the generated manifold. Distances are Euclidean, computed block by block
(``|x|^2 + |y|^2 - 2 x.y`` as a compiled matrix product), so 50k x 50k never sits in memory.

The features are the caller's choice (the extractor is swappable): :func:`precision_recall` takes
any feature arrays, and :func:`precision_recall_of_images` any extractor. Note that StyleGAN2-ADA's
``pr50k3`` uses VGG16 features; with Inception pool3 features (our default) the numbers differ.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["knn_radii", "manifold_coverage", "precision_recall", "precision_recall_of_images"]


@functools.partial(jax.jit, static_argnames=())
def _sq_distances(rows: jax.Array, cols: jax.Array) -> jax.Array:
    dot = jnp.dot(rows, cols.T, precision=jax.lax.Precision.HIGHEST)
    d2 = jnp.sum(rows * rows, 1)[:, None] + jnp.sum(cols * cols, 1)[None, :] - 2 * dot
    return jnp.maximum(d2, 0.0)


def _blocks(n: int, size: int):
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def knn_radii(features, k: int = 3, block_size: int = 2048) -> np.ndarray:
    """Distance from each sample to its k-th nearest neighbour in the same set (itself excluded)."""
    feats = jnp.asarray(np.asarray(features, np.float32))
    n = feats.shape[0]
    if n <= k:
        raise ValueError(f"k-NN radii with k={k} need more than {k} samples, got {n}")
    radii = []
    for start, stop in _blocks(n, block_size):
        d2 = np.array(_sq_distances(feats[start:stop], feats))
        d2[np.arange(stop - start), np.arange(start, stop)] = -1.0  # the sample itself sorts first
        radii.append(np.partition(d2, k, axis=1)[:, k])
    return np.sqrt(np.concatenate(radii))


def manifold_coverage(probe, manifold, manifold_radii: np.ndarray, block_size: int = 2048) -> float:
    """Fraction of ``probe`` samples within ``manifold_radii[j]`` of some ``manifold[j]``."""
    probe = jnp.asarray(np.asarray(probe, np.float32))
    manifold = jnp.asarray(np.asarray(manifold, np.float32))
    r2 = jnp.asarray(np.square(manifold_radii, dtype=np.float32))
    inside = []
    for start, stop in _blocks(probe.shape[0], block_size):
        inside.append(np.asarray(jnp.any(_sq_distances(probe[start:stop], manifold) <= r2[None, :], axis=1)))
    return float(np.mean(np.concatenate(inside)))


def precision_recall(
    real_features, fake_features, k: int = 3, block_size: int = 2048
) -> dict[str, float | int]:
    """``{"precision", "recall", "k", "num_real", "num_fake"}`` of two feature sets ``(n, d)``."""
    real, fake = np.asarray(real_features, np.float32), np.asarray(fake_features, np.float32)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d, got {real.shape} and {fake.shape}")
    real_radii = knn_radii(real, k, block_size)
    fake_radii = knn_radii(fake, k, block_size)
    return {
        "precision": manifold_coverage(fake, real, real_radii, block_size),
        "recall": manifold_coverage(real, fake, fake_radii, block_size),
        "k": k,
        "num_real": len(real),
        "num_fake": len(fake),
    }


def precision_recall_of_images(
    real_images, fake_images, extractor: Callable, *, key: str = "pool3", k: int = 3
) -> dict[str, float | int]:
    """Precision and recall of uint8 image arrays under any ``extractor`` (dict with ``key``, or array)."""

    def feats(images):
        out = extractor(images)
        return out[key] if isinstance(out, dict) else out

    return precision_recall(feats(real_images), feats(fake_images), k)
