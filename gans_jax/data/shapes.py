"""The shapes of a data config's examples without reading its data: what ``gans-jax describe`` needs.

:func:`example_shapes` answers from what each source knows up front: 2-D toy points are ``(2,)``;
digits are ``(resolution, resolution, 1)`` in 10 classes; an image folder has ``data.channels``
channels (when set: with ``0`` they are inferred from the files); a TFDS dataset's channel count and
classes come from its registered metadata (:func:`gans_jax.data.tfds.dataset_features`, nothing is
read or downloaded); offline tasks know theirs (:func:`gans_jax.data.offline.task_shapes`); stacked
MNIST (``data.stacked``) has three channels and 1000 classes.
Image-to-image data adds the shape of the source image: the image's own for paired and unpaired
data, ``1 / data.scale`` of its side for super-resolution. What cannot be known without reading the
data is refused with an error that names the value to give instead (``sample_shape``,
``num_classes``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from gans_jax.data.sources import option

__all__ = ["ExampleShapes", "UnknownShapeError", "example_shapes"]


class ExampleShapes(NamedTuple):
    sample_shape: tuple[int, ...]
    num_classes: int | None
    condition_shape: tuple[int, ...] | None


class UnknownShapeError(ValueError):
    """The config alone does not fix a shape (the message says which value to give)."""


def _image_channels(data: Mapping[str, Any], source: str, label_key: str) -> tuple[int | None, int | None]:
    """``(channels, num_classes)`` of an image source; ``None`` where only the files would tell."""
    if source == "digits":
        from gans_jax.data.digits import NUM_CLASSES

        return 1, NUM_CLASSES
    if source == "folder":
        channels = option(data, "channels", 0)
        return (int(channels) if channels else None), None
    if isinstance(source, str) and source.startswith("tfds:"):
        from gans_jax.data.tfds import dataset_features, feature_shapes

        name = source[len("tfds:") :]
        features = dataset_features(name, option(data, "path", None))
        image_key = option(data, "image_key", "image")
        _, channels, num_classes = feature_shapes(name, features, image_key, label_key, 1, "center")
        return channels, num_classes
    raise ValueError(
        f"unknown data.source {source!r}; expected 'toy', 'digits', 'folder', 'tfds:<name>' or "
        "'offline:<task>'"
    )


def example_shapes(
    data: Mapping[str, Any],
    *,
    resolution: int | None,
    conditional: bool = False,
    sample_shape: Sequence[int] | None = None,
    num_classes: int | None = None,
) -> ExampleShapes:
    """The shapes :func:`gans_jax.data.pipeline.make_dataset` would give for ``data`` at
    ``resolution``, from the config alone. ``sample_shape`` and ``num_classes``, when given, replace
    what the data would say (for image-to-image data the source image then has ``sample_shape``'s
    channels); ``conditional`` says whether the number of classes is needed."""
    source = option(data, "source", "")
    translation = option(data, "translation", "")
    scale = int(option(data, "scale", 4))
    if isinstance(source, str) and source.startswith("offline:"):
        from gans_jax.data.offline import task_shapes

        task = source[len("offline:") :]
        image, condition = task_shapes(task, resolution, scale)
        if task == "stacked_digits":  # labelled: the triple's index of 1000 modes
            return ExampleShapes(tuple(sample_shape or image), num_classes or 1000, None)
        return ExampleShapes(tuple(sample_shape or image), None, condition)
    if source == "toy":
        return ExampleShapes(tuple(sample_shape or (2,)), None, None)
    label_key = "" if translation else data.get("label_key", "label")  # "" = unlabelled
    channels, classes = (None, None) if sample_shape else _image_channels(data, source, label_key)
    side = resolution or (8 if source == "digits" else None)
    if sample_shape is None:
        if channels is None:
            raise UnknownShapeError(
                f"data.source={source!r} with data.channels=0 takes its channel count from the image "
                "files: set data.channels (1 or 3) or give the sample shape (e.g. 64,64,3)"
            )
        if side is None:
            raise UnknownShapeError(f"data.source={source!r} needs model.resolution for its image side")
        sample_shape = (side, side, channels)
    sample_shape = tuple(int(d) for d in sample_shape)
    if option(data, "stacked", False) and channels is not None:  # stacked MNIST (gans_jax.data.stacked)
        if channels != 1:
            raise ValueError(
                f"data.stacked needs one-channel images, but data.source={source!r} has {channels}"
            )
        sample_shape, classes = (*sample_shape[:-1], 3), 1000
    num_classes = classes if num_classes is None else int(num_classes)
    if conditional and num_classes is None and not translation:
        raise UnknownShapeError(
            f"a class-conditional model on data.source={source!r}: its classes are known only by reading "
            "the data (a folder's subfolders); give the number of classes"
        )
    condition_shape = None
    if translation == "super_resolution":
        low = sample_shape[0] // scale
        condition_shape = (low, low, sample_shape[-1])
    elif translation:
        condition_shape = sample_shape
    return ExampleShapes(sample_shape, num_classes, condition_shape)
