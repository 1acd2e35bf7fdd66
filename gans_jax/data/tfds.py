"""Image datasets from TensorFlow Datasets, read without TensorFlow.

``data.source = "tfds:<name>"`` (``<name>`` may carry a config and version, e.g.
``"tfds:celeb_a/align:2.0.1"``) opens the prepared dataset with ``tfds.data_source``: random
access to ArrayRecord (or Parquet) files, decoded with Pillow, no TensorFlow needed. Nothing is
downloaded at run time: the dataset must already be prepared in ``data.path`` (a TFDS
``data_dir``; ``""`` for the default, ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).

Datasets stored only as TFRecord files (the TFDS default when preparing) have no random access:
with the ``tf`` extra installed (``pip install 'gans-jax[tf]'``) they are read once through
``tfds.load``/tf.data, preprocessed and kept in memory as uint8; without it the error says so.

Preprocessing is the policy of :mod:`gans_jax.data.folder`: centre-crop to a square
(``crop="center"``) or not (``"none"``), Pillow BICUBIC resize of the uint8 image to
``resolution`` (``None`` keeps the dataset's own size, which must then be fixed), channels as the
dataset has them (MNIST 1, CIFAR-10 3), ``x / 127.5 - 1`` to float32 in ``[-1, 1]``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from gans_jax.data.folder import CROP_POLICIES, resize_to_square, uint8_to_unit_range

__all__ = ["TfdsSource", "dataset_features", "feature_shapes", "resize_array"]


def _tensorflow_available() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


def resize_array(image: np.ndarray, resolution: int, crop: str = "center") -> np.ndarray:
    """A ``(H, W, C)`` (or ``(H, W)``) uint8 image -> ``(res, res, C)`` uint8 by
    :func:`gans_jax.data.folder.resize_to_square`; channels are resized independently."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a (H, W, C) uint8 image, got shape {image.shape} dtype {image.dtype}")
    if crop not in CROP_POLICIES:
        raise ValueError(f"unknown crop policy {crop!r}; expected one of {list(CROP_POLICIES)}")
    h, w, c = image.shape
    if (h, w) == (resolution, resolution):
        return image
    if c == 3:
        return np.asarray(resize_to_square(Image.fromarray(image, "RGB"), resolution, crop))
    bands = [np.asarray(resize_to_square(Image.fromarray(image[..., k]), resolution, crop)) for k in range(c)]
    return np.stack(bands, axis=-1)


def feature_shapes(
    name: str, features, image_key: str, label_key: str, resolution: int | None, crop: str
) -> tuple[int, int, int | None]:
    """``(resolution, channels, num_classes)`` of a TFDS dataset's examples as :class:`TfdsSource`
    serves them, from its ``features`` (``DatasetInfo.features``); errors name a missing or unsuitable
    feature."""
    keys = list(features.keys())
    if image_key not in features:
        raise ValueError(
            f"TFDS dataset {name!r} has no image feature {image_key!r} (data.image_key); "
            f"its features are {keys}"
        )
    shape = tuple(features[image_key].shape)
    dtype = np.dtype(features[image_key].np_dtype)
    if len(shape) != 3 or dtype != np.uint8:
        raise ValueError(
            f"feature {image_key!r} of TFDS dataset {name!r} is not a uint8 (H, W, C) "
            f"image: shape {shape}, dtype {dtype}"
        )
    height, width, channels = shape
    if channels is None:
        raise ValueError(f"TFDS dataset {name!r}: images of unknown channel count {shape}")
    if resolution is None:
        if height is None or width is None or (height != width and crop == "none"):
            raise ValueError(
                f"TFDS dataset {name!r} has images of shape {shape}: set model.resolution "
                "to resize them to a fixed square size"
            )
        resolution = min(height, width)
    num_classes = None
    if label_key:
        if label_key not in features:
            raise ValueError(
                f"TFDS dataset {name!r} has no label feature {label_key!r} "
                f"(data.label_key); its features are {keys}; set data.label_key='' for "
                "unlabelled training"
            )
        num_classes = getattr(features[label_key], "num_classes", None)
        if not num_classes:
            raise ValueError(
                f"feature {label_key!r} of TFDS dataset {name!r} is not a ClassLabel; "
                "set data.label_key='' for unlabelled training"
            )
        num_classes = int(num_classes)
    return int(resolution), int(channels), num_classes


def dataset_features(name: str, data_dir: str | os.PathLike[str] | None = None):
    """The ``features`` of a registered TFDS dataset from its builder's metadata, without its data
    (nothing is read or downloaded; the dataset need not be prepared)."""
    import tensorflow_datasets as tfds

    data_dir = os.path.expanduser(os.fspath(data_dir)) if data_dir else None
    try:
        return tfds.builder(name, data_dir=data_dir).info.features
    except tfds.core.registered.DatasetNotFoundError as err:
        raise ValueError(f"unknown TFDS dataset {name!r} (data.source='tfds:{name}')") from err


