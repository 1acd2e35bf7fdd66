"""The execution of StyleGAN2-ADA's transforms (NVlabs ``training/augment.py``), as pure jax functions
of images and per-example transform parameters: the homogeneous matrices the geometric and colour stages
compose (the official ``matrix``, ``translate2d``, ``rotate3d``...), the geometric execution (reflect
padding, ``sym6`` 2x upsampling with ``upfirdn2d``, bilinear ``grid_sample``, ``sym6`` 2x downsampling),
the colour matrix, the 4-band image-space filter and the cutout mask (Karras et al. 2020, Appendix B).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

WAVELETS = {
    "sym2": (-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025),
    "sym6": (
        0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
    ),
}  # fmt: skip
EXPECTED_BAND_POWER = np.array([10.0, 1.0, 1.0, 1.0]) / 13.0  # the 1/f spectrum of the filter bands


def matrix(*rows) -> jax.Array:
    """A batch of matrices from rows of scalars and (B,) arrays (the official ``matrix``)."""
    batch = jnp.broadcast_shapes(*(jnp.shape(x) for row in rows for x in row))
    cols = [
        jnp.stack([jnp.broadcast_to(jnp.asarray(x, jnp.float32), batch) for x in row], -1) for row in rows
    ]
    return jnp.stack(cols, -2)


def translate2d(tx, ty):
    return matrix([1, 0, tx], [0, 1, ty], [0, 0, 1])


def scale2d(sx, sy):
    return matrix([sx, 0, 0], [0, sy, 0], [0, 0, 1])


def rotate2d(theta):
    c, s = jnp.cos(theta), jnp.sin(theta)
    return matrix([c, -s, 0], [s, c, 0], [0, 0, 1])


def translate3d(tx, ty, tz):
    return matrix([1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1])


def scale3d(sx, sy, sz):
    return matrix([sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1])


def rotate3d(v, theta):
    """Rotation by ``theta`` about the unit axis ``v`` (Rodrigues), homogeneous 4x4."""
    vx, vy, vz = (float(c) for c in v[:3])
    s, c = jnp.sin(theta), jnp.cos(theta)
    cc = 1 - c
    return matrix(
        [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
        [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
        [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
        [0, 0, 0, 1],
    )


LUMA_AXIS = np.array([1.0, 1.0, 1.0, 0.0]) / np.sqrt(3.0)


def where_any(active: jax.Array, fn, x: jax.Array) -> jax.Array:
    """``fn(x)`` for the examples where ``active``, ``x`` elsewhere; skips ``fn`` when none is active."""
    return lax.cond(
        jnp.any(active), lambda x: jnp.where(active[:, None, None, None], fn(x), x), lambda x: x, x
    )


def fir_filter(name: str) -> np.ndarray:
    """``setup_filter(wavelets[name])``: normalised to unit DC gain, float32."""
    f = np.asarray(WAVELETS[name], np.float32)
    return f / f.sum()


def upfirdn_matrix(
    n: int, taps: np.ndarray, *, up: int = 1, down: int = 1, pad=(0, 0), gain: float = 1.0
) -> np.ndarray:
    """``upfirdn2d`` along one axis of ``n`` samples as the (n_out, n) matrix it applies: insert ``up - 1``
    zeros after each sample, zero-pad (negative: crop) by ``pad``, correlate with ``taps * gain`` (pass the
    flipped filter for a convolution), keep every ``down``-th output. Built with numpy at trace time (the
    sizes are static): one small matmul per axis compiles and runs far faster on XLA:CPU than a
    single-channel convolution or a sum of shifted slices."""
    x = np.eye(n)
    if up > 1:
        x = np.zeros((n * up, n))
        x[::up] = np.eye(n)
    x = x[max(-pad[0], 0) : x.shape[0] - max(-pad[1], 0)]
    x = np.pad(x, ((max(pad[0], 0), max(pad[1], 0)), (0, 0)))
    length = (x.shape[0] - len(taps)) // down + 1
    out = np.zeros((length, n))
    for m, tap in enumerate(taps):
        out += x[m : m + down * (length - 1) + 1 : down] * float(tap) * gain
    return out


def reflect_matrix(n: int, margin: int) -> np.ndarray:
    """The (n + 2 margin, n) matrix of ``np.pad(mode="reflect")`` along one axis."""
    return np.pad(np.eye(n), ((margin, margin), (0, 0)), mode="reflect")


def apply_axis(x: jax.Array, matrix, axis: int) -> jax.Array:
    """``matrix`` (n_out, n) applied along ``axis`` (1: height, 2: width) of NHWC ``x``."""
    m = jnp.asarray(matrix, jnp.float32)
    spec = "oh,bhwc->bowc" if axis == 1 else "ow,bhwc->bhoc"
    return jnp.einsum(spec, m, x, precision=lax.Precision.HIGHEST)


GEOMETRIC_FILTER = "sym6"
HZ_PAD = len(WAVELETS[GEOMETRIC_FILTER]) // 4  # the official Hz_pad: 3 pixels


def geometric_margin(g_inv: jax.Array, height: int, width: int) -> jax.Array:
    """The official data-dependent padding ``(mx0, my0, mx1, my1)`` (int32) of a batch transformed by
    ``G^-1`` (B, 3, 3): the output corners ``(+-c_x, +-c_y)``, ``c = (size - 1) / 2``, mapped to the
    input, their largest excursion on each side over the whole batch beyond ``c``, plus ``2 * Hz_pad``
    (6) pixels, clipped to ``[0, size - 1]`` (what reflect padding allows) and rounded up. Computed in
    float32 as the official code does: an excursion within rounding of an integer may round either way."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corners = jnp.asarray([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1.0, 1.0, 1.0, 1.0]], jnp.float32)
    cp = jnp.einsum("bij,jk->bik", g_inv[:, :2, :], corners, precision=lax.Precision.HIGHEST)  # (B, xy, 4)
    reach = jnp.concatenate([jnp.max(-cp, axis=(0, 2)), jnp.max(cp, axis=(0, 2))])  # x0, y0, x1, y1
    margin = reach + jnp.asarray([HZ_PAD * 2 - cx, HZ_PAD * 2 - cy] * 2, jnp.float32)
    margin = jnp.clip(margin, 0.0, jnp.asarray([width - 1, height - 1] * 2, jnp.float32))
    return lax.stop_gradient(jnp.ceil(margin).astype(jnp.int32))


