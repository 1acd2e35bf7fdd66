"""Stacked digits: a 1000-mode image distribution offline (``data.source="offline:stacked_digits"``).

Stacked MNIST (Metz et al. 2017, "Unrolled GANs", Sec. 3.3; Srivastava et al. 2017, VEEGAN, Sec. 5.2;
Lin et al. 2018, PacGAN, Sec. 4.2) puts three independently drawn MNIST digits in the three colour
channels of one image: 10^3 = 1000 modes, one per triple of digit classes. MNIST cannot be downloaded
here, so the same construction is made from scikit-learn's digits (:mod:`gans_jax.data.digits`): each
example's three channels are three digits drawn independently and uniformly from the chosen split
(digits upsampled to ``resolution``, 16 or 32 stand for MNIST's 28), and its label is the triple's index
``100 * d_red + 10 * d_green + d_blue`` in ``0..999``. Because the digits are drawn uniformly among the
split's images, each channel's class is about uniform and the three are independent, so the triples
are about uniform over the 1000 modes (the split's class proportions are within 0.3% of 1/10).

:data:`NUM_TRIPLES` triples are drawn once from a fixed seed (the same data for every run; the pipeline
shuffles them with the run's seed). The generated images are scored by
:func:`gans_jax.metrics.modes.stacked_modes`, one channel at a time.
"""

from __future__ import annotations

import numpy as np

from gans_jax.data.digits import load_digits_dataset

__all__ = ["NUM_MODES", "NUM_TRIPLES", "StackedDigitsSource", "triple_labels"]

NUM_MODES = 1000
NUM_TRIPLES = 100_000
SEED = 20170703  # fixed: the stacked data set does not change with the run's seed


def triple_labels(channel_labels: np.ndarray) -> np.ndarray:
    """``(N, 3)`` digit classes (red, green, blue) -> ``(N,)`` mode indices ``100 r + 10 g + b``."""
    channel_labels = np.asarray(channel_labels)
    if channel_labels.ndim != 2 or channel_labels.shape[1] != 3:
        raise ValueError(f"channel labels must have shape (N, 3), got {channel_labels.shape}")
    return (channel_labels @ np.array([100, 10, 1])).astype(np.int32)


class StackedDigitsSource:
    """Random-access stacked digits (module doc): ``{"image": (H, W, 3) float32 in [-1, 1], "label":
    int32 triple index}``; ``resolution`` 16 or 32 (any multiple of 8 works), ``split`` a digits split
    (``"train"``, ``"test"`` or ``"all"``)."""

    num_classes = NUM_MODES
    condition_shape = None

    def __init__(self, resolution: int = 16, split: str = "train", num_triples: int = NUM_TRIPLES):
        if not isinstance(resolution, (int, np.integer)) or resolution < 8 or resolution % 8:
            raise ValueError(f"stacked digits need a resolution that is a multiple of 8, got {resolution!r}")
        if not isinstance(num_triples, (int, np.integer)) or num_triples < 1:
            raise ValueError(f"num_triples must be a positive integer, got {num_triples!r}")
        digits = load_digits_dataset(int(resolution), split=split)
        self.digits, self.digit_labels = digits["image"][..., 0], digits["label"]
        rng = np.random.default_rng(SEED)
        self.index = rng.integers(0, len(self.digit_labels), size=(int(num_triples), 3))
        self.channel_labels = self.digit_labels[self.index]  # (N, 3)
        self.labels = triple_labels(self.channel_labels)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (*self.digits.shape[1:], 3)

    def __len__(self) -> int:
        return len(self.index)

    def read_batch(self, indices) -> dict[str, np.ndarray]:
        rows = self.index[np.asarray(indices, np.int64)]  # (B, 3) digit rows
        images = np.moveaxis(self.digits[rows], 1, -1)  # (B, 3, H, W) -> (B, H, W, 3)
        return {"image": np.ascontiguousarray(images), "label": triple_labels(self.digit_labels[rows])}

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        batch = self.read_batch([int(index)])
        return {k: v[0] for k, v in batch.items()}
