"""TFDS image datasets through ``tfds.data_source`` and grain, offline, without TensorFlow.

``tfds.testing.mock_data`` patches ``tfds.data_source`` to return random examples generated from
the builder's feature specification (taken from the dataset's code: no metadata files, no
download), so these tests run on a machine with neither TensorFlow nor the datasets.
"""

import importlib.util
import json

import numpy as np
import pytest
from PIL import Image

tfds = pytest.importorskip("tensorflow_datasets")

from gans_jax.data import make_dataset  # noqa: E402
from gans_jax.data.tfds import TfdsSource, resize_array  # noqa: E402

HAS_TF = importlib.util.find_spec("tensorflow") is not None


def config(name, **kw):
    return {
        "source": f"tfds:{name}",
        "path": "",
        "split": "train",
        "image_key": "image",
        "label_key": "label",
        "crop": "center",
        "num_threads": 2,
        **kw,
    }


def raw(name, n):
    """The mocked examples as tfds.data_source gives them."""
    with tfds.testing.mock_data(num_examples=n):
        source = tfds.data_source(name, split="train", download=False)
        return [source[i] for i in range(n)]


def take(iterator, k):
    return [next(iterator) for _ in range(k)]


def test_mnist_batches_resized_labelled_and_resumable():
    with tfds.testing.mock_data(num_examples=20):
        data = make_dataset(config("mnist"), resolution=32, batch_size=8, seed=0)
        assert (data.sample_shape, data.num_classes, data.num_examples) == ((32, 32, 1), 10, 20)
        whole = take(data.iterator(), 6)  # 48 rows: more than two epochs
        it = make_dataset(config("mnist"), resolution=32, batch_size=8, seed=0).iterator()
        take(it, 3)
        state = json.loads(json.dumps(it.get_state()))
        resumed = make_dataset(config("mnist"), resolution=32, batch_size=8, seed=0).iterator()
        resumed.set_state(state)
        rest = take(resumed, 3)
        examples = [tfds.data_source("mnist", split="train", download=False)[i] for i in range(20)]
    batch = whole[0]
    assert batch["image"].shape == (8, 32, 32, 1) and batch["image"].dtype == np.float32
    assert batch["label"].shape == (8,) and batch["label"].dtype == np.int32
    assert -1.0 <= batch["image"].min() and batch["image"].max() <= 1.0
    for a, b in zip(rest, whole[3:], strict=True):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["label"], b["label"])
    # the preprocessing: PIL bicubic 28 -> 32 of the uint8 image, then x / 127.5 - 1
    idx = data.indices(0)
    for k in (0, 5):
        ex = examples[idx[k]]
        img = Image.fromarray(ex["image"][..., 0]).resize((32, 32), Image.Resampling.BICUBIC)
        np.testing.assert_allclose(batch["image"][k, ..., 0], np.asarray(img) / 127.5 - 1, atol=1e-6)
        assert batch["label"][k] == int(ex["label"])


def test_cifar10_native_size_is_not_resampled_and_processes_split_batches():
    examples = raw("cifar10", 12)
    with tfds.testing.mock_data(num_examples=12):
        data = make_dataset(config("cifar10"), resolution=32, batch_size=6, seed=1)
        parts = [
            make_dataset(
                config("cifar10"), resolution=32, batch_size=6, seed=1, process_index=i, process_count=2
            )
            for i in range(2)
        ]
        whole = take(data.iterator(), 3)
        shares = [take(p.iterator(), 3) for p in parts]
    assert data.sample_shape == (32, 32, 3) and data.num_classes == 10
    idx = data.indices(0)
    np.testing.assert_array_equal(whole[0]["image"][2], examples[idx[2]]["image"] / np.float32(127.5) - 1)
    for t in range(3):
        assert shares[0][t]["image"].shape == (3, 32, 32, 3)
        np.testing.assert_array_equal(np.concatenate([s[t]["image"] for s in shares]), whole[t]["image"])
        np.testing.assert_array_equal(np.concatenate([s[t]["label"] for s in shares]), whole[t]["label"])


def test_native_resolution_unlabelled_and_crop_policies():
    with tfds.testing.mock_data(num_examples=4):
        native = make_dataset(config("mnist", label_key=""), resolution=None, batch_size=2, seed=0)
        assert native.sample_shape == (28, 28, 1) and native.num_classes is None
        assert set(next(native.iterator())) == {"image"}
        small = make_dataset(config("cifar10", crop="none"), resolution=16, batch_size=4, seed=0)
        assert next(small.iterator())["image"].shape == (4, 16, 16, 3)


