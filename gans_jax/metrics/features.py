"""Inception features of uint8 images: resizing (two documented modes), jit compilation, sharding.

Input modes (``resize=``), each ending in ``(x - 128) / 128`` as the TF graph does:

``"legacy_tf"``
    TF1's ``tf.image.resize_bilinear(x, [299, 299])`` (``align_corners=False``): source coordinate
    ``dst * in / out`` (no half-pixel offset), two taps, no antialiasing, edge pixels repeated. This is
    what the original TF FID code, StyleGAN2-ADA and StyleGAN3 (NVIDIA's ``inception-2015-12-05.pt``)
    compute, so their published FIDs are comparable with it.
``"clean"``
    clean-fid's recommendation (Parmar et al., 2022, "On Aliased Resizing and Surprising Subtleties in
    GAN Evaluation"): Pillow's ``BICUBIC`` filter (a = -0.5, antialiased when shrinking: support
    scaled by ``in / out``) on each channel as a float image, clipped to [0, 255]. The taps and weights
    are computed as Pillow computes them (in float64), and the resize runs on the device.

Images of 299x299 are not resized in either mode. Greyscale images are repeated to three channels.

:class:`InceptionExtractor` compiles one program per input size, shards each batch over a mesh of
devices along ``"data"`` (parameters replicated; ``jax.shard_map``, so each device computes its own
rows), pads the last batch, and returns numpy arrays.
Every sample's features depend on that sample only: the batch a sample lands in changes nothing.

With several processes (a multi-host run) every extractor call is one collective program over all hosts:
:func:`process_batches` gives each process its share of a sequence of batches (every process making the
same number of calls), and :func:`gather_rows` puts the per-process features back in the global order,
so KID, precision/recall and IS see the same features as one process would.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import PartitionSpec as P

from gans_jax.metrics.inception import InceptionV3, platform_impl, prepare_params
from gans_jax.metrics.inception_weights import NUM_CLASSES, InceptionWeights, load_inception_weights
from gans_jax.training import sharding

__all__ = [
    "RESIZE_MODES",
    "FeatureExtractor",
    "InceptionExtractor",
    "allgather_exact",
    "collect_features",
    "gather_rows",
    "process_batches",
    "bicubic_taps",
    "bilinear_taps",
    "images_to_uint8",
    "preprocess",
    "resize_legacy_tf",
]

RESIZE_MODES = ("legacy_tf", "clean")
_PARALLEL_CHUNKS = 4  # chunks per iteration of the loop over a device's rows
INPUT_SIZE = 299


def bilinear_taps(in_size: int, out_size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """TF1 ``resize_bilinear`` (align_corners=False): ``(out, 2)`` source indices and weights."""
    src = np.arange(out_size, dtype=np.float64) * (in_size / out_size)
    lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = src - lo
    return np.stack([lo, hi], 1).astype(np.int32), np.stack([1 - frac, frac], 1).astype(np.float32)


def _pil_bicubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    x = np.abs(x)
    inner = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    outer = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, inner, np.where(x < 2.0, outer, 0.0))


def bicubic_taps(in_size: int, out_size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's ``BICUBIC`` resampling coefficients (``precompute_coeffs`` in Pillow's Resample.c):
    ``(out, K)`` source indices and float64-computed, normalised weights (unused taps weigh 0)."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    index = np.zeros((out_size, ksize), np.int32)
    weight = np.zeros((out_size, ksize), np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)  # C casts truncate toward zero
        xmax = min(int(center + support + 0.5), in_size) - xmin
        taps = np.arange(xmax)
        w = _pil_bicubic((taps + xmin - center + 0.5) / filterscale)
        total = w.sum()
        index[xx, :xmax] = xmin + taps
        weight[xx, :xmax] = w / total if total != 0.0 else w
    return index, weight.astype(np.float32)


def _resample(x: jax.Array, axis: int, index: np.ndarray, weight: np.ndarray) -> jax.Array:
    """``sum_k x[..., index[o, k], ...] * weight[o, k]`` along ``axis``, one tap at a time."""
    shape = [1] * x.ndim
    shape[axis] = index.shape[0]
    out = None
    for k in range(index.shape[1]):
        if not np.any(weight[:, k]):
            continue
        term = jnp.take(x, index[:, k], axis=axis) * weight[:, k].reshape(shape)
        out = term if out is None else out + term
    return out


def resize_legacy_tf(x: jax.Array, size: int) -> jax.Array:
    """NHWC ``x`` resized to ``size x size`` as TF1's ``tf.image.resize_bilinear`` (``align_corners=False``,
    :func:`bilinear_taps`; in torch, ``grid_sample`` over an ``affine_grid`` shifted by ``1 / in - 1 / out``,
    bilinear, border padding, as third-party loaders of NVIDIA's metrics VGG16 write it). Sides already
    ``size`` long are left alone."""
    if x.shape[1] != size:
        x = _resample(x, 1, *bilinear_taps(x.shape[1], size))
    if x.shape[2] != size:
        x = _resample(x, 2, *bilinear_taps(x.shape[2], size))
    return x


def preprocess(images: jax.Array, resize: str = "legacy_tf") -> jax.Array:
    """uint8 ``(N, H, W, 3)`` -> float32 ``(N, 299, 299, 3)`` in [-1, 1), resized per ``resize``."""
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    x = images.astype(jnp.float32)
    _, h, w, _ = x.shape
    if resize == "legacy_tf":
        x = resize_legacy_tf(x, INPUT_SIZE)
    else:  # Pillow resizes horizontally first, then vertically
        if w != INPUT_SIZE:
            x = _resample(x, 2, *bicubic_taps(w))
        if h != INPUT_SIZE:
            x = _resample(x, 1, *bicubic_taps(h))
        x = jnp.clip(x, 0.0, 255.0)
    return (x - 128.0) / 128.0


def images_to_uint8(images) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8, as StyleGAN2-ADA's metrics convert it:
    ``clip(x * 127.5 + 128, 0, 255)`` truncated to an integer. Works on numpy and JAX arrays."""
    x = np.asarray(images, dtype=np.float32)
    return np.clip(x * 127.5 + 128.0, 0, 255).astype(np.uint8)


