"""Image-to-image data: paired (pix2pix), unpaired (CycleGAN) and super-resolution (SRGAN).

Every example is ``{"image": the target, (H, W, C) float32 in [-1, 1], "condition": the
generator's input image, (H', W', C') float32 in [-1, 1]}``; a source's ``sample_shape`` is the
shape of ``"image"`` and its ``condition_shape`` that of ``"condition"``; ``num_classes`` is
``None``. ``data.translation`` picks the task over the images that ``data.source`` names:

- ``"paired"`` (pix2pix, Isola et al. 2017): ``data.source="folder"`` with ``data.path`` holding
  ``A/`` and ``B/``, paired by file name (path relative to ``A/``/``B/`` without its extension), or
  with ``data.layout="side_by_side"`` every file holding ``A|B`` side by side (the layout of the
  official pix2pix datasets such as facades). ``data.direction="AtoB"`` makes ``A`` the condition
  and ``B`` the image; ``"BtoA"`` the reverse.
- ``"unpaired"`` (CycleGAN, Zhu et al. 2017): ``data.source="folder"`` with ``A/`` and ``B/``, or
  ``data.source="tfds:cycle_gan/<name>"`` (splits ``<split>A``/``<split>B``). See
  :class:`UnpairedSource` for how partners are drawn.
- ``"super_resolution"`` (SRGAN, Ledig et al. 2017): any image source; ``"image"`` is the
  high-resolution image and ``"condition"`` its Pillow BICUBIC downsample by ``data.scale``.
- ``data.source="offline:<task>"`` (``edges2faces``, ``gray2color``, ``sr_photos``): small tasks
  built from images bundled with scikit-image and scikit-learn (:mod:`gans_jax.data.offline`).

Random jitter (pix2pix Sec. 6.2 / App. 6.1: resize 256 -> 286, random 256 crop, random mirror):
``data.jitter=True`` resizes to ``data.load_size`` (``0`` = ``round(resolution * 286 / 256)``),
then takes a random ``resolution`` crop and mirrors with probability 1/2 -- identically for
``A`` and ``B`` of a pair, independently for the two images of an unpaired example (CycleGAN's
``resize_and_crop`` + flip), and for SRGAN's high-resolution crop before it is downsampled. The
draw is a function of ``(seed, stream position)`` (see :meth:`gans_jax.data.pipeline.Dataset.batch`):
it changes every epoch, is the same on any number of processes, and a resumed run sees the same.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from gans_jax.data.folder import ImageFolderSource, list_images, resize_to_square, uint8_to_unit_range
from gans_jax.data.sources import EpochPermutations, make_basic_source, option
from gans_jax.data.transforms import (
    PARTNER_STREAM,
    bicubic_downsample,
    check_positive_int,
    crop_and_mirror,
    jitter_batch,
    jitter_load_size,
    jitter_rng,
    unit_range_to_uint8,
)

__all__ = [
    "DIRECTIONS",
    "LAYOUTS",
    "TRANSLATIONS",
    "PairedImageSource",
    "SuperResolutionSource",
    "UnpairedSource",
    "condition_and_image",
    "domain_folders",
    "make_translation_source",
    "paired_folder_source",
]

TRANSLATIONS = ("paired", "unpaired", "super_resolution")
DIRECTIONS = ("AtoB", "BtoA")
LAYOUTS = ("folders", "side_by_side")


def condition_and_image(direction: str, a, b) -> tuple:
    """``(condition, image)`` of domains ``a`` and ``b``: ``(a, b)`` for ``data.direction="AtoB"``,
    ``(b, a)`` for ``"BtoA"``; the one check of ``data.direction``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown data.direction {direction!r}; expected one of {list(DIRECTIONS)}")
    return (a, b) if direction == "AtoB" else (b, a)


