"""NVIDIA's metrics VGG16 (``vgg16.pt`` of StyleGAN2-ADA / StyleGAN3) in JAX: the fc7 features of
``pr50k3`` (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
Models": the 4096-dimensional output of VGG16's second fully connected layer) and the LPIPS distance
of perceptual path length (Karras et al. 2019, Sec. 3.2), both from the one file.

The file (:data:`URL`, 528 MiB, sha256 :data:`SHA256`) is a TorchScript archive read without torch and
without running its code (:func:`gans_jax.torch_files.read_torch_file`). Its tensors: ``layers.conv1``
.. ``layers.conv13`` (VGG16's 13 3x3 convolutions in order, configuration D), ``layers.fc1`` ..
``layers.fc3`` (``weight`` ``(out, in)``, ``bias``), and ``lpips0`` .. ``lpips4`` (LPIPS v0.1's
non-negative channel weights of relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3, shape ``(C, 1, 1)``).

What the network computes (the official metrics feed it ``[0, 255]`` RGB images, NCHW there, NHWC
here; greyscale repeated to RGB):

- ``return_features=True`` (``pr50k3``, :func:`vgg16_fc7`): resize to 224x224 as TF1's
  ``resize_bilinear`` (:func:`gans_jax.metrics.features.resize_legacy_tf`), ``x / 255``, torchvision's
  ImageNet mean and std, the 13 convolutions with ReLU and 2x2 max-pooling after each block, flatten
  in torch's ``(C, H, W)`` order (``fc1``'s kernel is permuted here once so that an NHWC flatten gives
  the same product), ``relu(fc1)``, ``relu(fc2)``: ``(N, 4096)``.
- ``return_lpips=True, resize_images=False`` (PPL): features whose squared L2 distance is LPIPS,
  :func:`gans_jax.metrics.lpips.lpips_features` with the ``lpips<l>`` weights. Its input scaling
  (``x / 255`` and the ImageNet statistics) equals LPIPS's ``(x / 127.5 - 1 - shift) / scale``
  exactly: ``shift = 2 mean - 1`` and ``scale = 2 std``.

Layout and preprocessing are as published third-party loaders of the file read it (the file itself
cannot be downloaded here, so the numbers are checked on random weights in its layout, not against
NVIDIA's outputs: see the README).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gans_jax.metrics.features import FeatureExtractor, resize_legacy_tf
from gans_jax.metrics.lpips import LPIPS_CHANNELS
from gans_jax.models.vgg import IMAGENET_MEAN, IMAGENET_STD, VGG16, conv_layers

__all__ = [
    "VGG16Extractor",
    "find_vgg16_file",
    "from_state_dict",
    "load_nvidia_vgg16",
    "nvidia_state_dict",
    "vgg16_fc7",
]

URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt"
SHA256 = "b437eb095feaeb0b83eb3fa11200ebca4548ee39a07fb944a417ddc516cc07c3"
FILE_NAME = "vgg16.pt"
ENV_VAR = "GANS_JAX_VGG16"
INPUT_SIZE = 224
FEATURE_DIM = 4096  # fc7
POOL5 = (7, 7, 512)
FC_SHAPES = {"fc1": (4096, 7 * 7 * 512), "fc2": (4096, 4096), "fc3": (1000, 4096)}  # torch (out, in)
HOW_TO_GET = (
    f"NVIDIA's metrics VGG16 is not bundled and cannot be downloaded by gans-jax: download {URL} "
    f"(528 MiB, sha256 {SHA256[:16]}...; StyleGAN2-ADA's dnnlib caches it as "
    f"~/.cache/dnnlib/downloads/<md5>_vgg16.pt) and pass --vgg16 PATH, set ${ENV_VAR}, or put it at "
    "{cache}/vgg16.pt"
)


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """The file's tensor names and shapes (module docstring)."""
    shapes = {}
    for i, (_, _, cin, cout) in enumerate(conv_layers(16), start=1):
        shapes[f"layers.conv{i}.weight"] = (cout, cin, 3, 3)
        shapes[f"layers.conv{i}.bias"] = (cout,)
    for name, shape in FC_SHAPES.items():
        shapes[f"layers.{name}.weight"] = shape
        shapes[f"layers.{name}.bias"] = shape[:1]
    for i, channels in enumerate(LPIPS_CHANNELS):
        shapes[f"lpips{i}"] = (channels, 1, 1)
    return shapes


