"""The FID Inception network in Flax: TF's ``inception-2015-12-05`` graph, as NVIDIA and pytorch-fid port it.

Heusel et al. (2017) define FID on the 2048-d ``pool_3`` features of this graph, and Salimans et al.
(2016, "Improved Techniques for Training GANs") the Inception Score on its 1008-way softmax. The graph
differs from torchvision's InceptionV3, and every difference changes the numbers, so all are kept:

* every convolution is followed by a batch norm with ``eps = 1e-3`` and **no scale** (only ``beta``),
  then a ReLU;
* the stem and every stride-2 convolution are unpadded (VALID), as are the stem's 3x3/2 max pools;
* the average pools inside the mixed blocks (3x3, stride 1, padding 1) **exclude the padding from the
  count** (TF's ``AvgPool`` with SAME padding);
* the last mixed block (``mixed_10``, TF's ``mixed_10``) pools its fourth branch with a **max pool**;
* features are the final 8x8 average pool; logits are ``features @ W.T`` (+ bias) over 1008 classes.

Rewrites make it faster without changing the function (each is exact in real arithmetic; the
unrewritten graph stays available, ``fold_bn=False, fuse_heads=False, impl="xla"``, and
``benchmarks/inception.py`` measures each step):

* the inference batch norm is folded into the convolution (``kernel * rsqrt(var + eps)`` and a bias,
  computed in float64 once at load, :func:`prepare_params`);
* the 1x1 convolutions of a block that read the same input are fused into one wider convolution
  (``head``), the branch that pools *before* its 1x1 convolution included: a 1x1 convolution commutes
  with an average pool, so the head's slice for that branch is pooled afterwards, on fewer channels
  (the max-pool branch of ``mixed_10`` does not commute and keeps its own convolution);
* ``impl="fast"`` (:func:`convolve`): 1x1 convolutions as matrix products, unpadded convolutions
  computed padded and cropped, pools as shifted slices: the forms XLA:CPU runs fastest. It is the
  default on CPU only (``impl="auto"``); on GPUs and TPUs the default is ``impl="xla"``, plain NHWC
  convolutions and ``reduce_window`` pools, which cuDNN and the TPU run as they are (the padding trick
  would only add work there).

:class:`InceptionV3` takes NHWC float32 images already resized to 299x299 and scaled to [-1, 1)
(see :mod:`gans_jax.metrics.features` for uint8 input of any size).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gans_jax.metrics.inception_weights import InceptionWeights, conv_layers

__all__ = ["BN_EPS", "FEATURE_DIM", "IMPLS", "InceptionV3", "convolve", "platform_impl", "prepare_params"]

IMPLS = ("auto", "fast", "dot", "xla")


def platform_impl(impl: str = "auto", platform: str | None = None) -> str:
    """``impl`` with ``"auto"`` resolved for ``platform`` (default: ``jax.default_backend()``):
    ``"fast"`` on CPU, ``"xla"`` (plain convolutions) on GPUs and TPUs."""
    if impl not in IMPLS:
        raise ValueError(f"unknown Inception impl {impl!r}; expected one of {IMPLS}")
    if impl != "auto":
        return impl
    return "fast" if (platform or jax.default_backend()) == "cpu" else "xla"


BN_EPS = 1e-3
FEATURE_DIM = 2048

# The fused 1x1 "head" of each block: the layers it stacks along the output axis, in this order.
# A trailing "*" marks the branch whose average pool is applied after the head (bias and ReLU after it).
_HEADS: dict[str, tuple[str, ...]] = {
    **{f"mixed{s}": ("conv", "tower.conv", "tower_1.conv", "tower_2.conv*") for s in ("", "_1", "_2")},
    **{f"mixed_{i}": ("conv", "tower.conv", "tower_1.conv", "tower_2.conv*") for i in range(4, 8)},
    "mixed_8": ("tower.conv", "tower_1.conv"),
    "mixed_9": ("conv", "tower_conv", "tower_1_conv", "tower_2_conv*"),
    "mixed_10": ("conv", "tower_conv", "tower_1_conv"),
}


def _fold(params: dict[str, np.ndarray], layer: str) -> tuple[np.ndarray, np.ndarray]:
    """Batch norm folded into the convolution: HWIO kernel and bias, computed in float64."""
    w = params[f"{layer}.weight"].astype(np.float64)
    var = params[f"{layer}.var"].astype(np.float64)
    gamma = params.get(f"{layer}.gamma")
    scale = (1.0 if gamma is None else gamma.astype(np.float64)) / np.sqrt(var + BN_EPS)
    bias = params[f"{layer}.beta"].astype(np.float64) - params[f"{layer}.mean"].astype(np.float64) * scale
    kernel = np.transpose(w * scale[:, None, None, None], (2, 3, 1, 0))  # OIHW -> HWIO
    return kernel.astype(np.float32), bias.astype(np.float32)


def _unfolded(params: dict[str, np.ndarray], layer: str) -> dict[str, np.ndarray]:
    out = {"kernel": np.transpose(params[f"{layer}.weight"], (2, 3, 1, 0)).astype(np.float32)}
    for field in ("beta", "mean", "var"):
        out[field] = params[f"{layer}.{field}"].astype(np.float32)
    gamma = params.get(f"{layer}.gamma")
    out["gamma"] = np.ones_like(out["beta"]) if gamma is None else gamma.astype(np.float32)
    return out


def prepare_params(
    weights: InceptionWeights | dict[str, np.ndarray], *, fold_bn: bool = True, fuse_heads: bool = True
) -> dict:
    """Flax variables of :class:`InceptionV3` (built with the same ``fold_bn``/``fuse_heads``) from
    canonical weights: batch norm folded into the kernels and 1x1 heads fused, unless turned off."""
    params = weights.params if isinstance(weights, InceptionWeights) else weights

    def layer(*names: str) -> dict[str, np.ndarray]:
        parts = [_fold(params, n) for n in names] if fold_bn else [_unfolded(params, n) for n in names]
        if fold_bn:
            return {
                "kernel": np.concatenate([k for k, _ in parts], -1),
                "bias": np.concatenate([b for _, b in parts]),
            }
        return {f: np.concatenate([p[f] for p in parts], -1 if f == "kernel" else 0) for f in parts[0]}

    fused = (
        {f"{block}.{name.rstrip('*')}" for block, names in _HEADS.items() for name in names}
        if fuse_heads
        else set()
    )
    tree: dict = {
        spec.name.replace(".", "_"): layer(spec.name) for spec in conv_layers() if spec.name not in fused
    }
    if fuse_heads:
        for block, names in _HEADS.items():
            tree[f"{block}_head"] = layer(*(f"{block}.{n.rstrip('*')}" for n in names))
    if "output.weight" in params:
        tree["output"] = {"kernel": params["output.weight"].T.copy(), "bias": params["output.bias"].copy()}
    return {"params": tree}


def _window3(x: jax.Array, axis: int, stride: int, op) -> jax.Array:
    """``op`` over 3 consecutive elements along ``axis`` (1 or 2), every ``stride``-th window.

    Pools are written as shifted slices: XLA:CPU runs them several times faster than ``reduce_window``."""
    n = (x.shape[axis] - 3) // stride + 1
    parts = [lax.slice_in_dim(x, i, i + stride * (n - 1) + 1, stride, axis) for i in range(3)]
    return op(op(parts[0], parts[1]), parts[2])


def _avg_pool_3x3_same(x: jax.Array, slices: bool = True) -> jax.Array:
    """3x3 stride-1 average pool, padding 1, the padding excluded from the count (TF SAME)."""
    if slices:
        x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        total = _window3(_window3(x, 2, 1, lax.add), 1, 1, lax.add)
    else:
        total = lax.reduce_window(
            x, 0.0, lax.add, (1, 3, 3, 1), (1, 1, 1, 1), ((0, 0), (1, 1), (1, 1), (0, 0))
        )
    return total / _pool_counts(total.shape[1], total.shape[2])


def _pool_counts(h: int, w: int) -> np.ndarray:
    """How many unpadded inputs each 3x3 window covers: 9 inside, 6 on edges, 4 in corners."""
    rows = np.minimum(np.arange(h) + 1, h - 1) - np.maximum(np.arange(h) - 1, 0) + 1
    cols = np.minimum(np.arange(w) + 1, w - 1) - np.maximum(np.arange(w) - 1, 0) + 1
    return (rows[:, None] * cols[None, :]).astype(np.float32)[None, :, :, None]


def _max_pool(x: jax.Array, stride: int, pad: int, slices: bool = True) -> jax.Array:
    """3x3 max pool (padding with -inf, so padded cells never win)."""
    if not slices:
        padding = ((0, 0), (pad, pad), (pad, pad), (0, 0))
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, stride, stride, 1), padding)
    if pad:
        x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=-jnp.inf)
    return _window3(_window3(x, 2, stride, lax.max), 1, stride, lax.max)


def convolve(x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[int, int], precision, impl: str):
    """NHWC x HWIO convolution with explicit (symmetric) ``padding``.

    ``impl="xla"`` is one ``lax.conv_general_dilated``; ``impl="dot"`` computes 1x1 stride-1
    convolutions as one matrix product. ``impl="fast"`` gives the same function the shapes XLA:CPU runs
    well (measured in ``benchmarks/inception.py``): 1x1 convolutions as matrix products, and unpadded
    convolutions computed with one column of zero padding on the right, then cropped. XLA:CPU hands
    convolutions with any padding to its YNNPACK kernels but runs the VALID ones 2-4x slower; the extra
    column only ever meets outputs that are cropped (stride 1: the last column; stride 2 over an odd
    width: none at all).
    """
    kh, kw, cin, cout = kernel.shape
    dims = ("NHWC", "HWIO", "NHWC")
    if impl in ("dot", "fast") and (kh, kw, stride) == (1, 1, 1) and padding == (0, 0):
        y = jnp.dot(x.reshape(-1, cin), kernel.reshape(cin, cout), precision=precision)
        return y.reshape(*x.shape[:-1], cout)
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    if impl == "fast" and padding == (0, 0) and (kh, kw) != (1, 1):
        oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
        pads = ((0, 0), (0, 1))
        y = lax.conv_general_dilated(
            x, kernel, (stride, stride), pads, dimension_numbers=dims, precision=precision
        )
        return y[:, :oh, :ow]
    return lax.conv_general_dilated(
        x, kernel, (stride, stride), pads, dimension_numbers=dims, precision=precision
    )


class _Conv(nn.Module):
    """A convolution and its batch norm: ``relu(bn(conv(x)))``; with ``act=False`` the convolution
    output and a function applying batch norm and ReLU to a channel slice of it (for fused heads)."""

    features: int
    kernel_size: tuple[int, int]
    stride: int = 1
    padding: tuple[int, int] = (0, 0)
    precision: lax.Precision | None = lax.Precision.HIGHEST
    fold_bn: bool = True
    impl: str = "fast"

    @nn.compact
    def __call__(self, x: jax.Array, act: bool = True):
        kh, kw = self.kernel_size
        shape = (kh, kw, x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape, jnp.float32)
        c = (self.features,)
        if self.fold_bn:
            bias = self.param("bias", nn.initializers.zeros, c, jnp.float32)
        else:
            beta = self.param("beta", nn.initializers.zeros, c, jnp.float32)
            mean = self.param("mean", nn.initializers.zeros, c, jnp.float32)
            var = self.param("var", nn.initializers.ones, c, jnp.float32)
            gamma = self.param("gamma", nn.initializers.ones, c, jnp.float32)

        def post(y, start=0, stop=self.features):
            if self.fold_bn:
                return jax.nn.relu(y + bias[start:stop])
            inv = lax.rsqrt(var[start:stop] + BN_EPS) * gamma[start:stop]
            return jax.nn.relu((y - mean[start:stop]) * inv + beta[start:stop])

        y = convolve(x, kernel, self.stride, self.padding, self.precision, self.impl)
        return post(y) if act else (y, post)


def _head(x: jax.Array, conv: _Conv, sizes: Sequence[int], pooled: bool, slices: bool) -> list[jax.Array]:
    """The fused 1x1 convolutions of a block: one output per branch; with ``pooled`` the last branch's
    average pool is applied to its slice of the convolution, before batch norm and ReLU."""
    y, post = conv(x, act=False)
    outs, start = [], 0
    for i, size in enumerate(sizes):
        part = y[..., start : start + size]
        if pooled and i == len(sizes) - 1:
            part = _avg_pool_3x3_same(part, slices)
        outs.append(post(part, start, start + size))
        start += size
    return outs


class InceptionV3(nn.Module):
    """The FID Inception: ``(N, 299, 299, 3)`` float32 in [-1, 1) -> ``{"pool3": (N, 2048)}``.

    With ``num_classes`` (1008 for the FID weights) it also returns ``"logits"`` (with the output bias)
    and ``"logits_unbiased"`` (without it: StyleGAN's and torch-fidelity's Inception Score uses these).
    Parameters come from :func:`prepare_params` (with the same ``fold_bn`` and ``fuse_heads``); ``init``
    gives random ones of the same structure. ``fold_bn=False, fuse_heads=False, impl="xla"`` is the
    graph as written, kept to measure what each rewrite buys (``benchmarks/inception.py``).
    """

    num_classes: int | None = None
    precision: lax.Precision | None = lax.Precision.HIGHEST
    fold_bn: bool = True
    fuse_heads: bool = True
    # "fast", "dot" or "xla": see convolve(); "fast" also writes pools as slices. "auto": "fast" on CPU,
    # "xla" on accelerators (platform_impl, resolved when the module is traced).
    impl: str = "auto"

    @property
    def _impl(self) -> str:
        return platform_impl(self.impl)

    @property
    def _slices(self) -> bool:  # pools as shifted slices (fast on XLA:CPU) or reduce_window
        return self._impl == "fast"

    def _conv(self, name, features, kernel=(1, 1), stride=1, padding=(0, 0)) -> _Conv:
        return _Conv(
            features,
            kernel,
            stride,
            padding,
            self.precision,
            self.fold_bn,
            self._impl,
            name=name.replace(".", "_"),
        )

    def _heads(self, x, block: str, branches: Sequence[tuple[str, int]], pooled: bool) -> list[jax.Array]:
        """The 1x1 convolutions reading the block input ``x``, fused into one or run one by one."""
        if self.fuse_heads:
            sizes = [c for _, c in branches]
            return _head(x, self._conv(f"{block}_head", sum(sizes)), sizes, pooled, self._slices)
        outs = []
        for i, (name, c) in enumerate(branches):
            inp = _avg_pool_3x3_same(x, self._slices) if pooled and i == len(branches) - 1 else x
            outs.append(self._conv(f"{block}.{name}", c)(inp))
        return outs

    def _block_a(self, x, p: str, pool: int):
        a, t, t1, t2 = self._heads(
            x, p, [("conv", 64), ("tower.conv", 48), ("tower_1.conv", 64), ("tower_2.conv", pool)], True
        )
        t = self._conv(f"{p}.tower.conv_1", 64, (5, 5), 1, (2, 2))(t)
        t1 = self._conv(f"{p}.tower_1.conv_1", 96, (3, 3), 1, (1, 1))(t1)
        t1 = self._conv(f"{p}.tower_1.conv_2", 96, (3, 3), 1, (1, 1))(t1)
        return jnp.concatenate([a, t, t1, t2], axis=-1)

    def _block_b(self, x, p: str):
        a = self._conv(f"{p}.conv", 384, (3, 3), 2)(x)
        t = self._conv(f"{p}.tower.conv", 64)(x)
        t = self._conv(f"{p}.tower.conv_1", 96, (3, 3), 1, (1, 1))(t)
        t = self._conv(f"{p}.tower.conv_2", 96, (3, 3), 2)(t)
        return jnp.concatenate([a, t, _max_pool(x, 2, 0, self._slices)], axis=-1)

    def _block_c(self, x, p: str, c: int):
        a, t, t1, t2 = self._heads(
            x, p, [("conv", 192), ("tower.conv", c), ("tower_1.conv", c), ("tower_2.conv", 192)], True
        )
        row, col = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
        t = self._conv(f"{p}.tower.conv_1", c, *row)(t)
        t = self._conv(f"{p}.tower.conv_2", 192, *col)(t)
        t1 = self._conv(f"{p}.tower_1.conv_1", c, *col)(t1)
        t1 = self._conv(f"{p}.tower_1.conv_2", c, *row)(t1)
        t1 = self._conv(f"{p}.tower_1.conv_3", c, *col)(t1)
        t1 = self._conv(f"{p}.tower_1.conv_4", 192, *row)(t1)
        return jnp.concatenate([a, t, t1, t2], axis=-1)

    def _block_d(self, x, p: str):
        t, t1 = self._heads(x, p, [("tower.conv", 192), ("tower_1.conv", 192)], False)
        t = self._conv(f"{p}.tower.conv_1", 320, (3, 3), 2)(t)
        t1 = self._conv(f"{p}.tower_1.conv_1", 192, (1, 7), 1, (0, 3))(t1)
        t1 = self._conv(f"{p}.tower_1.conv_2", 192, (7, 1), 1, (3, 0))(t1)
        t1 = self._conv(f"{p}.tower_1.conv_3", 192, (3, 3), 2)(t1)
        return jnp.concatenate([t, t1, _max_pool(x, 2, 0, self._slices)], axis=-1)

    def _block_e(self, x, p: str, avg_pool: bool):
        branches = [("conv", 320), ("tower_conv", 384), ("tower_1_conv", 448)]
        if avg_pool:
            a, t, t1, t2 = self._heads(x, p, [*branches, ("tower_2_conv", 192)], True)
        else:  # mixed_10: a max pool does not commute with the convolution
            a, t, t1 = self._heads(x, p, branches, False)
            t2 = self._conv(f"{p}.tower_2_conv", 192)(_max_pool(x, 1, 1, self._slices))
        t1 = self._conv(f"{p}.tower_1_conv_1", 384, (3, 3), 1, (1, 1))(t1)
        return jnp.concatenate(
            [
                a,
                self._conv(f"{p}.tower_mixed_conv", 384, (1, 3), 1, (0, 1))(t),
                self._conv(f"{p}.tower_mixed_conv_1", 384, (3, 1), 1, (1, 0))(t),
                self._conv(f"{p}.tower_1_mixed_conv", 384, (1, 3), 1, (0, 1))(t1),
                self._conv(f"{p}.tower_1_mixed_conv_1", 384, (3, 1), 1, (1, 0))(t1),
                t2,
            ],
            axis=-1,
        )

    @nn.compact
    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        if x.ndim != 4 or x.shape[1:] != (299, 299, 3):
            raise ValueError(f"InceptionV3 expects (N, 299, 299, 3) images, got shape {x.shape}")
        x = x.astype(jnp.float32)
        x = self._conv("conv", 32, (3, 3), 2)(x)
        x = self._conv("conv_1", 32, (3, 3))(x)
        x = self._conv("conv_2", 64, (3, 3), 1, (1, 1))(x)
        x = _max_pool(x, 2, 0, self._slices)
        x = self._conv("conv_3", 80)(x)
        x = self._conv("conv_4", 192, (3, 3))(x)
        x = _max_pool(x, 2, 0, self._slices)
        x = self._block_a(x, "mixed", 32)
        x = self._block_a(x, "mixed_1", 64)
        x = self._block_a(x, "mixed_2", 64)
        x = self._block_b(x, "mixed_3")
        for i, c in zip(range(4, 8), (128, 160, 160, 192), strict=True):
            x = self._block_c(x, f"mixed_{i}", c)
        x = self._block_d(x, "mixed_8")
        x = self._block_e(x, "mixed_9", avg_pool=True)
        x = self._block_e(x, "mixed_10", avg_pool=False)
        features = jnp.mean(x, axis=(1, 2))  # the 8x8 average pool: pool_3
        out = {"pool3": features}
        if self.num_classes:
            kernel = self.param(
                "output",
                lambda k: {
                    "kernel": nn.initializers.lecun_normal()(k, (FEATURE_DIM, self.num_classes), jnp.float32),
                    "bias": jnp.zeros((self.num_classes,), jnp.float32),
                },
            )
            unbiased = jnp.dot(features, kernel["kernel"], precision=self.precision)
            out["logits_unbiased"] = unbiased
            out["logits"] = unbiased + kernel["bias"]
        return out
