"""The pix2pix and CycleGAN authors' checkpoints (junyanz/pytorch-CycleGAN-and-pix2pix) as workdirs.

Their ``BaseModel.save_networks`` writes ``torch.save(net.state_dict(), '<epoch>_net_<name>.pth')`` into
``checkpoints/<experiment>/`` next to ``train_opt.txt``: ``G`` and ``D`` for pix2pix, ``G_A``, ``G_B``,
``D_A``, ``D_B`` for CycleGAN; their model zoo (``pix2pix/scripts/download_pix2pix_model.sh``,
``scripts/download_cyclegan_model.sh``) serves single generator files (``facades_label2photo.pth``,
``horse2zebra.pth``) that their ``test_model.py`` loads as ``latest_net_G.pth``.

Kinds (:data:`gans_jax.pretrained.CONVERTERS`):

- ``pix2pix``: a ``UnetGenerator`` (``unet_256``, ``unet_128``: any depth) and, when present, the
  ``NLayerDiscriminator`` (``basic``, ``n_layers``) or ``PixelDiscriminator`` (``pixel``) as
  :class:`gans_jax.models.pix2pix.UNetGenerator` / ``PatchDiscriminator`` (``model.name="pix2pix"``).
- ``cyclegan``: ``ResnetGenerator`` s (``resnet_9blocks``, ``resnet_6blocks``: any number of blocks) as
  :class:`gans_jax.models.cyclegan.CycleGANGenerator`. The authors' ``G_A`` maps domain A to B and
  ``D_A`` judges ``G_A``'s images, those of domain B (``cycle_gan_model.py``: ``loss_D_A =
  backward_D_basic(netD_A, real_B, fake_B)``); our ``G: X -> Y`` reads the condition images (A under
  ``data.direction="AtoB"``, as theirs), so ``G = G_A``, ``F = G_B``, ``D_Y = D_A``, ``D_X = D_B``. A
  single ResNet generator (their test model, or a model-zoo file) becomes ``G``; ``F`` and the
  discriminators then keep a random initialisation (``gans-jax translate --direction y2x`` would be
  meaningless).

Everything is read from tensor names and shapes: the channels of both domains, ``ngf``/``ndf``, the
U-Net depth, the number of residual blocks, the PatchGAN's ``n_layers`` and each network's
normalisation (``batch``: ``BatchNorm2d`` tensors; ``instance``: convolutions with biases and no norm
tensors, except the ``running_mean``/``running_var`` that pre-0.4 checkpoints keep and the authors' loader
drops; ``none``: neither, as their ``use_bias`` is true only with instance norm). What has no tensor comes
from ``train_opt.txt`` when the folder has it (``crop_size`` -> ``model.resolution`` of the ResNet
models, ``direction``, ``no_dropout``), else from the authors' defaults (256, ``AtoB``; dropout in
pix2pix, none in CycleGAN). The converted config sets ``eval.batch_stats=True``: their ``test.py`` runs the
networks in training mode unless ``--eval``.
"""

from __future__ import annotations

import dataclasses
import os
import re

import jax
import numpy as np

from gans_jax import configs
from gans_jax.pretrained import ConversionError, Converted
from gans_jax.pretrained.torch_layout import StateDict, read_state_dict

KINDS = ("pix2pix", "cyclegan")
RUN_FILE = re.compile(r"^(?P<epoch>.+)_net_(?P<name>G|D|G_A|G_B|D_A|D_B)\.pth$")
OPTION_FILES = ("train_opt.txt", "test_opt.txt")


@dataclasses.dataclass
class Network:
    """One converted network of the authors' ``networks.py``."""

    architecture: str  # unet | resnet | patch | pixel
    variables: dict
    normalization: str
    in_channels: int
    out_channels: int
    width: int  # ngf or ndf
    depth: int  # U-Net num_downs, ResNet n_blocks, PatchGAN n_layers (0: PixelGAN)


