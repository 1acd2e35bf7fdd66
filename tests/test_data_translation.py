"""Image-to-image data (gans_jax.data.translation, gans_jax.data.offline): pairing, unpaired partners,
super-resolution inputs, TFDS cycle_gan, offline tasks, and batches that resume exactly."""

import json

import numpy as np
import pytest
from PIL import Image

from gans_jax.configs import default_config
from gans_jax.data import make_dataset
from gans_jax.data.offline import COLOR_PHOTOS, GRAY_PHOTOS, PHOTOS, TRAIN_ROWS, _photos, photo_crops
from gans_jax.data.transforms import bicubic_downsample, unit_range_to_uint8


def save(path, array, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path, format=fmt)


def take(iterator, k):
    return [next(iterator) for _ in range(k)]


def config(**kw):
    """The shared default data config with updates (every key must exist there)."""
    data = default_config().data
    data.update(num_threads=0, **kw)
    return data


def u8(x):
    return unit_range_to_uint8(x)


NAMES = ("a", "b", "sub/c", "d")


def paired_folder(root, size=12):
    """A/<name>.png grey; B/<name>.bmp colour, every channel 255 - A."""
    rng = np.random.default_rng(0)
    grey = {}
    for name in NAMES:
        grey[name] = rng.integers(0, 256, (size, size), dtype=np.uint8)
        save(root / "A" / f"{name}.png", grey[name])
        save(root / "B" / f"{name}.bmp", np.repeat((255 - grey[name])[..., None], 3, -1))
    return root, grey


# ----------------------------------------------------------------------------- paired (pix2pix)


def test_paired_folder_pairs_by_name_and_direction(tmp_path):
    root, grey = paired_folder(tmp_path)
    data = make_dataset(
        config(source="folder", translation="paired", path=str(root)), resolution=12, batch_size=4, seed=0
    )
    assert data.source.names == sorted(NAMES)
    assert (data.sample_shape, data.condition_shape, data.num_classes) == ((12, 12, 3), (12, 12, 1), None)
    batch = data.batch(0)
    idx = data.indices(0)
    for k, i in enumerate(idx):  # no resampling at the native size: exact values
        np.testing.assert_array_equal(u8(batch["condition"][k, ..., 0]), grey[sorted(NAMES)[i]])
        np.testing.assert_array_equal(
            u8(batch["image"][k]), np.repeat(255 - u8(batch["condition"][k]), 3, -1)
        )
    back = make_dataset(
        config(source="folder", translation="paired", path=str(root), direction="BtoA"),
        resolution=12,
        batch_size=4,
        seed=0,
    )
    assert (back.sample_shape, back.condition_shape) == ((12, 12, 1), (12, 12, 3))
    swapped = back.batch(0)
    np.testing.assert_array_equal(swapped["image"], batch["condition"])
    np.testing.assert_array_equal(swapped["condition"], batch["image"])


def test_paired_jitter_crops_and_mirrors_a_and_b_alike_and_changes_per_epoch(tmp_path):
    root, grey = paired_folder(tmp_path)
    cfg = config(source="folder", translation="paired", path=str(root), jitter=True, load_size=12)
    data = make_dataset(cfg, resolution=8, batch_size=4, seed=3)
    crops_of_a = set()
    for step in range(6):  # 6 epochs of 4 pairs
        batch = data.batch(step)
        np.testing.assert_array_equal(u8(batch["image"]), np.repeat(255 - u8(batch["condition"]), 3, -1))
        for k, i in enumerate(data.indices(step)):
            full, crop = grey[sorted(NAMES)[i]], u8(batch["condition"][k, ..., 0])
            windows = [
                (t, left, m)
                for t in range(5)
                for left in range(5)
                for m in (False, True)
                if np.array_equal((full[:, ::-1] if m else full)[t : t + 8, left : left + 8], crop)
            ]
            assert windows, "the condition is not an 8x8 window of the (mirrored) 12x12 image"
            if i == 0:
                crops_of_a.add(windows[0])
    assert len(crops_of_a) > 1  # the jitter is drawn per stream position: new crops every epoch
    again = make_dataset(cfg, resolution=8, batch_size=4, seed=3).batch(5)
    np.testing.assert_array_equal(again["condition"], data.batch(5)["condition"])