def _how_to() -> str:
    from gans_jax.metrics.inception_weights import cache_dir

    return HOW_TO_GET.format(cache=cache_dir())


def find_vgg16_file(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``$GANS_JAX_VGG16``, else ``<cache>/vgg16.pt``, ``.cache/weights/vgg16.pt`` of the
    working directory, or StyleGAN2-ADA's download cache (``~/.cache/dnnlib/downloads/*_vgg16.pt``);
    FileNotFoundError with instructions when there is none."""
    from gans_jax.metrics.inception_weights import cache_dir

    for given, what in ((path, "--vgg16 path"), (os.environ.get(ENV_VAR) or None, f"${ENV_VAR}")):
        if given is not None:
            if not Path(given).is_file():
                raise FileNotFoundError(f"{what} {str(given)!r} is not a file. {_how_to()}")
            return Path(given)
    home = os.path.expanduser("~")
    patterns = [
        str(cache_dir() / FILE_NAME),
        str(Path.cwd() / ".cache" / "weights" / FILE_NAME),
        os.path.join(home, ".cache", "dnnlib", "downloads", f"*_{FILE_NAME}"),
    ]
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    raise FileNotFoundError(_how_to())


def _read(path: Path) -> dict[str, object]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    from gans_jax.torch_files import read_torch_file

    return read_torch_file(path)


def load_nvidia_vgg16(path: str | os.PathLike[str] | None = None) -> dict:
    """``{"vgg": {"params": conv1_1 .. conv5_3}, "lin": {"lin0": (64,), ...}, "fc": {"fc1", "fc2"}}``
    from NVIDIA's ``vgg16.pt`` (or an ``.npz`` with its tensor names), found by :func:`find_vgg16_file`.
    ``"vgg"`` and ``"lin"`` are what :func:`gans_jax.metrics.lpips.lpips_features` takes; ``"fc"`` holds
    flax ``Dense`` kernels, ``fc1``'s rows permuted from torch's ``(C, H, W)`` flatten order to NHWC's.
    Every tensor must be present with its shape (``fc3`` may be absent); errors name the file, the key
    and the expected shape."""
    path = find_vgg16_file(path)
    return from_state_dict(_read(path), str(path))


def from_state_dict(leaves: dict[str, object], source: str = "state dict") -> dict:
    """:func:`load_nvidia_vgg16`'s weights from the file's tensors by name (``source`` names them in
    errors)."""
    path = source
    shapes = expected_shapes()
    for key, shape in shapes.items():
        if key not in leaves:
            if key.startswith("layers.fc3"):
                continue  # the logits layer: not used by any metric
            raise ValueError(
                f"{path}: missing {key} of shape {shape} (found {len(leaves)} entries); is this NVIDIA's "
                f"metrics vgg16.pt? {_how_to()}"
            )
        found = tuple(np.shape(leaves[key]))
        if found != shape:
            raise ValueError(f"{path}: {key} has shape {found}, expected {shape} (NVIDIA's metrics VGG16)")

    def array(key: str) -> np.ndarray:
        return np.asarray(leaves[key], np.float32)

    params = {}
    for i, (name, _, _, _) in enumerate(conv_layers(16), start=1):
        kernel = array(f"layers.conv{i}.weight").transpose(2, 3, 1, 0)  # OIHW -> HWIO
        params[name] = {"kernel": kernel, "bias": array(f"layers.conv{i}.bias")}
    lin = {}
    for i in range(len(LPIPS_CHANNELS)):
        value = array(f"lpips{i}")
        if (value < 0).any():
            raise ValueError(f"{path}: lpips{i} has negative weights (min {value.min()}); LPIPS's are >= 0")
        lin[f"lin{i}"] = value.reshape(-1)
    h, w, c = POOL5
    fc1 = (
        array("layers.fc1.weight").reshape(FEATURE_DIM, c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, -1)
    )
    fc = {
        "fc1": {"kernel": fc1, "bias": array("layers.fc1.bias")},
        "fc2": {"kernel": array("layers.fc2.weight").T, "bias": array("layers.fc2.bias")},
    }
    return {"vgg": {"params": params}, "lin": lin, "fc": fc}


def nvidia_state_dict(weights: dict) -> dict[str, np.ndarray]:
    """The inverse of :func:`load_nvidia_vgg16`: the file's tensor names and torch layouts (no ``fc3``)."""
    out = {}
    for i, (name, _, _, _) in enumerate(conv_layers(16), start=1):
        conv = weights["vgg"]["params"][name]
        out[f"layers.conv{i}.weight"] = np.asarray(conv["kernel"]).transpose(3, 2, 0, 1)
        out[f"layers.conv{i}.bias"] = np.asarray(conv["bias"])
    h, w, c = POOL5
    fc1 = np.asarray(weights["fc"]["fc1"]["kernel"]).reshape(h, w, c, FEATURE_DIM).transpose(3, 2, 0, 1)
    out["layers.fc1.weight"] = fc1.reshape(FEATURE_DIM, -1)
    out["layers.fc1.bias"] = np.asarray(weights["fc"]["fc1"]["bias"])
    out["layers.fc2.weight"] = np.asarray(weights["fc"]["fc2"]["kernel"]).T
    out["layers.fc2.bias"] = np.asarray(weights["fc"]["fc2"]["bias"])
    for i in range(len(LPIPS_CHANNELS)):
        out[f"lpips{i}"] = np.asarray(weights["lin"][f"lin{i}"]).reshape(-1, 1, 1)
    return out


def vgg16_fc7(weights: dict, images: jax.Array, precision: lax.Precision | None = None) -> jax.Array:
    """``(N, 4096)`` fc7 features of NHWC images in [0, 255] (uint8 or float; 1 or 3 channels, any size),
    as ``vgg16.pt`` computes them with ``return_features=True`` (module docstring)."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"VGG16 expects NHWC images with 1 or 3 channels, got shape {images.shape}")
    x = jnp.broadcast_to(images, (*images.shape[:3], 3)).astype(jnp.float32)
    x = resize_legacy_tf(x, INPUT_SIZE) / 255.0
    x = (x - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)
    x = VGG16("vgg53", precision=precision).apply(weights["vgg"], x)["vgg53"]
    x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")  # pool5
    x = x.reshape(x.shape[0], -1)
    for name in ("fc1", "fc2"):  # dropout is the identity at inference
        layer = weights["fc"][name]
        x = jax.nn.relu(jnp.dot(x, layer["kernel"], precision=precision) + layer["bias"])
    return x


class VGG16Extractor(FeatureExtractor):
    """:func:`vgg16_fc7` of uint8 images as ``{"fc7": (N, 4096)}``, compiled once per input size and
    sharded over devices (:class:`~gans_jax.metrics.features.FeatureExtractor`); ``weights`` a path (or
    None: :func:`find_vgg16_file`) or :func:`load_nvidia_vgg16`'s dict."""

    def __init__(self, weights: dict | str | os.PathLike[str] | None = None, *, batch_size: int = 64,
                 devices=None, chunk_size: int | str | None = "auto",
                 precision: lax.Precision | None = lax.Precision.HIGHEST):  # fmt: skip
        if not isinstance(weights, dict):
            weights = load_nvidia_vgg16(weights)
        params = jax.tree.map(jnp.asarray, {"vgg": weights["vgg"], "fc": weights["fc"]})

        def forward(params, images):
            return {"fc7": vgg16_fc7(params, images, precision)}

        super().__init__(
            params,
            forward,
            {"fc7": FEATURE_DIM},
            batch_size=batch_size,
            devices=devices,
            chunk_size=chunk_size,
        )
