"""NVlabs StyleGAN2-ADA network pickles (``stylegan2-ada-pytorch``) as ``(gan, state)``: kind
``stylegan2-ada``.

A snapshot ``network-snapshot-<kimg>.pkl`` (and every released pretrained pickle of that code: FFHQ,
MetFaces, AFHQ, BreCaHAD, CIFAR-10, the transfer-learning sources) is a ``pickle.dump`` of ``{"G", "D",
"G_ema", "augment_pipe", "training_set_kwargs"}``. Each network is a ``torch_utils.persistence`` object:
its pickle calls ``_reconstruct_persistent_obj(meta)``, whose ``meta`` carries the module's source code
(``module_src``), its class name and its state (``init_args`` / ``init_kwargs``, parameters, buffers,
submodules). The file is read as data (:func:`gans_jax.torch_files.read_pickle`): only torch's tensor
rebuild functions resolve, ``_reconstruct_persistent_obj`` becomes an inert :class:`PersistentObject`
and ``dnnlib.EasyDict`` a dict; ``module_src`` is never imported or executed.

The architecture comes from the networks' ``init_kwargs`` (:func:`model_config`: which are supported,
and the ``model.*`` keys they set); every parameter and buffer is then mapped onto the Flax variables of
:mod:`gans_jax.models.stylegan2` (OIHW -> HWIO kernels, the kernels of the up-sampling layers flipped
because the official ones convolve where ours correlate, the discriminator's 4x4 FC permuted from NCHW
to NHWC order, ``noise_const`` and ``w_avg`` into their collections) and nothing may be left over:
``G_ema`` gives the EMA generator's parameters and the buffers (``w_avg``, ``noise_const``) sampling
uses, ``G`` the generator's parameters (``G_ema``'s when absent), ``D`` the discriminator. The networks
compute in float32, i.e. the official networks with ``force_fp32=True``. Not converted: the ADA
augmentation pipeline's state (``augment_pipe``: its probability ``p``), and StyleGAN3 networks, which are
refused.
"""

from __future__ import annotations

import dataclasses
import glob
import math
import os
import pickle
import re
from typing import Any

import ml_collections
import numpy as np

from gans_jax import configs
from gans_jax.models.stylegan2 import ARCHITECTURES
from gans_jax.pretrained import ConversionError, Converted
from gans_jax.torch_files import read_pickle

KIND = "stylegan2-ada"
_MARKERS = (b"torch_utils.persistence", b"_reconstruct_persistent_obj")
_TF_MARKER = b"dnnlib.tflib"
_STYLEGAN3_CLASSES = {"SynthesisInput"}
_STYLEGAN3_KWARGS = {"magnitude_ema_beta", "conv_kernel", "use_radial_filters"}  # its train.py sets them


@dataclasses.dataclass
class PersistentObject:
    """What ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` would rebuild, kept as data:
    the class name, the module source as text (never executed) and the module's state (a torch
    module's ``__dict__``: ``_parameters``, ``_buffers``, ``_modules``, ``_init_args``, ``_init_kwargs``,
    plain attributes)."""

    class_name: str
    module_src: str
    state: dict

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args") or ())

    def modules(self) -> dict[str, Any]:
        return dict(self.state.get("_modules") or {})

    def tensors(self) -> dict[str, np.ndarray]:
        """This module's own parameters and buffers (not its submodules'), ``None`` entries left out."""
        out = {}
        for field in ("_parameters", "_buffers"):
            for name, value in (self.state.get(field) or {}).items():
                if value is not None:
                    out[name] = np.asarray(value)
        return out

    def walk(self, prefix: str):
        """``(dotted path, object)`` of this module and every submodule below it."""
        yield prefix, self
        for name, child in self.modules().items():
            if isinstance(child, PersistentObject):
                yield from child.walk(f"{prefix}.{name}")


def _reconstruct_persistent_obj(meta) -> PersistentObject:
    if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
        raise pickle.UnpicklingError("a persistent object without a meta dict and its state")
    return PersistentObject(str(meta.get("class_name")), str(meta.get("module_src", "")), meta["state"])


class _EasyDict(dict):
    """``dnnlib.EasyDict`` read as a plain dict."""


_GLOBALS = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("dnnlib", "EasyDict"): _EasyDict,
}