def test_side_by_side_layout_splits_each_file_in_halves(tmp_path):
    rng = np.random.default_rng(1)
    halves = {}
    for name in ("x", "y", "z"):
        a, b = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
        halves[name] = (a, b)
        save(tmp_path / f"{name}.png", np.concatenate([a, b], axis=1))  # 8 x 16: A | B
    cfg = config(source="folder", translation="paired", path=str(tmp_path), layout="side_by_side")
    for direction, (cond, target) in (("AtoB", (0, 1)), ("BtoA", (1, 0))):
        data = make_dataset({**cfg, "direction": direction}, resolution=8, batch_size=3, seed=0)
        batch, idx = data.batch(0), data.indices(0)
        for k, i in enumerate(idx):
            name = "xyz"[i]
            np.testing.assert_array_equal(u8(batch["condition"][k]), halves[name][cond])
            np.testing.assert_array_equal(u8(batch["image"][k]), halves[name][target])


def test_paired_folder_errors_name_the_problem(tmp_path):
    root, _ = paired_folder(tmp_path / "ok")

    def build(path, **kw):
        cfg = config(source="folder", translation="paired", path=str(path), **kw)
        return make_dataset(cfg, resolution=8, batch_size=2, seed=0)

    (tmp_path / "noB" / "A").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"noB has no B/ subfolder"):
        build(tmp_path / "noB")
    for name in ("extra1", "extra2"):
        save(root / "A" / f"{name}.png", np.zeros((12, 12)))
    save(root / "B" / "lonely.png", np.zeros((12, 12, 3)))
    with pytest.raises(ValueError, match=r"2 only in .*A: 'extra1', 'extra2'; 1 only in .*B: 'lonely'"):
        build(root)
    for name in ("extra1", "extra2"):
        (root / "A" / f"{name}.png").unlink()
    (root / "B" / "lonely.png").unlink()
    (root / "B" / "d.bmp").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"cannot read image .*B/d\.bmp"):
        build(root)
    with (
        pytest.warns(UserWarning, match=r"skipping a corrupt image \(cannot read image .*B/d\.bmp"),
        pytest.warns(UserWarning, match=r"skipping 1 pair\(s\) with a corrupt file: 'd'"),
    ):
        assert build(root, on_corrupt="skip").source.names == ["a", "b", "sub/c"]
    (tmp_path / "empty" / "A").mkdir(parents=True)
    (tmp_path / "empty" / "B").mkdir()
    with pytest.raises(ValueError, match=r"no images found in .*empty/A"):
        build(tmp_path / "empty")
    save(root / "A" / "a.jpg", np.zeros((12, 12)))
    with pytest.raises(ValueError, match=r"'a.jpg' and 'a.png', which differ only in their extension"):
        build(root)
    with pytest.raises(ValueError, match=r"unknown data.direction 'AB'"):
        build(root, direction="AB")
    with pytest.raises(ValueError, match=r"translation='paired' reads data.source='folder'.*'digits'"):
        make_dataset(config(source="digits", translation="paired"), resolution=8, batch_size=2, seed=0)
    with pytest.raises(ValueError, match=r"unknown data.translation 'pix2pix'"):
        make_dataset(config(source="digits", translation="pix2pix"), resolution=8, batch_size=2, seed=0)


