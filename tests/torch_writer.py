"""Writes TorchScript-style archives without torch, for tests: ``<root>/data.pkl`` pickling a tree of
``__torch__`` module objects whose tensors are ``torch._utils._rebuild_tensor_v2`` calls on persistent
storages ``<root>/data/<key>``, as ``torch.jit.save`` lays out a module's attributes (no code or
constants: :func:`gans_jax.torch_files.read_torch_file` reads only the pickle and the storages).
``tests/fixtures/nvidia_vgg16/layout.pt`` (written by torch) checks that both read the same."""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np

_STORAGES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}


class Module:
    """A ``__torch__.<cls>`` object with attributes ``attrs`` (tensors, modules, plain values)."""

    def __init__(self, cls: str, **attrs):
        self.cls, self.attrs = cls, attrs


class _Global:
    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):  # never called: only written as a GLOBAL reference
        raise TypeError("a pickled reference, not a function")


class _Storage:
    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel


class _Pickler(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file):
        super().__init__(file, protocol=2)
        self.storages: list[np.ndarray] = []

    def _save_global(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[_Global] = _save_global

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", _Global("torch", _STORAGES[obj.dtype]), obj.key, "cpu", obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            array = np.ascontiguousarray(obj)
            key = str(len(self.storages))
            self.storages.append(array)
            stride = tuple(s // array.itemsize for s in array.strides)
            args = (
                _Storage(key, array.dtype, array.size),
                0,
                array.shape,
                stride,
                False,
                collections.OrderedDict(),
            )
            return _Global("torch._utils", "_rebuild_tensor_v2"), args
        if isinstance(obj, Module):
            return _Global("__torch__", obj.cls), (), dict(obj.attrs)
        return NotImplemented


def write_torchscript(path, module: Module, root: str = "archive") -> None:
    """``module`` as a stored (uncompressed) zip archive, as ``torch.jit.save`` writes one."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    pickler.dump(module)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{root}/data.pkl", buffer.getvalue())
        archive.writestr(f"{root}/byteorder", "little")
        archive.writestr(f"{root}/version", "3\n")
        for key, array in enumerate(pickler.storages):
            with archive.open(f"{root}/data/{key}", "w", force_zip64=True) as f:
                f.write(array.tobytes())


def nvidia_vgg16_module(state: dict[str, np.ndarray]) -> Module:
    """NVIDIA's ``vgg16.pt`` object tree (``layers.conv<i>`` / ``layers.fc<i>`` modules with ``weight`` and
    ``bias``, ``lpips<l>`` tensors) holding ``state`` (its tensor names)."""
    layers: dict[str, dict[str, np.ndarray]] = {}
    top = {"training": False}
    for key, value in state.items():
        if key.startswith("layers."):
            _, name, field = key.split(".")
            layers.setdefault(name, {"training": False})[field] = value
        else:
            top[key] = value
    kinds = {"conv": "torch.nn.modules.conv.Conv2d", "fc": "torch.nn.modules.linear.Linear"}
    modules = {
        name: Module(kinds["conv" if name.startswith("conv") else "fc"], **attrs)
        for name, attrs in layers.items()
    }
    return Module(
        "VGG16", layers=Module("torch.nn.modules.container.ModuleDict", training=False, **modules), **top
    )
