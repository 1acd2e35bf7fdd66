"""PyTorch files read with numpy alone, without torch and without running code from them.

:func:`read_torch_file` reads TorchScript archives, ``torch.save`` zip files and the pre-1.6 legacy
format, and returns every leaf by dotted name (tensors as numpy arrays). The pickle goes through
:class:`RestrictedUnpickler`, whose ``find_class`` resolves only the handful of torch rebuild
functions and storage types, emulated here with numpy, and turns TorchScript module classes
(``__torch__.*``) into inert attribute holders. Nothing from the file is imported or called, and
tensor views are bounds-checked against their storage. The one reader of PyTorch files in the library:
the FID Inception weights (:mod:`gans_jax.metrics.inception_weights`), VGG19 (:mod:`gans_jax.models.vgg`)
and the converters of official checkpoints (:mod:`gans_jax.pretrained`).
"""

from __future__ import annotations

import collections
import dataclasses
import io
import os
import pickle
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["RestrictedUnpickler", "TorchObject", "read_torch_file"]


_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclasses.dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclasses.dataclass
class _StorageRef:
    """A storage named in the pickle; ``data`` is filled in once its bytes are read."""

    key: str
    dtype: np.dtype
    numel: int | None = None
    data: np.ndarray | None = None
    view: tuple[_StorageRef, int, int] | None = None  # legacy views: (root, offset, size)

    def array(self) -> np.ndarray:
        if self.view is not None:
            root, offset, size = self.view
            data = root.array()
            if offset < 0 or offset + size > data.size:
                raise ValueError(f"storage view {self.key} out of range of {root.key}")
            return data[offset : offset + size]
        if self.data is None:
            raise ValueError(f"storage {self.key} was never read")
        return self.data


@dataclasses.dataclass
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self) -> np.ndarray:
        data = self.storage.array()
        size, stride = tuple(int(s) for s in self.size), tuple(int(s) for s in self.stride)
        if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride):
            raise ValueError(f"bad tensor geometry size={size} stride={stride}")
        if 0 in size:
            return np.zeros(size, data.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if self.offset < 0 or last >= data.size:
            raise ValueError(
                f"tensor (offset {self.offset}, size {size}, stride {stride}) reads past its storage "
                f"{self.storage.key} of {data.size} elements"
            )
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=size, strides=[s * item for s in stride], writeable=False
        )
        return np.array(view)  # a contiguous copy


class TorchObject:
    """An inert stand-in for a TorchScript module object (``__torch__.*``): only its attributes."""

    torch_class = "?"

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"unexpected state {type(state).__name__} for {self.torch_class}")
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"<{self.torch_class}>"


_TORCH_CLASSES: dict[str, type] = {}