def test_split_subfolders_of_the_official_dataset_layouts(tmp_path):
    """CycleGAN/pix2pix releases: trainA/ trainB/ testA/ testB/; facades: train/ test/ of A|B files."""
    for split, value in (("train", 10), ("test", 200)):
        for d, offset in (("A", 0), ("B", 1)):
            for name in ("p", "q"):
                save(tmp_path / "ab" / f"{split}{d}" / f"{name}.png", np.full((4, 4), value + offset))
        save(
            tmp_path / "sbs" / split / "x.png",
            np.concatenate([np.full((4, 4), value), np.full((4, 4), value + 1)], 1),
        )
    for translation, layout, path in (
        ("paired", "folders", "ab"),
        ("unpaired", "folders", "ab"),
        ("paired", "side_by_side", "sbs"),
    ):
        for split, value in (("train", 10), ("test", 200)):
            cfg = config(
                source="folder",
                translation=translation,
                layout=layout,
                path=str(tmp_path / path),
                split=split,
            )
            batch = make_dataset(cfg, resolution=4, batch_size=2, seed=0).batch(0)
            np.testing.assert_array_equal(u8(batch["condition"]), value)
            np.testing.assert_array_equal(u8(batch["image"]), value + 1)
    with pytest.raises(FileNotFoundError, match=r"no valA/ and valB/ subfolders for data.split='val'"):
        make_dataset(
            config(source="folder", translation="paired", path=str(tmp_path / "ab"), split="val"),
            resolution=4,
            batch_size=2,
            seed=0,
        )
    with pytest.raises(FileNotFoundError, match=r"sbs has no val/ subfolder"):
        make_dataset(
            config(
                source="folder",
                translation="paired",
                layout="side_by_side",
                path=str(tmp_path / "sbs"),
                split="val",
            ),
            resolution=4,
            batch_size=2,
            seed=0,
        )
    root, _ = paired_folder(tmp_path / "plain")  # A/ and B/ only: no held-out split to give
    with pytest.raises(
        FileNotFoundError, match=r"no testA/ and testB/ subfolders.*A/ and B/ serve the train split only"
    ):
        make_dataset(
            config(source="folder", translation="unpaired", path=str(root), split="test"),
            resolution=4,
            batch_size=2,
            seed=0,
        )


# ----------------------------------------------------------------------------- unpaired (CycleGAN)


def unpaired_folder(root, n_a=5, n_b=3):
    """Domain A: grey images of constant value i; domain B: value 100 + j: partners read off the pixels."""
    for i in range(n_a):
        save(root / "A" / f"{i}.png", np.full((6, 6), 10 * i))
    for j in range(n_b):
        save(root / "B" / f"{j}.png", np.full((6, 6), 100 + 10 * j))
    return root


def pairs_of(batches, offsets=(0, 10)):
    """(condition ids, image ids): A image i -> i, B image j -> 10 + j, minus ``offsets``."""
    cond = np.concatenate([u8(b["condition"][:, 0, 0, 0]) for b in batches]).astype(int) // 10
    image = np.concatenate([u8(b["image"][:, 0, 0, 0]) for b in batches]).astype(int) // 10
    return cond - offsets[0], image - offsets[1]


def test_unpaired_partners_balanced_changing_deterministic_and_process_independent(tmp_path):
    cfg = config(source="folder", translation="unpaired", path=str(unpaired_folder(tmp_path)))
    data = make_dataset(cfg, resolution=6, batch_size=5, seed=7)
    assert (data.num_examples, data.sample_shape, data.condition_shape) == (5, (6, 6, 1), (6, 6, 1))
    x, y = pairs_of([data.batch(t) for t in range(6)])  # 30 rows: 6 epochs of A, 10 of B
    assert all(sorted(x[e * 5 : e * 5 + 5]) == list(range(5)) for e in range(6))  # A in shuffled epochs
    assert all(sorted(y[e * 3 : e * 3 + 3]) == list(range(3)) for e in range(10))  # B in its own epochs
    partner_sets = [{int(y[p]) for p in range(30) if x[p] == i} for i in range(5)]
    assert all(len(s) > 1 for s in partner_sets)  # every A image meets several B images
    again = pairs_of([make_dataset(cfg, resolution=6, batch_size=5, seed=7).batch(t) for t in range(6)])
    np.testing.assert_array_equal(again[0], x)
    np.testing.assert_array_equal(again[1], y)
    other = pairs_of([make_dataset(cfg, resolution=6, batch_size=5, seed=8).batch(t) for t in range(6)])
    assert not np.array_equal(other[1], y)
    cfg4 = config(source="folder", translation="unpaired", path=str(tmp_path))
    shards = [
        make_dataset(cfg4, resolution=6, batch_size=4, seed=7, process_index=p, process_count=2)
        for p in range(2)
    ]
    whole = make_dataset(cfg4, resolution=6, batch_size=4, seed=7)
    for t in range(4):
        parts = [s.batch(t) for s in shards]
        for key in ("image", "condition"):
            np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), whole.batch(t)[key])


