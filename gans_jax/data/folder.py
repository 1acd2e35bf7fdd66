"""Images from a folder tree or a .zip archive: a lazy random-access source and an eager loader.

Every file whose extension is in :data:`IMAGE_EXTENSIONS` (case-insensitive) is listed,
recursively, in sorted order of its path relative to the root (``/``-separated), so a folder and
a zip of that folder give identical data. Hidden files and folders (names starting with ``.``)
and macOS ``__MACOSX`` folders are skipped. Animated files contribute their first frame. A zip is
read in memory, never extracted; its entries with absolute paths or ``..`` are skipped with a warning
(written out under an output folder, as ``gans-jax translate`` does, they would land outside it).
Images upscaled more than 4x to the resolution get one warning naming how many and the smallest.

Preprocessing, in the spirit of the DCGAN/progressive-GAN data preparation (Radford et al., 2016;
Karras et al., 2018): with ``crop="center"`` (the default) centre-crop to the largest square, then
resize to ``resolution`` with Pillow's BICUBIC filter on the uint8 image; with ``crop="none"``
resize the whole image to ``resolution x resolution`` directly (the aspect ratio is not kept).
``[0, 255]`` maps to ``[-1, 1]`` by ``x / 127.5 - 1``. Alpha channels are dropped (not composited);
16-bit greyscale is scaled to 8 bits. The same policy serves TFDS images
(:mod:`gans_jax.data.tfds`).

Corrupt files. :class:`ImageFolderSource` checks every file once, up front, so that a file it
keeps can always be decoded later and the stream of batches stays a function of the seed and the
position alone: PNG and WebP files are checked with Pillow's ``verify()`` (chunk checksums, cheap,
no pixel decoding), JPEG files that end with the end-of-image marker likewise; any other file
(truncated JPEG, BMP, GIF, TIFF, ...) is decoded fully once. A file that fails is refused with an
error naming it (``on_corrupt="error"``) or dropped with a warning naming it (``"skip"``).
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

__all__ = [
    "CROP_POLICIES",
    "IMAGE_EXTENSIONS",
    "ON_CORRUPT",
    "ImageFolderSource",
    "decode_image",
    "load_image_folder",
    "resize_to_square",
    "uint8_to_unit_range",
]

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".ppm", ".tif", ".tiff", ".webp")
CROP_POLICIES = ("center", "none")
ON_CORRUPT = ("error", "skip")
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SIXTEEN_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


TINY_FACTOR = 4  # images whose shorter side is under resolution / TINY_FACTOR get one warning


def _is_image_name(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(rel).suffix.lower() in IMAGE_EXTENSIONS


def _escapes(name: str) -> bool:
    """A zip entry name that is absolute or climbs out of the archive's root (``..``): written out
    under an output folder (``gans-jax translate``), it would land outside it."""
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def list_images(root: Path) -> tuple[list[str], Callable[[str], bytes], Callable[[], None]]:
    """Sorted relative names of the images under ``root``, a reader for them, and a closer.

    The reader is thread-safe (``zipfile`` serialises reads of a shared archive with a lock).
    """
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
        unsafe = [n for n in names if _escapes(n)]
        if unsafe:
            warnings.warn(
                f"{root}: skipping {len(unsafe)} archive entries with absolute paths or '..' (first: "
                f"{unsafe[0]!r}); entries are read in memory, never extracted",
                stacklevel=2,
            )
        names = [n for n in names if not _escapes(n) and _is_image_name(n)]
        return sorted(names), archive.read, archive.close
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


def resize_to_square(img: Image.Image, resolution: int, crop: str = "center") -> Image.Image:
    """``crop="center"``: centre-crop to the largest square, then BICUBIC-resize to ``resolution``;
    ``crop="none"``: BICUBIC-resize the whole image to ``resolution x resolution``."""
    if crop not in CROP_POLICIES:
        raise ValueError(f"unknown crop policy {crop!r}; expected one of {list(CROP_POLICIES)}")
    if crop == "center":
        w, h = img.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        if (w, h) != (side, side):
            img = img.crop((left, top, left + side, top + side))
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.Resampling.BICUBIC)
    return img


def uint8_to_unit_range(images: np.ndarray) -> np.ndarray:
    """``[0, 255]`` -> ``[-1, 1]`` as float32, by ``x / 127.5 - 1``."""
    out = np.array(images, dtype=np.float32)  # a copy: the operations below are in place
    np.divide(out, np.float32(127.5), out=out)
    np.subtract(out, np.float32(1.0), out=out)
    return out


def _read_image(data: bytes, name: str) -> Image.Image:
    """Decodes ``data`` fully; a file Pillow cannot read raises ValueError naming it."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except _PIL_ERRORS as err:
        raise ValueError(f"cannot read image {name}: {type(err).__name__}: {err}") from err
    return img


