"""Stacked digits: a 1000-mode image distribution, from real MNIST or offline from the bundled digits.

Stacked MNIST (Metz et al. 2017, "Unrolled GANs", Sec. 3.3; Srivastava et al. 2017, VEEGAN, Sec. 5.2;
Lin et al. 2018, PacGAN, Sec. 4.2) puts three independently drawn MNIST digits in the three colour
channels of one image: 10^3 = 1000 modes, one per triple of digit classes. :class:`StackedSource` builds
it over any labelled one-channel source of ten classes: example ``i``'s channels are the base examples
``index[i] = (r_i, g_i, b_i)``, drawn independently and uniformly among the base's rows, and its label is
the triple's index ``100 * d_red + 10 * d_green + d_blue`` in ``0..999``. Because the rows are drawn
uniformly, each channel's class follows the base's class proportions and the three are independent, so
the triples are about uniform over the 1000 modes when the base's classes are balanced (MNIST's train
split: 9.0% to 11.2% per class; the digits splits: within 0.3% of 1/10).

- ``data.source="tfds:mnist"`` with ``data.stacked=True``: real stacked MNIST from a locally prepared TFDS
  ``mnist`` (28x28, or ``model.resolution``, e.g. 32, by :class:`gans_jax.data.tfds.TfdsSource`'s resize;
  any TFDS dataset of one-channel images in ten classes works the same).
- ``data.source="offline:stacked_digits"`` (:class:`StackedDigitsSource`; the same as ``source="digits"``
  with ``stacked=True``): MNIST cannot be downloaded here, so the same construction from scikit-learn's
  digits (:mod:`gans_jax.data.digits`, upsampled to ``resolution``: 16 or 32 stand for MNIST's 28).

:data:`NUM_TRIPLES` triples are drawn once from a fixed seed (the same data for every run; the pipeline
shuffles them with the run's seed). The generated images are scored by
:func:`gans_jax.metrics.modes.stacked_modes`, one channel at a time, with a digit classifier trained on
the base data (:func:`gans_jax.metrics.digits_classifier.stacked_judge`).
"""

from __future__ import annotations

import functools

import numpy as np

from gans_jax.data.digits import NUM_CLASSES, load_digits_dataset

__all__ = [
    "NUM_MODES",
    "NUM_TRIPLES",
    "StackedDigitsSource",
    "StackedSource",
    "source_labels",
    "triple_labels",
]

NUM_MODES = NUM_CLASSES**3
NUM_TRIPLES = 100_000
SEED = 20170703  # fixed: the stacked data set does not change with the run's seed
_LABEL_CHUNK = 4096


def triple_labels(channel_labels: np.ndarray) -> np.ndarray:
    """``(N, 3)`` digit classes (red, green, blue) -> ``(N,)`` mode indices ``100 r + 10 g + b``."""
    channel_labels = np.asarray(channel_labels)
    if channel_labels.ndim != 2 or channel_labels.shape[1] != 3:
        raise ValueError(f"channel labels must have shape (N, 3), got {channel_labels.shape}")
    return (channel_labels @ np.array([100, 10, 1])).astype(np.int32)


def source_labels(source) -> np.ndarray:
    """Every label of a labelled random-access source, ``(len(source),)`` int32: an in-memory source's
    array as it is, any other read in chunks (a TFDS split decodes each example once)."""
    arrays = getattr(source, "arrays", None)
    if arrays is not None and "label" in arrays:
        return np.asarray(arrays["label"], np.int32)
    chunks = [
        source.read_batch(np.arange(start, min(start + _LABEL_CHUNK, len(source))))["label"]
        for start in range(0, len(source), _LABEL_CHUNK)
    ]
    return np.concatenate(chunks).astype(np.int32)


class StackedSource:
    """Random-access stacked examples over ``base`` (module doc): ``{"image": (H, W, 3) float32 in [-1, 1],
    "label": int32 triple index}``. ``base`` is a random-access source of ``(H, W, 1)`` images in ten
    classes (digits, a TFDS split of MNIST); ``num_triples`` triples are drawn once from ``seed``."""

    condition_shape = None
    num_classes = NUM_MODES

    def __init__(self, base, num_triples: int = NUM_TRIPLES, seed: int = SEED):
        shape = tuple(base.sample_shape)
        if len(shape) != 3 or shape[-1] != 1:
            raise ValueError(
                f"stacking (data.stacked) needs one-channel images (H, W, 1) to put in three channels, but "
                f"the data's examples have shape {shape}"
            )
        if base.num_classes != NUM_CLASSES:
            raise ValueError(
                f"stacking (data.stacked) needs labelled data of {NUM_CLASSES} digit classes, got "
                f"num_classes={base.num_classes} (is data.label_key empty?)"
            )
        if isinstance(num_triples, bool) or not isinstance(num_triples, (int, np.integer)) or num_triples < 1:
            raise ValueError(f"num_triples must be a positive integer, got {num_triples!r}")
        self.base = base
        rng = np.random.default_rng(seed)
        self.index = rng.integers(0, len(base), size=(int(num_triples), 3))  # (N, 3) base rows

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (*tuple(self.base.sample_shape)[:2], 3)

    @functools.cached_property
    def channel_labels(self) -> np.ndarray:
        """``(N, 3)`` digit classes of every triple (reads every base label once)."""
        return source_labels(self.base)[self.index]

    @property
    def labels(self) -> np.ndarray:
        """``(N,)`` triple indices of every example."""
        return triple_labels(self.channel_labels)

    def __len__(self) -> int:
        return len(self.index)

    def read_batch(self, indices) -> dict[str, np.ndarray]:
        rows = self.index[np.asarray(indices, np.int64)]  # (B, 3) base rows
        batch = self.base.read_batch(rows.reshape(-1))
        b, (h, w) = len(rows), tuple(self.base.sample_shape)[:2]
        images = np.moveaxis(batch["image"].reshape(b, 3, h, w), 1, -1)  # (B, 3, H, W) -> (B, H, W, 3)
        labels = triple_labels(np.asarray(batch["label"]).reshape(b, 3))
        return {"image": np.ascontiguousarray(images), "label": labels}

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        batch = self.read_batch([int(index)])
        return {k: v[0] for k, v in batch.items()}

    def close(self) -> None:
        getattr(self.base, "close", lambda: None)()


class StackedDigitsSource(StackedSource):
    """Stacked scikit-learn digits (``data.source="offline:stacked_digits"``): ``resolution`` 16 or 32 (any
    multiple of 8 works), ``split`` a digits split (``"train"``, ``"test"`` or ``"all"``). ``digits`` ``(M,
    H, W)`` and ``digit_labels`` ``(M,)`` are the split's digits (the benchmark draws triples of them in
    the training program)."""

    def __init__(self, resolution: int = 16, split: str = "train", num_triples: int = NUM_TRIPLES):
        from gans_jax.data.sources import ArraySource

        if not isinstance(resolution, (int, np.integer)) or resolution < 8 or resolution % 8:
            raise ValueError(f"stacked digits need a resolution that is a multiple of 8, got {resolution!r}")
        super().__init__(
            ArraySource(load_digits_dataset(int(resolution), split=split), NUM_CLASSES), num_triples
        )
        self.digits, self.digit_labels = self.base.arrays["image"][..., 0], self.base.arrays["label"]
