"""Example shapes from a data config alone agree with what the pipeline builds from the data."""

import numpy as np
import pytest
from PIL import Image

from gans_jax.configs import default_config
from gans_jax.data import make_dataset
from gans_jax.data.shapes import UnknownShapeError, example_shapes


def config(**kw):
    data = default_config().data
    data.update(num_threads=0, **kw)
    return data


def colour_folder(root, n=3, size=10):
    rng = np.random.default_rng(0)
    for i in range(n):
        for domain in ("A", "B"):
            (root / domain).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
                root / domain / f"{i}.png"
            )
    return root


@pytest.mark.parametrize(
    "data,resolution",
    [
        (dict(source="toy", name="ring8", num_samples=10), 32),
        (dict(source="digits"), 16),
        (dict(source="offline:edges2faces", split="test"), 16),
        (dict(source="offline:gray2color", split="test"), 16),
        (dict(source="offline:sr_photos", split="test", scale=4), 16),
        (dict(source="folder", channels=3, translation="paired"), 8),
        (dict(source="folder", channels=1, translation="unpaired"), 8),
        (dict(source="folder", channels=3, translation="super_resolution", scale=2), 8),
    ],
)
def test_shapes_from_the_config_match_the_pipeline(data, resolution, tmp_path):
    data = config(**data)
    if data.source == "folder":
        data.path = str(colour_folder(tmp_path))
        if data.translation == "super_resolution":
            data.path = str(tmp_path / "A")
    conditional = data.source == "digits"
    shapes = example_shapes(data, resolution=resolution, conditional=conditional)
    dataset = make_dataset(data, resolution=resolution, batch_size=2, seed=0)
    assert shapes.sample_shape == dataset.sample_shape
    assert shapes.num_classes == dataset.num_classes
    assert shapes.condition_shape == dataset.condition_shape
    dataset.close()


def test_tfds_shapes_come_from_registered_metadata():
    """Neither dataset is prepared here: the builder's metadata says MNIST is 1 channel in 10 classes."""
    assert example_shapes(config(source="tfds:mnist"), resolution=32, conditional=True) == (
        (32, 32, 1),
        10,
        None,
    )
    unlabelled = example_shapes(config(source="tfds:cifar10", label_key=""), resolution=32)
    assert unlabelled == ((32, 32, 3), None, None)
    with pytest.raises(ValueError, match="unknown TFDS dataset 'no_such_set'"):
        example_shapes(config(source="tfds:no_such_set"), resolution=32)


def test_what_only_the_files_know_is_asked_for():
    folder, colour = config(source="folder", channels=0), config(source="folder", channels=3)
    with pytest.raises(UnknownShapeError, match="data.channels"):
        example_shapes(folder, resolution=64)
    assert example_shapes(folder, resolution=64, sample_shape=(64, 64, 3)).sample_shape == (64, 64, 3)
    with pytest.raises(UnknownShapeError, match="number of classes"):
        example_shapes(colour, resolution=64, conditional=True)
    given = example_shapes(colour, resolution=64, conditional=True, num_classes=5)
    assert given == ((64, 64, 3), 5, None)
