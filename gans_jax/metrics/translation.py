"""Image-to-image metrics on held-out pairs: L1 and PSNR of the translations, next to a baseline.

Images are NHWC float arrays in [-1, 1], the library's range. PSNR is computed on [0, 1] intensities,
``10 log10(1 / MSE)``, per image and then averaged, as super-resolution papers report it (Ledig et al.
2017, Table 2). The baseline is what a model must beat: the source itself resized to the target's shape
with bicubic interpolation (the bicubic upsampling of super-resolution, the identity mapping of
same-size tasks such as edges -> photo).

Super-resolution is evaluated as in the SR literature (Ledig et al. 2017, Sec. 3.1: PSNR "on the
y-channel of center-cropped, removal of a 4-pixel wide strip from each border, images"): ``shave``
removes a border before L1 and PSNR, ``luma=True`` adds ``psnr_y``/``baseline_psnr_y`` on ITU-R BT.601
luma (:func:`rgb_to_y`, MATLAB's ``rgb2ycbcr``), and the caller passes the bicubic ``baseline``.
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


def shave_border(images: np.ndarray, border: int) -> np.ndarray:
    """NHWC ``images`` without a ``border``-pixel strip on each side (SR evaluation, Ledig et al. 2017)."""
    images = np.asarray(images)
    if border < 0 or 2 * border >= min(images.shape[1:3]):
        raise ValueError(f"cannot shave {border} pixels off images of shape {images.shape}")
    return (
        images[:, border : images.shape[1] - border, border : images.shape[2] - border] if border else images
    )


def rgb_to_y(images: np.ndarray) -> np.ndarray:
    """NHWC RGB in [-1, 1] -> ITU-R BT.601 luma ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255`` (R, G, B
    in [0, 1]; MATLAB's ``rgb2ycbcr``, on which SR papers report PSNR), as ``(N, H, W, 1)`` in [-1, 1]
    so that :func:`psnr` gives the Y-channel PSNR of the 8-bit literature."""
    images = np.asarray(images, np.float64)
    if images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"rgb_to_y needs NHWC RGB images, got shape {images.shape}")
    rgb = (images + 1.0) / 2.0
    y = (16.0 + rgb @ np.array([65.481, 128.553, 24.966])) / 255.0
    return (2.0 * y - 1.0)[..., None]


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


def translation_metrics(
    outputs: np.ndarray,
    targets: np.ndarray,
    sources: np.ndarray,
    *,
    baseline: np.ndarray | None = None,
    shave: int = 0,
    luma: bool = False,
) -> dict[str, float]:
    """``l1``, ``psnr`` of ``outputs`` against ``targets``, and ``baseline_l1``/``baseline_psnr`` of
    ``baseline`` (default: the sources matched to the targets, :func:`match_to`); all after removing a
    ``shave``-pixel border, with ``psnr_y``/``baseline_psnr_y`` on BT.601 luma if ``luma``."""
    if baseline is None:
        baseline = match_to(sources, np.shape(targets))
    outputs, targets, baseline = (shave_border(a, shave) for a in (outputs, targets, baseline))
    results = {
        "l1": l1_distance(outputs, targets),
        "psnr": psnr(outputs, targets),
        "baseline_l1": l1_distance(baseline, targets),
        "baseline_psnr": psnr(baseline, targets),
    }
    if luma:
        target_y = rgb_to_y(targets)
        results["psnr_y"] = psnr(rgb_to_y(outputs), target_y)
        results["baseline_psnr_y"] = psnr(rgb_to_y(baseline), target_y)
    return results
