"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric",
Sec. 3, Eq. 1; the ``lpips`` package's version 0.1 with the VGG16 backbone) as a feature map.

For images ``x`` and ``x0`` in [-1, 1]:

    d(x, x0) = sum_l 1 / (H_l W_l) sum_{h, w} || w_l * (y^l_hw - y0^l_hw) ||_2^2

where ``y^l`` is the VGG16 activation of layer ``l`` (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3) of
the input after the package's scaling layer ``(x - shift) / scale`` (:data:`LPIPS_SHIFT`,
:data:`LPIPS_SCALE`), unit-normalised in the channel dimension (``y / (||y||_2 + 1e-10)``, the
package's ``normalize_tensor``), and ``w_l`` the learned non-negative channel weights (``lin0`` ..
``lin4``, 1x1 convolutions without bias; the spatial mean follows them). Because the weights are
non-negative, ``d`` is the squared L2 distance of the features ``sqrt(w_l / (H_l W_l)) * y^l``
concatenated over layers: :func:`lpips_features` returns those, as NVIDIA's ``vgg16.pt`` does with
``return_lpips=True``, so that perceptual path length (:mod:`gans_jax.metrics.ppl`) is a plain squared
distance.

Weights (:func:`load_lpips_weights`): the backbone from torchvision's ImageNet VGG16
(``vgg16-397923af.pth``, :func:`gans_jax.models.vgg.load_vgg_params`), the channel weights from the
``lpips`` package's ``lpips/weights/v0.1/vgg.pth`` (keys ``lin<l>.model.1.weight``, shape
``(1, C_l, 1, 1)``; 7 KB, BSD-2-Clause, in the ``lpips`` wheel on PyPI). Both are read without torch
(:func:`gans_jax.torch_files.read_torch_file`) or from ``.npz`` files with the same keys.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gans_jax.models.vgg import VGG16, conv_layers, load_vgg_params

LPIPS_LAYERS = ("vgg12", "vgg22", "vgg33", "vgg43", "vgg53")  # relu1_2 .. relu5_3
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
LPIPS_SHIFT = (-0.030, -0.088, -0.188)  # lpips.ScalingLayer, for inputs in [-1, 1]
LPIPS_SCALE = (0.458, 0.448, 0.450)
NORMALIZE_EPS = 1e-10  # lpips.normalize_tensor
LIN_KEY = "lin{}.model.1.weight"  # lpips.NetLinLayer: Sequential(Dropout, Conv2d(C, 1, 1, bias=False))
LPIPS_FILE = "lpips/weights/v0.1/vgg.pth"
HOW_TO_GET_LPIPS = (
    "the LPIPS channel weights are the lpips package's lpips/weights/v0.1/vgg.pth (7 KB, BSD-2-Clause): "
    "`pip download --no-deps lpips` and unzip the wheel, or take it from "
    "https://github.com/richzhang/PerceptualSimilarity (lpips/weights/v0.1/vgg.pth)"
)


def read_lin_weights(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``{"lin0": (64,), ..., "lin4": (512,)}`` from the ``lpips`` package's ``weights/v0.1/vgg.pth``
    (or an ``.npz`` with its keys). Errors name the file, the key and the expected shape; negative
    weights are refused (LPIPS clamps them at 0 in training, and the feature form needs their root)."""
    if path is None or str(path) == "":
        raise ValueError(f"no LPIPS weights path given: {HOW_TO_GET_LPIPS}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LPIPS weights file {str(path)!r} does not exist: {HOW_TO_GET_LPIPS}")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            leaves = {k: data[k] for k in data.files}
    else:
        from gans_jax.torch_files import read_torch_file

        leaves = read_torch_file(path)
    out = {}
    for i, channels in enumerate(LPIPS_CHANNELS):
        key, expected = LIN_KEY.format(i), (1, channels, 1, 1)
        if key not in leaves:
            raise ValueError(
                f"{path}: missing {key} of shape {expected} (found {sorted(leaves)[:6]}); is this the VGG "
                f"LPIPS file? {HOW_TO_GET_LPIPS}"
            )
        value = np.asarray(leaves[key], np.float32)
        if value.shape != expected:
            raise ValueError(f"{path}: {key} has shape {value.shape}, expected {expected} (VGG16 LPIPS)")
        if (value < 0).any():
            raise ValueError(f"{path}: {key} has negative weights (min {value.min()}); LPIPS's are >= 0")
        out[f"lin{i}"] = value.reshape(channels)
    return out


def load_lpips_weights(backbone: str | os.PathLike[str], lin: str | os.PathLike[str]) -> dict:
    """``{"vgg": {"params": ...}, "lin": {"lin0": ..., ...}}``: VGG16 up to conv5_3 from torchvision's
    ``vgg16-397923af.pth`` (``backbone``) and the channel weights from LPIPS's ``vgg.pth`` (``lin``)."""
    lin_weights = read_lin_weights(lin)
    return {"vgg": load_vgg_params(backbone, "vgg53", depth=16), "lin": lin_weights}


def lpips_state_dicts(weights: dict) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The inverse of :func:`load_lpips_weights`: torchvision's VGG16 keys and LPIPS's lin keys."""
    params = weights["vgg"]["params"]
    backbone = {}
    for name, index, _, _ in conv_layers(16):
        backbone[f"features.{index}.weight"] = np.asarray(params[name]["kernel"]).transpose(3, 2, 0, 1)
        backbone[f"features.{index}.bias"] = np.asarray(params[name]["bias"])
    lin = {LIN_KEY.format(i): np.asarray(weights["lin"][f"lin{i}"]).reshape(1, -1, 1, 1) for i in range(5)}
    return backbone, lin


def lpips_features(weights: dict, images: jax.Array, precision: lax.Precision | None = None) -> jax.Array:
    """``(N, D)`` features whose squared L2 distance is LPIPS (module docstring), of NHWC images in
    [0, 255] (NVIDIA's convention for its ``vgg16.pt``; 1-channel images are repeated to RGB).
    ``D = sum_l H_l W_l C_l``: the images' size is kept (LPIPS does not resize)."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"LPIPS expects NHWC images with 1 or 3 channels, got shape {images.shape}")
    x = jnp.broadcast_to(images, (*images.shape[:3], 3)).astype(jnp.float32)
    x = x / 127.5 - 1.0  # [0, 255] -> LPIPS's [-1, 1]
    x = (x - jnp.asarray(LPIPS_SHIFT)) / jnp.asarray(LPIPS_SCALE)
    maps = VGG16("vgg53", precision=precision).apply(weights["vgg"], x)
    parts = []
    for i, layer in enumerate(LPIPS_LAYERS):
        y = maps[layer]
        y = y / (jnp.sqrt(jnp.sum(jnp.square(y), axis=-1, keepdims=True)) + NORMALIZE_EPS)
        scale = jnp.sqrt(weights["lin"][f"lin{i}"] / (y.shape[1] * y.shape[2]))
        parts.append((y * scale).reshape(y.shape[0], -1))
    return jnp.concatenate(parts, axis=1)


def lpips_distance(weights: dict, a: jax.Array, b: jax.Array, precision: lax.Precision | None = None):
    """LPIPS ``d(a, b)`` per image pair, for NHWC images in [-1, 1] (the ``lpips`` package's input)."""
    fa = lpips_features(weights, (a + 1.0) * 127.5, precision)
    fb = lpips_features(weights, (b + 1.0) * 127.5, precision)
    return jnp.sum(jnp.square(fa - fb), axis=1)
