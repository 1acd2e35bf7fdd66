"""The grain pipeline behind every data source: order, determinism, resumption, sharding, errors."""

import json
import warnings
import zipfile

import numpy as np
import pytest
from PIL import Image

from gans_jax.data import ArraySource, Dataset, make_dataset


def counting(n=10, batch=4, seed=3, **kw):
    """A dataset whose example i is the number i (image and label), to read the order off."""
    arrays = {"image": np.arange(n, dtype=np.float32)[:, None], "label": np.arange(n)}
    return Dataset(ArraySource(arrays, num_classes=n), batch_size=batch, seed=seed, **kw)


def take(iterator, k):
    return [next(iterator) for _ in range(k)]


def make_folder(root, n=12, size=(20, 24), classes=("cats", "dogs")):
    rng = np.random.default_rng(0)
    for i in range(n):
        path = root / classes[i % len(classes)] / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return root


def folder_config(path, **kw):
    return {"source": "folder", "path": str(path), "crop": "center", "on_corrupt": "error", **kw}


# ----------------------------------------------------------------------------- the stream


def test_epochs_are_permutations_reshuffled_and_batches_straddle_them():
    data = counting(n=10, batch=4)
    rows = np.concatenate([b["label"] for b in take(data.iterator(), 5)])  # 20 rows = 2 epochs
    assert sorted(rows[:10]) == list(range(10)) and sorted(rows[10:]) == list(range(10))
    assert not np.array_equal(rows[:10], rows[10:])  # each epoch reshuffled
    assert not np.array_equal(rows[:10], np.arange(10))
    first = next(counting(n=10, batch=4).iterator())
    np.testing.assert_array_equal(first["image"][:, 0], first["label"])  # rows stay together
    assert first["image"].dtype == np.float32 and first["label"].dtype == np.int32
    other_seed = np.concatenate([b["label"] for b in take(counting(n=10, batch=4, seed=4).iterator(), 3)])
    assert not np.array_equal(other_seed[:10], rows[:10])


def test_the_iterator_yields_batch_t_at_position_t():
    data = counting(n=13, batch=5)
    for t, b in enumerate(take(data.iterator(), 7)):
        np.testing.assert_array_equal(b["label"], data.batch(t)["label"])


@pytest.mark.parametrize("num_threads", [0, 2])
def test_resume_from_state_continues_the_same_stream(num_threads):
    config = {"source": "toy", "name": "grid25", "num_samples": 50, "num_threads": num_threads}
    whole = take(make_dataset(config, resolution=None, batch_size=16, seed=5).iterator(), 9)
    it = make_dataset(config, resolution=None, batch_size=16, seed=5).iterator()
    take(it, 4)
    state = json.loads(json.dumps(it.get_state()))  # through a checkpoint's JSON
    fresh = make_dataset(config, resolution=None, batch_size=16, seed=5).iterator()
    fresh.set_state(state)
    for a, b in zip(take(fresh, 5), whole[4:], strict=True):
        np.testing.assert_array_equal(a["image"], b["image"])
    it.set_state(state)  # rewinding the same iterator works too
    np.testing.assert_array_equal(next(it)["image"], whole[4]["image"])


def test_two_iterators_from_one_config_agree():
    config = {"source": "digits", "split": "test", "num_threads": 2}
    a = take(make_dataset(config, resolution=16, batch_size=32, seed=1).iterator(), 15)  # > 1 epoch
    b = take(make_dataset(config, resolution=16, batch_size=32, seed=1).iterator(), 15)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x["image"], y["image"])
        np.testing.assert_array_equal(x["label"], y["label"])


def test_processes_take_disjoint_contiguous_shares_of_the_global_batch():
    whole = take(counting(n=16, batch=8).iterator(), 5)
    parts = [take(counting(n=16, batch=8, process_index=i, process_count=2).iterator(), 5) for i in range(2)]
    for t in range(5):
        assert len(parts[0][t]["label"]) == 4
        assert not set(parts[0][t]["label"]) & set(parts[1][t]["label"])
        np.testing.assert_array_equal(np.concatenate([p[t]["label"] for p in parts]), whole[t]["label"])


