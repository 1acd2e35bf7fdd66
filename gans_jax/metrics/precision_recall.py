"""Improved precision and recall (Kynkäänniemi et al., 2019, "Improved Precision and Recall Metric for
Assessing Generative Models", Sec. 2).

Each set of feature vectors approximates its manifold by the union of balls around its samples, the
radius of each ball the distance to the sample's k-th nearest neighbour in the same set (k = 3).
**Precision** is the fraction of generated samples inside the real manifold; **recall** the fraction
of real samples inside the generated manifold. Distances are Euclidean, computed block by block
(``|x|^2 + |y|^2 - 2 x.y`` as a compiled matrix product), 10,000 rows at a time against 10,000
columns per call as StyleGAN2-ADA's code batches them, so 50k x 50k never sits in memory.

The features are the caller's choice (the extractor is swappable): :func:`precision_recall` takes
any feature arrays, and :func:`precision_recall_of_images` any extractor. StyleGAN2-ADA's ``pr50k3``
uses the fc7 features of NVIDIA's VGG16 (:mod:`gans_jax.metrics.nvidia_vgg16`) in float16, and so
does ``gans-jax metrics --metrics pr50k3``; ``pr50k3_inception`` uses Inception pool3 features.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["knn_radii", "manifold_coverage", "precision_recall", "precision_recall_of_images"]


ROW_BATCH_SIZE = 10_000  # StyleGAN2-ADA's pr50k3 (metrics/precision_recall.py, compute_pr)
COL_BATCH_SIZE = 10_000


@functools.partial(jax.jit, static_argnames="float16")
def _block_distances(rows: jax.Array, cols: jax.Array, float16: bool) -> jax.Array:
    """Euclidean distances of a block, rounded to float16 when ``float16`` (the official code's
    ``torch.cdist`` on half features)."""
    dot = jnp.dot(rows, cols.T, precision=jax.lax.Precision.HIGHEST)
    d2 = jnp.sum(rows * rows, 1)[:, None] + jnp.sum(cols * cols, 1)[None, :] - 2 * dot
    d = jnp.sqrt(jnp.maximum(d2, 0.0))
    return d.astype(jnp.float16) if float16 else d


@functools.partial(jax.jit, static_argnames="float16")
def _block_inside(rows: jax.Array, cols: jax.Array, radii: jax.Array, float16: bool) -> jax.Array:
    """Whether each row lies within ``radii[j]`` of some column ``j`` of the block (``<=``)."""
    return jnp.any(_block_distances(rows, cols, float16) <= radii[None, :], axis=1)


def _batches(n: int, size: int):
    if size < 1:
        raise ValueError(f"batch sizes must be positive, got {size}")
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _features(x, float16: bool) -> jax.Array:
    x = np.asarray(x, np.float32)
    return jnp.asarray(x.astype(np.float16).astype(np.float32) if float16 else x)


def knn_radii(
    features, k: int = 3, row_batch_size: int = ROW_BATCH_SIZE, col_batch_size: int = COL_BATCH_SIZE,
    float16: bool = False,
) -> np.ndarray:  # fmt: skip
    """Distance from each sample to its k-th nearest neighbour in the same set (itself excluded, as the
    official ``kthvalue(k + 1)`` of distances that include the sample's own 0)."""
    feats = _features(features, float16)
    n = feats.shape[0]
    if n <= k:
        raise ValueError(f"k-NN radii with k={k} need more than {k} samples, got {n}")
    radii = []
    for start, stop in _batches(n, row_batch_size):
        rows = feats[start:stop]
        d = np.concatenate(
            [np.array(_block_distances(rows, feats[a:b], float16)) for a, b in _batches(n, col_batch_size)], 1
        )
        d[np.arange(stop - start), np.arange(start, stop)] = -1.0  # the sample itself sorts first
        radii.append(np.partition(d, k, axis=1)[:, k])
    return np.concatenate(radii)


def manifold_coverage(
    probe, manifold, manifold_radii: np.ndarray, row_batch_size: int = ROW_BATCH_SIZE,
    col_batch_size: int = COL_BATCH_SIZE, float16: bool = False,
) -> float:  # fmt: skip
    """Fraction of ``probe`` samples within ``manifold_radii[j]`` of some ``manifold[j]`` (``<=``)."""
    probe, manifold = _features(probe, float16), _features(manifold, float16)
    radii = jnp.asarray(manifold_radii)
    cols = _batches(manifold.shape[0], col_batch_size)
    inside = []
    for start, stop in _batches(probe.shape[0], row_batch_size):
        rows = probe[start:stop]
        hit = functools.reduce(
            jnp.logical_or, [_block_inside(rows, manifold[a:b], radii[a:b], float16) for a, b in cols]
        )
        inside.append(np.asarray(hit))
    return float(np.mean(np.concatenate(inside)))


def precision_recall(
    real_features, fake_features, k: int = 3, row_batch_size: int = ROW_BATCH_SIZE,
    col_batch_size: int = COL_BATCH_SIZE, float16: bool = False,
) -> dict[str, float | int]:  # fmt: skip
    """``{"precision", "recall", "k", "num_real", "num_fake"}`` of two feature sets ``(n, d)``.
    ``float16``: features and distances rounded to half precision, as StyleGAN2-ADA's ``pr50k3`` keeps
    them (``.to(torch.float16)``), so ties at a radius count as inside the same way."""
    real, fake = np.asarray(real_features, np.float32), np.asarray(fake_features, np.float32)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d, got {real.shape} and {fake.shape}")
    batching = {"row_batch_size": row_batch_size, "col_batch_size": col_batch_size, "float16": float16}
    return {
        "precision": manifold_coverage(fake, real, knn_radii(real, k, **batching), **batching),
        "recall": manifold_coverage(real, fake, knn_radii(fake, k, **batching), **batching),
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
