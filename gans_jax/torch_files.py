"""PyTorch files read with numpy alone, without torch and without running code from them.

:func:`read_torch_file` reads TorchScript archives, ``torch.save`` zip files and the pre-1.6 legacy
format, and returns every leaf by dotted name (tensors as numpy arrays). :func:`read_pickle` reads a
plain ``pickle.dump`` of objects holding tensors (StyleGAN2-ADA's network snapshots), each tensor's
storage inline as a small legacy ``torch.save`` (``torch.storage._load_from_bytes``), and returns the
object tree with tensors as numpy arrays. The pickle goes through :class:`RestrictedUnpickler`, whose
``find_class`` resolves only the handful of torch rebuild functions and storage types, numpy scalars,
``set`` and ``OrderedDict``, emulated here with numpy, turns TorchScript module classes (``__torch__.*``)
into inert attribute holders, and resolves a caller's ``extra_globals`` (inert stand-ins too, such as a
converter's record of a persistent object). Nothing from the file is imported or called, and tensor
views are bounds-checked against their storage. The one reader of PyTorch files in the library: the
FID Inception weights (:mod:`gans_jax.metrics.inception_weights`), VGG19 (:mod:`gans_jax.models.vgg`)
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

__all__ = ["RestrictedUnpickler", "TorchObject", "read_pickle", "read_torch_file"]


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


def _load_from_bytes(data: bytes) -> _StorageRef:
    """``torch.storage._load_from_bytes``: a storage in a plain pickle is a legacy ``torch.save`` of it,
    read with the same restrictions."""
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError(f"a pickled storage must be bytes, got {type(data).__name__}")
    storage = _load_legacy(io.BytesIO(data), "a pickled storage")
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError(f"a pickled storage holds {type(storage).__name__}, not a storage")
    return storage


class _NumpyDType:
    """``numpy.dtype(name, align, copy)`` of a pickled numpy scalar: numeric kinds only; its pickled
    state is read for the byte order alone."""

    def __init__(self, name, align=False, copy=True):
        try:
            self.dtype = np.dtype(str(name))
        except TypeError as e:
            raise pickle.UnpicklingError(f"unsupported numpy dtype {name!r}") from e
        if self.dtype.kind not in "biufc":
            raise pickle.UnpicklingError(f"unsupported numpy dtype {name!r}: only numbers are read")

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.dtype = self.dtype.newbyteorder(state[1]) if state[1] in "<>" else self.dtype


def _numpy_scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar(dtype, bytes)``: one number."""
    if not isinstance(dtype, _NumpyDType) or not isinstance(data, bytes):
        raise pickle.UnpicklingError("a pickled numpy scalar needs a numeric dtype and its bytes")
    if len(data) != dtype.dtype.itemsize:
        raise pickle.UnpicklingError(f"numpy scalar of {dtype.dtype} with {len(data)} bytes")
    return np.frombuffer(data, dtype=dtype.dtype)[0]


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles torch archives with numpy stand-ins; any other global is refused.

    Allowed: ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_tensor`` / ``_rebuild_parameter``,
    ``torch.storage._load_from_bytes`` (itself read by this class), typed storages
    (``torch.FloatStorage`` ...), ``torch.jit._pickle.build_*list``, ``collections.OrderedDict``,
    ``set`` / ``frozenset``, numeric numpy scalars, TorchScript classes ``__torch__.*`` as inert
    attribute holders, and ``extra_globals``: ``(module, name) -> callable`` of the caller (which must
    be inert: it receives data from the file).
    """

    _FUNCTIONS = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch.jit._pickle", "build_intlist"): _build_list,
        ("torch.jit._pickle", "build_doublelist"): _build_list,
        ("torch.jit._pickle", "build_boollist"): _build_list,
        ("torch.jit._pickle", "build_tensorlist"): _build_list,
        ("torch.storage", "_load_from_bytes"): _load_from_bytes,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("numpy", "dtype"): _NumpyDType,
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    }

    def __init__(self, file, storages: dict[str, _StorageRef], load_storage=None, extra_globals=None):
        super().__init__(file)
        self._storages = storages
        self._load_storage = load_storage  # key, dtype -> np.ndarray (zip archives); None: read later
        self._extra = dict(extra_globals or {})

    def find_class(self, module: str, name: str):
        if (module, name) in self._extra:
            return self._extra[(module, name)]
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


def _load_legacy(f: io.BytesIO, name: str) -> object:
    """The object of the pre-1.6 ``torch.save`` format, its storages read: magic, version, sys info,
    object, storage keys, raw storages."""
    storages: dict[str, _StorageRef] = {}
    magic = RestrictedUnpickler(f, storages).load()
    if magic != _LEGACY_MAGIC:
        raise ValueError(f"{name}: not a torch file (no zip archive and no legacy magic number)")
    RestrictedUnpickler(f, storages).load()  # protocol version
    RestrictedUnpickler(f, storages).load()  # sys info
    obj = RestrictedUnpickler(f, storages).load()
    keys = RestrictedUnpickler(f, storages).load()
    for key in keys:
        if str(key) not in storages:
            raise ValueError(f"{name}: storage {key} is listed but was never named")
        ref = storages[str(key)]
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"{name}: truncated storage {key}")
        (numel,) = struct.unpack("<q", head)
        raw = f.read(numel * ref.dtype.itemsize)
        if numel < 0 or len(raw) != numel * ref.dtype.itemsize:
            raise ValueError(f"{name}: truncated storage {key}")
        ref.data = np.frombuffer(raw, dtype=ref.dtype)
    return obj


def _read_legacy(path: Path) -> dict[str, object]:
    obj = _load_legacy(io.BytesIO(path.read_bytes()), str(path))
    return {
        name: value.materialize() if isinstance(value, _TensorRef) else value for name, value in _walk(obj)
    }


def _materialize(obj, memo: dict[int, tuple[object, object]]):
    """``obj`` with every tensor reference replaced by its numpy array, in place through dicts, lists
    and the attribute dicts of inert stand-in objects; tuples are rebuilt. ``memo`` maps the id of every
    visited container to ``(container, result)``: a container reached twice gets the same result, and
    holding it keeps its id from being reused by a new object (``vars`` may create a dict)."""
    if isinstance(obj, _TensorRef):
        return obj.materialize()
    if isinstance(obj, (str, bytes, int, float, complex, bool, np.generic, np.ndarray, type(None))):
        return obj
    if id(obj) in memo:
        return memo[id(obj)][1]
    memo[id(obj)] = (obj, obj)
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _materialize(value, memo)
    elif isinstance(obj, list):
        obj[:] = [_materialize(v, memo) for v in obj]
    elif isinstance(obj, tuple):
        result = tuple(_materialize(v, memo) for v in obj)
        memo[id(obj)] = (obj, result)
        return result
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        attributes = vars(obj)
        memo[id(attributes)] = (attributes, attributes)
        for key, value in attributes.items():
            attributes[key] = _materialize(value, memo)
    return obj


def read_pickle(path: str | os.PathLike[str], extra_globals=None) -> object:
    """The object of a plain ``pickle.dump`` file whose tensors are pickled inline (as torch's
    ``Tensor.__reduce_ex__`` does outside ``torch.save``), tensors as numpy arrays.

    ``extra_globals``: ``(module, name) -> callable`` resolved besides :class:`RestrictedUnpickler`'s
    own; they must be inert (a record of their arguments). A file that ends early raises a ValueError
    saying so; a refused global an :class:`pickle.UnpicklingError` naming it."""
    path = Path(path)
    with open(path, "rb") as f:
        try:
            obj = RestrictedUnpickler(f, {}, extra_globals=extra_globals).load()
        except (EOFError, pickle.UnpicklingError) as e:
            if isinstance(e, pickle.UnpicklingError) and "truncated" not in str(e):
                raise
            raise ValueError(
                f"{path}: the pickle ends early (a truncated or partly downloaded file?): {e}"
            ) from None
    return _materialize(obj, {})


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
