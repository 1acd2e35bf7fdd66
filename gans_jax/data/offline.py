"""Small image-to-image tasks from images bundled with scikit-image and scikit-learn (no download).

``data.source="offline:<task>"``, ``data.split`` = ``"train"`` or ``"test"``:

- ``edges2faces`` (paired, as pix2pix's edges2* tasks): the 100 faces of
  ``skimage.data.lfw_subset()`` (25x25 grey), BICUBIC-resized to ``resolution``; ``"image"`` is
  the face, ``"condition"`` its Canny edge map (``skimage.feature.canny`` with sigma
  ``1.5 * resolution / 32``, the same edges at any resolution) drawn as black lines (-1) on white
  (+1). Train: faces 0-79; test: faces 80-99.
- ``gray2color`` (unpaired, as CycleGAN): domain X = grey crops of three bundled colour photos
  (astronaut, chelsea, china), stored as three equal channels (CycleGAN's two generators share one
  architecture, so both domains have 3 channels, as in the official code's grey inputs), domain
  Y = colour crops of three others (coffee, rocket, flower), so no Y image is the colour version
  of an X image.
- ``sr_photos`` (super-resolution, as SRGAN): colour crops of all six photos, :data:`SR_TRAIN_CROPS_PER_PHOTO`
  per photo in the train split (super-resolution networks train on many patches: with 128 per photo a
  600-step run overfits them, 0.4 dB lower held-out PSNR); ``"condition"`` is the BICUBIC
  x``data.scale`` downsample of ``"image"``.

- ``stacked_digits`` (not image-to-image: a latent GAN's data): three independent digits as the three
  channels, 1000 modes (:mod:`gans_jax.data.stacked`).

Crops. Each photo of height ``H`` is cut at row ``floor(0.7 H)``: train crops lie wholly in the
rows above, test crops in the rows below, so the splits share no pixel. A crop is a square of side
``U{round(0.15 S), ..., round(0.3 S)}`` (``S`` = the photo's shorter side) at a uniform position in
its region, drawn from a generator seeded by ``(photo, split)`` only (the same crops for every
training seed), BICUBIC-resized to ``resolution``; :data:`CROPS_PER_PHOTO` per photo and split.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from gans_jax.data.sources import ArraySource
from gans_jax.data.transforms import unit_range_to_uint8
from gans_jax.data.translation import SuperResolutionSource, UnpairedSource

__all__ = [
    "CROPS_PER_PHOTO",
    "PHOTOS",
    "SR_TRAIN_CROPS_PER_PHOTO",
    "TASKS",
    "edges2faces_arrays",
    "make_offline_task",
    "photo_crops",
    "task_shapes",
    "write_task_folder",
]

TASKS = {
    "edges2faces": "paired",
    "gray2color": "unpaired",
    "sr_photos": "super_resolution",
    "stacked_digits": "",  # a latent GAN's data, 1000 modes (gans_jax.data.stacked)
}
SPLITS = ("train", "test")
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "china", "flower")
GRAY_PHOTOS, COLOR_PHOTOS = ("astronaut", "chelsea", "china"), ("coffee", "rocket", "flower")
CROPS_PER_PHOTO = 128
SR_TRAIN_CROPS_PER_PHOTO = 1024
TRAIN_ROWS = 0.7  # photos: rows above this fraction are train, below test
EDGE_SIGMA_AT_32 = 1.5  # Canny's Gaussian sigma for 32x32 faces, scaled with the resolution
NUM_FACES, NUM_TRAIN_FACES = 100, 80  # lfw_subset: the first 100 of its 200 images are faces


def _skimage_data():
    try:
        import skimage.data
    except ImportError as err:
        raise ImportError(
            "data.source='offline:...' needs scikit-image for its bundled images: pip install "
            "'gans-jax[offline]' (or scikit-image)"
        ) from err
    return skimage.data


@functools.lru_cache(maxsize=1)
def _photos() -> dict[str, np.ndarray]:
    """The bundled colour photos, ``name -> (H, W, 3) uint8``."""
    from sklearn.datasets import load_sample_images

    data = _skimage_data()
    sample = load_sample_images()
    photos = {name: getattr(data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket")}
    for fname, img in zip(sample.filenames, sample.images, strict=True):
        photos[fname.replace("\\", "/").rsplit("/", 1)[-1].split(".")[0]] = img
    return {name: np.asarray(photos[name], np.uint8) for name in PHOTOS}


def _check_split(split: str) -> int:
    if split not in SPLITS:
        raise ValueError(f"unknown data.split {split!r} for an offline task; expected one of {list(SPLITS)}")
    return SPLITS.index(split)


def photo_crops(
    names, split: str, resolution: int, *, grey: bool = False, per_photo: int = CROPS_PER_PHOTO
) -> tuple[np.ndarray, np.ndarray]:
    """Crops of the photos ``names`` (module docstring): ``(images (N, res, res, C) uint8 with C = 1
    if grey else 3, boxes (N, 4) int64 rows (photo index in PHOTOS, top, left, side))``."""
    split_index = _check_split(split)
    photos = _photos()
    images, boxes = [], []
    for name in names:
        photo = photos[name]
        h, w = photo.shape[:2]
        cut = int(np.floor(TRAIN_ROWS * h))
        top0, bottom = (0, cut) if split == "train" else (cut, h)
        s = min(h, w)
        lo, hi = round(0.15 * s), min(round(0.3 * s), bottom - top0)
        rng = np.random.default_rng([PHOTOS.index(name), split_index])
        pil = Image.fromarray(photo, "RGB")
        if grey:
            pil = pil.convert("L")
        for _ in range(per_photo):
            side = int(rng.integers(lo, hi + 1))
            top = int(rng.integers(top0, bottom - side + 1))
            left = int(rng.integers(0, w - side + 1))
            crop = pil.crop((left, top, left + side, top + side))
            arr = np.asarray(crop.resize((resolution, resolution), Image.Resampling.BICUBIC))
            images.append(arr[..., None] if grey else arr)
            boxes.append((PHOTOS.index(name), top, left, side))
    return np.stack(images), np.asarray(boxes, np.int64)


def edges2faces_arrays(split: str, resolution: int) -> dict[str, np.ndarray]:
    """``{"image": faces (N, res, res, 1) uint8, "condition": edges (N, res, res, 1) float32 in
    {-1, 1}}`` of the split (module docstring)."""
    from skimage.feature import canny

    split_index = _check_split(split)
    faces = _skimage_data().lfw_subset()[:NUM_FACES]
    faces = faces[:NUM_TRAIN_FACES] if split_index == 0 else faces[NUM_TRAIN_FACES:]
    faces = np.clip(np.rint(np.asarray(faces, np.float64) * 255.0), 0, 255).astype(np.uint8)
    size = (resolution, resolution)
    big = np.stack(
        [np.asarray(Image.fromarray(f, "L").resize(size, Image.Resampling.BICUBIC)) for f in faces]
    )
    edges = np.stack([canny(f / 255.0, sigma=EDGE_SIGMA_AT_32 * resolution / 32) for f in big])
    return {"image": big[..., None], "condition": np.where(edges, -1.0, 1.0).astype(np.float32)[..., None]}


def task_shapes(task: str, resolution: int, scale: int = 4) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The shapes of an offline task's ``"image"`` and ``"condition"`` at ``resolution`` (module
    docstring), known without building the task."""
    if task not in TASKS:
        raise ValueError(
            f"unknown offline task {task!r} (data.source='offline:{task}'); expected one of {list(TASKS)}"
        )
    channels = 1 if task == "edges2faces" else 3
    if not TASKS[task]:  # stacked_digits: no condition image
        return (resolution, resolution, channels), None
    low = resolution // scale if TASKS[task] == "super_resolution" else resolution
    return (resolution, resolution, channels), (low, low, channels)


