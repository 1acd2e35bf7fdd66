"""Pixel operations of image-to-image data: ``[-1, 1]`` <-> uint8, Pillow bicubic resampling
(SRGAN's low-resolution inputs and the bicubic baseline) and pix2pix's random jitter (a random crop
and mirror drawn from ``(seed, stream position)``; Isola et al. 2017, Sec. 6.2 / App. 6.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

__all__ = [
    "PIX2PIX_LOAD_RATIO",
    "bicubic_downsample",
    "bicubic_upsample",
    "check_positive_int",
    "crop_and_mirror",
    "jitter_batch",
    "jitter_load_size",
    "jitter_rng",
    "unit_range_to_uint8",
]

PIX2PIX_LOAD_RATIO = 286 / 256  # pix2pix: images resized to 286 before a random 256 crop
# Streams of randomness, apart from each other and from the Dataset's epoch permutations.
JITTER_STREAM, PARTNER_STREAM = 1, 2


def unit_range_to_uint8(images: np.ndarray) -> np.ndarray:
    """``[-1, 1]`` -> uint8 ``[0, 255]`` by ``round((x + 1) * 127.5)``: the inverse of
    :func:`gans_jax.data.folder.uint8_to_unit_range` on its outputs."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _to_pil(image: np.ndarray) -> list[Image.Image]:
    """A ``(H, W, C)`` uint8 array as one RGB/L Pillow image, or one L image per channel."""
    if image.shape[-1] == 3:
        return [Image.fromarray(image, "RGB")]
    return [Image.fromarray(np.ascontiguousarray(image[..., k]), "L") for k in range(image.shape[-1])]


def bicubic_downsample(images: np.ndarray, scale: int) -> np.ndarray:
    """``(N, H, W, C)`` uint8 -> ``(N, H/scale, W/scale, C)`` uint8 with Pillow's BICUBIC filter,
    as the low-resolution inputs of SRGAN (Ledig et al. 2017, Sec. 3.1: "bicubic kernel with
    downsampling factor r = 4"). Channels other than RGB are resized one by one."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"expected (N, H, W, C) uint8 images, got shape {images.shape} dtype {images.dtype}")
    n, h, w, c = images.shape
    if h % scale or w % scale:
        raise ValueError(f"image size {h}x{w} is not divisible by the scale {scale}")
    return _pil_bicubic(images, (h // scale, w // scale))


def bicubic_upsample(images: np.ndarray, scale: int) -> np.ndarray:
    """``(N, h, w, C)`` uint8 -> ``(N, scale h, scale w, C)`` uint8 with Pillow's BICUBIC filter: the
    bicubic baseline of super-resolution, made with the same filter as the low-resolution inputs
    (:func:`bicubic_downsample`)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"expected (N, H, W, C) uint8 images, got shape {images.shape} dtype {images.dtype}")
    return _pil_bicubic(images, (images.shape[1] * scale, images.shape[2] * scale))


def _pil_bicubic(images: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    n, c = images.shape[0], images.shape[3]
    out = np.empty((n, *hw, c), np.uint8)
    for i in range(n):
        bands = [np.asarray(b.resize(hw[::-1], Image.Resampling.BICUBIC)) for b in _to_pil(images[i])]
        out[i] = bands[0] if c == 3 else np.stack(bands, -1)
    return out


def jitter_rng(seed: int, position: int, domain: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed), JITTER_STREAM, int(position), int(domain)])


def crop_and_mirror(images: Sequence[np.ndarray], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The same random ``size x size`` crop and the same random horizontal mirror of every image."""
    h, w = images[0].shape[:2]
    top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    mirror = bool(rng.random() < 0.5)
    out = []
    for img in images:
        img = img[top : top + size, left : left + size]
        out.append(np.ascontiguousarray(img[:, ::-1] if mirror else img))
    return out


def jitter_batch(
    images: np.ndarray, size: int, seed: int, positions: np.ndarray, domain: int = 0
) -> np.ndarray:
    """A random ``size`` crop and mirror of each uint8 image, drawn from ``(seed, position, domain)``."""
    out = np.empty((len(images), size, size, *images.shape[3:]), np.uint8)
    for k, (img, p) in enumerate(zip(images, positions, strict=True)):
        out[k] = crop_and_mirror([img], size, jitter_rng(seed, p, domain))[0]
    return out


def check_positive_int(name: str, value: Any) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def jitter_load_size(resolution: int, load_size: int) -> int:
    load_size = int(load_size) or round(resolution * PIX2PIX_LOAD_RATIO)
    if load_size < resolution:
        raise ValueError(
            f"data.load_size={load_size} is smaller than the crop size (model.resolution) {resolution}"
        )
    return load_size
