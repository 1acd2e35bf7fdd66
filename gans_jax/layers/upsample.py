"""Exact, fast transposed convolution ("fractionally strided convolution", Radford et al. 2016).

A transposed convolution with stride ``s`` writes input pixel ``i`` through kernel tap ``k`` to output
pixel ``o = s * i - p + k`` (PyTorch's ``ConvTranspose2d`` convention, no kernel flip). Output pixels of
one phase ``a = o mod s`` only ever see the taps ``k`` with ``k = a + p (mod s)``, so the layer equals
``s * s`` ordinary stride-1 convolutions with small sub-kernels, one per phase, interleaved by
depth-to-space (the sub-pixel form of Shi et al. 2016). We run all phases as ONE stride-1 convolution
to ``s * s * C_out`` channels whose window covers every phase's taps, then slice each phase's
alignment and interleave.

Why: on XLA:CPU the kernel gradient of ``lax.conv_transpose`` is pathologically slow (6.35 s vs
0.23 s in PyTorch for a DCGAN layer, ../shared/STACK.md trap 7); this form has the FLOPs of the
transposed convolution and trains at ordinary-convolution speed on every backend. The parameter
stays the transposed kernel itself, shape ``(k, k, C_in, C_out)``, so weights port 1:1 from PyTorch
(``weight.permute(2, 3, 0, 1)``).
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
            ((a + padding - k) // stride, k)
            for k in range(kernel_size)
            if (a + padding - k) % stride == 0
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


def conv_transpose_subpixel(
    x: jax.Array, kernel: jax.Array, stride: int = 2, padding: int = 1
) -> jax.Array:
    """Transposed convolution of NHWC ``x`` with a ``(k, k, C_in, C_out)`` kernel, PyTorch semantics.

    ``y[s*i - p + k] += x[i] * w[k]`` per spatial axis, output ``stride`` times the input size.
    Equals ``torch.nn.ConvTranspose2d(C_in, C_out, k, stride, padding)`` with its weight permuted to
    ``(k, k, C_in, C_out)``, computed as one stride-1 convolution plus depth-to-space.
    """
    n, h, w, _ = x.shape
    k, cout = kernel.shape[0], kernel.shape[-1]
    window, pad, offsets, _ = _subpixel_plan(k, stride, padding)
    x = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (*pad, 0), (*pad, 0), (0, 0, 0)))
    z = lax.conv_general_dilated(
        x,
        subpixel_kernel(kernel, stride, padding).astype(x.dtype),
        window_strides=(1, 1),
        padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    z = z.reshape(*z.shape[:3], stride, stride, cout)
    rows = [
        jnp.stack(
            [z[:, oa : oa + h, ob : ob + w, a, b] for b, ob in enumerate(offsets)], axis=3
        )
        for a, oa in enumerate(offsets)
    ]  # each (N, H, W, s_b, C)
    y = jnp.stack(rows, axis=2)  # (N, H, s_a, W, s_b, C)
    return y.reshape(n, h * stride, w * stride, cout)


class SubPixelConvTranspose(nn.Module):
    """Transposed convolution layer (``k x k``, stride ``s``, padding ``p``) in the fast sub-pixel form.

    The parameter ``kernel`` has shape ``(k, k, C_in, features)`` with PyTorch ``ConvTranspose2d``
    semantics; see :func:`conv_transpose_subpixel`. Every generator in the library upsamples with it.
    """

    features: int
    kernel_size: int = 4
    strides: int = 2
    padding: int = 1
    use_bias: bool = True
    kernel_init: Initializer = nn.initializers.normal(0.02)
    bias_init: Initializer = nn.initializers.zeros
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
        dtype = self.dtype or x.dtype
        y = conv_transpose_subpixel(x.astype(dtype), kernel.astype(dtype), self.strides, self.padding)
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
