"""The PyTorch examples' DCGAN checkpoints (pytorch/examples ``dcgan/main.py``) as workdirs.

``main.py`` saves ``torch.save(netG.state_dict(), '%s/netG_epoch_%d.pth')`` and ``netD_epoch_%d.pth``
after every epoch. Its networks are 64x64 DCGANs (``nn.Sequential`` ``main``):

- ``Generator``: ``ConvTranspose2d(nz, 8 ngf, 4, 1, 0)`` (1x1 -> 4x4), three ``ConvTranspose2d(.., 4, 2,
  1)`` halving the width, each followed by ``BatchNorm2d`` and ReLU, then ``ConvTranspose2d(ngf, nc, 4, 2,
  1)`` and tanh; no biases. Ours (:class:`gans_jax.models.dcgan.Generator`, ``resolution=64``,
  ``base_channels=ngf``) writes the first layer as the equivalent dense map ``z -> 4 x 4 x 8 ngf``
  (kernel ``W[i, o, h, w]`` at column ``(h * 4 + w) * 8 ngf + o``) and the others as
  :class:`gans_jax.layers.SubPixelConvTranspose` (the same transposed convolutions).
- ``Discriminator``: ``Conv2d(nc, ndf, 4, 2, 1)`` and LeakyReLU(0.2), three ``Conv2d(.., 4, 2, 1)``
  doubling the width with ``BatchNorm2d``, ``Conv2d(8 ndf, 1, 4, 1, 0)`` and a sigmoid; no biases. Ours
  returns the logit (the sigmoid lives in the loss, ``non_saturating``).

``nz``, ``ngf``, ``ndf`` and ``nc`` are read from the shapes. A folder converts its highest epoch (a
``netD`` of the same epoch when present); a ``netG`` file converts alone, its discriminator then keeps a
random initialisation. Latents are ``z ~ N(0, I)`` of size ``nz`` (theirs are ``(N, nz, 1, 1)``: reshape
to ``(N, nz)`` for ``gans-jax sample --latents``). The example keeps no EMA generator: ``train.ema_decay``
is 0, so sampling uses the converted weights.
"""

from __future__ import annotations

import os
import re

import numpy as np

from gans_jax import configs
from gans_jax.pretrained import ConversionError, Converted
from gans_jax.pretrained.torch_layout import StateDict, read_state_dict

KIND = "dcgan-pytorch"
EPOCH_FILE = re.compile(r"^net(?P<net>[GD])_epoch_(?P<epoch>\d+)\.pth$")
STAGES = 4  # 4 -> 8 -> 16 -> 32 -> 64
EXPECTED = {
    "G": "the PyTorch examples' DCGAN Generator (main.0.weight: ConvTranspose2d(nz, 8 ngf, 4, 1, 0), ..., "
    "main.12.weight)",
    "D": "the PyTorch examples' DCGAN Discriminator (main.0.weight: Conv2d(nc, ndf, 4, 2, 1), ..., "
    "main.11.weight)",
}


def epoch_files(path: str) -> dict[str, str]:
    """``{"G": ..., "D": ...}``: the files of the highest epoch in a folder, or of the epoch of a
    ``net?_epoch_N.pth`` file (its partner beside it), or ``{"G": path}`` for another file."""
    if os.path.isfile(path):
        match = EPOCH_FILE.match(os.path.basename(path))
        if match is None:
            return {"G": path}
        folder, epoch = os.path.dirname(path) or ".", match["epoch"]
    else:
        folder = path
        epochs = [int(m["epoch"]) for m in map(EPOCH_FILE.match, os.listdir(folder)) if m and m["net"] == "G"]
        if not epochs:
            return {}
        epoch = str(max(epochs))
    files = {}
    for net in "GD":
        candidate = os.path.join(folder, f"net{net}_epoch_{epoch}.pth")
        if os.path.isfile(candidate):
            files[net] = candidate
    return files


def _is_generator(arrays) -> bool:
    w = arrays.get("main.0.weight")
    return w is not None and w.ndim == 4 and w.shape[2:] == (4, 4) and "main.12.weight" in arrays


def detect(path: str) -> str | None:
    """``"dcgan-pytorch"`` for a folder of ``netG_epoch_N.pth`` files or such a file (raises when it
    cannot be read); for another ``.pth`` file, when it holds the example's generator."""
    if os.path.isdir(path):
        return KIND if "G" in epoch_files(path) else None
    match = EPOCH_FILE.match(os.path.basename(path))
    if match:
        if match["net"] == "D":
            return KIND if "G" in epoch_files(path) else None
        return KIND if _is_generator(read_state_dict(path, EXPECTED["G"])) else None
    if path.endswith((".pth", ".pt")):
        try:
            return KIND if _is_generator(read_state_dict(path, EXPECTED["G"])) else None
        except ConversionError:
            return None
    return None


