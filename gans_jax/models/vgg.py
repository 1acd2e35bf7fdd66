"""VGG16 / VGG19 features (SRGAN's perceptual content loss, LPIPS), with weights the user supplies.

- :class:`VGG` (``depth`` 19, alias :data:`VGG19`, or 16, :func:`VGG16`): the convolutional stack of
  VGG (Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
  Table 1, configuration E for 19 layers, D for 16): 3x3 convolutions (stride 1, padding 1) with 64, 64,
  M, 128, 128, M, 256 x 4, M, 512 x 4, M, 512 x 4 filters (E; D has 3 per block from the third block
  on), each followed by a ReLU; ``M`` is a 2x2 max-pooling with stride 2. It returns SRGAN's named
  feature maps ``phi_{i,j}``, "the feature map obtained by the j-th convolution (after activation)
  before the i-th maxpooling layer" (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a
  Generative Adversarial Network", Sec. 2.2.2): ``"vgg22"`` is relu2_2, ``"vgg54"`` relu5_4. Only the
  layers up to the requested one are built and run. 20,024,384 parameters up to conv5_4 (VGG19),
  14,714,688 up to conv5_3 (VGG16).
- :func:`load_vgg_params` (:func:`load_vgg19_params`): the module's parameters from torchvision's
  ImageNet weights ``vgg19-dcbb9e9d.pth`` / ``vgg16-397923af.pth`` (a ``torch.save`` state dict:
  ``features.<index>.weight`` OIHW and ``features.<index>.bias``, index as in
  ``torchvision.models.vgg19().features`` / ``vgg16().features``), read without torch by
  :func:`gans_jax.torch_files.read_torch_file`, or from an ``.npz`` with the same key names
  (:func:`torchvision_state_dict` writes one). The classifier's tensors are ignored.
- :func:`preprocess`: torchvision's ImageNet input normalisation of the library's images.
- :func:`vgg_feature_fn`: a differentiable ``phi`` for ``auxiliary_loss("content", w, features=phi)``,
  features rescaled by 1/12.75 as in SRGAN (Sec. 3.2: "we rescaled the VGG feature maps by a factor of
  1/12.75", which makes the VGG loss comparable to the pixel MSE).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# Table 1, configurations D (VGG16) and E (VGG19): output channels of each 3x3 convolution, "M" a 2x2
# max-pooling.
VGG_CONFIGS = {
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (
        64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"
    ),
}  # fmt: skip
VGG19_CONFIG = VGG_CONFIGS[19]
CONFIG_LETTER = {16: "D", 19: "E"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's normalisation of [0, 1] RGB inputs
IMAGENET_STD = (0.229, 0.224, 0.225)
SRGAN_RESCALE = 1.0 / 12.75  # Ledig et al. 2017, Sec. 3.2
WEIGHTS_FILES = {16: "vgg16-397923af.pth", 19: "vgg19-dcbb9e9d.pth"}
WEIGHTS_FILE = WEIGHTS_FILES[19]
WEIGHTS_URL = f"https://download.pytorch.org/models/{WEIGHTS_FILE}"


def how_to_get_weights(depth: int = 19) -> str:
    """Where torchvision's ImageNet VGG``depth`` weights come from, for error messages."""
    file = WEIGHTS_FILES[depth]
    return (
        f"VGG{depth} weights are not bundled and cannot be downloaded by gans-jax: get torchvision's "
        f"ImageNet VGG{depth} weights file {file} (https://download.pytorch.org/models/{file}; "
        f"torchvision.models.VGG{depth}_Weights.IMAGENET1K_V1, which torch caches as "
        f"~/.cache/torch/hub/checkpoints/{file}) and pass its path, or an .npz with the same keys "
        "(features.0.weight, features.0.bias, ...)"
    )


HOW_TO_GET_WEIGHTS = how_to_get_weights(19)


def _check_depth(depth: int) -> None:
    if depth not in VGG_CONFIGS:
        raise ValueError(f"unknown VGG depth {depth!r}; expected one of {tuple(VGG_CONFIGS)}")


