"""Fréchet Inception Distance (Heusel et al., 2017, "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium", Eq. 6) with streaming statistics.

``FID = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})`` between Gaussians fitted to the 2048-d
pool3 features of two image sets.

* :class:`FeatureStats` accumulates the mean and covariance batch by batch in float64 (Chan et al.'s
  pairwise update of mean and centred scatter), so 50k samples are never held in memory; statistics
  of several processes merge exactly (:meth:`FeatureStats.merge`, :meth:`FeatureStats.all_processes`).
* :func:`frechet_distance` computes ``tr((S_1 S_2)^{1/2})`` as the sum of square roots of the
  eigenvalues of the symmetric PSD matrix ``S_1^{1/2} S_2 S_1^{1/2}`` (same eigenvalues as ``S_1 S_2``):
  no complex parts to discard and no ``sqrtm`` iteration to fail on singular covariances.
* Statistics files are pytorch-fid's ``.npz`` (``mu``, ``sigma``; the covariance is unbiased, ddof = 1,
  as ``np.cov``) plus ``num_samples``; pytorch-fid and clean-fid files load as they are.
* :func:`fid_of_generator` is the training-time entry point: images from a sampling function,
  statistics streamed, FID against precomputed reference statistics.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable

import jax
import numpy as np
from tqdm.auto import tqdm

from gans_jax.metrics.features import allgather_exact, images_to_uint8, process_batches

__all__ = [
    "FeatureStats",
    "compute_stats",
    "fid_from_features",
    "fid_of_generator",
    "frechet_distance",
    "generator_batches",
    "load_stats",
    "save_stats",
]


@dataclasses.dataclass
class FeatureStats:
    """Streaming mean and covariance of feature vectors, in float64."""

    dim: int
    num: int = 0
    mean: np.ndarray | None = None  # (dim,)
    scatter: np.ndarray | None = None  # (dim, dim): sum of (x - mean)(x - mean)^T

    def __post_init__(self):
        if self.mean is None:
            self.mean = np.zeros(self.dim, np.float64)
        if self.scatter is None:
            self.scatter = np.zeros((self.dim, self.dim), np.float64)

    def update(self, features) -> FeatureStats:
        """Adds a batch ``(n, dim)`` of features; returns self."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"features must have shape (n, {self.dim}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("features contain NaN or infinite values")
        if len(x) == 0:
            return self
        batch_mean = x.mean(axis=0)
        centred = x - batch_mean
        batch = FeatureStats(self.dim, len(x), batch_mean, centred.T @ centred)
        return self.merge(batch)

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Combines another set's statistics into this one (Chan et al., 1979); returns self."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge statistics of dimension {other.dim} into {self.dim}")
        if other.num == 0:
            return self
        total = self.num + other.num
        delta = other.mean - self.mean
        self.scatter = self.scatter + other.scatter + np.outer(delta, delta) * (self.num * other.num / total)
        self.mean = self.mean + delta * (other.num / total)
        self.num = total
        return self

    def all_processes(self) -> FeatureStats:
        """The statistics of every process's features (each process passes its own), merged in process
        order so that every process gets the same result; ``self`` with one process."""
        if jax.process_count() == 1:
            return self
        d = self.dim
        rows = allgather_exact(np.concatenate([[float(self.num)], self.mean, self.scatter.ravel()]))
        merged = FeatureStats(d)
        for row in rows:
            mean, scatter = row[1 : 1 + d].copy(), row[1 + d :].reshape(d, d).copy()
            merged.merge(FeatureStats(d, int(row[0]), mean, scatter))
        return merged

    @property
    def mu(self) -> np.ndarray:
        if self.num == 0:
            raise ValueError("no features were added")
        return self.mean.copy()

    @property
    def sigma(self) -> np.ndarray:
        """The unbiased covariance (ddof = 1, as ``np.cov``)."""
        if self.num < 2:
            raise ValueError(f"a covariance needs at least 2 samples, got {self.num}")
        return self.scatter / (self.num - 1)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    ``tr((S1 S2)^{1/2}) = sum_i sqrt(lambda_i(A))`` with ``A = S1^{1/2} S2 S1^{1/2}`` (symmetric PSD,
    similar to ``S1 S2``); ``S1^{1/2}`` comes from ``eigh`` with negative round-off eigenvalues clipped.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"shapes do not match: mu1 {mu1.shape}, sigma1 {sigma1.shape}, "
            f"mu2 {mu2.shape}, sigma2 {sigma2.shape}"
        )
    for name, a in (("mu1", mu1), ("mu2", mu2), ("sigma1", sigma1), ("sigma2", sigma2)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or infinite values")
    sigma1, sigma2 = (sigma1 + sigma1.T) / 2, (sigma2 + sigma2.T) / 2
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root1 @ sigma2 @ root1
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    trace_sqrt = np.sum(np.sqrt(np.clip(eig, 0.0, None)))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def fid_from_features(features1, features2) -> float:
    """FID between two in-memory feature arrays ``(n, d)`` (unbiased covariances)."""
    a = FeatureStats(np.shape(features1)[1]).update(features1)
    b = FeatureStats(np.shape(features2)[1]).update(features2)
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma)