def _snapshot_file(path: str) -> str | None:
    """``path`` itself, or the newest ``network-snapshot-*.pkl`` of a training run's folder."""
    if os.path.isdir(path):
        snapshots = sorted(glob.glob(os.path.join(path, "network-snapshot-*.pkl")))
        return snapshots[-1] if snapshots else None
    return path if os.path.isfile(path) else None


def detect(path: str) -> str | None:
    """``stylegan2-ada`` for a pickle of ``torch_utils.persistence`` objects (or a run folder of
    ``network-snapshot-*.pkl``); TensorFlow StyleGAN pickles are claimed too, so that ``convert`` can say
    what to do with them."""
    file = _snapshot_file(path)
    if file is None:
        return None
    with open(file, "rb") as f:
        head = f.read(1 << 20)
    if head[:1] != b"\x80":  # a pickle starts with its protocol
        return None
    if all(m in head for m in _MARKERS) or _TF_MARKER in head:
        return KIND
    return None


def read_snapshot(path: str) -> dict:
    """The snapshot dict of ``path`` with its networks as :class:`PersistentObject`, checked."""
    try:
        data = read_pickle(path, _GLOBALS)
    except pickle.UnpicklingError as e:
        if "dnnlib.tflib" in str(e):
            raise ConversionError(
                f"{path}: a TensorFlow StyleGAN/StyleGAN2 pickle (dnnlib.tflib); convert it to a PyTorch "
                "one with stylegan2-ada-pytorch's `python legacy.py --source=... --dest=...` first"
            ) from None
        raise ConversionError(f"{path}: not a StyleGAN2-ADA network pickle ({e})") from None
    except ValueError as e:
        raise ConversionError(str(e)) from None
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), PersistentObject):
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ConversionError(
            f"{path}: not a StyleGAN2-ADA network pickle: expected a dict with the networks 'G_ema' (and "
            f"'G', 'D'), found {found}"
        )
    for name, expected in (("G", "Generator"), ("G_ema", "Generator"), ("D", "Discriminator")):
        net = data.get(name)
        if net is None:
            continue
        if not isinstance(net, PersistentObject):
            raise ConversionError(f"{path}: {name} is a {type(net).__name__}, not a persistent network")
        _refuse_stylegan3(net, name, path)
        if net.class_name != expected:
            raise ConversionError(f"{path}: {name} is a {net.class_name!r}, expected a {expected!r}")
    return data


def _refuse_stylegan3(net: PersistentObject, name: str, path: str) -> None:
    classes = {obj.class_name for _, obj in net.walk(name)}
    kwargs = set(net.init_kwargs) | set(net.init_kwargs.get("synthesis_kwargs") or {})
    if classes & _STYLEGAN3_CLASSES or kwargs & _STYLEGAN3_KWARGS:
        found = sorted(classes & _STYLEGAN3_CLASSES) + sorted(kwargs & _STYLEGAN3_KWARGS)
        raise ConversionError(
            f"{path}: StyleGAN3 is not supported: {name} is a StyleGAN3 network ({', '.join(found)}); "
            "gans-jax converts StyleGAN2-ADA (stylegan2-ada-pytorch) pickles"
        )
    if "fused_modconv_default" in kwargs:
        raise ConversionError(
            f"{path}: {name} is a StyleGAN2 network of the stylegan3 repository (fused_modconv_default); "
            "gans-jax converts stylegan2-ada-pytorch pickles"
        )


# --------------------------------------------------------------------------------------------------
# init_kwargs -> config
# --------------------------------------------------------------------------------------------------

_G_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
_D_ARGS = ("c_dim", "img_resolution", "img_channels", "architecture", "channel_base", "channel_max")
_FILTER = [1, 3, 3, 1]


def _kwargs(net: PersistentObject, names: tuple[str, ...], what: str, path: str) -> dict:
    """``init_kwargs`` with ``init_args`` named by the constructor's positional parameters."""
    args = net.init_args
    if len(args) > len(names):
        raise ConversionError(f"{path}: {what} has {len(args)} init_args, expected at most {len(names)}")
    return {**dict(zip(names, args, strict=False)), **net.init_kwargs}


def _take(kwargs: dict, defaults: dict, what: str, path: str, ignored: tuple[str, ...] = ()) -> dict:
    """``defaults`` overridden by ``kwargs``; a key outside both (and ``ignored``) is refused."""
    unknown = sorted(set(kwargs) - set(defaults) - set(ignored))
    if unknown:
        raise ConversionError(
            f"{path}: {what} has init_kwargs {unknown} that gans-jax does not convert (supported: "
            f"{sorted(set(defaults) | set(ignored))})"
        )
    return {**defaults, **{k: v for k, v in kwargs.items() if k in defaults}}