def _architecture(arrays) -> str | None:
    """Which network of the authors' ``networks.py`` a state dict holds, from its first layer."""
    if "model.model.0.weight" in arrays:
        return "unet"
    w = arrays.get("model.1.weight")
    if w is not None and w.ndim == 4 and w.shape[2:] == (7, 7):
        return "resnet"
    w = arrays.get("model.0.weight")
    if w is not None and w.ndim == 4 and w.shape[2:] == (4, 4):
        return "patch"
    w = arrays.get("net.0.weight")
    if w is not None and w.ndim == 4 and w.shape[2:] == (1, 1):
        return "pixel"
    return None


EXPECTED = {
    "generator": "the authors' UnetGenerator ('model.model.0.weight', 4x4) or ResnetGenerator "
    "('model.1.weight', 7x7)",
    "discriminator": "the authors' NLayerDiscriminator ('model.0.weight', 4x4) or PixelDiscriminator "
    "('net.0.weight', 1x1)",
}


def _normalization(sd: StateDict, conv: str, norm: str) -> str:
    """The normalisation after the hidden convolution ``conv``, whose norm layer is at ``norm``."""
    if sd.has(f"{norm}.weight"):
        return "batch"
    return "instance" if sd.has(f"{conv}.bias") else "none"


def _norm(sd: StateDict, normalization: str, prefix: str, params: dict, stats: dict, name: str) -> None:
    if normalization == "batch":
        params[name], stats[name] = sd.batch_norm(prefix)
    elif normalization == "instance":
        sd.skip_instance_norm(prefix)


def _variables(params: dict, stats: dict) -> dict:
    return {"params": params, **({"batch_stats": stats} if stats else {})}


def read_unet(sd: StateDict) -> Network:
    """``UnetGenerator``: nested ``UnetSkipConnectionBlock`` s. The outermost block's Sequential is
    ``[downconv, submodule, uprelu, upconv, tanh]``, a middle block's ``[downrelu, downconv, downnorm,
    submodule, uprelu, upconv, upnorm(, dropout)]``, the innermost's ``[downrelu, downconv, uprelu,
    upconv, upnorm]``; each submodule's Sequential is its ``.model``."""
    outer = "model.model"
    middles, block = [], f"{outer}.1.model"
    while not sd.has(f"{block}.3.weight"):  # a middle block: index 3 is the submodule
        if not sd.has(f"{block}.1.weight") or len(middles) == 16:
            raise ConversionError(
                f"{sd.source}: {sd.network} has no block {block} (down-convolution {block}.1.weight) after "
                f"{len(middles) + 1} U-Net blocks, nor an innermost block there ({block}.3.weight)"
            )
        middles.append(block)
        block = f"{block}.3.model"
    inner, n = block, len(middles) + 2
    norm = _normalization(sd, f"{middles[0]}.1", f"{middles[0]}.2") if middles else "none"
    bias = norm == "instance"
    params, stats = {}, {}
    params["down_0"] = sd.conv(f"{outer}.0", bias)
    blocks = [*middles, inner]  # encoder layer i >= 1 is blocks[i - 1]
    for i, prefix in enumerate(blocks, start=1):
        params[f"down_{i}"] = sd.conv(f"{prefix}.1", bias)
        if prefix != inner:
            _norm(sd, norm, f"{prefix}.2", params, stats, f"down_norm_{i}")
    for j in range(n - 1):  # decoder layer j is the up-convolution of encoder block n - 1 - j
        prefix = blocks[n - 2 - j]
        up, up_norm = (3, 4) if prefix == inner else (5, 6)
        params[f"up_{j}"] = sd.conv_transpose(f"{prefix}.{up}", bias)
        _norm(sd, norm, f"{prefix}.{up_norm}", params, stats, f"up_norm_{j}")
    params["up_out"] = sd.conv_transpose(f"{outer}.3", True)
    sd.finish()
    first, last = params["down_0"]["kernel"], params["up_out"]["kernel"]
    return Network("unet", _variables(params, stats), norm, first.shape[2], last.shape[3], first.shape[3], n)


