"""Images from a folder tree or a .zip archive, as one in-memory numpy dataset.

Every file whose extension is in :data:`IMAGE_EXTENSIONS` (case-insensitive) is read with Pillow,
recursively, in sorted order of its path relative to the root (``/``-separated), so a folder and
a zip of that folder give identical arrays. Hidden files and folders (names starting with ``.``)
and macOS ``__MACOSX`` folders are skipped. Animated files contribute their first frame.

Preprocessing, in the spirit of the DCGAN/progressive-GAN data preparation (Radford et al., 2016;
Karras et al., 2018): centre-crop to the largest square, resize to ``resolution`` with Pillow's
BICUBIC filter on the uint8 image, then map ``[0, 255]`` to ``[-1, 1]`` by ``x / 127.5 - 1``.
Alpha channels are dropped (not composited); 16-bit greyscale is scaled to 8 bits.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".ppm", ".tif", ".tiff", ".webp")
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SIXTEEN_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def _is_image_name(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(rel).suffix.lower() in IMAGE_EXTENSIONS


def _list_sources(root: Path) -> tuple[list[str], Callable[[str], bytes], Callable[[], None]]:
    """Sorted relative names of the images under ``root``, a reader for them, and a closer."""
    if root.is_dir():
        names = []
        for dirpath, _, filenames in os.walk(root):
            for fname in filenames:
                rel = Path(dirpath, fname).relative_to(root).as_posix()
                if _is_image_name(rel):
                    names.append(rel)
        return sorted(names), lambda rel: (root / rel).read_bytes(), lambda: None
    if zipfile.is_zipfile(root):
        archive = zipfile.ZipFile(root)
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
        return sorted(n for n in names if _is_image_name(n)), archive.read, archive.close
    raise ValueError(f"expected a directory or a .zip archive of images, got the file {root}")


def _native_mode(img: Image.Image) -> str:
    return "L" if img.mode in _GREY_MODES else "RGB"


def _convert(img: Image.Image, mode: str) -> Image.Image:
    """Converts to ``"L"`` or ``"RGB"``, dropping alpha and scaling 16-bit grey to 8 bits."""
    if img.mode in _SIXTEEN_BIT_MODES:
        arr = np.asarray(img, dtype=np.float64) / 257.0
        img = Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8))
    elif img.mode == "P":
        img = img.convert("RGBA")  # resolves palette transparency without a warning
    if img.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        img = img.convert(img.mode[0] if img.mode[0] == "L" else "RGB")
    return img if img.mode == mode else img.convert(mode)


def _centre_crop_resize(img: Image.Image, resolution: int) -> Image.Image:
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != resolution:
        img = img.resize((resolution, resolution), Image.Resampling.BICUBIC)
    return img


def _read_image(data: bytes, name: str) -> Image.Image:
    """Decodes ``data`` fully; a file Pillow cannot read raises ValueError naming it."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot read image {name}: {type(err).__name__}: {err}") from err
    return img


def load_image_folder(
    path: str | os.PathLike[str],
    resolution: int,
    *,
    channels: int | None = None,
    labels_from_subfolders: bool = True,
) -> dict[str, object]:
    """Loads every image under ``path`` (a folder or a .zip archive).

    Args:
      path: a directory, or a zip archive whose member paths play the role of relative paths.
      resolution: output side; images are centre-cropped to a square and resized (BICUBIC).
      channels: 1 or 3 to convert every image; ``None`` infers it from the files (greyscale
        modes -> 1, colour or palette -> 3) and rejects folders that mix the two.
      labels_from_subfolders: label each image by the sorted index of its first-level
        subfolder. Ignored (all labels 0, ``class_names == []``) when there are no subfolders.

    Returns:
      ``{"image": (N, res, res, C) float32 in [-1, 1], "label": (N,) int32,
      "class_names": list[str]}``, in sorted path order.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"image folder or archive {str(path)!r} does not exist")
    if not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")

    names, read, close = _list_sources(root)
    try:
        if not names:
            raise ValueError(
                f"no images found in {root} (accepted extensions, case-insensitive: "
                f"{', '.join(IMAGE_EXTENSIONS)})"
            )
        arrays, first_of_mode = [], {}
        for name in names:
            shown = f"{root}/{name}" if root.is_dir() else f"{root}:{name}"
            img = _read_image(read(name), shown)
            mode = _native_mode(img) if channels is None else ("L" if channels == 1 else "RGB")
            first_of_mode.setdefault(mode, name)
            arrays.append(np.asarray(_centre_crop_resize(_convert(img, mode), resolution)))
    finally:
        close()

    if len(first_of_mode) > 1:
        raise ValueError(
            f"images in {root} mix channel counts: {first_of_mode['L']!r} is greyscale (1 channel) "
            f"and {first_of_mode['RGB']!r} is colour (3 channels); pass channels=1 or channels=3 "
            "to convert every image"
        )
    images = np.stack(arrays)
    if images.ndim == 3:
        images = images[..., None]
    images = (images.astype(np.float32) / 127.5 - 1.0).astype(np.float32)

    top_dirs = sorted({PurePosixPath(n).parts[0] for n in names if len(PurePosixPath(n).parts) > 1})
    if labels_from_subfolders and top_dirs:
        loose = [n for n in names if len(PurePosixPath(n).parts) == 1]
        if loose:
            raise ValueError(
                f"{loose[0]!r} lies directly in {root}, outside the class subfolders {top_dirs}; "
                "move it into a subfolder or pass labels_from_subfolders=False"
            )
        index = {d: i for i, d in enumerate(top_dirs)}
        labels = np.array([index[PurePosixPath(n).parts[0]] for n in names], dtype=np.int32)
        class_names = top_dirs
    else:
        labels, class_names = np.zeros(len(names), dtype=np.int32), []
    return {"image": images, "label": labels, "class_names": class_names}