def conv_layers(depth: int = 19) -> list[tuple[str, int, int, int]]:
    """``(name, torchvision features index, in_channels, out_channels)`` of every convolution of
    VGG``depth``, in order; ``name`` is ``conv<i>_<j>``, the j-th convolution of block i (before the
    i-th pooling)."""
    _check_depth(depth)
    layers, index, block, j, cin = [], 0, 1, 0, 3
    for v in VGG_CONFIGS[depth]:
        if v == "M":
            index, block, j = index + 1, block + 1, 0  # MaxPool2d
        else:
            j += 1
            layers.append((f"conv{block}_{j}", index, cin, v))
            index, cin = index + 2, v  # Conv2d, ReLU
    return layers


def feature_layers(depth: int = 19) -> tuple[str, ...]:
    """``("vgg11", "vgg12", "vgg21", ...)``: phi_{i,j}, the output of ``conv<i>_<j>`` after its ReLU."""
    return tuple(f"vgg{name[4]}{name[6]}" for name, *_ in conv_layers(depth))


CONV_LAYERS = conv_layers(19)
FEATURE_LAYERS = feature_layers(19)  # vgg11 ... vgg54


def _check_layer(layer: str, depth: int = 19) -> int:
    """The number of convolutions up to ``layer`` (``"vgg<i><j>"``, phi_{i,j})."""
    names = feature_layers(depth)
    if layer not in names:
        raise ValueError(f"unknown VGG{depth} feature layer {layer!r}; expected one of {names}")
    return names.index(layer) + 1


class VGG(nn.Module):
    """VGG``depth``'s convolutional stack up to ``layer`` (module docstring), on ImageNet-normalised
    NHWC float images (:func:`preprocess`). Returns ``{"vgg11": relu1_1, ..., layer: ...}``: every
    ``phi_{i,j}`` up to and including ``layer`` (post-ReLU, before any pooling that follows)."""

    layer: str = "vgg54"
    precision: lax.Precision | None = None
    depth: int = 19

    @nn.compact
    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"VGG{self.depth} expects NHWC images with 3 channels, got shape {x.shape}")
        count = _check_layer(self.layer, self.depth)
        features, block = {}, 1
        layers = conv_layers(self.depth)[:count]
        for (name, _, _, cout), feature in zip(layers, feature_layers(self.depth)[:count], strict=True):
            if int(name[4]) != block:  # the pooling between blocks
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
                block = int(name[4])
            x = nn.Conv(cout, (3, 3), padding=((1, 1), (1, 1)), precision=self.precision, name=name)(x)
            x = nn.relu(x)
            features[feature] = x
        return features


VGG19 = VGG  # depth 19 is the default (SRGAN's network)
VGG16 = functools.partial(VGG, depth=16)  # ``VGG16("vgg53")``: configuration D (LPIPS's network)


def preprocess(images: jax.Array) -> jax.Array:
    """The library's NHWC images in [-1, 1] (1 or 3 channels) as torchvision's ImageNet models take
    them: ``x / 2 + 1 / 2`` in [0, 1], then ``(x - mean) / std`` per channel (:data:`IMAGENET_MEAN`,
    :data:`IMAGENET_STD`); greyscale is repeated to RGB."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected NHWC images with 1 or 3 channels, got shape {images.shape}")
    x = jnp.broadcast_to(images, (*images.shape[:3], 3)).astype(jnp.float32)
    x = (x + 1.0) * 0.5
    return (x - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)


def expected_shapes(layer: str = "vgg54", depth: int = 19) -> dict[str, tuple[int, ...]]:
    """torchvision's key -> OIHW/bias shape of every convolution of VGG``depth`` up to ``layer``."""
    shapes = {}
    for _, index, cin, cout in conv_layers(depth)[: _check_layer(layer, depth)]:
        shapes[f"features.{index}.weight"] = (cout, cin, 3, 3)
        shapes[f"features.{index}.bias"] = (cout,)
    return shapes


def torchvision_state_dict(params, depth: int = 19) -> dict[str, np.ndarray]:
    """The module's parameters (``{"params": {"conv1_1": {"kernel", "bias"}, ...}}`` or the inner
    dict) in torchvision's layout: ``features.<index>.weight`` OIHW and ``features.<index>.bias``."""
    params = params.get("params", params)
    out = {}
    for name, index, _, _ in conv_layers(depth):
        if name in params:
            out[f"features.{index}.weight"] = np.asarray(params[name]["kernel"]).transpose(3, 2, 0, 1)
            out[f"features.{index}.bias"] = np.asarray(params[name]["bias"])
    return out


