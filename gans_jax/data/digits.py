"""The scikit-learn handwritten digits (UCI ML "Optical Recognition of Handwritten Digits").

1797 labelled 8x8 grey images with integer intensities 0..16 (Alpaydin & Kaynak, 1998), shipped
with scikit-learn, so they work offline. They stand in for MNIST in fast tests and demos.

Images are upsampled from 8x8 with Pillow's BILINEAR filter applied to float ("F" mode) data,
i.e. triangle-filter interpolation at half-pixel-aligned sample positions with edge clamping,
which keeps values inside the original 0..16 range; they are then mapped to [-1, 1] by
``x / 16 * 2 - 1``. The train/test split is a stratified ``train_test_split`` with a fixed seed.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

__all__ = ["NUM_CLASSES", "SPLITS", "load_digits_8x8", "load_digits_dataset", "upsample_digits"]

NUM_CLASSES = 10
SPLITS = ("train", "test", "all")
MAX_VALUE = 16.0


@functools.lru_cache(maxsize=1)
def _load_all() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32)  # (1797, 8, 8), 0..16
    labels = np.asarray(bunch.target, dtype=np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_digits_8x8(
    split: str = "train", test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The raw digits of one split: ``(images (N, 8, 8) float32 in 0..16, labels (N,) int32)``.

    ``split="all"`` returns the 1797 digits in scikit-learn's order; ``"train"``/``"test"`` come
    from ``sklearn.model_selection.train_test_split(test_size=test_fraction,
    random_state=seed, stratify=labels)``, so every class keeps its proportion in both parts.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {list(SPLITS)}")
    if not (0.0 < test_fraction < 1.0):
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    images, labels = _load_all()
    if split == "all":
        return images.copy(), labels.copy()
    from sklearn.model_selection import train_test_split

    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, random_state=seed, stratify=labels
    )
    idx = train_idx if split == "train" else test_idx
    return images[idx], labels[idx]


def upsample_digits(images: np.ndarray, resolution: int) -> np.ndarray:
    """Resizes ``(N, 8, 8)`` float images to ``(N, resolution, resolution)`` with PIL BILINEAR.

    ``resolution`` must be a multiple of 8 (so that block averaging inverts the scale exactly).
    """
    if not isinstance(resolution, (int, np.integer)) or resolution < 8 or resolution % 8:
        raise ValueError(f"resolution must be a multiple of 8 and >= 8, got {resolution!r}")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (8, 8):
        raise ValueError(f"images must have shape (N, 8, 8), got {images.shape}")
    if resolution == 8:
        return images.copy()
    size = (int(resolution), int(resolution))
    bilinear = Image.Resampling.BILINEAR
    out = [np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize(size, bilinear)) for img in images]
    return np.stack(out).astype(np.float32) if out else np.zeros((0, *size), np.float32)


def load_digits_dataset(
    resolution: int = 16, split: str = "train", test_fraction: float = 0.2, seed: int = 0
) -> dict[str, np.ndarray]:
    """Digits as ``{"image": (N, res, res, 1) float32 in [-1, 1], "label": (N,) int32}``.

    Args:
      resolution: output side, a multiple of 8 (8 keeps the original pixels), or 4 (2x2 block means).
      split: ``"train"``, ``"test"`` or ``"all"``.
      test_fraction: fraction of each class held out as the test split.
      seed: ``random_state`` of the stratified split.
    """
    valid = resolution == 4 or (resolution >= 8 and resolution % 8 == 0)
    if not isinstance(resolution, (int, np.integer)) or not valid:
        raise ValueError(f"resolution must be 4 or a multiple of 8 and >= 8, got {resolution!r}")
    images, labels = load_digits_8x8(split, test_fraction, seed)
    if resolution == 4:  # 2x2 block averages (a progressive GAN's first stage)
        images = images.reshape(len(images), 4, 2, 4, 2).mean(axis=(2, 4))
    else:
        images = upsample_digits(images, resolution)
    images = np.clip(images / MAX_VALUE * 2.0 - 1.0, -1.0, 1.0).astype(np.float32)
    return {"image": images[..., None], "label": labels.astype(np.int32)}
