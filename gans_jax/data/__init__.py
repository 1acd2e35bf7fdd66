"""Datasets as host numpy arrays: toy 2-D mixtures, scikit-learn digits, image folders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gans_jax.data.pipeline import ArrayDataset

SOURCES = ("toy", "digits", "folder")


def load_arrays(data: Mapping[str, Any], resolution: int | None, seed: int = 0) -> tuple[dict, int | None]:
    """``(arrays, num_classes)`` for a data config: ``source`` in :data:`SOURCES` and its options.

    - ``toy``: ``name`` (``ring8``/``grid25``), ``num_samples`` drawn once with ``seed``.
    - ``digits``: scikit-learn's 8x8 digits (``split``), upsampled to ``resolution``.
    - ``folder``: ``path`` to a folder or zip of images, labels from subfolders.
    """
    source = data["source"]
    if source == "toy":
        from gans_jax.data.toy import get_mixture

        points = get_mixture(data["name"]).sample(np.random.default_rng(seed), data["num_samples"])
        return {"image": points}, None
    if source == "digits":
        from gans_jax.data.digits import NUM_CLASSES, load_digits_dataset

        return load_digits_dataset(resolution, split=data.get("split", "train")), NUM_CLASSES
    if source == "folder":
        from gans_jax.data.folder import load_image_folder

        loaded = load_image_folder(data["path"], resolution)
        num_classes = len(loaded["class_names"]) or None
        arrays = {"image": loaded["image"]}
        if num_classes:
            arrays["label"] = loaded["label"]
        return arrays, num_classes
    raise ValueError(f"unknown data.source {source!r}; expected one of {SOURCES}")


__all__ = ["ArrayDataset", "SOURCES", "load_arrays"]
