"""Tests for gans_jax.data.folder."""

import zipfile

import numpy as np
import pytest
from PIL import Image

from gans_jax.data.folder import load_image_folder


def _save(path, array, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, format=fmt)


def _rgb(seed, size=(20, 20)):
    return np.random.default_rng(seed).integers(0, 256, (*size, 3))


def _make_class_folder(root):
    _save(root / "cats" / "a.png", _rgb(0))
    _save(root / "cats" / "b.JPG", _rgb(1), fmt="JPEG")
    _save(root / "dogs" / "nested" / "c.png", _rgb(2, (30, 40)))
    _save(root / "dogs" / "d.jpeg", _rgb(3), fmt="JPEG")
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_class_subfolders(tmp_path):
    d = load_image_folder(_make_class_folder(tmp_path / "data"), 8)
    assert d["image"].shape == (4, 8, 8, 3) and d["image"].dtype == np.float32
    assert -1.0 <= d["image"].min() < d["image"].max() <= 1.0
    assert d["class_names"] == ["cats", "dogs"]
    # sorted relative paths: cats/a.png, cats/b.JPG, dogs/d.jpeg, dogs/nested/c.png
    np.testing.assert_array_equal(d["label"], [0, 0, 1, 1])
    assert d["label"].dtype == np.int32


def test_values_exact_and_sorted_order(tmp_path):
    _save(tmp_path / "b.png", np.full((8, 8, 3), 255))
    _save(tmp_path / "a.png", np.zeros((8, 8, 3)))
    d = load_image_folder(tmp_path, 8)
    np.testing.assert_array_equal(d["image"][0], -1.0)
    np.testing.assert_array_equal(d["image"][1], 1.0)
    np.testing.assert_array_equal(d["label"], [0, 0])
    assert d["class_names"] == []


def test_no_labels_when_disabled(tmp_path):
    d = load_image_folder(_make_class_folder(tmp_path), 8, labels_from_subfolders=False)
    np.testing.assert_array_equal(d["label"], [0, 0, 0, 0])
    assert d["class_names"] == []


def test_grayscale_and_rgba(tmp_path):
    _save(tmp_path / "g1.png", np.full((10, 10), 40))
    _save(tmp_path / "g2.bmp", np.full((10, 10), 200))
    d = load_image_folder(tmp_path, 4)
    assert d["image"].shape == (2, 4, 4, 1)
    np.testing.assert_allclose(d["image"][0], 40 / 127.5 - 1, atol=1e-6)
    rgba = tmp_path / "rgba"
    _save(rgba / "x.png", np.dstack([np.full((6, 6, 3), 255), np.zeros((6, 6))]))
    d = load_image_folder(rgba, 6)
    assert d["image"].shape == (1, 6, 6, 3)
    np.testing.assert_array_equal(d["image"], 1.0)  # alpha dropped, not composited


def test_mixed_channels(tmp_path):
    _save(tmp_path / "colour.png", _rgb(0))
    _save(tmp_path / "grey.png", np.full((20, 20), 100))
    with pytest.raises(ValueError, match=r"grey\.png.*greyscale.*colour\.png.*colour"):
        load_image_folder(tmp_path, 8)
    d3 = load_image_folder(tmp_path, 8, channels=3)
    assert d3["image"].shape == (2, 8, 8, 3)
    np.testing.assert_allclose(d3["image"][1], 100 / 127.5 - 1, atol=1e-6)
    assert load_image_folder(tmp_path, 8, channels=1)["image"].shape == (2, 8, 8, 1)


def test_missing_and_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_image_folder(tmp_path / "nowhere", 8)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.md").write_text("hi")
    with pytest.raises(ValueError, match=r"no images found in .*empty.*\.jpg.*\.png"):
        load_image_folder(tmp_path / "empty", 8)


def test_corrupt_file(tmp_path):
    _save(tmp_path / "good.png", _rgb(0))
    (tmp_path / "x.png").write_bytes(b"this is not a png at all")
    with pytest.raises(ValueError, match=r"cannot read image .*x\.png.*UnidentifiedImageError"):
        load_image_folder(tmp_path, 8)


def test_bad_arguments(tmp_path):
    _save(tmp_path / "a.png", _rgb(0))
    with pytest.raises(ValueError, match="channels.*4"):
        load_image_folder(tmp_path, 8, channels=4)
    with pytest.raises(ValueError, match="resolution.*0"):
        load_image_folder(tmp_path, 0)
    with pytest.raises(ValueError, match=r"directory or a \.zip.*a\.png"):
        load_image_folder(tmp_path / "a.png", 8)
    _save(tmp_path / "cls" / "b.png", _rgb(1))
    with pytest.raises(ValueError, match=r"'a\.png'.*outside the class subfolders"):
        load_image_folder(tmp_path, 8)


def test_zip_equals_folder(tmp_path):
    root = _make_class_folder(tmp_path / "data")
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("cats/", "")  # an explicit directory entry
        for f in sorted(root.rglob("*"), reverse=True):  # archive order must not matter
            if f.is_file():
                zf.write(f, f.relative_to(root).as_posix())
        zf.writestr("__MACOSX/cats/._a.png", b"resource fork garbage")
    from_zip, from_dir = load_image_folder(archive, 8), load_image_folder(root, 8)
    np.testing.assert_array_equal(from_zip["image"], from_dir["image"])
    np.testing.assert_array_equal(from_zip["label"], from_dir["label"])
    assert from_zip["class_names"] == from_dir["class_names"]


def test_centre_crop(tmp_path):
    img = np.zeros((16, 32, 3))  # 32 wide, 16 high: red margins of 8 px left and right
    img[:, :8] = img[:, 24:] = (255, 0, 0)
    img[:, 8:24] = (0, 0, 255)
    _save(tmp_path / "wide.png", img)
    tall = np.zeros((32, 16, 3))
    tall[:8] = tall[24:] = (255, 0, 0)
    tall[8:24] = (0, 255, 0)
    _save(tmp_path / "zz_tall.png", tall)
    d = load_image_folder(tmp_path, 8)
    np.testing.assert_allclose(d["image"][0], np.broadcast_to([-1, -1, 1], (8, 8, 3)))
    np.testing.assert_allclose(d["image"][1], np.broadcast_to([-1, 1, -1], (8, 8, 3)))