def make_offline_task(
    task: str, *, split: str, resolution: int, translation: str = "", scale: int = 4, seed: int = 0
):
    """The source of ``data.source="offline:<task>"`` (tasks in :data:`TASKS`; module docstring).
    ``translation`` must be empty or the task's own kind."""
    if task not in TASKS:
        raise ValueError(
            f"unknown offline task {task!r} (data.source='offline:{task}'); expected one of {list(TASKS)}"
        )
    if translation and translation != TASKS[task]:
        raise ValueError(
            f"data.source='offline:{task}' is a {TASKS[task]} task, but data.translation={translation!r}; "
            "leave data.translation empty or set it to match"
        )
    if not isinstance(resolution, (int, np.integer)) or resolution < 8:
        raise ValueError(f"offline tasks need model.resolution >= 8, got {resolution!r}")
    if task == "stacked_digits":
        from gans_jax.data.stacked import StackedDigitsSource

        return StackedDigitsSource(resolution, split)
    if task == "edges2faces":
        return ArraySource(edges2faces_arrays(split, resolution))
    if task == "gray2color":
        grey = photo_crops(GRAY_PHOTOS, split, resolution, grey=True)[0]
        x = ArraySource({"image": np.repeat(grey, 3, axis=-1)})
        y = ArraySource({"image": photo_crops(COLOR_PHOTOS, split, resolution)[0]})
        return UnpairedSource(x, y, seed=seed)
    per_photo = SR_TRAIN_CROPS_PER_PHOTO if split == "train" else CROPS_PER_PHOTO
    crops = ArraySource({"image": photo_crops(PHOTOS, split, resolution, per_photo=per_photo)[0]})
    return SuperResolutionSource(crops, resolution, scale, seed=seed)


def write_task_folder(task: str, path, *, split: str = "train", resolution: int = 32, limit: int = 0) -> Path:
    """Writes an offline task's images as PNG files, in the layout its folder source reads back:
    ``edges2faces`` -> ``path/A/<i>.png`` (edge maps) and ``path/B/<i>.png`` (faces), paired by
    name (``data.translation="paired"``, ``data.source="folder"``); ``gray2color`` ->
    ``path/A/`` (grey crops) and ``path/B/`` (colour crops), ``data.translation="unpaired"``;
    ``sr_photos`` -> ``path/<i>.png`` (the high-resolution crops, ``data.translation=
    "super_resolution"``). ``limit`` > 0 writes at most that many images per folder. Read back at
    the same ``model.resolution`` (and seed) the folder gives the same batches as the task.
    Returns ``path``."""
    if task in TASKS and not TASKS[task]:
        raise ValueError(f"offline task {task!r} is not an image-to-image task: it has no folder layout")
    source = make_offline_task(task, split=split, resolution=resolution)
    if task == "edges2faces":
        folders = {"A": source.arrays["condition"], "B": source.arrays["image"]}
    elif task == "gray2color":
        folders = {"A": source.x.arrays["image"], "B": source.y.arrays["image"]}
    else:
        folders = {"": source.base.arrays["image"]}
    root = Path(path)
    for sub, images in folders.items():
        images = images if images.dtype == np.uint8 else unit_range_to_uint8(images)
        images = images[:limit] if limit > 0 else images
        (root / sub).mkdir(parents=True, exist_ok=True)
        width = len(str(len(images) - 1))
        for i, img in enumerate(images):
            Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(
                root / sub / f"{i:0{width}d}.png"
            )
    return root