def test_resize_array_policy():
    wide = np.zeros((8, 16, 3), np.uint8)
    wide[:, 4:12] = 255
    np.testing.assert_array_equal(resize_array(wide, 8, "center"), 255)  # centre square only
    squashed = resize_array(wide, 8, "none")
    assert squashed[:, 0].max() < 128 and squashed.shape == (8, 8, 3)
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    assert resize_array(grey, 4).shape == (4, 4, 1)
    two = np.stack([grey, 255 - grey], -1)  # any channel count, bands resized independently
    np.testing.assert_array_equal(resize_array(two, 4)[..., 1], resize_array(255 - grey, 4)[..., 0])
    with pytest.raises(ValueError, match="uint8"):
        resize_array(grey.astype(np.float32), 4)


def test_bad_keys_and_names():
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(ValueError, match=r"no label feature 'digit'.*\['image', 'label'\].*label_key=''"):
            make_dataset(config("mnist", label_key="digit"), resolution=32, batch_size=2, seed=0)
        with pytest.raises(ValueError, match=r"no image feature 'img'.*\['id', 'image', 'label'\]"):
            make_dataset(config("cifar10", image_key="img"), resolution=32, batch_size=2, seed=0)
        with pytest.raises(ValueError, match=r"'id'.*not a uint8 \(H, W, C\) image"):
            make_dataset(config("cifar10", image_key="id"), resolution=32, batch_size=2, seed=0)
    with pytest.raises(ValueError, match=r"unknown TFDS dataset 'no_such_dataset_xyz'"):
        make_dataset(config("no_such_dataset_xyz"), resolution=32, batch_size=2, seed=0)


def test_not_prepared_dataset_names_the_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'mnist' is not prepared in .*mnist.*tfds build mnist"):
        make_dataset(config("mnist", path=str(tmp_path)), resolution=32, batch_size=2, seed=0)


def _tfrecord_only(tmp_path):
    """A data_dir in which mnist looks prepared in the TFDS default format, TFRecord."""
    builder = tfds.builder("mnist", data_dir=str(tmp_path))
    builder.data_path.mkdir(parents=True)
    builder.info.write_to_directory(builder.data_path)
    return tmp_path


@pytest.mark.skipif(HAS_TF, reason="checks the message shown when TensorFlow is missing")
def test_tfrecord_only_dataset_without_tensorflow_says_what_to_install(tmp_path):
    data_dir = _tfrecord_only(tmp_path)
    with pytest.raises(ImportError, match=r"'mnist' .* only as tfrecord files.*TensorFlow.*gans-jax\[tf\]"):
        make_dataset(config("mnist", path=str(data_dir)), resolution=32, batch_size=2, seed=0)


def test_tfrecord_only_dataset_goes_through_tfds_load_when_tensorflow_is_there(tmp_path, monkeypatch):
    import gans_jax.data.tfds as tfds_module

    data_dir = _tfrecord_only(tmp_path)
    rng = np.random.default_rng(0)
    examples = [
        {"image": rng.integers(0, 256, (28, 28, 1), dtype=np.uint8), "label": np.int64(i % 10)}
        for i in range(6)
    ]
    calls = []

    def fake_load(name, **kwargs):
        calls.append((name, kwargs))
        return examples

    monkeypatch.setattr(tfds_module, "_tensorflow_available", lambda: True)
    monkeypatch.setattr(tfds, "load", fake_load)
    monkeypatch.setattr(tfds, "as_numpy", lambda ds: iter(ds))
    data = make_dataset(config("mnist", path=str(data_dir)), resolution=28, batch_size=3, seed=0)
    assert calls == [
        ("mnist", {"split": "train", "data_dir": str(data_dir), "download": False, "shuffle_files": False})
    ]
    assert isinstance(data.source, TfdsSource) and data.num_examples == 6 and data.num_classes == 10
    batch = next(data.iterator())
    idx = data.indices(0)
    np.testing.assert_array_equal(
        batch["image"], np.stack([examples[i]["image"] for i in idx]) / np.float32(127.5) - 1
    )
    np.testing.assert_array_equal(batch["label"], idx % 10)


def test_imagenet2012_per_host_shards_make_the_global_batch():
    """BigGAN's ImageNet input (experiments/biggan_imagenet.py): each process reads its own rows of
    every global batch, centre-cropped and resized, with its 1000-class labels."""
    data = config("imagenet2012", num_threads=0)
    with tfds.testing.mock_data(num_examples=12):
        full = make_dataset(data, resolution=32, batch_size=4, seed=0).batch(1)
        shards = [
            make_dataset(data, resolution=32, batch_size=4, seed=0, process_index=i, process_count=2)
            for i in range(2)
        ]
        assert shards[0].num_classes == 1000 and shards[0].sample_shape == (32, 32, 3)
        parts = [shard.batch(1) for shard in shards]
    for key in ("image", "label"):
        np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), full[key])
    assert parts[0]["image"].shape == (2, 32, 32, 3) and parts[0]["image"].dtype == np.float32