def test_unpaired_direction_and_errors(tmp_path):
    cfg = config(
        source="folder", translation="unpaired", path=str(unpaired_folder(tmp_path)), direction="BtoA"
    )
    data = make_dataset(cfg, resolution=6, batch_size=3, seed=0)
    assert data.num_examples == 3  # X = domain B now
    x, y = pairs_of([data.batch(0)], offsets=(10, 0))
    assert sorted(x) == [0, 1, 2] and set(y) <= {0, 1, 2, 3, 4}
    with pytest.raises(FileNotFoundError, match=r"no A/ and no B/ subfolder"):
        make_dataset({**cfg, "path": str(tmp_path / "A")}, resolution=6, batch_size=3, seed=0)
    with pytest.raises(ValueError, match=r"unknown data.direction 'XtoY'"):
        make_dataset({**cfg, "direction": "XtoY"}, resolution=6, batch_size=3, seed=0)


def window_of(full, crop):
    """(top, left, mirrored) of ``crop`` in ``full`` (H, W), or None."""
    size = crop.shape[0]
    for m in (False, True):
        img = full[:, ::-1] if m else full
        for t in range(full.shape[0] - size + 1):
            for left in range(full.shape[1] - size + 1):
                if np.array_equal(img[t : t + size, left : left + size], crop):
                    return t, left, m
    return None


def test_unpaired_jitter_crops_each_domain_independently(tmp_path):
    rng = np.random.default_rng(2)
    images = {d: rng.integers(0, 256, (4, 10, 10), dtype=np.uint8) for d in "AB"}
    for d in "AB":
        for i, img in enumerate(images[d]):
            save(tmp_path / d / f"{i}.png", img)
    cfg = config(source="folder", translation="unpaired", path=str(tmp_path), jitter=True, load_size=10)
    data = make_dataset(cfg, resolution=6, batch_size=4, seed=0)
    assert data.sample_shape == data.condition_shape == (6, 6, 1)
    same_offsets = []
    for t in range(3):
        batch, idx, partners = data.batch(t), data.indices(t), data.source.partners(data.positions(t))
        for k in range(4):
            wx = window_of(images["A"][idx[k]], u8(batch["condition"][k, ..., 0]))
            wy = window_of(images["B"][partners[k]], u8(batch["image"][k, ..., 0]))
            assert wx is not None and wy is not None
            same_offsets.append(wx == wy)
    assert not all(same_offsets)


def test_tfds_cycle_gan_unpaired_through_data_source():
    tfds = pytest.importorskip("tensorflow_datasets")
    cfg = config(source="tfds:cycle_gan/horse2zebra", translation="unpaired", split="train")
    with tfds.testing.mock_data(num_examples=6):
        data = make_dataset(cfg, resolution=16, batch_size=4, seed=0)
        raw = {
            s: tfds.data_source("cycle_gan/horse2zebra", split=s, download=False)
            for s in ("trainA", "trainB")
        }
        raw = {s: [raw[s][i]["image"] for i in range(6)] for s in raw}
        batch, idx, pos = data.batch(2), data.indices(2), data.positions(2)
        test = make_dataset({**cfg, "split": "test"}, resolution=16, batch_size=2, seed=0)
        assert test.source.x.split == "testA" and test.source.y.split == "testB"
    from gans_jax.data.tfds import resize_array

    assert (data.sample_shape, data.condition_shape, data.num_classes) == ((16, 16, 3), (16, 16, 3), None)
    partners = data.source.partners(pos)
    for k in range(4):
        np.testing.assert_array_equal(u8(batch["condition"][k]), resize_array(raw["trainA"][idx[k]], 16))
        np.testing.assert_array_equal(u8(batch["image"][k]), resize_array(raw["trainB"][partners[k]], 16))


# ----------------------------------------------------------------------------- super-resolution (SRGAN)


