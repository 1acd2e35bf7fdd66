"""Sample grids and 2-D scatter plots written as PNG (Pillow only)."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Library images in [-1, 1] to uint8 [0, 255] (clipped, rounded)."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, ncols: int, padding: int = 1) -> np.ndarray:
    """Tile NHWC images (in [-1, 1]) row by row into one uint8 HWC image."""
    images = to_uint8(images)
    n, h, w, c = images.shape
    nrows = -(-n // ncols)
    grid = np.full((nrows * (h + padding) + padding, ncols * (w + padding) + padding, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, q = divmod(i, ncols)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[top : top + h, left : left + w] = image
    return grid


def scatter_image(points: np.ndarray, reference: np.ndarray | None = None, size: int = 320) -> np.ndarray:
    """Rasterise 2-D points (black) over optional reference points (grey) into a uint8 HWC image."""
    both = points if reference is None else np.concatenate([points, reference])
    finite = both[np.isfinite(both).all(axis=1)]
    lo, hi = (finite.min(0), finite.max(0)) if len(finite) else (np.zeros(2), np.ones(2))
    span = float(max(hi - lo)) * 1.1 + 1e-6
    centre = (hi + lo) / 2
    canvas = np.full((size, size, 3), 255, np.uint8)

    def draw(p, colour):
        p = p[np.isfinite(p).all(axis=1)]
        xy = ((p - centre) / span + 0.5) * (size - 1)
        cols, rows = (
            np.clip(np.rint(xy[:, 0]), 0, size - 1),
            np.clip(np.rint((size - 1) - xy[:, 1]), 0, size - 1),
        )
        canvas[rows.astype(int), cols.astype(int)] = colour

    if reference is not None:
        draw(reference, (170, 170, 170))
    draw(points, (0, 0, 0))
    return canvas


def save_png(path: str, image: np.ndarray, upscale: int = 1) -> str:
    """Write a uint8 HWC image (1 or 3 channels); ``upscale`` enlarges small grids (nearest)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if upscale > 1:
        image = image.repeat(upscale, 0).repeat(upscale, 1)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
    return path