def read_resnet(sd: StateDict) -> Network:
    """``ResnetGenerator``: ``model`` = ``[pad, conv7, norm, relu]``, two ``[conv3 s2, norm, relu]``,
    ``n_blocks`` ``ResnetBlock`` s (``conv_block`` = ``[pad, conv, norm, relu, pad, conv, norm]``), two
    ``[convT3 s2, norm, relu]``, ``[pad, conv7, tanh]``."""
    norm = _normalization(sd, "model.1", "model.2")
    bias = norm == "instance"
    params, stats = {"c7s1_in": sd.conv("model.1", bias)}, {}
    _norm(sd, norm, "model.2", params, stats, "norm_in")
    for i, index in enumerate((4, 7)):
        params[f"down_{i}"] = sd.conv(f"model.{index}", bias)
        _norm(sd, norm, f"model.{index + 1}", params, stats, f"down_norm_{i}")
    n_blocks = 0
    while sd.has(f"model.{10 + n_blocks}.conv_block.1.weight"):
        block = f"model.{10 + n_blocks}.conv_block"
        if not (sd.has(f"{block}.5.weight") and len(sd.shape(f"{block}.5.weight")) == 4):
            raise ConversionError(
                f"{sd.source}: ResnetBlock {block} has no convolution at index 5: a ResnetGenerator with "
                "use_dropout (trained without --no_dropout) or zero padding, which is not supported (our "
                "ResnetBlock is the authors' default: reflection padding, no dropout)"
            )
        name = f"block_{n_blocks}"
        params[name], block_stats = {}, {}
        for k, (conv, norm_index) in enumerate(((1, 2), (5, 6))):
            params[name][f"conv_{k}"] = sd.conv(f"{block}.{conv}", bias)
            _norm(sd, norm, f"{block}.{norm_index}", params[name], block_stats, f"norm_{k}")
        if block_stats:
            stats[name] = block_stats
        n_blocks += 1
    up = 10 + n_blocks
    for i in range(2):
        params[f"up_{i}"] = sd.conv_transpose(f"model.{up + 3 * i}", bias)
        _norm(sd, norm, f"model.{up + 3 * i + 1}", params, stats, f"up_norm_{i}")
    params["c7s1_out"] = sd.conv(f"model.{up + 7}", True)
    sd.finish()
    first, last = params["c7s1_in"]["kernel"], params["c7s1_out"]["kernel"]
    return Network(
        "resnet", _variables(params, stats), norm, first.shape[2], last.shape[3], first.shape[3], n_blocks
    )


def read_patch(sd: StateDict) -> Network:
    """``NLayerDiscriminator``: ``model`` = ``[conv, lrelu]``, ``n_layers - 1`` ``[conv s2, norm, lrelu]``,
    ``[conv s1, norm, lrelu]``, ``[conv to 1]``: convolutions at ``0, 2, 5, ..., 3 n_layers - 1`` and
    ``3 n_layers + 2``."""
    indices = sorted(int(k.split(".")[1]) for k in sd.arrays if re.fullmatch(r"model\.\d+\.weight", k))
    last = indices[-1]
    if (last - 2) % 3 or last < 5:
        raise ConversionError(
            f"{sd.source}: {sd.network} ends with layer model.{last}; an NLayerDiscriminator's output "
            "convolution is model.{3 n_layers + 2}"
        )
    n_layers = (last - 2) // 3
    norm = _normalization(sd, "model.2", "model.3")
    params, stats = {"conv_0": sd.conv("model.0", True)}, {}
    for i in range(1, n_layers + 1):
        params[f"conv_{i}"] = sd.conv(f"model.{3 * i - 1}", norm == "instance")
        _norm(sd, norm, f"model.{3 * i}", params, stats, f"norm_{i}")
    params["conv_out"] = sd.conv(f"model.{last}", True)
    sd.finish()
    first = params["conv_0"]["kernel"]
    return Network("patch", _variables(params, stats), norm, first.shape[2], 1, first.shape[3], n_layers)