def _require(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise ConversionError(f"{path}: {message}")


def _generator_options(G: PersistentObject, path: str) -> dict:
    kw = _take(
        _kwargs(G, _G_ARGS, "G", path),
        dict.fromkeys(_G_ARGS[:5]) | {"mapping_kwargs": {}, "synthesis_kwargs": {}},
        "G",
        path,
    )
    for key in _G_ARGS[:5]:
        _require(kw[key] is not None, path, f"G's init_kwargs lack {key!r}")
    mapping = _take(
        dict(kw["mapping_kwargs"]),
        dict(
            num_layers=8,
            embed_features=None,
            layer_features=None,
            activation="lrelu",
            lr_multiplier=0.01,
            w_avg_beta=0.995,
        ),
        "G.mapping",
        path,
    )
    synthesis = _take(
        dict(kw["synthesis_kwargs"]),
        dict(
            channel_base=32768,
            channel_max=512,
            conv_clamp=None,
            architecture="skip",
            resample_filter=_FILTER,
            use_noise=True,
            activation="lrelu",
            kernel_size=3,
        ),
        "G.synthesis",
        path,
        ignored=("num_fp16_res", "fp16_channels_last", "channels_last"),
    )
    w_dim, c_dim = int(kw["w_dim"]), int(kw["c_dim"])
    _require(int(kw["z_dim"]) > 0, path, f"G has z_dim={kw['z_dim']}; gans-jax generators take a latent z")
    _require(mapping["layer_features"] in (None, w_dim), path, "G.mapping layer_features must equal w_dim")
    _require(
        c_dim == 0 or mapping["embed_features"] in (None, w_dim),
        path,
        "G.mapping embed_features must be w_dim",
    )
    _require(
        mapping["activation"] == synthesis["activation"] == "lrelu", path, "G's activation must be lrelu"
    )
    _require(
        mapping["w_avg_beta"] is not None, path, "G without w_avg tracking (w_avg_beta=None): not supported"
    )
    _require(
        synthesis["architecture"] in ARCHITECTURES, path, f"G's architecture must be one of {ARCHITECTURES}"
    )
    _require(synthesis["kernel_size"] == 3, path, f"G's kernel_size {synthesis['kernel_size']} is not 3")
    _require(synthesis["use_noise"] is True, path, "G without noise inputs (use_noise=False): not supported")
    _require(list(synthesis["resample_filter"]) == _FILTER, path, f"G's resample_filter must be {_FILTER}")
    return dict(
        z_dim=int(kw["z_dim"]),
        c_dim=c_dim,
        w_dim=w_dim,
        resolution=int(kw["img_resolution"]),
        channels=int(kw["img_channels"]),
        mapping_layers=int(mapping["num_layers"]),
        mapping_lr_multiplier=float(mapping["lr_multiplier"]),
        w_avg_beta=float(mapping["w_avg_beta"]),
        channel_base=int(synthesis["channel_base"]),
        channel_max=int(synthesis["channel_max"]),
        conv_clamp=synthesis["conv_clamp"],
        architecture=synthesis["architecture"],
    )


def _discriminator_options(D: PersistentObject, path: str) -> dict:
    kw = _take(
        _kwargs(D, _D_ARGS, "D", path),
        dict(
            c_dim=None,
            img_resolution=None,
            img_channels=None,
            architecture="resnet",
            channel_base=32768,
            channel_max=512,
            conv_clamp=None,
            cmap_dim=None,
            block_kwargs={},
            mapping_kwargs={},
            epilogue_kwargs={},
        ),
        "D",
        path,
        ignored=("num_fp16_res",),
    )
    block = _take(
        dict(kw["block_kwargs"]),
        dict(activation="lrelu", resample_filter=_FILTER),
        "D.block",
        path,
        ignored=("fp16_channels_last", "freeze_layers"),
    )
    mapping = _take(
        dict(kw["mapping_kwargs"]),
        dict(num_layers=8, lr_multiplier=0.01, embed_features=None, layer_features=None, activation="lrelu"),
        "D.mapping",
        path,
    )
    epilogue = _take(
        dict(kw["epilogue_kwargs"]),
        dict(mbstd_group_size=4, mbstd_num_channels=1, activation="lrelu"),
        "D.epilogue",
        path,
    )
    _require(block["activation"] == epilogue["activation"] == "lrelu", path, "D's activation must be lrelu")
    _require(kw["architecture"] in ARCHITECTURES, path, f"D's architecture must be one of {ARCHITECTURES}")
    _require(list(block["resample_filter"]) == _FILTER, path, f"D's resample_filter must be {_FILTER}")
    if int(kw["c_dim"] or 0) > 0:
        cmap = kw["cmap_dim"]
        for key in ("embed_features", "layer_features"):
            _require(mapping[key] in (None, cmap), path, f"D.mapping {key} must equal cmap_dim")
        _require(mapping["activation"] == "lrelu", path, "D.mapping's activation must be 'lrelu'")
    return dict(
        c_dim=int(kw["c_dim"] or 0),
        resolution=kw["img_resolution"],
        channels=kw["img_channels"],
        architecture=kw["architecture"],
        channel_base=int(kw["channel_base"]),
        channel_max=int(kw["channel_max"]),
        conv_clamp=kw["conv_clamp"],
        cmap_dim=kw["cmap_dim"],
        mapping_layers=int(mapping["num_layers"]),
        mapping_lr_multiplier=float(mapping["lr_multiplier"]),
        mbstd_group_size=int(epilogue["mbstd_group_size"] or 0),  # None (the whole minibatch) -> 0
        mbstd_num_channels=int(epilogue["mbstd_num_channels"]),
    )


def model_config(snapshot: dict, path: str = "") -> tuple[ml_collections.ConfigDict, dict]:
    """The experiment config of the snapshot's networks and ``(resolution, channels, c_dim)``.

    Supported ``init_kwargs`` (anything else is refused by name): G ``z_dim``, ``c_dim`` (one-hot class
    labels), ``w_dim``, ``img_resolution``, ``img_channels``; ``mapping_kwargs`` ``num_layers``,
    ``lr_multiplier``, ``w_avg_beta`` (``embed_features`` / ``layer_features`` only ``None`` or ``w_dim``);
    ``synthesis_kwargs`` ``channel_base``, ``channel_max``, ``conv_clamp``, ``architecture`` (orig, skip,
    resnet), ``num_fp16_res`` (computed in float32), ``resample_filter`` ``[1, 3, 3, 1]``. D ``c_dim``,
    ``img_resolution``, ``img_channels``, ``architecture``, ``channel_base``, ``channel_max``,
    ``conv_clamp``, ``cmap_dim``, ``num_fp16_res``; ``block_kwargs`` (``freeze_layers``, which changes
    no output, is dropped); ``mapping_kwargs`` ``num_layers`` (0 too: legacy.py's TensorFlow
    conversions), ``lr_multiplier`` (``embed_features`` / ``layer_features`` only ``None`` or
    ``cmap_dim``); ``epilogue_kwargs`` ``mbstd_group_size`` (``None``: the whole minibatch, stored as 0),
    ``mbstd_num_channels``. The networks share ``channel_base``, ``channel_max`` and ``conv_clamp``
    (``model.*`` keys of both), as every official config."""
    g = _generator_options(snapshot["G_ema"], path)
    c = configs.default_config()
    cmap_dim, d_layers, d_lr, group, mbstd_channels, d_arch = 0, 8, 0.01, 4, 1, "resnet"
    if isinstance(snapshot.get("D"), PersistentObject):
        d = _discriminator_options(snapshot["D"], path)
        for key in ("resolution", "channels", "c_dim", "channel_base", "channel_max", "conv_clamp"):
            _require(d[key] == g[key], path, f"G has {key}={g[key]}, D {d[key]}: gans-jax shares model.{key}")
        cmap_dim, d_layers, d_lr = d["cmap_dim"] or 0, d["mapping_layers"], d["mapping_lr_multiplier"]
        group, mbstd_channels, d_arch = d["mbstd_group_size"], d["mbstd_num_channels"], d["architecture"]
    resolution = g["resolution"]
    c.model.update(
        name="stylegan2",
        resolution=resolution,
        latent_dim=g["z_dim"],
        w_dim=g["w_dim"],
        mapping_layers=g["mapping_layers"],
        mapping_lr_multiplier=g["mapping_lr_multiplier"],
        w_avg_beta=g["w_avg_beta"],
        channel_base=g["channel_base"],
        channel_max=g["channel_max"],
        g_architecture=g["architecture"],
        d_architecture=d_arch,
        conv_clamp=float(g["conv_clamp"] or 0.0),
        mbstd_group_size=group,
        mbstd_num_channels=mbstd_channels,
        cmap_dim=int(cmap_dim),
        d_mapping_layers=d_layers,
        d_mapping_lr_multiplier=d_lr,
        conditional=g["c_dim"] > 0,
    )
    c.data.update(source="folder", path="", channels=g["channels"], label_key="label" if g["c_dim"] else "")
    # The training recipe is not in a snapshot: StyleGAN2-ADA's (train.py --cfg=auto) for fine-tuning.
    batch, r1_every, pl_every = 32, 16, 4
    lr = 0.002 if resolution >= 1024 else 0.0025
    c.objective.name = "non_saturating"
    c.optim.d = configs.lazy_adam(lr, r1_every)
    c.optim.g = configs.lazy_adam(lr, pl_every)
    c.regularizers = {
        "r1": {"weight": 0.0002 * resolution**2 / batch / 2, "every": r1_every},
        "path_length": {"weight": 2.0, "every": pl_every, "decay": 0.01, "batch_shrink": 2},
    }
    c.train.update(batch_size=batch, ema_decay=0.5 ** (batch / 10_000), n_critic=1)
    return c, g


# --------------------------------------------------------------------------------------------------
# tensors -> Flax variables
# --------------------------------------------------------------------------------------------------


class _Variables:
    """Flax variables by collection and path, filled module by module."""

    def __init__(self):
        self.trees: dict[str, dict] = {}

    def put(self, collection: str, path: str, value: np.ndarray) -> None:
        node = self.trees.setdefault(collection, {})
        *parents, last = path.split("/")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = np.asarray(value, np.float32)


def _conv_kernel(weight: np.ndarray, up: bool) -> np.ndarray:
    """OIHW -> HWIO; an up-sampling layer's kernel flipped (``flip_weight=(up == 1)``: the official
    up-sampling convolutions convolve, :func:`gans_jax.layers.fir.conv2d` correlates)."""
    kernel = weight.transpose(2, 3, 1, 0)
    return kernel[::-1, ::-1] if up else kernel


def _check_filter(value: np.ndarray, where: str, path: str) -> None:
    f = np.asarray(_FILTER, np.float32)
    if value.shape != (4, 4) or not np.allclose(value, np.outer(f, f) / f.sum() ** 2, atol=1e-7):
        raise ConversionError(f"{path}: {where}.resample_filter is not the [1, 3, 3, 1] filter")


def _convert_module(obj: PersistentObject, where: str, flax: str, out: _Variables, path: str) -> None:
    """The tensors of one official module (not its children) into ``out`` under the Flax path ``flax``."""
    tensors, cls = obj.tensors(), obj.class_name

    def take(name: str) -> np.ndarray:
        if name not in tensors:
            raise ConversionError(f"{path}: {where} ({cls}) has no {name!r}")
        return tensors.pop(name)

    if "resample_filter" in tensors:
        _check_filter(take("resample_filter"), where, path)
    if cls == "FullyConnectedLayer":
        out.put("params", f"{flax}/kernel", take("weight").T)
        if "bias" in tensors:
            out.put("params", f"{flax}/bias", take("bias"))
    elif cls == "Conv2dLayer":
        out.put("params", f"{flax}/kernel", _conv_kernel(take("weight"), obj.state.get("up", 1) > 1))
        if "bias" in tensors:
            out.put("params", f"{flax}/bias", take("bias"))
    elif cls in ("SynthesisLayer", "ToRGBLayer"):
        up = obj.state.get("up", 1) > 1
        out.put("params", f"{flax}/conv/kernel", _conv_kernel(take("weight"), up))
        out.put("params", f"{flax}/bias", take("bias"))
        if "noise_strength" in tensors:
            out.put("params", f"{flax}/noise/strength", take("noise_strength"))
            out.put("noise_const", f"{flax}/noise/noise_const", take("noise_const"))
    elif cls == "SynthesisBlock" and "const" in tensors:
        out.put("params", f"{flax.rsplit('/', 1)[0]}/const", take("const").transpose(1, 2, 0))
    elif cls == "MappingNetwork" and "w_avg" in tensors:
        out.put("w_avg", f"{flax}/w_avg", take("w_avg"))
    if tensors:
        raise ConversionError(f"{path}: {where} ({cls}) has tensors {sorted(tensors)} not converted")


# official module path -> Flax path: (regex, replacement) on the dotted path below the network
_G_PATHS = [
    (r"^mapping$", "mapping_network"),
    (r"^mapping\.(embed|fc\d+)$", r"mapping_network/\1"),
    (r"^synthesis$", "synthesis_network"),
    (r"^synthesis\.b(\d+)$", r"synthesis_network/b\1"),
    (r"^synthesis\.b(\d+)\.(conv0|conv1|torgb|skip)$", r"synthesis_network/b\1_\2"),
    (r"^synthesis\.b(\d+)\.(conv0|conv1|torgb)\.affine$", r"synthesis_network/b\1_\2/conv/affine"),
]
_D_PATHS = [
    (r"^b(\d+)$", r"b\1"),
    (r"^b(\d+)\.(fromrgb|conv0|conv1|skip|conv|fc|out)$", r"b\1_\2"),
    (r"^b4\.mbstd$", "b4"),  # no tensors
    (r"^mapping$", "mapping"),
    (r"^mapping\.(embed|fc\d+)$", r"mapping/\1"),
]
_CLASSES = {
    "Generator", "MappingNetwork", "FullyConnectedLayer", "SynthesisNetwork", "SynthesisBlock",
    "SynthesisLayer", "ToRGBLayer", "Conv2dLayer", "Discriminator", "DiscriminatorBlock",
    "DiscriminatorEpilogue", "MinibatchStdLayer",
}  # fmt: skip


def network_variables(net: PersistentObject, name: str, path: str) -> dict[str, dict]:
    """Every tensor of ``net`` (``G``, ``G_ema`` or ``D``) as Flax variables of
    :mod:`gans_jax.models.stylegan2`: ``{"params": ..., "w_avg": ..., "noise_const": ...}``."""
    out = _Variables()
    rules = _D_PATHS if net.class_name == "Discriminator" else _G_PATHS
    for where, obj in net.walk(name):
        if obj.class_name not in _CLASSES:
            raise ConversionError(
                f"{path}: {where} is a {obj.class_name!r}: not a stylegan2-ada-pytorch class"
            )
        local = where[len(name) + 1 :]
        flax = ""
        if local:
            for pattern, replacement in rules:
                if re.match(pattern, local):
                    flax = re.sub(pattern, replacement, local)
                    break
            else:
                raise ConversionError(f"{path}: unexpected module {where} ({obj.class_name})")
        _convert_module(obj, where, flax, out, path)
        if local == "b4.fc" and net.class_name == "Discriminator":
            # the official FC reads NCHW-flattened 4x4 features, gans_jax's NHWC-flattened ones
            kernel = out.trees["params"]["b4_fc"]["kernel"]  # (C * 16, C) in (c, h, w) order
            channels = kernel.shape[1]
            res = math.isqrt(kernel.shape[0] // channels)
            kernel = kernel.reshape(channels, res, res, channels).transpose(1, 2, 0, 3).reshape(-1, channels)
            out.put("params", "b4_fc/kernel", kernel)
    return out.trees


def convert(path: str, kind: str = KIND) -> Converted:
    """The :class:`~gans_jax.pretrained.Converted` networks of a StyleGAN2-ADA pickle (or of the newest
    snapshot of a run folder)."""
    file = _snapshot_file(path)
    if file is None:
        raise ConversionError(f"{path}: no network pickle (a folder needs network-snapshot-*.pkl files)")
    snapshot = read_snapshot(file)
    config, g = model_config(snapshot, file)
    ema = network_variables(snapshot["G_ema"], "G_ema", file)
    generator = dict(ema)
    if isinstance(snapshot.get("G"), PersistentObject):
        generator["params"] = network_variables(snapshot["G"], "G", file)["params"]
    discriminator = None
    if isinstance(snapshot.get("D"), PersistentObject):
        discriminator = network_variables(snapshot["D"], "D", file)
    return Converted(
        kind=kind,
        config=config,
        sample_shape=(g["resolution"], g["resolution"], g["channels"]),
        num_classes=g["c_dim"] or None,
        generator=generator,
        discriminator=discriminator,
        ema=ema["params"],
        source=file,
    )


__all__ = [
    "KIND",
    "PersistentObject",
    "convert",
    "detect",
    "model_config",
    "network_variables",
    "read_snapshot",
]