def test_processes_share_folder_batches(tmp_path):
    root = make_folder(tmp_path / "data", n=6)
    whole = take(make_dataset(folder_config(root), resolution=8, batch_size=4, seed=0).iterator(), 3)
    shares = [
        take(
            make_dataset(
                folder_config(root), resolution=8, batch_size=4, seed=0, process_index=i, process_count=2
            ).iterator(),
            3,
        )
        for i in range(2)
    ]
    for t in range(3):  # 12 rows = 2 epochs of 6 images
        for key in ("image", "label"):
            np.testing.assert_array_equal(np.concatenate([s[t][key] for s in shares]), whole[t][key])


def test_reference_arrays_are_fixed_and_bounded():
    config = {"source": "digits", "split": "test"}
    a = make_dataset(config, resolution=8, batch_size=8, seed=0).reference_arrays(50)
    b = make_dataset(config, resolution=8, batch_size=8, seed=7).reference_arrays(50)
    assert a["image"].shape == (50, 8, 8, 1) and a["label"].shape == (50,)
    np.testing.assert_array_equal(a["image"], b["image"])  # independent of the training seed
    assert len(set(a["label"])) > 5  # a mixed sample, not the first class only
    assert (
        make_dataset(config, resolution=8, batch_size=8, seed=0).reference_arrays(10_000)["image"].shape[0]
        == 360
    )
    toy = make_dataset(
        {"source": "toy", "name": "ring8", "num_samples": 30}, resolution=None, batch_size=8, seed=0
    )
    assert set(toy.reference_arrays(5)) == {"image"} and toy.reference_arrays(0)["image"].shape == (0, 2)


# ----------------------------------------------------------------------------- the sources


def test_toy_source():
    config = {"source": "toy", "name": "ring8", "num_samples": 1000, "split": "", "path": ""}
    data = make_dataset(config, resolution=None, batch_size=64, seed=2)
    assert (data.sample_shape, data.num_classes, data.num_examples) == ((2,), None, 1000)
    batch = next(data.iterator())
    assert set(batch) == {"image"} and batch["image"].shape == (64, 2) and batch["image"].dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch["image"], axis=1), 1.0, atol=0.06)
    other = make_dataset(config, resolution=None, batch_size=64, seed=3)
    assert not np.array_equal(
        data.source.arrays["image"], other.source.arrays["image"]
    )  # drawn with the seed


def test_digits_source():
    data = make_dataset({"source": "digits", "split": "train"}, resolution=16, batch_size=10, seed=0)
    assert (data.sample_shape, data.num_classes, data.num_examples) == ((16, 16, 1), 10, 1437)
    batch = next(data.iterator())
    assert batch["image"].shape == (10, 16, 16, 1) and batch["label"].dtype == np.int32
    assert -1.0 <= batch["image"].min() and batch["image"].max() <= 1.0
    assert make_dataset({"source": "digits"}, resolution=None, batch_size=4, seed=0).sample_shape == (8, 8, 1)


def test_folder_source_is_lazy_and_matches_the_eager_loader(tmp_path):
    from gans_jax.data.folder import load_image_folder

    root = make_folder(tmp_path / "data", n=10)
    data = make_dataset(folder_config(root), resolution=8, batch_size=4, seed=0)
    assert (data.sample_shape, data.num_classes, data.num_examples) == ((8, 8, 3), 2, 10)
    eager = load_image_folder(root, 8)
    batch = next(data.iterator())
    idx = data.indices(0)
    np.testing.assert_array_equal(batch["image"], eager["image"][idx])
    np.testing.assert_array_equal(batch["label"], eager["label"][idx])
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(root.rglob("*.png")):
            zf.write(f, f.relative_to(root).as_posix())
    zipped = make_dataset(folder_config(archive), resolution=8, batch_size=4, seed=0)
    np.testing.assert_array_equal(next(zipped.iterator())["image"], batch["image"])