def _as_hwc(image: Image.Image | np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    return arr[..., None] if arr.ndim == 2 else arr


class PairedImageSource:
    """Aligned pairs ``(A, B)`` read by ``read_pair(index)``, resized (and jittered) identically.

    Each Pillow image is cropped/resized by :func:`gans_jax.data.folder.resize_to_square` with the
    ``crop`` policy to ``resolution`` (``jitter=False``) or to ``load_size`` followed by the same
    random crop and mirror of both (``jitter=True``). ``direction="AtoB"`` yields
    ``{"condition": A, "image": B}``, ``"BtoA"`` the reverse.
    """

    reads_positions = True
    num_classes = None

    def __init__(
        self,
        read_pair: Callable[[int], tuple[Image.Image, Image.Image]],
        length: int,
        resolution: int,
        channels: tuple[int, int],
        *,
        direction: str = "AtoB",
        crop: str = "center",
        jitter: bool = False,
        load_size: int = 0,
        seed: int = 0,
    ):
        condition_channels, image_channels = condition_and_image(direction, *channels)
        self.resolution = check_positive_int("resolution", resolution)
        self._read_pair, self._length = read_pair, int(length)
        self.direction, self.crop, self.jitter, self.seed = direction, crop, bool(jitter), int(seed)
        self.load_size = jitter_load_size(self.resolution, load_size) if self.jitter else self.resolution
        self._channels = {"condition": condition_channels, "image": image_channels}

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (self.resolution, self.resolution, self._channels["image"])

    @property
    def condition_shape(self) -> tuple[int, int, int]:
        return (self.resolution, self.resolution, self._channels["condition"])

    def __len__(self) -> int:
        return self._length

    def read_uint8(self, index: int, position: int | None = None) -> dict[str, np.ndarray]:
        """Pair ``index`` as uint8 ``{"condition", "image"}``; ``position`` seeds the jitter
        (``None``: the index)."""
        a, b = (
            _as_hwc(resize_to_square(img, self.load_size, self.crop)) for img in self._read_pair(int(index))
        )
        if self.jitter:
            rng = jitter_rng(self.seed, index if position is None else position)
            a, b = crop_and_mirror([a, b], self.resolution, rng)
        condition, image = condition_and_image(self.direction, a, b)
        return {"condition": condition, "image": image}

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {k: uint8_to_unit_range(v) for k, v in self.read_uint8(index).items()}

    def read_batch(
        self, indices: Sequence[int], positions: Sequence[int] | None = None
    ) -> dict[str, np.ndarray]:
        indices = np.asarray(indices, np.int64)
        positions = indices if positions is None else np.asarray(positions, np.int64)
        out = {
            "image": np.empty((len(indices), *self.sample_shape), np.uint8),
            "condition": np.empty((len(indices), *self.condition_shape), np.uint8),
        }
        for k, (i, p) in enumerate(zip(indices, positions, strict=True)):
            pair = self.read_uint8(int(i), int(p))
            out["image"][k], out["condition"][k] = pair["image"], pair["condition"]
        return {k: uint8_to_unit_range(v) for k, v in out.items()}

    def close(self) -> None:
        close = getattr(self, "_close", None)
        if close is not None:
            close()


def _stem(name: str) -> str:
    return str(PurePosixPath(name).with_suffix(""))


def _stems(names: Sequence[str], folder: Path) -> dict[str, str]:
    """``{name without extension: name}``; two files differing only in extension are refused."""
    out: dict[str, str] = {}
    for name in names:
        stem = _stem(name)
        if stem in out:
            raise ValueError(
                f"{folder} holds {out[stem]!r} and {name!r}, which differ only in their extension: "
                "pairs are matched by name without extension, so keep one"
            )
        out[stem] = name
    return out


def _few(names: Sequence[str], k: int = 5) -> str:
    names = sorted(names)
    return ", ".join(repr(n) for n in names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "")


def domain_folders(root: Path, split: str, what: str = "paired") -> dict[str, Path]:
    """The folders of domains A and B under ``root``: ``<split>A/`` and ``<split>B/`` (the layout of
    the official CycleGAN/pix2pix datasets: ``trainA/``, ``testA/``, ...) when both exist, else,
    for ``split="train"`` only, ``A/`` and ``B/``; errors say which are missing."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"{what} image folder {str(root)!r} is not a directory (expected A/ and B/ in it)"
        )
    named = {d: root / f"{split}{d}" for d in "AB"}
    if all(p.is_dir() for p in named.values()):
        return named
    if split != "train":
        raise FileNotFoundError(
            f"{what} image folder {root} has no {split}A/ and {split}B/ subfolders for data.split={split!r} "
            "(plain A/ and B/ serve the train split only)"
        )
    plain = {d: root / d for d in "AB"}
    missing = [f"{d}/" for d, p in plain.items() if not p.is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{what} image folder {root} has no {' and no '.join(missing)} subfolder (nor trainA/ and "
            "trainB/): put domain A's images in A/ and domain B's in B/"
            + (
                " with matching file names (or set data.layout='side_by_side' for A|B images)"
                if what == "paired"
                else ""
            )
        )
    return plain


def paired_folder_source(
    path: str | os.PathLike[str],
    resolution: int,
    *,
    layout: str = "folders",
    split: str = "train",
    direction: str = "AtoB",
    channels: int | None = None,
    crop: str = "center",
    on_corrupt: str = "error",
    jitter: bool = False,
    load_size: int = 0,
    seed: int = 0,
    num_threads: int = 2,
) -> PairedImageSource:
    """pix2pix pairs from disk (Isola et al. 2017): ``layout="folders"``: ``A/x.png`` pairs
    with ``B/x.<any extension>`` (nested folders allowed), the folders chosen by
    :func:`domain_folders` (``<split>A/`` and ``<split>B/``, or ``A/`` and ``B/``);
    ``layout="side_by_side"``: every image under ``path/<split>/`` (pix2pix's ``facades/train``,
    ``facades/test``; ``path`` itself for ``split="train"`` when it has no such subfolder) is ``A|B``,
    split at ``width // 2`` as in the official pix2pix code.

    Files are listed and checked once by :class:`gans_jax.data.folder.ImageFolderSource`
    (``on_corrupt="error"`` refuses a corrupt file, ``"skip"`` drops it and its partner with a
    warning). A name present in only one of ``A/`` and ``B/`` is an error that lists some.
    ``channels`` (1, 3 or ``None`` = inferred per folder) applies to ``A`` and ``B`` alike.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown data.layout {layout!r}; expected one of {list(LAYOUTS)}")
    if not os.fspath(path):
        raise ValueError("no folder given: set data.path to a folder of image pairs")
    root = Path(os.path.expanduser(os.fspath(path)))
    common = dict(
        channels=channels,
        labels_from_subfolders=False,
        crop=crop,
        on_corrupt=on_corrupt,
        num_threads=num_threads,
    )
    kw = dict(direction=direction, crop=crop, jitter=jitter, load_size=load_size, seed=seed)
    if layout == "side_by_side":
        if (root / split).is_dir():
            root = root / split
        elif split != "train":
            raise FileNotFoundError(
                f"side-by-side image folder {root} has no {split}/ subfolder (data.split)"
            )
        both = ImageFolderSource(root, resolution, **common)

        def read_side_by_side(index):
            img = both.read_pil(index)
            w, h = img.size
            if w < 2:
                raise ValueError(f"{both.names[index]!r} is {w} pixel wide: cannot split it into A|B")
            return img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))

        source = PairedImageSource(read_side_by_side, len(both), resolution, (both.channels,) * 2, **kw)
        source.names, source._close = list(both.names), both.close
        return source

    folders = domain_folders(root, split, "paired")
    listed = {d: _stems(list_images(folders[d])[0], folders[d]) for d in ("A", "B")}
    only = {d: sorted(set(listed[d]) - set(listed[e])) for d, e in (("A", "B"), ("B", "A"))}
    if only["A"] or only["B"]:
        parts = [f"{len(only[d])} only in {folders[d]}: {_few(only[d])}" for d in ("A", "B") if only[d]]
        raise ValueError(f"image pairs do not match by name (without extension): {'; '.join(parts)}")
    sources = {d: ImageFolderSource(folders[d], resolution, **common) for d in ("A", "B")}
    kept = {d: _stems(sources[d].names, folders[d]) for d in ("A", "B")}
    stems = sorted(set(kept["A"]) & set(kept["B"]))
    lost = sorted(set(listed["A"]) - set(stems))
    if lost:  # on_corrupt="skip" dropped one file of these pairs
        warnings.warn(f"skipping {len(lost)} pair(s) with a corrupt file: {_few(lost)}", stacklevel=2)
    if not stems:
        raise ValueError(f"no readable image pairs in {root}")
    position = {d: {name: i for i, name in enumerate(sources[d].names)} for d in ("A", "B")}
    rows = {d: [position[d][kept[d][s]] for s in stems] for d in ("A", "B")}

    def read_folders(index):
        return sources["A"].read_pil(rows["A"][index]), sources["B"].read_pil(rows["B"][index])

    channels_ab = (sources["A"].channels, sources["B"].channels)
    source = PairedImageSource(read_folders, len(stems), resolution, channels_ab, **kw)
    source.names = stems
    return source


