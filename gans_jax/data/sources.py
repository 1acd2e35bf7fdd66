"""The basic random-access sources and their building blocks, below the pipeline's one factory.

A source has ``len(source)``, ``source[i]``, ``source.read_batch(indices)`` (a dict of stacked
arrays: ``"image"``, and ``"label"``/``"condition"`` where it has them), ``sample_shape``,
``num_classes`` and, for image-to-image data, ``condition_shape``. :func:`make_basic_source` opens
the sources of one kind of example each (2-D toy points and scikit-learn digits in memory as an
:class:`ArraySource`, image folders and zips, TFDS splits); the image-to-image sources
(:mod:`gans_jax.data.translation`, :mod:`gans_jax.data.offline`) are built on them, and
:func:`gans_jax.data.pipeline.make_source` picks among all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["ArraySource", "EpochPermutations", "make_basic_source", "option"]


class ArraySource:
    """A random-access source over equal-length in-memory arrays.

    Args:
      arrays: ``"image"`` (float32 ready for the model, or uint8 in ``[0, 255]``, mapped to
        ``[-1, 1]`` when read), for labelled data ``"label"``, and for image-to-image data
        ``"condition"`` (the generator's input image, float32 or uint8 like ``"image"``).
      num_classes: number of classes, ``None`` when unlabelled.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], num_classes: int | None = None):
        lengths = {k: len(v) for k, v in arrays.items()}
        if "image" not in arrays or len(set(lengths.values())) != 1:
            raise ValueError(f"need an 'image' array and arrays of equal lengths, got lengths {lengths}")
        if ("label" in arrays) != (num_classes is not None):
            raise ValueError(
                f"labels {'given' if 'label' in arrays else 'missing'} but num_classes={num_classes}"
            )
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        if "label" in self.arrays:
            self.arrays["label"] = self.arrays["label"].astype(np.int32)
        self.num_classes = num_classes

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.arrays["image"].shape[1:])

    @property
    def condition_shape(self) -> tuple[int, ...] | None:
        """The shape of one ``"condition"`` image, ``None`` when there is none."""
        return tuple(self.arrays["condition"].shape[1:]) if "condition" in self.arrays else None

    def __len__(self) -> int:
        return len(self.arrays["image"])

    def _convert(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from gans_jax.data.folder import uint8_to_unit_range

        for key in ("image", "condition"):
            if key in batch and batch[key].dtype == np.uint8:
                batch[key] = uint8_to_unit_range(batch[key])
        return batch

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self._convert({k: v[int(index)] for k, v in self.arrays.items()})

    def read_batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        indices = np.asarray(indices, dtype=np.int64)
        return self._convert({k: v[indices] for k, v in self.arrays.items()})


def option(data: Mapping[str, Any], key: str, default: Any) -> Any:
    """``data[key]``, or ``default`` when the key is absent or empty (``""``/``None``)."""
    value = data.get(key, default) if hasattr(data, "get") else default
    return default if value is None or value == "" else value


class EpochPermutations:
    """A fresh permutation of ``size`` rows per epoch, seeded by ``seed_words + (epoch,)``, cached for the
    few neighbouring epochs that prefetch threads work on (thread-safe). :meth:`rows` maps stream
    positions ``p`` to rows: row ``p mod size`` of epoch ``p // size``'s permutation."""

    def __init__(self, size: int, seed_words: Sequence[int]):
        self.size, self.seed_words = int(size), tuple(int(w) for w in seed_words)
        self._perms: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, epoch: int) -> np.ndarray:
        with self._lock:
            perm = self._perms.get(epoch)
            if perm is None:
                perm = np.random.default_rng([*self.seed_words, epoch]).permutation(self.size)
                if len(self._perms) >= 4:  # prefetch threads work on neighbouring epochs only
                    del self._perms[min(self._perms)]
                self._perms[epoch] = perm
            return perm

    def rows(self, positions: Sequence[int]) -> np.ndarray:
        epochs, offsets = np.divmod(np.asarray(positions, np.int64), self.size)
        out = np.empty(len(epochs), np.int64)
        for epoch in np.unique(epochs):
            mask = epochs == epoch
            out[mask] = self(int(epoch))[offsets[mask]]
        return out


def make_basic_source(data: Mapping[str, Any], *, resolution: int | None, seed: int = 0):
    """The source of ``data.source`` = ``toy``, ``digits``, ``folder`` or ``tfds:<name>`` (see
    :func:`gans_jax.data.pipeline.make_dataset` for the keys)."""
    source = option(data, "source", "")
    crop = option(data, "crop", "center")
    num_threads = int(option(data, "num_threads", 2))
    if source == "toy":
        from gans_jax.data.toy import MIXTURES, get_mixture

        name = option(data, "name", "")
        if name not in MIXTURES:
            raise ValueError(f"unknown toy mixture data.name={name!r}; expected one of {sorted(MIXTURES)}")
        num_samples = option(data, "num_samples", 100_000)
        if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"data.num_samples must be a positive integer, got {num_samples!r}")
        points = get_mixture(name).sample(np.random.default_rng(seed), int(num_samples))
        return ArraySource({"image": points})
    if source == "digits":
        from gans_jax.data.digits import NUM_CLASSES, load_digits_dataset

        arrays = load_digits_dataset(
            8 if resolution is None else resolution, split=option(data, "split", "train")
        )
        limit = option(data, "limit", 0)
        if not isinstance(limit, (int, np.integer)) or limit < 0:
            raise ValueError(f"data.limit must be an integer >= 0 (0 = every example), got {limit!r}")
        if limit:  # a limited-data run: the split's first digits of each class in turn (balanced classes)
            labels = arrays["label"]
            rank = np.zeros(len(labels), np.int64)  # each digit's place among those of its class
            for c in np.unique(labels):
                rank[labels == c] = np.arange(np.sum(labels == c))
            keep = np.sort(np.lexsort((np.arange(len(labels)), rank))[:limit])
            arrays = {k: v[keep] for k, v in arrays.items()}
        return ArraySource(arrays, NUM_CLASSES)
    if option(data, "limit", 0):
        limit = option(data, "limit", 0)
        raise ValueError(f"data.limit={limit!r} is supported for data.source='digits' only")
    if source == "folder":
        from gans_jax.data.folder import ImageFolderSource

        if resolution is None:
            raise ValueError("data.source='folder' needs a resolution (model.resolution) to resize images to")
        return ImageFolderSource(
            option(data, "path", ""),
            resolution,
            channels=option(data, "channels", None) or None,  # 0 = infer from the files
            crop=crop,
            on_corrupt=option(data, "on_corrupt", "error"),
            num_threads=num_threads,
        )
    if isinstance(source, str) and source.startswith("tfds:"):
        from gans_jax.data.tfds import TfdsSource

        label_key = data.get("label_key", "label") if hasattr(data, "get") else "label"
        return TfdsSource(
            source[len("tfds:") :],
            split=option(data, "split", "train"),
            data_dir=option(data, "path", None),
            image_key=option(data, "image_key", "image"),
            label_key=label_key or "",
            resolution=resolution,
            crop=crop,
        )
    raise ValueError(
        f"unknown data.source {source!r}; expected 'toy', 'digits', 'folder', 'tfds:<name>' "
        "(e.g. 'tfds:mnist') or 'offline:<task>' (e.g. 'offline:edges2faces')"
    )