def geometric_transform(x: jax.Array, g_inv: jax.Array, margin: jax.Array | None = None) -> jax.Array:
    """The official execution of ``G^-1`` (NVlabs ``AugmentPipe.forward``, "Execute geometric
    transformations"): reflect padding by ``margin`` (default :func:`geometric_margin` of this batch),
    ``sym6`` 2x upsampling (zeros beyond the padded image), bilinear ``grid_sample`` (zeros outside the
    upsampled image, ``align_corners=False``), ``sym6`` filtering and 2x downsampling.

    The official padding is data-dependent, a shape jit cannot compile. Here every image is reflect-padded
    by the largest margin, ``size - 1`` per side (the official padded image is a window of it), and what
    lies outside the official window is zeroed twice, as the official code sees zeros there: the padded
    pixels beyond ``margin`` before upsampling (upfirdn2d's zero padding) and the upsampled samples
    beyond the upsampled window in ``grid_sample`` (its zero padding). Without the zeroing the result
    differs where the sampled positions, widened by the filters' taps, pass the official window. The
    output pixels read samples up to ``2.75`` pixels beyond the image (the downsampling filter's reach),
    mapped by ``G^-1``, and each sample reads input pixels ``3.25`` further (upsampling filter, bilinear
    weights); the margin gives ``2 Hz_pad = 6`` beyond the mapped corners, rounded up. So a transform
    that stretches the output's border band past that slack, zooming out by more than about 1.1 along
    an axis, reads beyond the window through the filters' outer taps (tests/test_augment_padding.py:
    5e-5 to 1e-3 on uniform noise in [-1, 1] for zoom-outs by 1.4 to 2, and no more than float rounding
    once the margin is clipped at ``size - 1``, where the two paddings coincide)."""
    _, height, width, _ = x.shape
    f = fir_filter(GEOMETRIC_FILTER)
    if margin is None:
        margin = geometric_margin(g_inv, height, width)
    margin = lax.stop_gradient(margin)
    up_pad = ((len(f) + 1) // 2, (len(f) - 2) // 2)
    windows = []
    for axis, n, lo, hi in ((1, height, margin[1], margin[3]), (2, width, margin[0], margin[2])):
        big = n - 1  # the largest margin the official padding takes, for any transform
        # reflect padding, zeroed beyond the official margin, then upsample2d: a convolution (the
        # flipped filter), gain 2 per axis
        index = jnp.arange(n + 2 * big)
        keep = ((index >= big - lo) & (index <= big + n - 1 + hi)).astype(jnp.float32)
        up = jnp.asarray(upfirdn_matrix(n + 2 * big, f[::-1], up=2, pad=up_pad, gain=2.0), jnp.float32)
        reflect = jnp.asarray(reflect_matrix(n, big), jnp.float32) * keep[:, None]
        x = apply_axis(x, jnp.matmul(up, reflect, precision=lax.Precision.HIGHEST), axis)
        windows.append((2 * (big - lo), 2 * (big + n + hi) - 1))  # the official upsampled image
    g = scale2d(2.0, 2.0) @ g_inv @ scale2d(0.5, 0.5)
    g = translate2d(-0.5, -0.5) @ g @ translate2d(0.5, 0.5)
    out_h, out_w = (height + HZ_PAD * 2) * 2, (width + HZ_PAD * 2) * 2
    g = scale2d(2 / x.shape[2], 2 / x.shape[1]) @ g @ scale2d(out_w / 2, out_h / 2)
    x = grid_sample(x, lax.stop_gradient(g[:, :2, :]), out_h, out_w, window=(windows[1], windows[0]))
    down_pad = (-HZ_PAD * 2 + (len(f) - 1) // 2, -HZ_PAD * 2 + (len(f) - 2) // 2)
    for axis in (1, 2):  # downsample2d(padding=-2 * hz_pad, flip_filter=True): a correlation
        x = apply_axis(x, upfirdn_matrix(x.shape[axis], f, down=2, pad=down_pad), axis)
    return x


def grid_sample(x: jax.Array, theta: jax.Array, out_h: int, out_w: int, window=None) -> jax.Array:
    """``grid_sample(x, affine_grid(theta, (out_h, out_w), align_corners=False))``, bilinear, zeros
    outside: output pixel (i, j) at normalised ``(x, y) = ((2j + 1) / W - 1, (2i + 1) / H - 1)`` samples
    the input at ``theta @ (x, y, 1)``, unnormalised as ``((u + 1) * size - 1) / 2``. ``window``:
    ``((x_first, x_last), (y_first, y_last))``, the input pixels that count as inside (default all);
    the others read as zeros."""
    batch, in_h, in_w, channels = x.shape
    (x_first, x_last), (y_first, y_last) = window or ((0, in_w - 1), (0, in_h - 1))
    xs = (2 * jnp.arange(out_w, dtype=jnp.float32) + 1) / out_w - 1
    ys = (2 * jnp.arange(out_h, dtype=jnp.float32) + 1) / out_h - 1
    base = jnp.stack(jnp.broadcast_arrays(xs[None, :], ys[:, None], jnp.ones((1, 1), jnp.float32)), -1)
    grid = jnp.einsum("hwk,bjk->bhwj", base, theta)
    ix = ((grid[..., 0] + 1) * in_w - 1) / 2
    iy = ((grid[..., 1] + 1) * in_h - 1) / 2
    x0, y0 = jnp.floor(ix), jnp.floor(iy)
    flat = x.reshape(batch, in_h * in_w, channels)
    out = 0.0
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = x0 + dx, y0 + dy
            weight = (1 - jnp.abs(ix - cx)) * (1 - jnp.abs(iy - cy))
            inside = (cx >= x_first) & (cx <= x_last) & (cy >= y_first) & (cy <= y_last)
            index = (jnp.clip(cy, 0, in_h - 1) * in_w + jnp.clip(cx, 0, in_w - 1)).astype(jnp.int32)
            values = jnp.take_along_axis(flat, index.reshape(batch, -1, 1), axis=1)
            out = (
                out
                + values.reshape(batch, out_h, out_w, channels) * jnp.where(inside, weight, 0.0)[..., None]
            )
    return out


def color_transform(x: jax.Array, c: jax.Array) -> jax.Array:
    """``C`` applied to RGB pixels ``(r, g, b, 1)``; a grey image takes the mean of ``C``'s colour rows."""
    channels = x.shape[-1]
    if channels == 3:
        return jnp.einsum("bij,bhwj->bhwi", c[:, :3, :3], x) + c[:, None, None, :3, 3]
    if channels == 1:
        m = jnp.mean(c[:, :3, :], axis=1)  # (B, 4)
        return x * jnp.sum(m[:, :3], axis=1)[:, None, None, None] + m[:, 3][:, None, None, None]
    raise ValueError(f"colour augmentation needs RGB (3 channels) or grey (1 channel) images, got {channels}")


def filter_bank() -> np.ndarray:
    """The official (4, 43) bank of the image-space filtering: band ``i``'s symmetric filter, from the
    ``sym2`` wavelet's low-pass ``H(z)`` and high-pass ``H(-z)`` by repeated 2x dilation and low-pass
    filtering with ``H(z) H(z^-1) / 2`` (the bands sum to the identity)."""
    lo = np.asarray(WAVELETS["sym2"])
    hi = lo * (-1.0) ** np.arange(lo.size)
    lo2 = np.convolve(lo, lo[::-1]) / 2
    hi2 = np.convolve(hi, hi[::-1]) / 2
    bank = np.eye(4, 1)
    for i in range(1, bank.shape[0]):
        dilated = np.zeros((bank.shape[0], bank.shape[1] * 2 - 1))
        dilated[:, ::2] = bank
        bank = np.stack([np.convolve(row, lo2) for row in dilated])
        start = (bank.shape[1] - hi2.size) // 2
        bank[i, start : start + hi2.size] += hi2
    return bank.astype(np.float32)


def band_filter(x: jax.Array, gains: jax.Array) -> jax.Array:
    """Each example filtered separably by ``gains @ filter_bank()`` (reflect padding), as the official
    ``upfirdn2d`` with that per-example filter: per axis, the image through each of the 4 fixed bands (as
    matrices, reflect padding included) and the bands mixed by the example's gains."""
    bank = filter_bank()
    pad = bank.shape[1] // 2
    for axis in (2, 1):  # horizontal, then vertical
        n = x.shape[axis]
        bands = np.stack([upfirdn_matrix(n + 2 * pad, row) @ reflect_matrix(n, pad) for row in bank])
        spec = "foh,bhwc->bfowc" if axis == 1 else "fow,bhwc->bfhoc"
        filtered = jnp.einsum(spec, jnp.asarray(bands, jnp.float32), x, precision=lax.Precision.HIGHEST)
        x = jnp.einsum("bfhwc,bf->bhwc", filtered, gains, precision=lax.Precision.HIGHEST)
    return x


def cutout_mask(shape, size: jax.Array, center: jax.Array) -> jax.Array:
    """1 outside each example's ``size x size`` rectangle centred at ``center`` (relative units), else 0."""
    _, height, width, _ = shape
    cx = (jnp.arange(width, dtype=jnp.float32) + 0.5) / width
    cy = (jnp.arange(height, dtype=jnp.float32) + 0.5) / height
    outside_x = jnp.abs(cx[None, :] - center[:, 0:1]) >= size[:, None] / 2  # (B, W)
    outside_y = jnp.abs(cy[None, :] - center[:, 1:2]) >= size[:, None] / 2  # (B, H)
    return (outside_x[:, None, :] | outside_y[:, :, None]).astype(jnp.float32)[..., None]