_FEATURE_KEY = re.compile(r"features\.(\d+)\.(weight|bias)")


def _read(path: Path) -> dict[str, object]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    from gans_jax.torch_files import read_torch_file

    return read_torch_file(path)


def load_vgg_params(path: str | os.PathLike[str], layer: str | None = None, depth: int = 19) -> dict:
    """``{"params": ...}`` for ``VGG(layer, depth=depth)`` from torchvision's ``vgg19-dcbb9e9d.pth`` /
    ``vgg16-397923af.pth`` or an ``.npz`` with its key names (module docstring). Only the convolutions
    up to ``layer`` (default: the last, ``vgg54`` / ``vgg53``) are needed; every ``features.*`` tensor
    present must be one of VGG``depth``'s, with its shape.
    Errors name the file, the key and the expected shape."""
    layer = feature_layers(depth)[-1] if layer is None else layer
    count = _check_layer(layer, depth)
    name_, how = f"VGG{depth}", how_to_get_weights(depth)
    other = "VGG16" if depth == 19 else "VGG19"
    if path is None or str(path) == "":
        raise ValueError(f"no {name_} weights path given. {how}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{name_} weights file {str(path)!r} does not exist. {how}")
    leaves = _read(path)
    layers = conv_layers(depth)
    all_shapes = expected_shapes(feature_layers(depth)[-1], depth)
    for key, value in leaves.items():
        if not _FEATURE_KEY.fullmatch(key):
            if key.startswith("features."):
                raise ValueError(f"{path}: unexpected tensor {key!r} (is this torchvision's {name_}?)")
            continue  # classifier.*, metadata
        if key not in all_shapes:
            raise ValueError(
                f"{path}: unexpected tensor {key!r}: {name_}'s features have convolutions at indices "
                f"{[index for _, index, _, _ in layers]} (is this torchvision's {name_}, not {other} or "
                "a batch-norm variant?)"
            )
        shape = tuple(np.shape(value))
        if shape != all_shapes[key]:
            raise ValueError(
                f"{path}: {key} has shape {shape}, expected {all_shapes[key]} ({name_} config "
                f"{CONFIG_LETTER[depth]})"
            )
    params = {}
    for name, index, _, _ in layers[:count]:
        arrays = []
        for field in ("weight", "bias"):
            key = f"features.{index}.{field}"
            if key not in leaves:
                raise ValueError(
                    f"{path}: missing {key} of shape {all_shapes[key]} ({name}, needed for {layer!r}; "
                    f"found {len(leaves)} tensors). {how}"
                )
            arrays.append(np.asarray(leaves[key], dtype=np.float32))
        weight, bias = arrays
        params[name] = {"kernel": weight.transpose(2, 3, 1, 0), "bias": bias}  # OIHW -> HWIO
    return {"params": params}


def load_vgg19_params(path: str | os.PathLike[str], layer: str = "vgg54") -> dict:
    """:func:`load_vgg_params` for VGG19 (SRGAN's content loss)."""
    return load_vgg_params(path, layer, 19)


def vgg_feature_fn(
    weights: str | os.PathLike[str] | dict,
    layer: str = "vgg54",
    rescale: float = SRGAN_RESCALE,
    precision: lax.Precision | None = None,
) -> Callable[[jax.Array], jax.Array]:
    """A differentiable feature map ``phi``: NHWC float images in [-1, 1] (1 or 3 channels) ->
    ``rescale * phi_{i,j}`` (``layer`` = ``"vgg<i><j>"``), shape ``(N, H / 2^(i-1), W / 2^(i-1), C)``.
    SRGAN's VGG content loss (Ledig et al. 2017, Eq. 5, features rescaled by 1/12.75 as in Sec. 3.2) is
    ``auxiliary_loss("content", w, features=vgg_feature_fn(path, "vgg54"))``; in a config,
    ``auxiliary_losses.content = dict(weight=1.0, features="vgg54", weights=path)``. ``weights`` is a
    path (:func:`load_vgg19_params`) or the module's ``{"params": ...}``."""
    _check_layer(layer)
    if not isinstance(weights, dict):
        weights = load_vgg19_params(weights, layer)
    model = VGG19(layer=layer, precision=precision)
    params = jax.tree.map(jnp.asarray, weights)

    def phi(images: jax.Array) -> jax.Array:
        return model.apply(params, preprocess(images))[layer] * rescale

    return phi