def read_pixel(sd: StateDict) -> Network:
    """``PixelDiscriminator``: ``net`` = ``[conv1, lrelu, conv1, norm, lrelu, conv1]``."""
    norm = _normalization(sd, "net.2", "net.3")
    bias = norm == "instance"
    params, stats = {"conv_0": sd.conv("net.0", True), "conv_1": sd.conv("net.2", bias)}, {}
    _norm(sd, norm, "net.3", params, stats, "norm_1")
    params["conv_out"] = sd.conv("net.5", bias)
    sd.finish()
    first = params["conv_0"]["kernel"]
    return Network("pixel", _variables(params, stats), norm, first.shape[2], 1, first.shape[3], 0)


READERS = {"unet": read_unet, "resnet": read_resnet, "patch": read_patch, "pixel": read_pixel}


def read_network(path: str, role: str) -> Network:
    """The ``role`` (``"generator"`` or ``"discriminator"``) network of the authors' state-dict file."""
    arrays = read_state_dict(path, EXPECTED[role])
    architecture = _architecture(arrays)
    wanted = ("unet", "resnet") if role == "generator" else ("patch", "pixel")
    if architecture not in wanted:
        found = f"a {architecture} network" if architecture else f"tensors {sorted(arrays)[:4]}"
        raise ConversionError(f"{path}: expected {EXPECTED[role]}, found {found}")
    return READERS[architecture](StateDict(arrays, path, f"the {architecture} {role}"))


def read_options(folder: str) -> dict[str, str]:
    """``name -> value`` of the authors' ``train_opt.txt`` (or ``test_opt.txt``) in ``folder``, whose
    lines are ``'{:>25}: {:<30}{comment}'``; empty when there is none."""
    for name in OPTION_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            options = {}
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, sep, value = line.partition(":")
                    if sep and key.strip() and not key.strip().startswith("-"):
                        options[key.strip()] = value.split("\t")[0].strip()
            return options
    return {}


def run_files(path: str) -> tuple[dict[str, str], dict[str, str]]:
    """``({"G": path, ...}, options)``: the networks of one epoch of the authors' run at ``path`` (a
    folder: ``latest`` if saved, else the highest epoch; a ``<epoch>_net_<name>.pth`` file: that epoch's
    files beside it), or ``{"G": path}`` for any other single file (a model-zoo generator)."""
    if os.path.isfile(path):
        match = RUN_FILE.match(os.path.basename(path))
        if match is None:
            return {"G": path}, {}
        folder, epochs = os.path.dirname(path) or ".", [match["epoch"]]
    else:
        folder = path
        epochs = sorted(
            {m["epoch"] for m in map(RUN_FILE.match, os.listdir(folder)) if m},
            key=lambda e: (e == "latest", e.isdigit(), int(e) if e.isdigit() else 0, e),
        )[-1:]
    files = {}
    for name in os.listdir(folder):
        match = RUN_FILE.match(name)
        if match and match["epoch"] in epochs:
            files[match["name"]] = os.path.join(folder, name)
    return files, read_options(folder)


def detect(path: str) -> str | None:
    """``"cyclegan"`` for a run with ``G_A``/``G_B`` files or a ResNet generator, ``"pix2pix"`` for a
    U-Net generator; ``None`` for anything else. A file named as the authors name them that cannot be
    read raises (it is clearly meant for this converter)."""
    if os.path.isdir(path) or RUN_FILE.match(os.path.basename(path)):
        files, _ = run_files(path)
        if {"G_A", "G_B"} & set(files):
            return "cyclegan"
        if "G" not in files:
            return None
        arrays = read_state_dict(files["G"], EXPECTED["generator"])
    elif path.endswith((".pth", ".pt")):
        try:
            arrays = read_state_dict(path, EXPECTED["generator"])
        except ConversionError:
            return None  # some other torch file
    else:
        return None
    return {"unet": "pix2pix", "resnet": "cyclegan"}.get(_architecture(arrays))


