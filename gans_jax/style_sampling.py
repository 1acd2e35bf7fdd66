"""Sampling tools for style-based generators (StyleGAN, StyleGAN2): truncation in W, the style-mixing
grid, interpolation in W and noise control (Karras et al. 2019, Sec. 2-3 and Fig. 3; 2020, App. B).

A style generator exposes ``mapping(z, labels, train, truncation_psi, truncation_cutoff) -> ws`` of shape
``(B, num_ws, w_dim)`` and ``synthesis(ws, noise_mode=...) -> images`` as Flax methods. Per-pixel noise
follows StyleGAN2-ADA's ``noise_mode`` (:data:`NOISE_MODES`): ``"random"`` draws it from a key, ``"const"``
uses each layer's fixed ``noise_const`` (the same noise for every call and every image), ``"none"`` adds
none.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gans_jax.layers.style import NOISE_MODES
from gans_jax.training.state import GAN, GANState, apply_generator


def is_style_generator(gan: GAN) -> bool:
    return all(callable(getattr(type(gan.generator), m, None)) for m in ("mapping", "synthesis"))


def _variables(gan: GAN, state: GANState, use_ema: bool) -> dict:
    if not is_style_generator(gan):
        raise ValueError(f"{type(gan.generator).__name__} is not a style generator (no mapping/synthesis)")
    params = state.ema_params if use_ema and state.ema_params is not None else state.g_params
    return {"params": params, **state.g_collections}


def seed_latents(gan: GAN, seeds: Sequence[int]) -> jax.Array:
    """One latent per seed, ``z = sample_latents(PRNGKey(seed), 1)``: the same image for the same seed."""
    return jnp.concatenate([gan.sample_latents(jax.random.PRNGKey(int(s)), 1) for s in seeds])


def mapping(gan, state, z, labels=None, *, psi: float = 1.0, cutoff: int | None = None, use_ema: bool = True):
    """``ws = f(z)``, truncated toward the tracked ``w_avg``: ``w_avg + psi (w - w_avg)`` on the layers
    before ``cutoff`` (all when ``None``) (StyleGAN, Sec. 3.1 / App. B)."""
    options = (("train", False), ("truncation_psi", float(psi)), ("truncation_cutoff", cutoff))
    return apply_generator(
        gan.generator, _variables(gan, state, use_ema), (z, labels), {}, "mapping", options
    )


def synthesis(gan, state, ws, *, noise: str = "const", key: jax.Array | None = None, use_ema: bool = True):
    """Images ``g(ws)`` with ``noise`` in :data:`NOISE_MODES` (``random`` needs ``key``)."""
    if noise not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {noise!r}; expected one of {NOISE_MODES}")
    if noise == "random" and key is None:
        raise ValueError("noise='random' needs a PRNG key")
    rngs = {"noise": key} if noise == "random" else {}
    options = (("noise_mode", noise),)
    return apply_generator(gan.generator, _variables(gan, state, use_ema), (ws,), rngs, "synthesis", options)


def style_mixing_grid(
    gan,
    state,
    row_seeds,
    col_seeds,
    *,
    mix_layers: int,
    psi=1.0,
    cutoff=None,
    noise="const",
    key=None,
    use_ema=True,
) -> np.ndarray:
    """The style-mixing figure (StyleGAN, Fig. 3): ``(1 + rows) x (1 + cols)`` images, row 0 the column
    seeds' images, column 0 the row seeds', and cell ``(i, j)`` the styles of row seed ``i`` with its
    first ``mix_layers`` (coarse) styles replaced by column seed ``j``'s. The top-left cell is blank."""
    ws_rows = mapping(gan, state, seed_latents(gan, row_seeds), psi=psi, cutoff=cutoff, use_ema=use_ema)
    ws_cols = mapping(gan, state, seed_latents(gan, col_seeds), psi=psi, cutoff=cutoff, use_ema=use_ema)
    num_ws = ws_rows.shape[1]
    if not 0 < mix_layers <= num_ws:
        raise ValueError(f"mix_layers must be in [1, {num_ws}] for this generator, got {mix_layers}")
    coarse = (jnp.arange(num_ws) < mix_layers)[None, None, :, None]
    mixed = jnp.where(coarse, ws_cols[None, :], ws_rows[:, None])  # (rows, cols, num_ws, w_dim)
    ws = jnp.concatenate(
        [ws_cols, jnp.concatenate([ws_rows[:, None], mixed], axis=1).reshape(-1, *ws_rows.shape[1:])]
    )
    images = np.asarray(synthesis(gan, state, ws, noise=noise, key=key, use_ema=use_ema))
    blank = np.ones((1, *images.shape[1:]), images.dtype)
    return np.concatenate([blank, images])


def interpolate_w(
    gan, state, z0, z1, steps: int, *, psi=1.0, cutoff=None, noise="const", key=None, use_ema=True
):
    """Per pair of latents, ``steps`` images along the straight line between their ``ws`` in W (the
    space where StyleGAN's perceptual path length is short, Sec. 4.1): ``(pairs * steps, ...)``."""
    w0 = mapping(gan, state, z0, psi=psi, cutoff=cutoff, use_ema=use_ema)
    w1 = mapping(gan, state, z1, psi=psi, cutoff=cutoff, use_ema=use_ema)
    t = jnp.linspace(0.0, 1.0, steps)[None, :, None, None]
    ws = ((1 - t) * w0[:, None] + t * w1[:, None]).reshape(-1, *w0.shape[1:])
    return np.asarray(synthesis(gan, state, ws, noise=noise, key=key, use_ema=use_ema))
