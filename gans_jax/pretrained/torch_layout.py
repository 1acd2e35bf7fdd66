"""PyTorch state dicts as Flax variables: the weight-layout helpers every PyTorch converter shares.

A PyTorch ``state_dict`` saved with ``torch.save`` is read as data (:func:`read_state_dict`, through
:func:`gans_jax.torch_files.read_torch_file`) into a :class:`StateDict`, which hands out each tensor once
in the layout Flax expects: ``Conv2d`` weights ``(O, I, kH, kW)`` as HWIO kernels (:meth:`conv`),
``ConvTranspose2d`` weights ``(I, O, kH, kW)`` as the ``(kH, kW, I, O)`` kernels of
:class:`gans_jax.layers.SubPixelConvTranspose` (:meth:`conv_transpose`), ``BatchNorm2d`` affine
parameters and running buffers as Flax ``BatchNorm``'s ``scale``/``bias`` and ``mean``/``var``
(:meth:`batch_norm`). :meth:`StateDict.finish` refuses tensors no layer took, so a converter that misses
a layer, or a file of another network, fails with the names of what was left over.
"""

from __future__ import annotations

import os
import pickle
import struct
import zipfile

import numpy as np

from gans_jax.pretrained import ConversionError
from gans_jax.torch_files import read_torch_file


def read_state_dict(path: str | os.PathLike[str], what: str) -> dict[str, np.ndarray]:
    """The tensors of a ``torch.save(net.state_dict(), path)`` file by name (a leading ``module.`` of a
    ``DataParallel`` network is dropped). ``what`` names the expected network in errors."""
    path = os.fspath(path)
    try:
        leaves = read_torch_file(path)
    except (ValueError, EOFError, KeyError, zipfile.BadZipFile, struct.error, pickle.UnpicklingError) as e:
        # truncated zip or legacy files; a pickled module object (the reader refuses its classes)
        raise ConversionError(
            f"{path}: cannot be read as a torch state dict ({type(e).__name__}: {e}); expected {what} saved "
            "by torch.save(net.state_dict(), ...): a truncated download or a pickled module fails this way"
        ) from e
    arrays = {}
    for name, value in leaves.items():
        if name.endswith("num_batches_tracked"):
            continue  # a BatchNorm counter (PyTorch >= 0.4); Flax keeps none
        if not isinstance(value, np.ndarray):
            raise ConversionError(
                f"{path}: entry {name!r} is a {type(value).__name__}, not a tensor: {what}?"
            )
        arrays[name.removeprefix("module.")] = value
    if not arrays:
        raise ConversionError(f"{path}: holds no tensors; expected {what}")
    return arrays


def conv_kernel(weight: np.ndarray) -> np.ndarray:
    """``Conv2d`` weight ``(O, I, kH, kW)`` -> Flax ``Conv`` kernel ``(kH, kW, I, O)``."""
    return np.ascontiguousarray(np.transpose(weight, (2, 3, 1, 0)))


def conv_transpose_kernel(weight: np.ndarray) -> np.ndarray:
    """``ConvTranspose2d`` weight ``(I, O, kH, kW)`` -> :class:`~gans_jax.layers.SubPixelConvTranspose`
    kernel ``(kH, kW, I, O)`` (the same transposed convolution, no kernel flip)."""
    return np.ascontiguousarray(np.transpose(weight, (2, 3, 0, 1)))


class StateDict:
    """The tensors of one network's state dict, each taken once by name; errors name the file and the
    network (``source``, ``network``)."""

    def __init__(self, arrays: dict[str, np.ndarray], source: str, network: str):
        self.arrays, self.source, self.network = dict(arrays), source, network
        self.taken: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self.arrays

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self._get(key).shape)

    def _get(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            near = sorted(k for k in self.arrays if k.rsplit(".", 1)[0] == key.rsplit(".", 1)[0])
            raise ConversionError(
                f"{self.source}: {self.network} has no tensor {key!r}"
                + (f" (found {near})" if near else "")
                + f"; its state dict has {len(self.arrays)} tensors, the first {sorted(self.arrays)[:4]}"
            )
        return self.arrays[key]

    def take(self, key: str, ndim: int | None = None) -> np.ndarray:
        value = self._get(key)
        if ndim is not None and value.ndim != ndim:
            raise ConversionError(
                f"{self.source}: {self.network} tensor {key!r} has shape {value.shape}, expected {ndim} axes"
            )
        self.taken.add(key)
        return np.asarray(value, np.float32)

    def conv(self, prefix: str, bias: bool | None = None) -> dict[str, np.ndarray]:
        """Flax ``Conv`` params of the ``Conv2d`` at ``prefix``; ``bias``: required (True), refused
        (False) or taken when present (None)."""
        return self._layer(prefix, conv_kernel, bias)

    def conv_transpose(self, prefix: str, bias: bool | None = None) -> dict[str, np.ndarray]:
        """:class:`~gans_jax.layers.SubPixelConvTranspose` params of the ``ConvTranspose2d`` at ``prefix``."""
        return self._layer(prefix, conv_transpose_kernel, bias)

    def _layer(self, prefix, layout, bias):
        params = {"kernel": layout(self.take(f"{prefix}.weight", 4))}
        has_bias = self.has(f"{prefix}.bias")
        if bias is False and has_bias:
            raise ConversionError(
                f"{self.source}: {self.network} layer {prefix!r} has a bias, which the architecture read "
                "from the other layers has not there"
            )
        if bias or has_bias:
            params["bias"] = self.take(f"{prefix}.bias", 1)
        return params

    def batch_norm(self, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``(params, batch_stats)`` of the ``BatchNorm2d`` at ``prefix`` (affine, running statistics)."""
        params = {"scale": self.take(f"{prefix}.weight", 1), "bias": self.take(f"{prefix}.bias", 1)}
        stats = {"mean": self.take(f"{prefix}.running_mean", 1), "var": self.take(f"{prefix}.running_var", 1)}
        return params, stats

    def skip_instance_norm(self, prefix: str) -> None:
        """An ``InstanceNorm2d(affine=False)`` at ``prefix`` has no parameters; checkpoints from PyTorch
        before 0.4 (the authors' model zoo) hold ``running_mean``/``running_var`` buffers for it, which the
        authors' ``__patch_instance_norm_state_dict`` drops (their InstanceNorm keeps no statistics):
        dropped here too."""
        for name in ("running_mean", "running_var"):
            if self.has(f"{prefix}.{name}"):
                self.take(f"{prefix}.{name}", 1)

    def finish(self) -> None:
        """Refuse tensors that no layer took: the file holds a network other than the one read."""
        left = sorted(set(self.arrays) - self.taken)
        if left:
            more = f" (+{len(left) - 6} more)" if len(left) > 6 else ""
            raise ConversionError(
                f"{self.source}: {self.network} read, but tensors {left[:6]}{more} are left over: the file "
                "holds a different architecture"
            )


__all__ = ["StateDict", "conv_kernel", "conv_transpose_kernel", "read_state_dict"]
