"""Exact, fast transposed convolution ("fractionally strided convolution", Radford et al. 2016).

A transposed convolution with stride ``s`` writes input pixel ``i`` through kernel tap ``k`` to output
pixel ``o = s * i - p + k`` (PyTorch's ``ConvTranspose2d`` convention, no kernel flip). Output pixels of
one phase ``a = o mod s`` only ever see the taps ``k`` with ``k = a + p (mod s)``, so the layer equals
``s * s`` ordinary stride-1 convolutions with small sub-kernels, one per phase, interleaved by
depth-to-space (the sub-pixel form of Shi et al. 2016): all phases as ONE stride-1 convolution to
``s * s * C_out`` channels whose window (``T`` taps, e.g. 2 for k=4, s=2) covers every phase's taps, on
the input padded by one pixel, then each phase's alignment sliced and interleaved; its FLOPs are the
transposed convolution's times ``(H+T-1)(W+T-1) / (H W)``.

On accelerators (``method="auto"`` off the CPU) the layer is the plain transposed convolution,
``lax.conv_general_dilated`` with the input dilated by the stride and the kernel flipped, which XLA
hands to cuDNN's (or the TPU's) transposed-convolution kernels in NHWC, as PyTorch's
``ConvTranspose2d`` does; the sub-pixel form stays available (``method="conv"``) to compare.

Why: on XLA:CPU the kernel gradient of ``lax.conv_transpose`` is pathologically slow (4x4 stride 2,
16x16x256 -> 32x32x128, batch 64, 2 cores: 6.35 s, against 0.23 s for forward + backward in PyTorch and
0.26 s for the same upsampling as a stride-1 convolution plus depth-to-space in XLA). On CPU even the
gradients of the stride-1 form are several times its forward, so there we write the layer as matrix
products, whose gradients are matrix products too: window patches times the sub-pixel kernel (im2col),
or ``x @ W`` to every tap's contribution followed by an overlap-add (col2im, exactly the FLOPs of the
transposed convolution). The parameter stays the transposed kernel itself, shape ``(k, k, C_in,
C_out)``, so weights port 1:1 from PyTorch (``weight.permute(2, 3, 0, 1)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Initializer = nn.initializers.Initializer


def _phase_taps(kernel_size: int, stride: int, padding: int):
    """Per phase ``a``: input offsets ``d`` and kernel taps ``k`` with ``s*(i+d) + a = s*i - p + k``."""
    phases = []
    for a in range(stride):
        taps = sorted(
            ((a + padding - k) // stride, k) for k in range(kernel_size) if (a + padding - k) % stride == 0
        )
        phases.append(taps)
    return phases


def _subpixel_plan(kernel_size: int, stride: int, padding: int):
    """Static gather plan: window size, pads, per-phase offsets and tap indices (numpy)."""
    if kernel_size - 2 * padding != stride:
        raise ValueError(
            f"sub-pixel transposed convolution needs kernel_size - 2 * padding == stride (output = "
            f"stride * input); got kernel_size={kernel_size}, stride={stride}, padding={padding}"
        )
    phases = _phase_taps(kernel_size, stride, padding)
    d_min = [taps[0][0] for taps in phases]
    window = max(taps[-1][0] - taps[0][0] + 1 for taps in phases)
    origin = min(d_min)
    offsets = [d - origin for d in d_min]  # where each phase starts in the stride-1 output
    # tap_index[a, t] = kernel tap used by phase a at window position t, or -1 for none.
    tap_index = -np.ones((stride, window), dtype=np.int32)
    for a, taps in enumerate(phases):
        for d, k in taps:
            tap_index[a, d - d_min[a]] = k
    pad = (-origin, max(d_min) + window - 1)
    return window, pad, offsets, tap_index


def subpixel_kernel(kernel: jax.Array, stride: int, padding: int) -> jax.Array:
    """Rearrange a transposed kernel ``(k, k, I, O)`` into the stride-1 kernel ``(T, T, I, s*s*O)``."""
    k, _, cin, cout = kernel.shape
    window, _, _, tap = _subpixel_plan(k, stride, padding)
    # index grids over (t_h, t_w, a, b)
    kh = tap.T[:, None, :, None]  # (T, 1, s, 1): tap for phase a at row t_h
    kw = tap.T[None, :, None, :]  # (1, T, 1, s)
    kh, kw = np.broadcast_arrays(kh, kw)
    valid = (kh >= 0) & (kw >= 0)
    gathered = kernel[np.maximum(kh, 0), np.maximum(kw, 0)]  # (T, T, s, s, I, O)
    gathered = gathered * jnp.asarray(valid, kernel.dtype)[..., None, None]
    gathered = gathered.transpose(0, 1, 4, 2, 3, 5)  # (T, T, I, s, s, O)
    return gathered.reshape(window, window, cin, stride * stride * cout)


METHODS = ("auto", "xla", "conv", "im2col", "col2im")


def conv_transpose_subpixel(
    x: jax.Array, kernel: jax.Array, stride: int = 2, padding: int = 1, method: str = "auto"
) -> jax.Array:
    """Transposed convolution of NHWC ``x`` with a ``(k, k, C_in, C_out)`` kernel, PyTorch semantics.

    ``y[s*i - p + k] += x[i] * w[k]`` per spatial axis, output ``stride`` times the input size.
    Equals ``torch.nn.ConvTranspose2d(C_in, C_out, k, stride, padding)`` with its weight permuted to
    ``(k, k, C_in, C_out)``. Every ``method`` computes the same function:

    - ``"xla"``: the plain transposed convolution (``lax.conv_general_dilated`` with ``lhs_dilation``
      = stride and the flipped kernel), what cuDNN and the TPU run directly;
    - ``"conv"``: one stride-1 convolution to ``s * s * C_out`` channels + depth-to-space (sub-pixel);
    - ``"im2col"``: the same stride-1 convolution written as window patches times one matrix;
    - ``"col2im"``: one matrix product ``x @ W`` to every tap's contribution, then overlap-add: exactly
      the FLOPs of the transposed convolution, no window padding;
    - ``"auto"``: ``"xla"`` on accelerators; on CPU the matrix-product form that suits the shape
      (:func:`_cpu_method`), because XLA:CPU's convolution gradients are slow while its dots run near
      peak (benchmarks/RESULTS.md). The platform is ``jax.default_backend()`` at trace time.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    k = kernel.shape[0]
    _subpixel_plan(k, stride, padding)  # validates the geometry
    if method == "auto":
        method = (
            "xla"
            if jax.default_backend() != "cpu"
            else _cpu_method(x.shape[-1], kernel.shape, stride, padding)
        )
    if method == "xla":
        return _conv_transpose_xla(x, kernel, stride, padding)
    if method == "col2im":
        return _conv_transpose_col2im(x, kernel, stride, padding)
    return _conv_transpose_window(x, kernel, stride, padding, method == "im2col")


