"""Image-to-image metrics on held-out pairs: L1 and PSNR of the translations, next to a baseline.

Images are NHWC float arrays in [-1, 1], the library's range. PSNR is computed on [0, 1] intensities,
``10 log10(1 / MSE)``, per image and then averaged, as super-resolution papers report it (Ledig et al.
2017, Table 2). The baseline is what a model must beat: the source itself resized to the target's shape
with bicubic interpolation (the bicubic upsampling of super-resolution, the identity mapping of
same-size tasks such as edges -> photo).
"""

from __future__ import annotations

import jax
import numpy as np


def _check(outputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    outputs, targets = np.asarray(outputs, np.float64), np.asarray(targets, np.float64)
    if outputs.shape != targets.shape or outputs.ndim != 4:
        raise ValueError(f"outputs {outputs.shape} and targets {targets.shape} must be equal NHWC shapes")
    return outputs, targets


def l1_distance(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean absolute difference in the [-1, 1] range (pix2pix's L1, Isola et al. 2017, Eq. 3)."""
    outputs, targets = _check(outputs, targets)
    return float(np.mean(np.abs(outputs - targets)))


def psnr(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean per-image peak signal-to-noise ratio in dB on [0, 1] intensities (capped at 100 dB)."""
    outputs, targets = _check(outputs, targets)
    mse = np.mean(np.square((outputs - targets) / 2.0), axis=(1, 2, 3))
    return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def match_to(sources: np.ndarray, target_shape: tuple[int, ...]) -> np.ndarray:
    """``sources`` (NHWC) resized bicubically to ``target_shape``'s height and width, and its channels
    repeated or averaged to the target's (1 <-> 3): the baseline translation, and how grids show sources."""
    sources = np.asarray(sources, np.float32)
    n, h, w, c = target_shape
    if sources.shape[1:3] != (h, w):
        sources = np.asarray(jax.image.resize(sources, (sources.shape[0], h, w, sources.shape[3]), "bicubic"))
    if sources.shape[3] != c:
        if sources.shape[3] == 1:
            sources = np.repeat(sources, c, axis=3)
        elif c == 1:
            sources = sources.mean(axis=3, keepdims=True)
        else:
            raise ValueError(f"cannot match {sources.shape[3]} source channels to {c} target channels")
    return np.clip(sources, -1.0, 1.0)


def translation_metrics(outputs: np.ndarray, targets: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    """``l1``, ``psnr`` of ``outputs`` against ``targets``, and ``baseline_l1``/``baseline_psnr`` of the
    sources matched to the targets (:func:`match_to`)."""
    baseline = match_to(sources, np.shape(targets))
    return {
        "l1": l1_distance(outputs, targets),
        "psnr": psnr(outputs, targets),
        "baseline_l1": l1_distance(baseline, targets),
        "baseline_psnr": psnr(baseline, targets),
    }