class UnpairedSource:
    """Two independent image sources, domain ``X`` (the condition) and ``Y`` (the image), as in
    CycleGAN (Zhu et al. 2017): ``{"condition": x, "image": y}`` with no correspondence.

    How partners are drawn. The source has ``len(X)`` examples, so the :class:`Dataset`'s
    per-epoch permutation shuffles domain ``X``; the ``Y`` partner of the example at stream
    position ``p`` is row ``p mod |Y|`` of a permutation of ``Y`` drawn for its own epoch
    ``p // |Y|`` (seeded with ``(seed, p // |Y|)``). Both domains are therefore read in shuffled
    epochs (every ``Y`` image equally often, as every ``X`` image), partners change from epoch to
    epoch, and the stream stays a function of ``(seed, position)``: the same on any number of
    processes and after a resume. (CycleGAN's own loader draws ``B`` uniformly with replacement.)

    ``crop_size`` > 0 (CycleGAN's jitter: images loaded at 286, random 256 crops, random mirror)
    takes an independent random ``crop_size`` crop and mirror of ``x`` and of ``y``, drawn from
    ``(seed, position)``; the sources then hold the larger images.
    """

    reads_positions = True
    num_classes = None

    def __init__(self, x, y, *, seed: int = 0, crop_size: int = 0):
        for name, s in (("X", x), ("Y", y)):
            if len(s) < 1:
                raise ValueError(f"domain {name} of the unpaired data is empty")
            if crop_size and min(s.sample_shape[:2]) < crop_size:
                raise ValueError(
                    f"domain {name} images {s.sample_shape} are smaller than the crop {crop_size}"
                )
        self.x, self.y, self.seed, self.crop_size = x, y, int(seed), int(crop_size)
        self._permutations = EpochPermutations(len(self.y), (self.seed, PARTNER_STREAM))

    def _shape(self, source) -> tuple[int, ...]:
        shape = tuple(source.sample_shape)
        return (self.crop_size, self.crop_size, *shape[2:]) if self.crop_size else shape

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self._shape(self.y)

    @property
    def condition_shape(self) -> tuple[int, ...]:
        return self._shape(self.x)

    def __len__(self) -> int:
        return len(self.x)

    def partners(self, positions: Sequence[int]) -> np.ndarray:
        """The ``Y`` rows paired with stream positions ``positions``."""
        return self._permutations.rows(positions)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.read_batch([index]).items()}

    def read_batch(
        self, indices: Sequence[int], positions: Sequence[int] | None = None
    ) -> dict[str, np.ndarray]:
        indices = np.asarray(indices, np.int64)
        positions = indices if positions is None else np.asarray(positions, np.int64)
        out = {
            "image": self.y.read_batch(self.partners(positions))["image"],
            "condition": self.x.read_batch(indices)["image"],
        }
        if self.crop_size:
            for domain, key in enumerate(("condition", "image")):
                jittered = jitter_batch(
                    unit_range_to_uint8(out[key]), self.crop_size, self.seed, positions, domain
                )
                out[key] = uint8_to_unit_range(jittered)
        return out

    def close(self) -> None:
        for s in (self.x, self.y):
            close = getattr(s, "close", None)
            if close is not None:
                close()