def decode_image(data: bytes, name: str, mode: str) -> Image.Image:
    """An image file's bytes decoded fully and converted to ``mode`` (``"L"`` or ``"RGB"``: alpha
    dropped, 16-bit greyscale scaled to 8 bits, palettes resolved); a file Pillow cannot read raises
    ValueError naming it."""
    return _convert(_read_image(data, name), mode)


def _check_image(data: bytes, name: str) -> tuple[str, tuple[int, int]]:
    """The native mode (``"L"``/``"RGB"``) and size of a readable image; ValueError naming a corrupt one."""
    try:
        img = Image.open(io.BytesIO(data))
        mode, size = _native_mode(img), img.size
        cheap = img.format in ("PNG", "WEBP") or (
            img.format == "JPEG" and data.rstrip(b"\x00")[-2:] == b"\xff\xd9"
        )
        if cheap:
            img.verify()  # checksums / structure without decoding pixels
        else:
            img.load()  # formats whose verify() misses truncation: decode once
    except _PIL_ERRORS as err:
        raise ValueError(f"cannot read image {name}: {type(err).__name__}: {err}") from err
    return mode, size


class ImageFolderSource:
    """A random-access source over the images of a folder or zip, decoded lazily per index.

    Files are listed and checked once at construction (see the module docstring); pixels are
    decoded only when an example is read, so large folders are not held in memory.
    ``source[i]`` is ``{"image": (res, res, C) float32 in [-1, 1], "label": int32}`` (the grain
    ``RandomAccessDataSource`` protocol; ``"label"`` only when there are class subfolders);
    :meth:`read_batch` stacks several.

    Args:
      path: a directory, or a zip archive whose member paths play the role of relative paths.
      resolution: output side.
      channels: 1 or 3 to convert every image; ``None`` infers it from the files (greyscale
        modes -> 1, colour or palette -> 3) and rejects folders that mix the two.
      labels_from_subfolders: label each image by the sorted index of its first-level
        subfolder. Ignored (all labels 0, ``class_names == []``) when there are no subfolders.
      crop: ``"center"`` or ``"none"`` (see :func:`resize_to_square`).
      on_corrupt: ``"error"`` refuses a folder holding an unreadable image file; ``"skip"`` drops
        such files with a warning naming each.
      num_threads: threads for the up-front check of the files.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        resolution: int,
        *,
        channels: int | None = None,
        labels_from_subfolders: bool = True,
        crop: str = "center",
        on_corrupt: str = "error",
        num_threads: int = 2,
    ):
        if not isinstance(resolution, (int, np.integer)) or isinstance(resolution, bool) or resolution < 1:
            raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
        if channels not in (None, 1, 3):
            raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")
        if crop not in CROP_POLICIES:
            raise ValueError(f"unknown crop policy {crop!r}; expected one of {list(CROP_POLICIES)}")
        if on_corrupt not in ON_CORRUPT:
            raise ValueError(f"unknown on_corrupt {on_corrupt!r}; expected one of {list(ON_CORRUPT)}")
        if not os.fspath(path):
            raise ValueError("no image folder given: set data.path to a folder or .zip of images")
        root = Path(os.path.expanduser(os.fspath(path)))
        if not root.exists():
            raise FileNotFoundError(f"image folder or archive {str(path)!r} does not exist")
        self.root, self.resolution, self.crop = root, int(resolution), crop
        self._is_dir = root.is_dir()
        names, self._read, self._close = list_images(root)
        try:
            if not names:
                raise ValueError(
                    f"no images found in {root} (accepted extensions, case-insensitive: "
                    f"{', '.join(IMAGE_EXTENSIONS)})"
                )
            names, modes = self._check_all(names, on_corrupt, max(1, int(num_threads)))
        except BaseException:
            self._close()
            raise
        if channels is None:
            first_of_mode = {}
            for name, mode in zip(names, modes, strict=True):
                first_of_mode.setdefault(mode, name)
            if len(first_of_mode) > 1:
                self._close()
                raise ValueError(
                    f"images in {root} mix channel counts: {first_of_mode['L']!r} is greyscale "
                    f"(1 channel) and {first_of_mode['RGB']!r} is colour (3 channels); pass "
                    "channels=1 or channels=3 (data.channels) to convert every image"
                )
            mode = modes[0]
        else:
            mode = "L" if channels == 1 else "RGB"
        self.mode = mode
        self.channels = 1 if mode == "L" else 3
        self.names = names

        top_dirs = sorted({PurePosixPath(n).parts[0] for n in names if len(PurePosixPath(n).parts) > 1})
        if labels_from_subfolders and top_dirs:
            loose = [n for n in names if len(PurePosixPath(n).parts) == 1]
            if loose:
                self._close()
                raise ValueError(
                    f"{loose[0]!r} lies directly in {root}, outside the class subfolders {top_dirs}; "
                    "move it into a subfolder or pass labels_from_subfolders=False"
                )
            index = {d: i for i, d in enumerate(top_dirs)}
            self.labels = np.array([index[PurePosixPath(n).parts[0]] for n in names], dtype=np.int32)
            self.class_names = top_dirs
        else:
            self.labels, self.class_names = np.zeros(len(names), dtype=np.int32), []

    def _shown(self, name: str) -> str:
        return f"{self.root}/{name}" if self._is_dir else f"{self.root}:{name}"

    def _check_all(self, names: list[str], on_corrupt: str, num_threads: int):
        def check(name):
            shown = self._shown(name)
            try:
                return _check_image(self._read(name), shown), None
            except ValueError as err:
                if on_corrupt == "error":
                    raise
                return None, str(err)

        pool = concurrent.futures.ThreadPoolExecutor(num_threads)
        try:
            results = list(pool.map(check, names))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # after an error, check no further
        kept, modes, sizes, skipped = [], [], [], []
        for name, (checked, problem) in zip(names, results, strict=True):
            if problem is None:
                kept.append(name)
                modes.append(checked[0])
                sizes.append(checked[1])
            else:
                skipped.append(problem)
        for problem in skipped:
            warnings.warn(f"skipping a corrupt image ({problem})", stacklevel=4)
        if not kept:
            raise ValueError(f"no readable images in {self.root}: all {len(names)} image files are corrupt")
        self._warn_if_tiny(kept, sizes)
        return kept, modes

    def _warn_if_tiny(self, names: list[str], sizes: list[tuple[int, int]]) -> None:
        """One warning when images are upscaled more than 4x to the resolution (a 1x1 image trains as a
        flat colour without a word otherwise), naming how many and the smallest."""
        sides = [min(size) for size in sizes]
        tiny = [i for i, side in enumerate(sides) if side * TINY_FACTOR < self.resolution]
        if tiny:
            smallest = min(tiny, key=lambda i: sides[i])
            w, h = sizes[smallest]
            warnings.warn(
                f"{len(tiny)} of {len(names)} images in {self.root} are far smaller than the resolution "
                f"{self.resolution} (shorter side under {self.resolution / TINY_FACTOR:g}; smallest: "
                f"{self._shown(names[smallest])}, {w}x{h}); they are upscaled",
                stacklevel=5,
            )

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) or None

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (self.resolution, self.resolution, self.channels)

    def __len__(self) -> int:
        return len(self.names)

    def read_pil(self, index: int) -> Image.Image:
        """Image ``index`` decoded at its own size, converted to this source's mode (``"L"``/``"RGB"``)."""
        name = self.names[index]
        try:
            img = _read_image(self._read(name), self._shown(name))
        except ValueError as err:
            raise ValueError(f"{err} (the file passed the check at start-up: was it changed?)") from err
        return _convert(img, self.mode)

    def read_uint8(self, index: int) -> np.ndarray:
        """Example ``index`` as a ``(res, res, C)`` uint8 array."""
        arr = np.asarray(resize_to_square(self.read_pil(index), self.resolution, self.crop))
        return arr[..., None] if arr.ndim == 2 else arr

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        index = int(index)
        out = {"image": uint8_to_unit_range(self.read_uint8(index))}
        if self.class_names:
            out["label"] = self.labels[index]
        return out

    def read_batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """Examples ``indices`` stacked: ``{"image": (n, res, res, C) float32, "label": (n,) int32}``
        (``"label"`` only when the images are labelled by subfolders)."""
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), *self.sample_shape), np.uint8)
        for k, i in enumerate(indices):
            out[k] = self.read_uint8(int(i))
        batch = {"image": uint8_to_unit_range(out)}
        if self.class_names:
            batch["label"] = self.labels[indices]
        return batch

    def close(self) -> None:
        self._close()


def load_image_folder(
    path: str | os.PathLike[str],
    resolution: int,
    *,
    channels: int | None = None,
    labels_from_subfolders: bool = True,
    crop: str = "center",
    on_corrupt: str = "error",
) -> dict[str, object]:
    """Loads every image under ``path`` (a folder or a .zip archive) into memory.

    Arguments as for :class:`ImageFolderSource`.

    Returns:
      ``{"image": (N, res, res, C) float32 in [-1, 1], "label": (N,) int32,
      "class_names": list[str]}``, in sorted path order.
    """
    source = ImageFolderSource(
        path,
        resolution,
        channels=channels,
        labels_from_subfolders=labels_from_subfolders,
        crop=crop,
        on_corrupt=on_corrupt,
    )
    try:
        images = source.read_batch(np.arange(len(source)))["image"]
    finally:
        source.close()
    return {"image": images, "label": source.labels.copy(), "class_names": source.class_names}