def save_stats(path: str | os.PathLike[str], stats: FeatureStats, **extra) -> None:
    """Writes pytorch-fid's ``mu``/``sigma`` npz, with ``num_samples`` (and ``extra`` scalars)."""
    np.savez(
        path,
        mu=stats.mu,
        sigma=stats.sigma,
        num_samples=np.int64(stats.num),
        **{k: np.asarray(v) for k, v in extra.items()},
    )


def load_stats(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, int | None]:
    """``(mu, sigma, num_samples)`` from a statistics npz (``num_samples`` None when absent)."""
    with np.load(path, allow_pickle=False) as f:
        if "mu" not in f.files or "sigma" not in f.files:
            raise ValueError(f"{path} is not a statistics file: it has {f.files}, expected 'mu' and 'sigma'")
        mu, sigma = f["mu"].astype(np.float64), f["sigma"].astype(np.float64)
        num = int(f["num_samples"]) if "num_samples" in f.files else None
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(f"{path}: mu {mu.shape} and sigma {sigma.shape} do not describe one Gaussian")
    return mu, sigma, num


def _as_uint8(images) -> np.ndarray:
    images = np.asarray(images)
    return images if images.dtype == np.uint8 else images_to_uint8(images)


def compute_stats(
    batches: Iterable,
    extractor: Callable,
    *,
    num: int | None = None,
    key: str = "pool3",
    progress: bool = True,
    desc: str = "features",
) -> FeatureStats:
    """Streams image batches through ``extractor`` into :class:`FeatureStats`.

    ``batches`` yields uint8 ``(n, H, W, C)`` images (float images in [-1, 1] are converted with
    :func:`~gans_jax.metrics.features.images_to_uint8`); ``extractor(images)`` returns a dict with
    ``key`` (or an array). At most ``num`` images are used when given. With several processes,
    ``batches`` is this process's share (:func:`~gans_jax.metrics.features.process_batches`, as
    :func:`generator_batches` gives) and the statistics of all processes are merged."""
    multi = jax.process_count() > 1  # every batch goes through the (collective) extractor
    stats = None
    bar = tqdm(total=num, desc=desc, unit="img", disable=not progress, leave=False)
    try:
        for batch in batches:
            batch = _as_uint8(batch)
            if num is not None and not multi:
                batch = batch[: num - (stats.num if stats else 0)]
            if len(batch) == 0 and not multi:
                break
            out = extractor(batch)
            feats = out[key] if isinstance(out, dict) else out
            stats = stats or FeatureStats(np.shape(feats)[1])
            stats.update(feats)
            bar.update(len(batch))
            if num is not None and stats.num >= num and not multi:
                break
    finally:
        bar.close()
    if stats is None:
        raise ValueError("no images were given")
    stats = stats.all_processes()
    if num is not None and stats.num < num:
        raise ValueError(f"asked for {num} images, the source gave only {stats.num}")
    if num is not None and stats.num > num:  # several processes: their shares cannot be cut afterwards
        raise ValueError(f"asked for {num} images, the processes' shares hold {stats.num}")
    return stats


def generator_batches(sample_fn: Callable[[int, int], object], num: int, batch_size: int):
    """Yields ``sample_fn(batch_index, n)`` for consecutive batches totalling ``num`` images; with
    several processes, this process's share of them (:func:`~gans_jax.metrics.features.process_batches`)."""

    def batch(index: int):
        n = min(batch_size, num - index * batch_size)
        images = sample_fn(index, n)
        if np.shape(images)[0] != n:
            raise ValueError(f"sample_fn({index}, {n}) returned {np.shape(images)[0]} images, expected {n}")
        return images

    return process_batches(batch, -(-num // batch_size))


def fid_of_generator(
    sample_fn: Callable[[int, int], object],
    num: int,
    ref_stats,
    extractor: Callable,
    batch_size: int = 64,
    *,
    progress: bool = True,
) -> dict[str, float | int]:
    """FID of ``num`` generated images against reference statistics; for training-time evaluation.

    Args:
      sample_fn: ``sample_fn(batch_index, n) -> (n, H, W, C)`` images, uint8 or float in [-1, 1]
        (e.g. the EMA generator on latents drawn from ``jax.random.fold_in(key, batch_index)``).
      num: number of generated images (50_000 for ``fid50k``).
      ref_stats: a :class:`FeatureStats`, ``(mu, sigma[, num])``, or the path of a statistics npz.
      extractor: an :class:`~gans_jax.metrics.features.InceptionExtractor` (or any callable with the
        same contract); build it once and reuse it, its compiled program included.
      batch_size: images per ``sample_fn`` call.

    Returns:
      ``{"fid": float, "num_samples": num, "num_ref_samples": int or None}``.
    """
    if isinstance(ref_stats, FeatureStats):
        mu_r, sigma_r, num_r = ref_stats.mu, ref_stats.sigma, ref_stats.num
    elif isinstance(ref_stats, (str, os.PathLike)):
        mu_r, sigma_r, num_r = load_stats(ref_stats)
    else:
        mu_r, sigma_r, *rest = ref_stats
        num_r = rest[0] if rest else None
    stats = compute_stats(
        generator_batches(sample_fn, num, batch_size),
        extractor,
        num=num,
        progress=progress,
        desc="fid: generated",
    )
    fid = frechet_distance(stats.mu, stats.sigma, mu_r, sigma_r)
    return {"fid": fid, "num_samples": stats.num, "num_ref_samples": num_r}
