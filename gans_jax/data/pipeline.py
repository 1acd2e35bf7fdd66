"""Deterministic, resumable batching of in-memory datasets.

The batch of global step ``t`` is rows ``[t*B, (t+1)*B)`` of the endless concatenation of per-epoch
permutations (epoch ``e`` shuffled by ``default_rng([seed, e])``): a function of ``(seed, t)`` alone,
so a resumed run sees exactly the batches an uninterrupted one would. With several processes each
takes its contiguous share of the global batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np


@dataclasses.dataclass
class ArrayDataset:
    """Equal-length arrays (``image`` and optionally ``label``) served as shuffled global batches."""

    arrays: Mapping[str, np.ndarray]
    batch_size: int
    seed: int = 0
    num_classes: int | None = None
    process_index: int = 0
    process_count: int = 1

    def __post_init__(self):
        lengths = {k: len(v) for k, v in self.arrays.items()}
        if "image" not in self.arrays or len(set(lengths.values())) != 1:
            raise ValueError(f"need an 'image' array and equal lengths, got lengths {lengths}")
        if self.batch_size < 1 or self.batch_size % self.process_count:
            raise ValueError(
                f"batch_size {self.batch_size} must be positive and divisible by the "
                f"{self.process_count} processes"
            )
        self._perms: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.arrays["image"])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.arrays["image"].shape[1:])

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(len(self))}
        return self._perms[epoch]

    def indices(self, step: int) -> np.ndarray:
        """Dataset rows of this process's share of the global batch at ``step``."""
        n, local = len(self), self.batch_size // self.process_count
        start = step * self.batch_size + self.process_index * local
        positions = np.arange(start, start + local)
        epochs, offsets = np.divmod(positions, n)
        out = np.empty(local, np.int64)
        for epoch in np.unique(epochs):
            mask = epochs == epoch
            out[mask] = self._permutation(int(epoch))[offsets[mask]]
        return out

    def batch(self, step: int) -> dict[str, np.ndarray]:
        idx = self.indices(step)
        return {k: v[idx] for k, v in self.arrays.items()}