def _as_rgb_uint8(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(
            f"images must be uint8 in [0, 255], got dtype {images.dtype} "
            "(convert generator output in [-1, 1] with images_to_uint8)"
        )
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (N, H, W, 3) or (N, H, W, 1) uint8, got shape {images.shape}")
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


class FeatureExtractor:
    """Features of uint8 images by a network ``forward(params, uint8 images) -> {name: (n, d)}``,
    compiled once per input size and sharded over devices; the machinery of
    :class:`InceptionExtractor` and :class:`gans_jax.metrics.nvidia_vgg16.VGG16Extractor`.

    Calling it on ``(N, H, W, 3)`` (or greyscale) uint8 images returns float32 features by name
    (``feature_dims``: name -> width). Images are processed ``batch_size`` at a time (rounded up to a
    multiple of the device count), the last batch zero-padded. With several processes each passes its
    own images and gets back its own features.

    Args:
      params: the network's parameters (replicated over the mesh).
      forward: ``forward(params, images)`` on a chunk of one device's uint8 images.
      feature_dims: the outputs' names and widths (for an empty input).
      batch_size: images per compiled call (global, over all devices).
      devices: the mesh's devices (default: all).
      chunk_size: each device runs its part of the batch as independent sub-batches of this many
        images, four side by side per iteration of a loop (``"auto"``: 2 on CPU, where XLA runs the
        convolutions of four small batches side by side faster than one large batch; no chunks on
        accelerators); None: the device's whole part at once.
    """

    def __init__(
        self,
        params,
        forward: Callable,
        feature_dims: dict[str, int],
        *,
        batch_size: int = 64,
        devices: Sequence[jax.Device] | None = None,
        chunk_size: int | str | None = "auto",
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.forward = forward
        self.feature_dims = dict(feature_dims)
        self.mesh = sharding.data_mesh(devices)
        local = len([d for d in self.mesh.devices.flat if d.process_index == jax.process_index()])
        self.local_batch_size = -(-batch_size // self.mesh.size) * local
        self.batch_size = -(-batch_size // self.mesh.size) * self.mesh.size
        self.params = sharding.put_replicated(params, self.mesh)
        if chunk_size == "auto":
            chunk_size = 2 if self.platform == "cpu" else None
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer, 'auto' or None, got {chunk_size!r}")
        self.chunk_size = chunk_size
        self._compiled: dict[tuple[int, int], object] = {}

    @property
    def platform(self) -> str:
        return self.mesh.devices.flat[0].platform

    def _function(self, height: int, width: int):
        key = (height, width)
        if key not in self._compiled:
            forward, chunk = self.forward, self.chunk_size

            def run_chunks(params, images):  # independent sub-batches, side by side in one program
                step = chunk or images.shape[0]
                outs = [forward(params, images[i : i + step]) for i in range(0, images.shape[0], step)]
                return {k: jnp.concatenate([o[k] for o in outs]) for k in outs[0]}

            def local(params, images):  # one device's rows
                n, group = images.shape[0], (chunk or images.shape[0]) * _PARALLEL_CHUNKS
                if n <= group:
                    return run_chunks(params, images)
                groups = -(-n // group)  # a loop over groups of chunks keeps the program (and compile) small
                padded = jnp.pad(images, ((0, groups * group - n), (0, 0), (0, 0), (0, 0)))
                out = lax.map(
                    lambda x: run_chunks(params, x), padded.reshape(groups, group, *images.shape[1:])
                )
                return {k: v.reshape(groups * group, *v.shape[2:])[:n] for k, v in out.items()}

            extract = jax.shard_map(
                local,
                mesh=self.mesh,
                in_specs=(P(), P(sharding.DATA_AXIS)),
                out_specs=P(sharding.DATA_AXIS),
            )
            self._compiled[key] = jax.jit(
                extract,
                in_shardings=(sharding.replicated(self.mesh), sharding.batch_sharded(self.mesh)),
                out_shardings=sharding.batch_sharded(self.mesh),
            )
        return self._compiled[key]

    def compile(self, height: int = INPUT_SIZE, width: int = INPUT_SIZE) -> float:
        """Compiles the program for ``height x width`` inputs ahead of time; returns the seconds taken."""
        start = time.perf_counter()
        images = jax.ShapeDtypeStruct(
            (self.batch_size, height, width, 3), jnp.uint8, sharding=sharding.batch_sharded(self.mesh)
        )
        compiled = self._function(height, width).lower(self.params, images).compile()
        self._compiled[(height, width)] = compiled
        return time.perf_counter() - start

    def _dispatch(self, batch: np.ndarray):
        """Starts one batch (asynchronously): the device outputs and the number of real rows."""
        n = len(batch)
        if n < self.local_batch_size:
            pad = np.zeros((self.local_batch_size - n, *batch.shape[1:]), np.uint8)
            batch = np.concatenate([batch, pad])
        fn = self._function(batch.shape[1], batch.shape[2])
        return fn(self.params, sharding.put_batch(batch, self.mesh)), n

    @staticmethod
    def _gather(out, n: int) -> dict[str, np.ndarray]:
        """This process's rows of a batch's outputs, padding dropped."""
        result = {}
        for k, v in out.items():
            shards = sorted(v.addressable_shards, key=lambda s: s.index[0].start or 0)
            result[k] = np.concatenate([np.asarray(s.data) for s in shards])[:n]
        return result

    def __call__(self, images) -> dict[str, np.ndarray]:
        images = _as_rgb_uint8(images)
        step, parts, pending = self.local_batch_size, [], []
        calls = -(-len(images) // step)
        if jax.process_count() > 1:  # each call is a collective program: all processes make as many
            calls = int(allgather_exact(np.array([calls], np.int64)).max())  # (padding-only ones too)
        for i in range(0, calls * step, step):
            pending.append(self._dispatch(images[i : i + step]))
            if len(pending) > 1:  # the next batch is queued before waiting for this one
                parts.append(self._gather(*pending.pop(0)))
        parts += [self._gather(*p) for p in pending]
        if not parts:
            return {k: np.zeros((0, d), np.float32) for k, d in self.feature_dims.items()}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class InceptionExtractor(FeatureExtractor):
    """FID Inception features of uint8 images, compiled once per input size and sharded over devices
    (:class:`FeatureExtractor`): ``{"pool3": (N, 2048) float32}`` and, when the weights have the
    output layer, ``"logits"`` and ``"logits_unbiased"`` ``(N, 1008)``.

    Args:
      weights: an :class:`InceptionWeights`, a path, or None to look them up (see
        :func:`gans_jax.metrics.inception_weights.find_weights_file`).
      resize: ``"legacy_tf"`` or ``"clean"`` (module docstring).
      batch_size, devices, chunk_size: as :class:`FeatureExtractor`'s.
      precision: convolution precision; HIGHEST keeps float32 on accelerators (no TF32/bf16 passes).
      model_options: :class:`~gans_jax.metrics.inception.InceptionV3` options (``fold_bn``,
        ``fuse_heads``, ``impl``) to measure the unoptimised graph; the defaults are the fast path
        (``impl="auto"``: the CPU forms on CPU devices, plain convolutions on accelerators).
    """

    def __init__(
        self,
        weights: InceptionWeights | str | os.PathLike[str] | None = None,
        *,
        resize: str = "legacy_tf",
        batch_size: int = 64,
        devices: Sequence[jax.Device] | None = None,
        precision: lax.Precision | None = lax.Precision.HIGHEST,
        chunk_size: int | str | None = "auto",
        **model_options,
    ):
        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
        if not isinstance(weights, InceptionWeights):
            weights = load_inception_weights(weights)
        self.weights = weights
        self.resize = resize
        self.has_logits = weights.has_logits
        num_classes = NUM_CLASSES if self.has_logits else None
        platform = sharding.data_mesh(devices).devices.flat[0].platform
        impl = platform_impl(model_options.pop("impl", "auto"), platform)  # by the devices' platform
        self.model = InceptionV3(num_classes=num_classes, precision=precision, impl=impl, **model_options)
        folding = {k: v for k, v in model_options.items() if k in ("fold_bn", "fuse_heads")}
        dims = {"pool3": 2048}
        if num_classes:
            dims.update(logits=NUM_CLASSES, logits_unbiased=NUM_CLASSES)
        model = self.model

        def forward(params, images):
            return model.apply(params, preprocess(images, resize))

        super().__init__(
            prepare_params(weights, **folding), forward, dims, batch_size=batch_size, devices=devices,
            chunk_size=chunk_size,
        )  # fmt: skip


def process_batches(get_batch: Callable[[int], np.ndarray], num_batches: int) -> Iterator[np.ndarray]:
    """This process's share of ``num_batches`` global batches ``get_batch(0), get_batch(1), ...``:
    batches ``p, p + P, p + 2P, ...`` for process ``p`` of ``P`` (all of them with one process).

    Every process yields the same number of batches, ``ceil(num_batches / P)``, an empty one where its
    share has run out, because each :class:`InceptionExtractor` call is one collective program over
    all hosts. :func:`gather_rows` (used by :func:`collect_features`) undoes the interleaving."""
    count, index = jax.process_count(), jax.process_index()
    last = None
    for b in range(index, -(-num_batches // count) * count, count):
        if b < num_batches:
            last = np.asarray(get_batch(b))
        elif last is None:  # fewer batches than processes: only the shape of a batch is needed
            last = np.asarray(get_batch(0))[:0]
        yield last if b < num_batches else last[:0]


def allgather_exact(x: np.ndarray) -> np.ndarray:
    """``(process_count, *x.shape)``: every process's ``x`` (same shape everywhere), bit-exact for
    64-bit dtypes too (sent as pairs of uint32, since JAX arrays are 32-bit by default)."""
    from jax.experimental import multihost_utils

    x = np.ascontiguousarray(x)
    wide = x.dtype.itemsize == 8
    sent = x.view(np.uint32) if wide else x
    gathered = np.asarray(multihost_utils.process_allgather(sent, tiled=False))
    return gathered.view(x.dtype) if wide else gathered


def gather_rows(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Every process's per-batch rows in global batch order, the inverse of :func:`process_batches`:
    batch ``r`` of process ``p`` is global batch ``r * P + p``. With one process, the concatenation."""
    count = jax.process_count()
    local = np.concatenate(parts)
    if count == 1:
        return local
    sizes = allgather_exact(np.array([len(x) for x in parts], np.int64))  # (P, rounds)
    longest = int(sizes.sum(axis=1).max())
    padded = np.zeros((longest, *local.shape[1:]), local.dtype)
    padded[: len(local)] = local
    rows = allgather_exact(padded)
    starts = np.cumsum(sizes, axis=1) - sizes
    rounds = sizes.shape[1]
    return np.concatenate(
        [rows[p, starts[p, r] : starts[p, r] + sizes[p, r]] for r in range(rounds) for p in range(count)]
    )


def collect_features(
    batches: Iterable,
    extractor,
    *,
    num: int | None = None,
    keys: Sequence[str] = ("pool3",),
    progress: bool = True,
    desc: str = "features",
) -> dict[str, np.ndarray]:
    """Features of every image of an iterable of batches, kept in memory (KID and precision/recall
    need them all; FID streams instead, :func:`gans_jax.metrics.fid.compute_stats`).

    ``batches`` yields uint8 images (float images in [-1, 1] are converted with
    :func:`images_to_uint8`); ``extractor(images)`` returns a dict holding ``keys`` (an array is taken
    as ``"pool3"``). One pass gives several outputs, e.g. ``keys=("pool3", "logits_unbiased")``.
    At most ``num`` images are used; fewer than ``num`` is an error. With several processes,
    ``batches`` is this process's share (:func:`process_batches`) and every process gets all features,
    in the global order (:func:`gather_rows`)."""
    from tqdm.auto import tqdm

    multi = jax.process_count() > 1  # every batch goes through the (collective) extractor
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    seen = 0
    with tqdm(total=num, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for batch in batches:
            batch = np.asarray(batch)
            batch = batch if batch.dtype == np.uint8 else images_to_uint8(batch)
            if num is not None and not multi:
                batch = batch[: num - seen]
            if len(batch) == 0 and not multi:
                break
            out = extractor(batch)
            out = out if isinstance(out, dict) else {"pool3": out}
            missing = [k for k in keys if k not in out]
            if missing:
                raise KeyError(
                    f"the extractor returned {sorted(out)}, not {missing} (weights without logits?)"
                )
            for k in keys:
                parts[k].append(np.asarray(out[k]))
            seen += len(batch)
            bar.update(len(batch))
            if num is not None and seen >= num and not multi:
                break
    features = {k: gather_rows(v) for k, v in parts.items() if v}
    seen = len(features[keys[0]]) if features else 0
    if seen == 0:
        raise ValueError("no images were given")
    if num is not None and seen < num:
        raise ValueError(f"asked for {num} images, the source gave only {seen}")
    return {k: v[:num] for k, v in features.items()}


def inception_feature_fn(weights: InceptionWeights | str | os.PathLike[str] | None = None):
    """A differentiable feature map ``phi``: NHWC float images in [-1, 1] (1 or 3 channels, any size) ->
    ``(N, 2048)`` FID Inception pool3 features (bilinear resize to 299 as ``legacy_tf``). SRGAN's content
    loss over it (Ledig et al. 2017, Eq. 5) stands in for VGG19 features, which cannot be downloaded
    here (with the user's VGG19 weights: :func:`gans_jax.models.vgg.vgg_feature_fn`):
    ``auxiliary_losses.content.features = "inception"``."""
    if not isinstance(weights, InceptionWeights):
        weights = load_inception_weights(weights)
    model = InceptionV3()
    params = jax.tree.map(jnp.asarray, prepare_params(weights))

    def phi(images: jax.Array) -> jax.Array:
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"expected NHWC images with 1 or 3 channels, got shape {images.shape}")
        rgb = jnp.broadcast_to(images, (*images.shape[:3], 3)).astype(jnp.float32)
        return model.apply(params, preprocess((rgb + 1.0) * 127.5))["pool3"]

    return phi