class SuperResolutionSource:
    """SRGAN pairs (Ledig et al. 2017, Sec. 3.1) from any image source: ``"image"`` is the
    high-resolution (HR) image, ``"condition"`` its BICUBIC downsample by ``scale``
    (:func:`bicubic_downsample`), both from the same uint8 pixels.

    With ``jitter=True`` the base images (of side ``load_size`` >= ``resolution``) give a random
    ``resolution`` crop, mirrored with probability 1/2, drawn from ``(seed, stream position)``;
    otherwise the base images are the HR images.
    """

    reads_positions = True
    num_classes = None

    def __init__(self, base, resolution: int, scale: int, *, jitter: bool = False, seed: int = 0):
        self.resolution = check_positive_int("resolution", resolution)
        self.scale = check_positive_int("data.scale", scale)
        if self.resolution % self.scale:
            raise ValueError(f"model.resolution={resolution} is not divisible by data.scale={scale}")
        shape = tuple(base.sample_shape)
        if len(shape) != 3 or shape[0] != shape[1]:
            raise ValueError(f"super-resolution needs square (H, W, C) images, got examples of shape {shape}")
        if (shape[0] < self.resolution) if jitter else (shape[0] != self.resolution):
            raise ValueError(f"base images of side {shape[0]} cannot give {self.resolution} crops")
        self.base, self.jitter, self.seed, self.channels = base, bool(jitter), int(seed), shape[2]

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (self.resolution, self.resolution, self.channels)

    @property
    def condition_shape(self) -> tuple[int, int, int]:
        low = self.resolution // self.scale
        return (low, low, self.channels)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.read_batch([index]).items()}

    def read_batch(
        self, indices: Sequence[int], positions: Sequence[int] | None = None
    ) -> dict[str, np.ndarray]:
        indices = np.asarray(indices, np.int64)
        positions = indices if positions is None else np.asarray(positions, np.int64)
        high = unit_range_to_uint8(self.base.read_batch(indices)["image"])
        if self.jitter:
            high = jitter_batch(high, self.resolution, self.seed, positions)
        return {
            "image": uint8_to_unit_range(high),
            "condition": uint8_to_unit_range(bicubic_downsample(high, self.scale)),
        }

    def close(self) -> None:
        close = getattr(self.base, "close", None)
        if close is not None:
            close()


