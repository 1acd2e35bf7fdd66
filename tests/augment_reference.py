"""A numpy re-implementation (float64) of the official execution of the ADA geometric transform, NVlabs
``training/augment.py`` (``AugmentPipe.forward``, "Execute geometric transformations"), written from its
text for the tests: the data-dependent margin (the output corners mapped by ``G^-1``, plus
``2 * Hz_pad``, the maximum over the batch, clipped to ``[0, size - 1]``, rounded up), reflect padding
by it, ``upfirdn2d.upsample2d`` with ``sym6`` (zeros outside the padded image), ``affine_grid`` +
bilinear ``grid_sample`` (``align_corners=False``, zeros outside) and ``downsample2d``."""

from __future__ import annotations

import numpy as np

from gans_jax.augment.transforms import WAVELETS


def _t(tx, ty):
    return np.array([[1.0, 0, tx], [0, 1, ty], [0, 0, 1]])


def _s(sx, sy):
    return np.array([[sx, 0.0, 0], [0, sy, 0], [0, 0, 1]])


def official_margin(g_inv: np.ndarray, height: int, width: int, hz_pad: int = 3) -> np.ndarray:
    """``(mx0, my0, mx1, my1)``: the official reflect padding of a batch with inverse transforms ``g_inv``."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cp = np.array([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], np.float64).T  # [xyz, idx]
    cp = np.asarray(g_inv, np.float64) @ cp  # [batch, xyz, idx]
    margin = cp[:, :2, :].transpose(1, 0, 2).reshape(2, -1)  # [xy, batch * idx]
    margin = np.concatenate([-margin, margin]).max(axis=1)  # [x0, y0, x1, y1]
    margin = margin + np.array([hz_pad * 2 - cx, hz_pad * 2 - cy] * 2)
    margin = np.minimum(np.maximum(margin, 0), [width - 1, height - 1] * 2)
    return np.ceil(margin).astype(int)


def upfirdn1d(x: np.ndarray, f: np.ndarray, axis: int, *, up=1, down=1, pad=(0, 0), flip=False, gain=1.0):
    """``_upfirdn2d_ref`` along one axis (separable filter, gain per axis): zeros inserted, zero padding
    (negative: crop), convolution (``flip``: correlation), every ``down``-th sample."""
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    y = np.zeros(x.shape[:-1] + (n * up,))
    y[..., ::up] = x
    y = y[..., max(-pad[0], 0) : y.shape[-1] - max(-pad[1], 0)]
    y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(max(pad[0], 0), max(pad[1], 0))])
    taps = np.asarray(f, np.float64) * gain
    taps = taps if flip else taps[::-1]
    length = y.shape[-1] - len(taps) + 1
    out = sum(taps[k] * y[..., k : k + length] for k in range(len(taps)))
    return np.moveaxis(out[..., ::down], -1, axis)


def grid_sample(x: np.ndarray, theta: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """``grid_sample(x, affine_grid(theta, (out_h, out_w), align_corners=False))`` on NHWC ``x``: bilinear,
    zeros outside."""
    batch, in_h, in_w, _ = x.shape
    xs = (2 * np.arange(out_w) + 1) / out_w - 1
    ys = (2 * np.arange(out_h) + 1) / out_h - 1
    base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((1, 1))), -1)
    grid = np.einsum("hwk,bjk->bhwj", base, theta)
    ix = ((grid[..., 0] + 1) * in_w - 1) / 2
    iy = ((grid[..., 1] + 1) * in_h - 1) / 2
    x0, y0 = np.floor(ix).astype(int), np.floor(iy).astype(int)
    out = np.zeros((batch, out_h, out_w, x.shape[-1]))
    b = np.arange(batch)[:, None, None]
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = x0 + dx, y0 + dy
            weight = (1 - np.abs(ix - cx)) * (1 - np.abs(iy - cy))
            inside = (cx >= 0) & (cx < in_w) & (cy >= 0) & (cy < in_h)
            values = x[b, np.clip(cy, 0, in_h - 1), np.clip(cx, 0, in_w - 1)]
            out += values * np.where(inside, weight, 0.0)[..., None]
    return out


def official_geometric(images: np.ndarray, g_inv: np.ndarray, margin=None) -> np.ndarray:
    """The official geometric execution of NHWC ``images`` with the batch's ``g_inv`` (B, 3, 3), at the
    batch's :func:`official_margin` (or the given ``(mx0, my0, mx1, my1)``)."""
    x = np.asarray(images, np.float64)
    _, height, width, _ = x.shape
    f = np.asarray(WAVELETS["sym6"], np.float64)
    f = f / f.sum()
    hz_pad = len(f) // 4
    mx0, my0, mx1, my1 = official_margin(g_inv, height, width, hz_pad) if margin is None else margin
    x = np.pad(x, ((0, 0), (my0, my1), (mx0, mx1), (0, 0)), mode="reflect")
    g = _t((mx0 - mx1) / 2, (my0 - my1) / 2) @ np.asarray(g_inv, np.float64)
    up_pad = ((len(f) + 1) // 2, (len(f) - 2) // 2)
    for axis in (1, 2):
        x = upfirdn1d(x, f, axis, up=2, pad=up_pad, gain=2.0)
    g = _s(2, 2) @ g @ _s(0.5, 0.5)
    g = _t(-0.5, -0.5) @ g @ _t(0.5, 0.5)
    out_h, out_w = (height + hz_pad * 2) * 2, (width + hz_pad * 2) * 2
    g = _s(2 / x.shape[2], 2 / x.shape[1]) @ g @ _s(out_w / 2, out_h / 2)
    x = grid_sample(x, g[:, :2, :], out_h, out_w)
    down_pad = (-hz_pad * 2 + (len(f) - 1) // 2, -hz_pad * 2 + (len(f) - 2) // 2)
    for axis in (1, 2):
        x = upfirdn1d(x, f, axis, down=2, pad=down_pad, flip=True)
    return x