def pil_bicubic(images_u8, scale):
    out = []
    for img in images_u8:
        pil = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        h, w = img.shape[:2]
        small = np.asarray(pil.resize((w // scale, h // scale), Image.Resampling.BICUBIC))
        out.append(small[..., None] if small.ndim == 2 else small)
    return np.stack(out)


def test_super_resolution_condition_is_the_pil_bicubic_downsample():
    data = make_dataset(
        config(source="digits", translation="super_resolution", scale=4), resolution=16, batch_size=8, seed=0
    )
    assert (data.sample_shape, data.condition_shape) == ((16, 16, 1), (4, 4, 1))
    batch = data.batch(0)
    high = u8(batch["image"])
    np.testing.assert_array_equal(batch["image"], high / np.float32(127.5) - 1)  # on the uint8 grid
    np.testing.assert_array_equal(u8(batch["condition"]), pil_bicubic(high, 4))
    assert high.std() > 10 and u8(batch["condition"]).std() > 10
    rgb = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(bicubic_downsample(rgb, 2), pil_bicubic(rgb, 2))
    with pytest.raises(ValueError, match=r"resolution=18 is not divisible by data.scale=4"):
        make_dataset(
            config(source="digits", translation="super_resolution"), resolution=18, batch_size=2, seed=0
        )


def test_super_resolution_jitter_takes_random_crops_of_the_load_size_image():
    cfg = config(source="digits", translation="super_resolution", scale=2, jitter=True, load_size=24)
    data = make_dataset(cfg, resolution=16, batch_size=6, seed=0)
    base = make_dataset(config(source="digits"), resolution=24, batch_size=6, seed=0)
    batch = data.batch(0)
    full = u8(base.source.read_batch(data.indices(0))["image"])[..., 0]
    offsets = set()
    for k in range(6):
        crop = u8(batch["image"][k, ..., 0])
        hits = [
            (t, left, m)
            for t in range(9)
            for left in range(9)
            for m in (False, True)
            if np.array_equal((full[k][:, ::-1] if m else full[k])[t : t + 16, left : left + 16], crop)
        ]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) > 1
    np.testing.assert_array_equal(u8(batch["condition"]), pil_bicubic(u8(batch["image"]), 2))


# ----------------------------------------------------------------------------- offline tasks


def test_offline_edges2faces_split_shapes_and_edges():
    from skimage.feature import canny

    train = make_dataset(
        config(source="offline:edges2faces", split="train"), resolution=32, batch_size=8, seed=0
    )
    test = make_dataset(
        config(source="offline:edges2faces", split="test"), resolution=32, batch_size=8, seed=0
    )
    assert (train.num_examples, test.num_examples) == (80, 20)
    assert (train.sample_shape, train.condition_shape, train.num_classes) == ((32, 32, 1), (32, 32, 1), None)
    faces = {s: d.source.arrays["image"] for s, d in (("train", train), ("test", test))}
    assert not {f.tobytes() for f in faces["train"]} & {f.tobytes() for f in faces["test"]}
    batch = train.batch(0)
    assert set(np.unique(batch["condition"])) == {-1.0, 1.0}
    assert -1.0 <= batch["image"].min() and batch["image"].max() <= 1.0 and batch["image"].std() > 0.2
    for k in range(3):  # the condition is the Canny map of the face it is paired with
        edges = canny(u8(batch["image"][k, ..., 0]) / 255.0, sigma=1.5)  # 1.5 at 32x32
        np.testing.assert_array_equal(batch["condition"][k, ..., 0] < 0, edges)
    assert 0.05 < (batch["condition"] < 0).mean() < 0.3


def test_offline_photo_crops_splits_share_no_pixel():
    for names in (GRAY_PHOTOS, COLOR_PHOTOS):
        for split in ("train", "test"):
            images, boxes = photo_crops(names, split, 16, per_photo=16)
            assert images.shape == (48, 16, 16, 3) and images.dtype == np.uint8
            for photo, top, left, side in boxes:
                h, w = _photos()[PHOTOS[photo]].shape[:2]
                cut = int(np.floor(TRAIN_ROWS * h))
                assert PHOTOS[photo] in names and 0 <= left and left + side <= w
                assert (top + side <= cut) if split == "train" else (cut <= top and top + side <= h)
    assert not set(GRAY_PHOTOS) & set(COLOR_PHOTOS) and set(GRAY_PHOTOS) | set(COLOR_PHOTOS) == set(PHOTOS)


def test_offline_gray2color_and_sr_photos():
    g2c = make_dataset(config(source="offline:gray2color"), resolution=16, batch_size=8, seed=0)
    assert (g2c.sample_shape, g2c.condition_shape, g2c.num_examples) == ((16, 16, 3), (16, 16, 3), 384)
    batch = g2c.batch(0)
    grey = batch["condition"]
    np.testing.assert_array_equal(grey, np.repeat(grey[..., :1], 3, -1))  # X: grey in 3 equal channels
    colour = u8(batch["image"]).astype(int)
    assert np.abs(colour[..., 0] - colour[..., 2]).mean() > 5  # Y is in colour
    sr = make_dataset(
        config(source="offline:sr_photos", split="test", scale=4), resolution=32, batch_size=4, seed=0
    )
    assert (sr.sample_shape, sr.condition_shape, sr.num_examples) == ((32, 32, 3), (8, 8, 3), 768)
    batch = sr.batch(0)
    np.testing.assert_array_equal(u8(batch["condition"]), pil_bicubic(u8(batch["image"]), 4))
    with pytest.raises(
        ValueError, match=r"'offline:gray2color' is a unpaired task, but data.translation='paired'"
    ):
        make_dataset(
            config(source="offline:gray2color", translation="paired"), resolution=16, batch_size=2, seed=0
        )
    with pytest.raises(ValueError, match=r"unknown offline task 'faces'"):
        make_dataset(config(source="offline:faces"), resolution=16, batch_size=2, seed=0)
    with pytest.raises(ValueError, match=r"unknown data.split 'all' for an offline task"):
        make_dataset(config(source="offline:sr_photos", split="all"), resolution=16, batch_size=2, seed=0)


# ----------------------------------------------------------------------------- the iterator the loop uses


@pytest.mark.parametrize("source", ["offline:gray2color", "paired_jitter"])
def test_iterator_yields_both_keys_and_resumes_exactly(source, tmp_path):
    if source == "paired_jitter":
        cfg = config(source="folder", translation="paired", path=str(paired_folder(tmp_path)[0]), jitter=True)
        resolution = 8
    else:
        cfg, resolution = config(source=source), 16
    cfg.num_threads = 2

    def fresh():
        return make_dataset(cfg, resolution=resolution, batch_size=6, seed=1).iterator()

    whole = take(fresh(), 6)
    it = fresh()
    take(it, 3)
    state = json.loads(json.dumps(it.get_state()))
    resumed = fresh()
    resumed.set_state(state)
    for a, b in zip(take(resumed, 3), whole[3:], strict=True):
        assert set(a) == {"image", "condition"}
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert whole[0]["image"].dtype == whole[0]["condition"].dtype == np.float32
    data = make_dataset(cfg, resolution=resolution, batch_size=6, seed=1)
    reference = data.reference_arrays(5)
    assert set(reference) == {"image", "condition"}
    assert reference["condition"].shape == (min(5, data.num_examples), *data.condition_shape)
    assert data.reference_arrays(0)["condition"].shape == (0, *data.condition_shape)


@pytest.mark.parametrize(
    "task, translation",
    [("edges2faces", "paired"), ("gray2color", "unpaired"), ("sr_photos", "super_resolution")],
)
def test_written_task_folder_reads_back_as_the_same_batches(task, translation, tmp_path):
    from gans_jax.data.offline import write_task_folder

    root = write_task_folder(task, tmp_path / task, split="test", resolution=16)
    offline = make_dataset(
        config(source=f"offline:{task}", split="test"), resolution=16, batch_size=8, seed=4
    )
    folder = make_dataset(
        config(source="folder", translation=translation, path=str(root)), resolution=16, batch_size=8, seed=4
    )
    assert (folder.num_examples, folder.sample_shape, folder.condition_shape) == (
        offline.num_examples,
        offline.sample_shape,
        offline.condition_shape,
    )
    for t in (0, 7):
        for key in ("image", "condition"):
            np.testing.assert_array_equal(folder.batch(t)[key], offline.batch(t)[key])