class TfdsSource:
    """Random access to one split of a prepared TFDS image dataset, preprocessed per example.

    ``source[i]`` is ``{"image": (res, res, C) float32 in [-1, 1], "label": int32}`` (no
    ``"label"`` when ``label_key`` is empty); :meth:`read_batch` stacks several.

    Args:
      name: the TFDS name, optionally with config and version.
      split: a TFDS split expression (``"train"``, ``"test[:10%]"``, ...).
      data_dir: the TFDS data directory; ``""``/``None`` for the default.
      image_key: the feature holding the image (a ``tfds.features.Image`` of uint8).
      label_key: the ``tfds.features.ClassLabel`` feature, or ``""`` for unlabelled data.
      resolution: output side, or ``None`` for the dataset's own (fixed, square) size.
      crop: ``"center"`` or ``"none"``.
    """

    def __init__(
        self,
        name: str,
        *,
        split: str = "train",
        data_dir: str | os.PathLike[str] | None = None,
        image_key: str = "image",
        label_key: str = "label",
        resolution: int | None = None,
        crop: str = "center",
    ):
        import tensorflow_datasets as tfds

        if not name:
            raise ValueError("empty TFDS dataset name: use data.source='tfds:<name>', e.g. 'tfds:mnist'")
        if crop not in CROP_POLICIES:
            raise ValueError(f"unknown crop policy {crop!r}; expected one of {list(CROP_POLICIES)}")
        if resolution is not None and (
            not isinstance(resolution, (int, np.integer)) or isinstance(resolution, bool) or resolution < 1
        ):
            raise ValueError(f"resolution must be a positive integer or None, got {resolution!r}")
        data_dir = os.path.expanduser(os.fspath(data_dir)) if data_dir else None
        self.name, self.split, self.crop, self.resolution_arg = name, split, crop, resolution
        self.image_key, self.label_key = image_key, label_key
        where = f"data_dir {data_dir!r}" if data_dir else "the default data_dir"

        self._arrays: dict[str, np.ndarray] | None = None
        try:
            self._source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
            features = self._source.dataset_info.features
        except tfds.core.registered.DatasetNotFoundError as err:
            raise ValueError(f"unknown TFDS dataset {name!r} (data.source='tfds:{name}')") from err
        except NotImplementedError as err:  # no random-access file format on disk
            builder = tfds.builder(name, data_dir=data_dir)
            if not builder.is_prepared():
                raise FileNotFoundError(
                    f"TFDS dataset {name!r} is not prepared in {builder.data_dir} ({where}); "
                    f"prepare it once with `tfds build {name} --file_format=array_record` (building "
                    "needs TensorFlow) or point data.path at a data_dir that holds it"
                ) from err
            if not _tensorflow_available():
                raise ImportError(
                    f"TFDS dataset {name!r} in {builder.data_dir} is stored only as "
                    f"{builder.info.file_format.value} files, which need TensorFlow (tfds.load / "
                    "tf.data): install the tf extra (pip install 'gans-jax[tf]'), or re-prepare it "
                    f"as ArrayRecord for random access without TensorFlow (`tfds build {name} "
                    "--file_format=array_record`)"
                ) from err
            self._source = None
            features = builder.info.features
        self.resolution, self.channels, self.num_classes = feature_shapes(
            name, features, image_key, label_key, resolution, crop
        )
        if self._source is None:
            self._arrays = self._load_with_tensorflow(tfds, data_dir)

    def _load_with_tensorflow(self, tfds, data_dir) -> dict[str, np.ndarray]:
        """Reads a TFRecord-only split once through ``tfds.load`` and keeps it in memory as uint8."""
        ds = tfds.load(self.name, split=self.split, data_dir=data_dir, download=False, shuffle_files=False)
        images, labels = [], []
        for example in tfds.as_numpy(ds):
            images.append(resize_array(example[self.image_key], self.resolution, self.crop))
            if self.label_key:
                labels.append(int(example[self.label_key]))
        if not images:
            raise ValueError(f"TFDS dataset {self.name!r} split {self.split!r} is empty")
        arrays = {"image": np.stack(images)}
        if self.label_key:
            arrays["label"] = np.asarray(labels, np.int32)
        return arrays

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (self.resolution, self.resolution, self.channels)

    def __len__(self) -> int:
        if self._arrays is not None:
            return len(self._arrays["image"])
        return len(self._source)

    def _read_uint8(self, index: int) -> tuple[np.ndarray, Any]:
        if self._arrays is not None:
            label = self._arrays["label"][index] if self.label_key else None
            return self._arrays["image"][index], label
        example = self._source[index]
        image = resize_array(example[self.image_key], self.resolution, self.crop)
        return image, (example[self.label_key] if self.label_key else None)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        image, label = self._read_uint8(int(index))
        out = {"image": uint8_to_unit_range(image)}
        if self.label_key:
            out["label"] = np.int32(label)
        return out

    def read_batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """Examples ``indices`` stacked: ``{"image": (n, res, res, C) float32, "label": (n,) int32}``."""
        indices = np.asarray(indices, dtype=np.int64)
        images = np.empty((len(indices), *self.sample_shape), np.uint8)
        labels = np.empty(len(indices), np.int32)
        for k, i in enumerate(indices):
            images[k], label = self._read_uint8(int(i))
            if self.label_key:
                labels[k] = label
        out = {"image": uint8_to_unit_range(images)}
        if self.label_key:
            out["label"] = labels
        return out