def test_folder_without_subfolders_is_unlabelled_and_crop_policy(tmp_path):
    wide = np.zeros((8, 16, 3), np.uint8)
    wide[:, :4] = wide[:, 12:] = (255, 0, 0)  # red margins, blue centre
    wide[:, 4:12] = (0, 0, 255)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    centre = make_dataset(folder_config(tmp_path), resolution=8, batch_size=1, seed=0)
    assert centre.num_classes is None
    batch = next(centre.iterator())
    assert set(batch) == {"image"}
    np.testing.assert_allclose(batch["image"][0], np.broadcast_to([-1, -1, 1], (8, 8, 3)))
    squashed = next(
        make_dataset(folder_config(tmp_path, crop="none"), resolution=8, batch_size=1, seed=0).iterator()
    )
    assert squashed["image"][0, :, 0, 0].min() > 0.5  # the red margin survives at the left edge


# ----------------------------------------------------------------------------- bad input


def test_corrupt_files_refused_or_skipped_deterministically(tmp_path):
    root = make_folder(tmp_path / "data", n=8)
    clean = make_dataset(folder_config(root), resolution=8, batch_size=4, seed=0)
    expected = take(clean.iterator(), 4)
    (root / "cats" / "broken.png").write_bytes(b"this is not a png at all")
    png = (root / "dogs" / "001.png").read_bytes()
    (root / "dogs" / "truncated.png").write_bytes(png[: len(png) // 2])
    with pytest.raises(ValueError, match=r"cannot read image .*broken\.png"):
        make_dataset(folder_config(root), resolution=8, batch_size=4, seed=0)
    with pytest.warns(UserWarning) as record:
        skipping = make_dataset(folder_config(root, on_corrupt="skip"), resolution=8, batch_size=4, seed=0)
    messages = " ".join(str(w.message) for w in record)
    assert "broken.png" in messages and "truncated.png" in messages
    assert skipping.num_examples == 8
    for a, b in zip(take(skipping.iterator(), 4), expected, strict=True):
        np.testing.assert_array_equal(a["image"], b["image"])
    with pytest.raises(ValueError, match=r"on_corrupt 'ignore'.*error.*skip"):
        make_dataset(folder_config(root, on_corrupt="ignore"), resolution=8, batch_size=4, seed=0)


def test_truncated_jpeg_is_caught_at_start_up(tmp_path):
    buf = tmp_path / "ok.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf)
    data = buf.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])  # Pillow's verify() misses this
    with pytest.raises(ValueError, match=r"cannot read image .*cut\.jpg"):
        make_dataset(folder_config(tmp_path), resolution=8, batch_size=1, seed=0)
    with pytest.warns(UserWarning, match=r"cut\.jpg"):
        kept = make_dataset(folder_config(tmp_path, on_corrupt="skip"), resolution=8, batch_size=1, seed=0)
    assert kept.num_examples == 1


def test_a_file_broken_after_start_up_fails_loudly(tmp_path):
    root = make_folder(tmp_path / "data", n=2, classes=("a",))
    data = make_dataset(folder_config(root), resolution=8, batch_size=2, seed=0)
    (root / "a" / "000.png").write_bytes(b"gone")
    with pytest.raises(ValueError, match=r"000\.png.*passed the check at start-up"):
        data.batch(0)


def test_all_corrupt_folder(tmp_path):
    (tmp_path / "x.png").write_bytes(b"nope")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"no readable images in .*all 1 image files are corrupt"):
            make_dataset(folder_config(tmp_path, on_corrupt="skip"), resolution=8, batch_size=1, seed=0)


def test_missing_empty_and_unset_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        make_dataset(folder_config(tmp_path / "nowhere"), resolution=8, batch_size=1, seed=0)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"no images found in .*empty"):
        make_dataset(folder_config(tmp_path / "empty"), resolution=8, batch_size=1, seed=0)
    with pytest.raises(ValueError, match="data.path"):
        make_dataset(folder_config(""), resolution=8, batch_size=1, seed=0)
    with pytest.raises(ValueError, match="resolution"):
        make_dataset(folder_config(tmp_path), resolution=None, batch_size=1, seed=0)


def test_mixed_channels_in_a_folder(tmp_path):
    Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "colour.png")
    Image.new("L", (8, 8), 100).save(tmp_path / "grey.png")
    with pytest.raises(ValueError, match=r"grey\.png.*greyscale.*colour\.png"):
        make_dataset(folder_config(tmp_path), resolution=8, batch_size=1, seed=0)
    data = make_dataset(folder_config(tmp_path, channels=3), resolution=8, batch_size=2, seed=0)
    assert data.sample_shape == (8, 8, 3)