def convert(path: str, kind: str) -> Converted:
    files, options = run_files(path)
    if kind not in KINDS:
        raise ConversionError(f"{path}: this converter reads {KINDS}, not {kind!r}")
    return (_pix2pix if kind == "pix2pix" else _cyclegan)(path, files, options)


def _check(path: str, network: Network, architectures: tuple[str, ...], what: str) -> None:
    if network.architecture not in architectures:
        raise ConversionError(
            f"{path}: a {network.architecture} network where {what} needs {' or '.join(architectures)}"
        )


def _pix2pix(path: str, files: dict[str, str], options: dict[str, str]) -> Converted:
    if "G" not in files:
        raise ConversionError(f"{path}: no <epoch>_net_G.pth (found {sorted(files) or 'no run files'})")
    g = read_network(files["G"], "generator")
    _check(
        files["G"], g, ("unet",), "pix2pix (model.name='pix2pix', the U-Net; a ResNet G is --kind cyclegan)"
    )
    d = read_network(files["D"], "discriminator") if "D" in files else None
    if d is not None and d.in_channels != g.in_channels + g.out_channels:
        raise ConversionError(
            f"{files['D']}: the conditional discriminator reads {d.in_channels} channels, the generator's "
            f"input and output have {g.in_channels} + {g.out_channels}"
        )
    resolution = 2**g.depth  # our U-Net has log2(resolution) downs: a 1x1 bottleneck, as unet_256/128
    c = _common_config(options, "paired")
    c.model.update(
        name="pix2pix",
        resolution=resolution,
        g_channels=g.width,
        g_normalization=g.normalization,
        g_dropout=0.0 if options.get("no_dropout") == "True" else 0.5,
        d_channels=d.width if d else g.width,
        d_normalization=d.normalization if d else g.normalization,
        d_layers=d.depth if d else 3,
    )
    c.data.update(layout="side_by_side")  # their aligned datasets: A|B side by side
    c.objective.name = "non_saturating"  # gan_mode vanilla
    c.auxiliary_losses = {"l1_reconstruction": dict(weight=float(options.get("lambda_L1", 100.0)))}
    return Converted(
        kind="pix2pix",
        config=c,
        sample_shape=(resolution, resolution, g.out_channels),
        condition_shape=(resolution, resolution, g.in_channels),
        generator=g.variables,
        discriminator=d.variables if d else None,
        source=path,
    )