def _torch_class(name: str) -> type:
    if name not in _TORCH_CLASSES:
        _TORCH_CLASSES[name] = type("TorchObject", (TorchObject,), {"torch_class": name})
    return _TORCH_CLASSES[name]


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError(f"a tensor's storage must be a persistent storage, got {type(storage)}")
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_tensor(storage, storage_offset, size, stride) -> _TensorRef:
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _build_list(items):
    return list(items)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles torch archives with numpy stand-ins; any other global is refused.

    Allowed: ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_tensor`` / ``_rebuild_parameter``,
    typed storages (``torch.FloatStorage`` ...), ``torch.jit._pickle.build_*list``,
    ``collections.OrderedDict``, and TorchScript classes ``__torch__.*`` as inert attribute holders.
    """

    _FUNCTIONS = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch.jit._pickle", "build_intlist"): _build_list,
        ("torch.jit._pickle", "build_doublelist"): _build_list,
        ("torch.jit._pickle", "build_boollist"): _build_list,
        ("torch.jit._pickle", "build_tensorlist"): _build_list,
        ("collections", "OrderedDict"): collections.OrderedDict,
    }

    def __init__(self, file, storages: dict[str, _StorageRef], load_storage=None):
        super().__init__(file)
        self._storages = storages
        self._load_storage = load_storage  # key, dtype -> np.ndarray (zip archives); None: read later

    def find_class(self, module: str, name: str):
        if (module, name) in self._FUNCTIONS:
            return self._FUNCTIONS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(np.dtype(_STORAGE_DTYPES[name]))
        if module == "__torch__" or module.startswith("__torch__."):
            return _torch_class(f"{module}.{name}")
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: not a tensor, storage or TorchScript module"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        if key not in self._storages:
            ref = _StorageRef(key, storage_type.dtype, numel=int(pid[4]))
            if self._load_storage is not None:
                ref.data = self._load_storage(key, storage_type.dtype, int(pid[4]))
            self._storages[key] = ref
        ref = self._storages[key]
        if len(pid) >= 6 and pid[5] is not None:  # legacy format view: (view_key, offset, view_size)
            view_key, offset, view_size = pid[5]
            view_key = str(view_key)
            if view_key not in self._storages:
                self._storages[view_key] = _StorageRef(
                    view_key, ref.dtype, view=(ref, int(offset), int(view_size))
                )
            return self._storages[view_key]
        return ref


def _walk(obj, prefix: str = "") -> Iterator[tuple[str, object]]:
    """Dotted names of every leaf of nested dicts, lists and TorchScript objects."""
    if isinstance(obj, TorchObject):
        obj = obj.__dict__
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{prefix}{k}.")
    elif isinstance(obj, (list, tuple)) and any(isinstance(v, (_TensorRef, TorchObject, dict)) for v in obj):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{prefix}{i}.")
    else:
        yield prefix[:-1], obj


def _read_zip(path: Path) -> dict[str, object]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ValueError(f"{path}: not a torch archive (expected one <name>/data.pkl, found {pickles})")
        root = pickles[0].rsplit("/", 1)[0]
        if f"{root}/byteorder" in names and archive.read(f"{root}/byteorder").strip() != b"little":
            raise ValueError(f"{path}: big-endian torch archives are not supported")

        def load_storage(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
            raw = archive.read(f"{root}/data/{key}")
            if len(raw) < numel * dtype.itemsize:
                raise ValueError(f"{path}: storage {key} has {len(raw)} bytes, expected {numel} x {dtype}")
            return np.frombuffer(raw, dtype=dtype, count=numel)

        obj = RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), {}, load_storage).load()
    return {
        name: value.materialize() if isinstance(value, _TensorRef) else value for name, value in _walk(obj)
    }


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _read_legacy(path: Path) -> dict[str, object]:
    """The pre-1.6 ``torch.save`` format: magic, version, sys info, object, storage keys, raw storages."""
    f = io.BytesIO(path.read_bytes())
    storages: dict[str, _StorageRef] = {}
    magic = RestrictedUnpickler(f, storages).load()
    if magic != _LEGACY_MAGIC:
        raise ValueError(f"{path}: not a torch file (no zip archive and no legacy magic number)")
    RestrictedUnpickler(f, storages).load()  # protocol version
    RestrictedUnpickler(f, storages).load()  # sys info
    obj = RestrictedUnpickler(f, storages).load()
    keys = RestrictedUnpickler(f, storages).load()
    for key in keys:
        ref = storages[str(key)]
        (numel,) = struct.unpack("<q", f.read(8))
        raw = f.read(numel * ref.dtype.itemsize)
        if len(raw) != numel * ref.dtype.itemsize:
            raise ValueError(f"{path}: truncated storage {key}")
        ref.data = np.frombuffer(raw, dtype=ref.dtype)
    return {
        name: value.materialize() if isinstance(value, _TensorRef) else value for name, value in _walk(obj)
    }


def read_torch_file(path: str | os.PathLike[str]) -> dict[str, object]:
    """Every leaf of a torch file (TorchScript archive, ``torch.save`` zip or legacy file) by dotted name.

    Tensors come back as numpy arrays, other attributes (ints, lists, strings) as they are."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80":
        return _read_legacy(path)
    raise ValueError(f"{path}: not a torch file (neither a zip archive nor a pickle)")
