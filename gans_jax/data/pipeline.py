"""One input pipeline for every data source: random-access sources served by grain.

:func:`make_dataset` turns the experiment's ``data`` config into a :class:`Dataset`: a
random-access source (2-D toy points or scikit-learn digits in memory, an image folder or zip
decoded lazily, a TFDS split through ``tfds.data_source``) plus the order in which its examples
are read. :meth:`Dataset.iterator` is a grain ``DatasetIterator`` over host-local numpy batches
that the training loop shards onto its devices.

The stream. Global batch ``t`` is rows ``[t*B, (t+1)*B)`` of the endless concatenation of
per-epoch permutations of the ``N`` examples, epoch ``e`` shuffled by
``numpy.random.default_rng([seed, e]).permutation(N)``; batches straddle epoch boundaries, nothing
is dropped. Batch ``t`` is therefore a function of ``(seed, t)`` alone. With ``P`` processes,
process ``p`` reads and decodes only rows ``[p*B/P, (p+1)*B/P)`` of each global batch, so the
shares are disjoint and contiguous and their concatenation is the single-process global batch: a
run computes the same updates on any number of hosts.

grain does the rest: the pipeline is ``grain.MapDataset.range(...).map(Dataset.batch)`` turned
into an ``IterDataset`` whose ``num_threads`` threads read and decode the next batches ahead of
the step (``prefetch_buffer_size = 2 * num_threads``). The iterator's state is grain's
``{"next_index": t}``: JSON-serialisable, saved in the checkpoint, and ``set_state`` on a fresh
iterator resumes at batch ``t`` exactly. (grain's own ``MapDataset.shuffle`` draws a Feistel
permutation one index at a time, about 15 us per example in Python; drawing a whole epoch's
permutation with numpy costs about 10 ns per example, which keeps the 2-D toy pipeline ahead of
its millisecond steps.)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from gans_jax.data.sources import EpochPermutations, make_basic_source, option

__all__ = ["SOURCES", "Dataset", "make_dataset", "make_source"]

SOURCES = ("toy", "digits", "folder", "tfds:<name>", "offline:<task>")
_REFERENCE_SEED = 0  # reference_arrays() order: the same for every training seed


def make_source(data: Mapping[str, Any], *, resolution: int | None, seed: int = 0):
    """The random-access source named by ``data.source`` and ``data.translation`` (see
    :func:`make_dataset`): an offline image-to-image task, an image-to-image source over a basic
    source, or a basic source (:func:`gans_jax.data.sources.make_basic_source`)."""
    source = option(data, "source", "")
    translation = option(data, "translation", "")
    stacked = option(data, "stacked", False)
    if stacked and (translation or source == "toy" or str(source).startswith("offline:")):
        raise ValueError(
            f"data.stacked stacks labelled one-channel digits (data.source='tfds:mnist' or 'digits'), not "
            f"data.source={source!r} with data.translation={translation!r}"
        )
    if isinstance(source, str) and source.startswith("offline:"):
        from gans_jax.data.offline import make_offline_task

        return make_offline_task(
            source[len("offline:") :],
            split=option(data, "split", "train"),
            resolution=resolution,
            translation=translation,
            scale=int(option(data, "scale", 4)),
            seed=seed,
        )
    if translation:
        from gans_jax.data.translation import make_translation_source

        return make_translation_source(data, resolution=resolution, seed=seed)
    if stacked:  # stacked MNIST: three examples as the channels, 1000 modes
        from gans_jax.data.stacked import StackedSource

        return StackedSource(make_basic_source(data, resolution=resolution, seed=seed))
    return make_basic_source(data, resolution=resolution, seed=seed)


class Dataset:
    """A random-access source, its shuffled endless order, and this process's share of each batch.

    Attributes:
      source: the random-access source (``len``, ``source[i]``, ``source.read_batch(indices)``).
      sample_shape: the shape of one example, e.g. ``(16, 16, 1)`` or ``(2,)``.
      condition_shape: for image-to-image data, the shape of one ``"condition"`` image (the
        generator's input, see :mod:`gans_jax.data.translation`); ``None`` otherwise.
      num_classes: the number of classes, ``None`` when unlabelled.
      num_examples: ``len(source)``.
      batch_size: the global batch size; ``local_batch_size = batch_size // process_count``.
    """

    def __init__(
        self,
        source,
        *,
        batch_size: int,
        seed: int,
        process_index: int = 0,
        process_count: int = 1,
        num_threads: int = 2,
        mirror: bool = False,
    ):
        _check_batching(batch_size, seed, process_index, process_count, num_threads)
        if len(source) < 1:
            raise ValueError("the data source is empty")
        if mirror and (len(source.sample_shape) != 3 or getattr(source, "condition_shape", None) is not None):
            raise ValueError(
                f"data.mirror doubles a latent GAN's image data set (H, W, C) with x-flips; examples of "
                f"shape {tuple(source.sample_shape)} (or image-to-image data: see data.jitter) cannot take it"
            )
        self.source = source
        self.sample_shape = tuple(int(d) for d in source.sample_shape)
        condition_shape = getattr(source, "condition_shape", None)
        self.condition_shape = None if condition_shape is None else tuple(int(d) for d in condition_shape)
        self.num_classes = source.num_classes
        self.num_examples = len(source)
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.process_index, self.process_count = int(process_index), int(process_count)
        self.local_batch_size = self.batch_size // self.process_count
        self.num_threads = int(num_threads)
        self.mirror = bool(mirror)
        rows = self.num_examples * (2 if self.mirror else 1)  # mirror: rows N..2N-1 are the x-flips
        self._permutations = EpochPermutations(rows, (self.seed,))

    def positions(self, step: int) -> np.ndarray:
        """The places in the endless stream of this process's share of global batch ``step``."""
        start = int(step) * self.batch_size + self.process_index * self.local_batch_size
        return np.arange(start, start + self.local_batch_size, dtype=np.int64)

    def indices(self, step: int) -> np.ndarray:
        """The rows of this process's share of global batch ``step``: source rows, or with ``mirror``
        rows of the doubled data set (row ``N + i`` is source row ``i`` flipped left-right)."""
        return self._permutations.rows(self.positions(step))

    def batch(self, step: int) -> dict[str, np.ndarray]:
        """This process's share of global batch ``step`` (what the iterator yields at ``step``).

        A source with ``reads_positions = True`` also gets the stream positions of its rows, from
        which it draws per-example randomness (random crops, unpaired partners) as a function of
        ``(seed, position)``: different in every epoch, the same on any number of processes and
        after a resume."""
        rows = self.indices(step)
        flip = rows >= self.num_examples
        rows = rows % self.num_examples
        if getattr(self.source, "reads_positions", False):
            batch = self.source.read_batch(rows, positions=self.positions(step))
        else:
            batch = self.source.read_batch(rows)
        if self.mirror and flip.any():  # StyleGAN2-ADA's dataset --mirror: the x-flipped copies
            batch["image"] = np.where(flip[:, None, None, None], batch["image"][:, :, ::-1], batch["image"])
        return batch

    def grain_dataset(self):
        """The endless ``grain.MapDataset`` whose element ``t`` is :meth:`batch` ``(t)``."""
        import grain

        return grain.MapDataset.range(sys.maxsize).map(self.batch)

    def iterator(self):
        """A grain ``DatasetIterator`` over this process's batches, from batch 0.

        Yields ``{"image": float32 (local_batch_size, *sample_shape), "label": int32
        (local_batch_size,)}`` (``"label"`` only when labelled), endlessly. ``get_state()`` is a
        JSON-serialisable dict; ``set_state(state)`` resumes exactly where that state was taken.
        ``num_threads`` threads prepare the next batches in the background.
        """
        import grain

        options = grain.ReadOptions(num_threads=self.num_threads, prefetch_buffer_size=2 * self.num_threads)
        return iter(self.grain_dataset().to_iter_dataset(options))

    def reference_arrays(self, n: int) -> dict[str, np.ndarray]:
        """Up to ``n`` examples, the first ``n`` of a fixed permutation of the whole source
        (seeded with 0, the same for every training seed and process), for plots and metrics."""
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        order = np.random.default_rng(_REFERENCE_SEED).permutation(self.num_examples)[: int(n)]
        if len(order) == 0:
            empty = {"image": np.zeros((0, *self.sample_shape), np.float32)}
            if self.condition_shape is not None:
                empty["condition"] = np.zeros((0, *self.condition_shape), np.float32)
            if self.num_classes is not None:
                empty["label"] = np.zeros((0,), np.int32)
            return empty
        return self.source.read_batch(order)

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


def _check_batching(batch_size, seed, process_index, process_count, num_threads) -> None:
    def is_int(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

    if not is_int(process_count) or process_count < 1:
        raise ValueError(f"process_count must be a positive integer, got {process_count!r}")
    if not is_int(process_index) or not 0 <= process_index < process_count:
        raise ValueError(f"process_index must be in [0, {process_count}), got {process_index!r}")
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size % process_count:
        raise ValueError(
            f"batch_size {batch_size} is not divisible by the process count {process_count}: every "
            "process must take an equal share of the global batch"
        )
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not is_int(num_threads) or num_threads < 0:
        raise ValueError(f"data.num_threads must be a non-negative integer, got {num_threads!r}")


def make_dataset(
    data: Mapping[str, Any],
    *,
    resolution: int | None,
    batch_size: int,
    seed: int,
    process_index: int = 0,
    process_count: int = 1,
) -> Dataset:
    """The :class:`Dataset` of an experiment's ``data`` config.

    Keys of ``data`` (absent or empty ones take the default):

    - ``source``: ``"toy"`` (2-D mixture ``name`` = ``ring8``/``grid25``, a fixed sample of
      ``num_samples`` points drawn once with ``seed``), ``"digits"`` (scikit-learn 8x8 digits,
      ``split`` = ``train``/``test``/``all``, upsampled to ``resolution``, 8 if ``None``),
      ``"folder"`` (images under ``path``, a folder or ``.zip``; labels from class subfolders)
      ``"tfds:<name>"`` (a prepared TFDS dataset, ``path`` = its data_dir, ``split``,
      ``image_key`` = ``"image"``, ``label_key`` = ``"label"`` or ``""`` for unlabelled) or
      ``"offline:<task>"`` (``edges2faces``, ``gray2color``, ``sr_photos``: image-to-image tasks from
      bundled images, ``split`` = ``train``/``test``; :mod:`gans_jax.data.offline`).
    - ``stacked``: ``True`` makes stacked MNIST of a labelled one-channel source of ten classes
      (``"tfds:mnist"``, ``"digits"``): three independent examples as the three channels, labelled by
      the triple (1000 classes; :mod:`gans_jax.data.stacked`).
    - ``translation``: ``""``, or ``"paired"``/``"unpaired"``/``"super_resolution"`` for
      image-to-image batches ``{"image", "condition"}`` (with ``layout``, ``direction``,
      ``jitter``, ``load_size``, ``scale``; see :mod:`gans_jax.data.translation`).
    - ``crop``: ``"center"`` (centre-crop to a square, then resize) or ``"none"`` (resize directly).
    - ``on_corrupt``: ``"error"`` or ``"skip"`` for unreadable image files (folders).
    - ``num_threads``: grain threads reading batches ahead of the step (default 2; 0 reads in the
      calling thread).
    - ``mirror``: ``True`` doubles the data set with the x-flip of every image (StyleGAN2-ADA's and
      R3GAN's ``--mirror=1``: ``2N`` rows shuffled per epoch, row ``N + i`` the flip of example ``i``).

    Args:
      resolution: the image side for image sources (``None`` for 2-D toy data).
      batch_size: the global batch size, divisible by ``process_count``.
      seed: the shuffling seed (and the toy sample's seed).
      process_index, process_count: this process's place among the data-parallel processes
        (``jax.process_index()``, ``jax.process_count()``).
    """
    num_threads = option(data, "num_threads", 2)
    _check_batching(batch_size, seed, process_index, process_count, num_threads)
    source = make_source(data, resolution=resolution, seed=seed)
    return Dataset(
        source,
        batch_size=batch_size,
        seed=seed,
        process_index=process_index,
        process_count=process_count,
        num_threads=num_threads,
        mirror=bool(option(data, "mirror", False)),
    )