def _cyclegan(path: str, files: dict[str, str], options: dict[str, str]) -> Converted:
    present = sorted(files)
    if "G_A" in files or "G_B" in files:
        if not {"G_A", "G_B"} <= set(files):
            raise ConversionError(f"{path}: found {present}; a CycleGAN run needs both G_A and G_B")
        if ("D_A" in files) != ("D_B" in files):
            raise ConversionError(f"{path}: found {present}; give both D_A and D_B or neither")
        g, f = read_network(files["G_A"], "generator"), read_network(files["G_B"], "generator")
    elif "G" in files:
        g, f = read_network(files["G"], "generator"), None
    else:
        raise ConversionError(f"{path}: no <epoch>_net_G_A.pth / G_B.pth or generator file (found {present})")
    for name, network in (("G_A", g), ("G_B", f)):
        if network is not None:
            _check(files.get(name, files.get("G")), network, ("resnet",), "CycleGAN (ResnetGenerator)")
    x_channels, y_channels = g.in_channels, g.out_channels
    if f is not None and (f.in_channels, f.out_channels, f.width, f.depth, f.normalization) != (
        y_channels,
        x_channels,
        g.width,
        g.depth,
        g.normalization,
    ):
        raise ConversionError(
            f"{path}: G_B ({f.in_channels} -> {f.out_channels} channels, ngf {f.width}, {f.depth} blocks, "
            f"{f.normalization}) does not mirror G_A ({x_channels} -> {y_channels}, ngf {g.width}, "
            f"{g.depth} blocks, {g.normalization})"
        )
    both = f is not None and "D_A" in files
    d_y = read_network(files["D_A"], "discriminator") if both else None
    d_x = read_network(files["D_B"], "discriminator") if both else None
    for d, channels, name in ((d_y, y_channels, "D_A"), (d_x, x_channels, "D_B")):
        if d is not None and d.in_channels != channels:
            raise ConversionError(
                f"{files[name]}: {name} reads {d.in_channels} channels; it judges domain "
                f"{'B' if name == 'D_A' else 'A'} images, which have {channels}"
            )
    if d_x is not None and (d_x.width, d_x.depth, d_x.normalization) != (
        d_y.width,
        d_y.depth,
        d_y.normalization,
    ):
        raise ConversionError(f"{path}: D_A and D_B differ in ndf, n_layers or normalisation")
    resolution = int(options.get("crop_size", 256))
    c = _common_config(options, "unpaired")
    c.model.update(
        name="cyclegan",
        resolution=resolution,
        g_channels=g.width,
        residual_blocks=g.depth,
        g_normalization=g.normalization,
        d_channels=d_y.width if d_y else 64,
        d_layers=d_y.depth if d_y else 3,
        d_normalization=d_y.normalization if d_y else g.normalization,
        identity_mapping=x_channels == y_channels,
    )
    c.objective.name = "least_squares"  # gan_mode lsgan; weights as experiments/cyclegan_horse2zebra.py
    cycle = float(options.get("lambda_A", 10.0)) / 4
    c.auxiliary_losses = {"cycle_consistency": dict(weight=cycle)}
    if x_channels == y_channels:
        c.auxiliary_losses["identity"] = dict(weight=cycle * float(options.get("lambda_identity", 0.5)))
    c.train.image_pool_size = int(options.get("pool_size", 50))
    if f is None:
        f = _random_resnet(g, y_channels, x_channels)
    generator = {"params": {"G": g.variables["params"], "F": f.variables["params"]}}
    if g.normalization == "batch":
        generator["batch_stats"] = {"G": g.variables["batch_stats"], "F": f.variables["batch_stats"]}
    discriminator = None
    if d_y is not None:
        discriminator = {
            name: {"D_X": d_x.variables[name], "D_Y": d_y.variables[name]} for name in d_y.variables
        }
    return Converted(
        kind="cyclegan",
        config=c,
        sample_shape=(resolution, resolution, y_channels),
        condition_shape=(resolution, resolution, x_channels),
        generator=generator,
        discriminator=discriminator,
        source=path,
    )


def _random_resnet(like: Network, in_channels: int, out_channels: int) -> Network:
    """``F`` for a single-direction file: a ResNet generator like ``G``, mapping back, randomly
    initialised as a fresh run (the file has no such network)."""
    from gans_jax.models.cyclegan import ResnetGenerator

    module = ResnetGenerator(out_channels, like.width, like.depth, like.normalization)
    x = np.zeros((1, 8, 8, in_channels), np.float32)
    variables = jax.jit(lambda k: module.init(k, x, train=False))(jax.random.PRNGKey(0))
    return Network(
        "resnet", dict(variables), like.normalization, in_channels, out_channels, like.width, like.depth
    )


def _common_config(options: dict[str, str], translation: str):
    """The recipe both authors' models share: Adam 2e-4 (0.5, 0.999), batch 1, no EMA; image-to-image
    data of ``translation``; the generator run as their ``test.py`` (``eval.batch_stats``)."""
    c = configs.default_config()
    c.model.update(translation=translation)
    c.data.update(
        source="folder",
        translation=translation,
        direction=options.get("direction", "AtoB"),
        jitter=True,
    )
    lr, beta1 = float(options.get("lr", 2e-4)), float(options.get("beta1", 0.5))
    c.optim.g = configs.adam(lr, b1=beta1, b2=0.999)
    c.optim.d = configs.adam(lr, b1=beta1, b2=0.999)
    c.train.update(batch_size=int(options.get("batch_size", 1)), ema_decay=0.0)
    c.eval.update(batch_stats=True)
    return c


__all__ = ["KINDS", "Network", "convert", "detect", "read_network", "read_options", "run_files"]
