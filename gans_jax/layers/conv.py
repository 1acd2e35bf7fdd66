"""Strided convolution as space-to-depth and one matrix product (for XLA:CPU).

A ``k x k`` convolution with stride ``s`` equals, after space-to-depth by ``s`` (each ``s x s`` block of
pixels becomes one pixel with ``s*s*C`` channels), a stride-1 convolution with a
``ceil(k/s) x ceil(k/s)`` window over ``s*s*C`` channels (the kernel zero-padded to a multiple of
``s`` taps, which only happens when ``s`` does not divide ``k``). We gather that window's patches and
multiply once by the rearranged kernel (im2col).

Why: XLA:CPU computes the gradients of a strided convolution several times slower than its forward
pass (the kernel gradient worst; a 4x4 stride-2 transposed convolution's took 6.35 s against 0.23 s
for PyTorch's whole forward + backward on 2 cores), while its matrix products run near the
machine's peak and their gradients are matrix products too. The product is written on 2-D operands:
XLA:CPU hands 2-D dots to its fast (YNNPACK) kernels, and the DCGAN step ran ~30% slower with 4-D
``(N, H, W, K) @ (K, O)`` products. :func:`conv_general_dilated_cpu` is a drop-in for
``lax.conv_general_dilated`` (pass it to ``flax.linen.Conv(conv_general_dilated=...)``; the parameters
are unchanged): it takes this path on CPU for plain NHWC/HWIO 2-D convolutions and calls
``lax.conv_general_dilated`` for everything else, and on every other backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

_NHWC = ("NHWC", "HWIO", "NHWC")


def space_to_depth_conv(
    x: jax.Array,
    kernel: jax.Array,
    strides: Sequence[int],
    padding: Sequence[tuple[int, int]],
    precision=None,
) -> jax.Array:
    """``lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=NHWC/HWIO/NHWC)``
    for NHWC ``x`` and a ``(kh, kw, C_in, C_out)`` kernel, computed as space-to-depth + im2col + one
    matrix product."""
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = kernel.shape[:2], tuple(strides)
    cout = kernel.shape[-1]
    (ph0, ph1), (pw0, pw1) = padding
    ho, wo = (h + ph0 + ph1 - kh) // sh + 1, (w + pw0 + pw1 - kw) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"empty convolution output for input {x.shape}, kernel {kernel.shape}")
    qh, qw = -(-kh // sh), -(-kw // sw)  # window after space-to-depth
    kernel = kernel.astype(x.dtype)
    if (qh * sh, qw * sw) != (kh, kw):
        kernel = jnp.pad(kernel, ((0, qh * sh - kh), (0, qw * sw - kw), (0, 0), (0, 0)))
    # Pad (or crop: negative high padding) to exactly the rows and columns the output reads.
    hp, wp = (ho + qh - 1) * sh, (wo + qw - 1) * sw
    x = lax.pad(
        x, jnp.zeros((), x.dtype), ((0, 0, 0), (ph0, hp - h - ph0, 0), (pw0, wp - w - pw0, 0), (0, 0, 0))
    )
    x = x.reshape(n, hp // sh, sh, wp // sw, sw, c).transpose(0, 1, 3, 2, 4, 5)
    x = x.reshape(n, hp // sh, wp // sw, sh * sw * c)
    patches = [x[:, i : i + ho, j : j + wo] for i in range(qh) for j in range(qw)]
    patches = patches[0] if len(patches) == 1 else jnp.concatenate(patches, axis=-1)
    # kernel (q_h, r_h, q_w, r_w, C, O) -> rows ordered (q_h, q_w, r_h, r_w, C) like the patches
    wm = kernel.reshape(qh, sh, qw, sw, c, cout).transpose(0, 2, 1, 3, 4, 5)
    depth = qh * qw * sh * sw * c
    y = jnp.matmul(patches.reshape(-1, depth), wm.reshape(depth, cout), precision=precision)
    return y.reshape(n, ho, wo, cout)


def conv_general_dilated_cpu(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    batch_group_count=1,
    precision=None,
    preferred_element_type=None,
):
    """``lax.conv_general_dilated`` with the :func:`space_to_depth_conv` path on CPU (see module doc)."""
    simple = (
        jax.default_backend() == "cpu"
        and lhs.ndim == 4
        and rhs.ndim == 4
        and feature_group_count == 1
        and batch_group_count == 1
        and preferred_element_type is None
        and all(d == 1 for d in (lhs_dilation or (1, 1)))
        and all(d == 1 for d in (rhs_dilation or (1, 1)))
        and dimension_numbers is not None
        and lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
        == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC)
    )
    if simple:
        pads = (
            lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], window_strides, padding)
            if isinstance(padding, str)
            else [tuple(p) for p in padding]
        )
        return space_to_depth_conv(lhs, rhs, window_strides, pads, precision)
    return lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        batch_group_count=batch_group_count,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


__all__: Sequence[str] = ["conv_general_dilated_cpu", "space_to_depth_conv"]