def _cpu_method(cin: int, kernel_shape, stride: int, padding: int) -> str:
    """col2im (contraction over ``C_in``) unless ``C_in`` is small for a matrix product and the
    patches of im2col (``T*T*C_in`` wide) are narrower than col2im's columns (``k*k*C_out``).

    Measured on a 2-core AVX-512 CPU for the 64x64 DCGAN: col2im wins for 4x4x512->256, 8x8x256->128
    and 32x32x64->3; im2col for 16x16x128->64 (col2im's 128-deep contraction runs at half speed)."""
    k, cout = kernel_shape[0], kernel_shape[-1]
    window = _subpixel_plan(k, stride, padding)[0]
    if cin >= 256 or k * k * cout <= window * window * cin:
        return "col2im"
    return "im2col"


def _conv_transpose_xla(x, kernel, stride, padding):
    """``y[s*i - p + k] += x[i] w[k]`` as XLA's transposed convolution: the input dilated by ``s``,
    padded by ``k - 1 - p`` on each side, correlated with the spatially flipped kernel."""
    k = kernel.shape[0]
    pad = (k - 1 - padding, k - 1 - padding)
    return lax.conv_general_dilated(
        x,
        kernel[::-1, ::-1].astype(x.dtype),
        window_strides=(1, 1),
        padding=(pad, pad),
        lhs_dilation=(stride, stride),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


def _conv_transpose_window(x, kernel, stride, padding, as_matmul: bool):
    """All phases as one stride-1 ``T x T`` convolution to ``s*s*C_out`` channels, then depth-to-space."""
    n, h, w, cin = x.shape
    k, cout = kernel.shape[0], kernel.shape[-1]
    window, pad, offsets, _ = _subpixel_plan(k, stride, padding)
    x = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (*pad, 0), (*pad, 0), (0, 0, 0)))
    sub = subpixel_kernel(kernel, stride, padding).astype(x.dtype)
    if as_matmul:
        ho, wo = x.shape[1] - window + 1, x.shape[2] - window + 1
        patches = [x[:, i : i + ho, j : j + wo] for i in range(window) for j in range(window)]
        patches = patches[0] if len(patches) == 1 else jnp.concatenate(patches, axis=-1)
        depth = window * window * cin  # 2-D operands: XLA:CPU's fast dot path (see layers/conv.py)
        z = jnp.matmul(patches.reshape(-1, depth), sub.reshape(depth, -1)).reshape(n, ho, wo, -1)
    else:
        z = lax.conv_general_dilated(
            x, sub, window_strides=(1, 1), padding="VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
    z = z.reshape(*z.shape[:3], stride, stride, cout)
    rows = [
        jnp.stack([z[:, oa : oa + h, ob : ob + w, a, b] for b, ob in enumerate(offsets)], axis=3)
        for a, oa in enumerate(offsets)
    ]  # each (N, H, W, s_b, C)
    y = jnp.stack(rows, axis=2)  # (N, H, s_a, W, s_b, C)
    return y.reshape(n, h * stride, w * stride, cout)


def _conv_transpose_col2im(x, kernel, stride, padding):
    """``cols = x @ W`` gives every input pixel's ``k x k`` output patch; overlap-add them.

    The kernel is zero-padded to ``K = s * ceil(k / s)`` taps so that tap ``k = s * q + r`` lands in
    output block ``i + q``, sub-pixel ``r``: the overlap-add is ``ceil(k/s)^2`` shifted full blocks."""
    n, h, w, cin = x.shape
    k, cout = kernel.shape[0], kernel.shape[-1]
    s = stride
    q = -(-k // s)
    kernel = kernel.astype(x.dtype)
    if q * s != k:
        kernel = jnp.pad(kernel, ((0, q * s - k), (0, q * s - k), (0, 0), (0, 0)))
    # (q_h, r_h, q_w, r_w, I, O) -> (I, q_h, q_w, r_h, r_w, O)
    wm = kernel.reshape(q, s, q, s, cin, cout).transpose(4, 0, 2, 1, 3, 5).reshape(cin, q * q * s * s * cout)
    cols = jnp.matmul(x.reshape(-1, cin), wm).reshape(n, h, w, q, q, s, s, cout)
    zero = jnp.zeros((), x.dtype)
    full = None
    for a in range(q):
        for b in range(q):
            block = cols[:, :, :, a, b].transpose(0, 1, 3, 2, 4, 5)  # (N, H, r_h, W, r_w, O)
            block = lax.pad(
                block,
                zero,
                ((0, 0, 0), (a, q - 1 - a, 0), (0, 0, 0), (b, q - 1 - b, 0), (0, 0, 0), (0, 0, 0)),
            )
            full = block if full is None else full + block
    full = full.reshape(n, (h + q - 1) * s, (w + q - 1) * s, cout)  # y before cropping the padding
    return full[:, padding : padding + h * s, padding : padding + w * s]


class SubPixelConvTranspose(nn.Module):
    """Transposed convolution layer (``k x k``, stride ``s``, padding ``p``) in the fast sub-pixel form.

    The parameter ``kernel`` has shape ``(k, k, C_in, features)`` with PyTorch ``ConvTranspose2d``
    semantics; see :func:`conv_transpose_subpixel`. Every generator in the library upsamples with it.

    ``output_padding`` (PyTorch's argument) appends that many output rows and columns; they are exactly
    the transposed convolution with the kernel zero-padded by ``output_padding`` taps at its end, which
    is how it is computed (so ``k + output_padding - 2 p = s`` is needed). CycleGAN's ``3 x 3``, stride 2,
    padding 1, output_padding 1 up-convolution (Zhu et al. 2017, App. 7.2) is a ``4 x 4`` sub-pixel
    layer with its last tap zero.
    """

    features: int
    kernel_size: int = 4
    strides: int = 2
    padding: int = 1
    use_bias: bool = True
    kernel_init: Initializer = nn.initializers.normal(0.02)
    bias_init: Initializer = nn.initializers.zeros
    dtype: jnp.dtype | None = None
    method: str = "auto"  # see conv_transpose_subpixel; every method computes the same function
    output_padding: int = 0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
        dtype = self.dtype or x.dtype
        if self.output_padding:
            if not 0 < self.output_padding < self.strides:
                raise ValueError(
                    f"output_padding must be in [0, strides={self.strides}), got {self.output_padding}"
                )
            op = self.output_padding
            kernel = jnp.pad(kernel, ((0, op), (0, op), (0, 0), (0, 0)))
        y = conv_transpose_subpixel(
            x.astype(dtype), kernel.astype(dtype), self.strides, self.padding, self.method
        )
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,)).astype(dtype)
        return y


def reference_conv_transpose(x: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Naive float64 numpy transposed convolution, ``y[s*i - p + k] += x[i] w[k]`` (for tests)."""
    n, h, w, _ = x.shape
    k = kernel.shape[0]
    full = np.zeros((n, (h - 1) * stride + k, (w - 1) * stride + k, kernel.shape[-1]))
    for i in range(h):
        for j in range(w):
            full[:, i * stride : i * stride + k, j * stride : j * stride + k] += np.einsum(
                "nc,hwco->nhwo", x[:, i, j].astype(np.float64), kernel.astype(np.float64)
            )
    out_h, out_w = (h - 1) * stride - 2 * padding + k, (w - 1) * stride - 2 * padding + k
    return full[:, padding : padding + out_h, padding : padding + out_w]


__all__: Sequence[str] = [
    "SubPixelConvTranspose",
    "conv_transpose_subpixel",
    "reference_conv_transpose",
    "subpixel_kernel",
]