def test_unknown_sources_and_names():
    with pytest.raises(ValueError, match=r"unknown data.source 'imagenet'.*toy.*digits.*folder.*tfds"):
        make_dataset({"source": "imagenet"}, resolution=8, batch_size=4, seed=0)
    with pytest.raises(ValueError, match=r"data.name='spiral'.*grid25.*ring8"):
        make_dataset({"source": "toy", "name": "spiral"}, resolution=None, batch_size=4, seed=0)
    with pytest.raises(ValueError, match=r"'valid'"):
        make_dataset({"source": "digits", "split": "valid"}, resolution=8, batch_size=4, seed=0)
    with pytest.raises(ValueError, match=r"crop policy 'middle'"):
        make_dataset({"source": "folder", "path": "x", "crop": "middle"}, resolution=8, batch_size=4, seed=0)


def test_batch_size_and_process_errors():
    toy = {"source": "toy", "name": "ring8", "num_samples": 10}
    with pytest.raises(ValueError, match=r"batch_size 7 is not divisible by the process count 2"):
        make_dataset(toy, resolution=None, batch_size=7, seed=0, process_count=2)
    with pytest.raises(ValueError, match=r"process_index must be in \[0, 2\), got 2"):
        make_dataset(toy, resolution=None, batch_size=8, seed=0, process_index=2, process_count=2)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        make_dataset(toy, resolution=None, batch_size=0, seed=0)
    with pytest.raises(ValueError, match="num_threads.*-1"):
        make_dataset({**toy, "num_threads": -1}, resolution=None, batch_size=8, seed=0)
    with pytest.raises(ValueError, match="lengths"):
        ArraySource({"image": np.zeros((3, 1)), "label": np.zeros(4)}, num_classes=2)


def test_an_ml_collections_config_with_every_key():
    import ml_collections

    data = ml_collections.ConfigDict(
        dict(
            source="toy",
            path="",
            name="grid25",
            split="train",
            num_samples=200,
            image_key="image",
            label_key="label",
            crop="center",
            on_corrupt="error",
            num_threads=2,
        )
    )
    dataset = make_dataset(data, resolution=None, batch_size=8, seed=0)
    assert next(dataset.iterator())["image"].shape == (8, 2)
    data.source, data.split = "digits", "test"
    assert make_dataset(data, resolution=16, batch_size=8, seed=0).num_examples == 360


def test_mirror_doubles_the_data_set_with_x_flips():
    """``data.mirror`` (StyleGAN2-ADA / R3GAN ``--mirror=1``): an epoch is the 2N rows of the examples and
    their left-right flips, shuffled; labels stay; without it the rows are the source's as before."""
    data = {"source": "digits", "split": "train"}
    plain = make_dataset(data, resolution=8, batch_size=64, seed=3)
    n = plain.num_examples
    mirrored = make_dataset({**data, "mirror": True}, resolution=8, batch_size=2 * n, seed=3)
    assert mirrored.num_examples == n and mirrored.mirror and not plain.mirror
    rows = mirrored.indices(0)  # batch 0 is exactly epoch 0
    np.testing.assert_array_equal(np.sort(rows), np.arange(2 * n))
    whole = plain.source.read_batch(np.arange(n))
    base, flip = rows % n, rows >= n
    expected = np.where(flip[:, None, None, None], whole["image"][base][:, :, ::-1], whole["image"][base])
    epoch = mirrored.batch(0)
    np.testing.assert_array_equal(epoch["image"], expected)
    np.testing.assert_array_equal(epoch["label"], whole["label"][base])
    assert not np.array_equal(whole["image"][0], whole["image"][0][:, ::-1])  # digits are not symmetric
    batch = plain.batch(5)
    np.testing.assert_array_equal(batch["image"], plain.source.read_batch(plain.indices(5))["image"])
    with pytest.raises(ValueError, match=r"data\.mirror .* shape \(2,\)"):
        toy = {"source": "toy", "name": "ring8", "mirror": True}
        make_dataset(toy, resolution=None, batch_size=4, seed=0)