def make_translation_source(data: Mapping[str, Any], *, resolution: int | None, seed: int = 0):
    """The image-to-image source of a ``data`` config (module docstring): ``data.translation`` in
    :data:`TRANSLATIONS` over ``data.source`` (``offline:<task>`` sources are
    :func:`gans_jax.data.offline.make_offline_task`'s)."""
    source = option(data, "source", "")
    translation = option(data, "translation", "")
    if resolution is None:
        raise ValueError(f"data.translation={translation!r} / data.source={source!r} needs model.resolution")
    crop = option(data, "crop", "center")
    jitter = bool(option(data, "jitter", False))
    load_size = int(option(data, "load_size", 0))
    split = option(data, "split", "train")
    if translation not in TRANSLATIONS:
        raise ValueError(
            f"unknown data.translation {translation!r}; expected '' or one of {list(TRANSLATIONS)}"
        )
    if translation == "super_resolution":
        scale = check_positive_int("data.scale", option(data, "scale", 4))
        if resolution % scale:
            raise ValueError(f"model.resolution={resolution} is not divisible by data.scale={scale}")
        base_resolution = jitter_load_size(resolution, load_size) if jitter else resolution
        base = make_basic_source(data, resolution=base_resolution, seed=seed)
        return SuperResolutionSource(base, resolution, scale, jitter=jitter, seed=seed)
    direction = option(data, "direction", "AtoB")
    x_domain, y_domain = condition_and_image(direction, "A", "B")  # refused before any file is read
    folder_options = dict(
        channels=option(data, "channels", None) or None,
        crop=crop,
        on_corrupt=option(data, "on_corrupt", "error"),
        num_threads=int(option(data, "num_threads", 2)),
    )
    if translation == "paired":
        if source != "folder":
            raise ValueError(
                f"data.translation='paired' reads data.source='folder' (A/ and B/, or side-by-side "
                f"A|B images), got data.source={source!r}"
            )
        return paired_folder_source(
            option(data, "path", ""),
            resolution,
            layout=option(data, "layout", "folders"),
            split=split,
            direction=direction,
            jitter=jitter,
            load_size=load_size,
            seed=seed,
            **folder_options,
        )
    # unpaired
    if jitter:
        resolution, crop_size = jitter_load_size(resolution, load_size), resolution
    else:
        crop_size = 0
    if source == "folder":
        path = option(data, "path", "")
        if not path:
            raise ValueError(
                "no folder given: set data.path to a folder with A/ and B/ (or trainA/, trainB/)"
            )
        folders = domain_folders(Path(os.path.expanduser(os.fspath(path))), split, "unpaired")
        domains = {
            d: ImageFolderSource(folders[d], resolution, labels_from_subfolders=False, **folder_options)
            for d in ("A", "B")
        }
    elif isinstance(source, str) and source.startswith("tfds:"):
        from gans_jax.data.tfds import TfdsSource

        domains = {
            d: TfdsSource(
                source[len("tfds:") :],
                split=f"{split}{d}",
                data_dir=option(data, "path", None),
                image_key=option(data, "image_key", "image"),
                label_key="",
                resolution=resolution,
                crop=crop,
            )
            for d in ("A", "B")
        }
    else:
        raise ValueError(
            f"data.translation='unpaired' reads data.source='folder' (A/ and B/) or 'tfds:<name>' "
            f"(splits <split>A and <split>B, e.g. tfds:cycle_gan/horse2zebra), got {source!r}"
        )
    return UnpairedSource(domains[x_domain], domains[y_domain], seed=seed, crop_size=crop_size)