def read_generator(path: str) -> tuple[dict, int, int, int]:
    """``(variables, nz, ngf, nc)`` of the example's ``Generator`` state dict at ``path``."""
    sd = StateDict(read_state_dict(path, EXPECTED["G"]), path, "the DCGAN generator")
    if not _is_generator(sd.arrays):
        raise ConversionError(f"{path}: expected {EXPECTED['G']}; found tensors {sorted(sd.arrays)[:4]}")
    first = sd.take("main.0.weight", 4)  # (nz, 8 ngf, 4, 4): 1x1 -> 4x4, no padding
    nz, width = first.shape[:2]
    params = {
        "Dense_0": {"kernel": np.ascontiguousarray(first.transpose(0, 2, 3, 1).reshape(nz, 16 * width))}
    }
    stats = {}
    for i in range(STAGES):
        params[f"BatchNorm_{i}"], stats[f"BatchNorm_{i}"] = sd.batch_norm(f"main.{3 * i + 1}")
        params[f"SubPixelConvTranspose_{i}"] = sd.conv_transpose(f"main.{3 * i + 3}", bias=False)
    sd.finish()
    ngf, nc = width // 8, params[f"SubPixelConvTranspose_{STAGES - 1}"]["kernel"].shape[-1]
    if width != 8 * ngf:
        raise ConversionError(f"{path}: the first layer has {width} channels, not 8 ngf")
    return {"params": params, "batch_stats": stats}, nz, ngf, nc


def read_discriminator(path: str) -> tuple[dict, int, int]:
    """``(variables, ndf, nc)`` of the example's ``Discriminator`` state dict at ``path``."""
    sd = StateDict(read_state_dict(path, EXPECTED["D"]), path, "the DCGAN discriminator")
    if "main.11.weight" not in sd.arrays or "main.0.weight" not in sd.arrays:
        raise ConversionError(f"{path}: expected {EXPECTED['D']}; found tensors {sorted(sd.arrays)[:4]}")
    params, stats = {"Conv_0": sd.conv("main.0", bias=False)}, {}
    for i in range(1, STAGES):
        params[f"Conv_{i}"] = sd.conv(f"main.{3 * i - 1}", bias=False)
        params[f"BatchNorm_{i - 1}"], stats[f"BatchNorm_{i - 1}"] = sd.batch_norm(f"main.{3 * i}")
    params[f"Conv_{STAGES}"] = sd.conv("main.11", bias=False)
    sd.finish()
    ndf, nc = params["Conv_0"]["kernel"].shape[3], params["Conv_0"]["kernel"].shape[2]
    return {"params": params, "batch_stats": stats}, ndf, nc


def convert(path: str, kind: str) -> Converted:
    if kind != KIND:
        raise ConversionError(f"{path}: this converter reads {KIND!r}, not {kind!r}")
    files = epoch_files(path)
    if "G" not in files:
        raise ConversionError(f"{path}: no netG_epoch_N.pth (a D alone does not tell nz)")
    generator, nz, ngf, nc = read_generator(files["G"])
    discriminator, ndf = None, ngf
    if "D" in files:
        discriminator, ndf, d_nc = read_discriminator(files["D"])
        if d_nc != nc:
            raise ConversionError(f"{files['D']}: the discriminator reads {d_nc} channels, G makes {nc}")
    c = configs.default_config()
    c.model.update(
        name="dcgan", resolution=64, latent_dim=nz, g_channels=ngf, d_channels=ndf, conditional=False
    )
    c.data.update(source="folder", channels=nc, label_key="")
    c.objective.name = "non_saturating"  # BCELoss on sigmoid outputs, G maximising log D(G(z))
    c.optim.g = configs.adam(2e-4, b1=0.5, b2=0.999)
    c.optim.d = configs.adam(2e-4, b1=0.5, b2=0.999)
    c.train.update(batch_size=64, ema_decay=0.0)
    return Converted(
        kind=KIND,
        config=c,
        sample_shape=(64, 64, nc),
        generator=generator,
        discriminator=discriminator,
        source=path,
    )


__all__ = ["KIND", "convert", "detect", "epoch_files", "read_discriminator", "read_generator"]
