"""Perceptual path length (Karras et al. 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks", Sec. 3.2, Eqs. 2-3), as StyleGAN2-ADA's ``metrics/perceptual_path_length.py``
computes it for ``ppl_zfull``, ``ppl_wfull``, ``ppl_zend`` and ``ppl_wend``.

In Z (Eq. 2), ``l_Z = E[ d(G(slerp(z0, z1; t)), G(slerp(z0, z1; t + eps))) / eps^2 ]``; in W (Eq. 3),
``l_W = E[ d(g(lerp(f(z0), f(z1); t)), g(lerp(f(z0), f(z1); t + eps))) / eps^2 ]``, with ``d`` LPIPS
(:mod:`gans_jax.metrics.lpips`), ``eps = 1e-4``, ``z0, z1 ~ N(0, I)`` and ``t ~ U(0, 1)`` ("full") or
``t = 0`` ("end", the path's end points only). As in the official code: :func:`slerp` normalises its
ends and result; per-pixel noise is one fresh draw per batch, the same for every image of the batch
(so both images of a pair see the same noise); the images may be cropped to the face region
(``crop``: rows 3/8 to 7/8, columns 2/8 to 6/8 of a square image); a generator above 256x256 is
box-downsampled by ``resolution // 256``; images go from [-1, 1] to [0, 255] (1-channel ones repeated
to RGB) before the LPIPS features; the distances outside the 1st ('lower') and 99th ('higher')
percentiles are dropped before the mean (:func:`filtered_mean`). 50,000 samples by default.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

EPSILON = 1e-4
NUM_SAMPLES = 50_000
PPL_METRICS = {  # name -> (space, sampling)
    "ppl_zfull": ("z", "full"),
    "ppl_wfull": ("w", "full"),
    "ppl_zend": ("z", "end"),
    "ppl_wend": ("w", "end"),
}


def is_ppl_metric(name: str) -> bool:
    return name in PPL_METRICS


def slerp(a: jax.Array, b: jax.Array, t: jax.Array) -> jax.Array:
    """Spherical interpolation of the directions of ``a`` and ``b`` (rows), ``t`` of shape ``(B, 1)``:
    unit vectors at angle ``t * acos(a . b)`` from ``a`` toward ``b`` (StyleGAN's ``slerp``)."""
    a = a / jnp.linalg.norm(a, axis=-1, keepdims=True)
    b = b / jnp.linalg.norm(b, axis=-1, keepdims=True)
    d = jnp.sum(a * b, axis=-1, keepdims=True)
    p = t * jnp.arccos(d)
    c = b - d * a
    c = c / jnp.linalg.norm(c, axis=-1, keepdims=True)
    d = a * jnp.cos(p) + c * jnp.sin(p)
    return d / jnp.linalg.norm(d, axis=-1, keepdims=True)


def lerp(a: jax.Array, b: jax.Array, t: jax.Array) -> jax.Array:
    """``a + t (b - a)``, ``t`` broadcast over the trailing axes."""
    return a + t * (b - a)


def face_crop(images: jax.Array) -> jax.Array:
    """The official PPL crop of square NHWC images: rows ``3c:7c``, columns ``2c:6c``, ``c = H // 8``."""
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"the PPL face crop needs square images, got shape {images.shape}")
    c = images.shape[1] // 8
    return images[:, 3 * c : 7 * c, 2 * c : 6 * c]


def box_downsample(images: jax.Array, factor: int) -> jax.Array:
    """Mean over ``factor x factor`` blocks of NHWC images (``factor`` 1: unchanged)."""
    if factor <= 1:
        return images
    n, h, w, c = images.shape
    return images.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def ppl_draws(key: jax.Array, n: int, z_dim: int, sampling: str) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(t, z0, z1)`` of one batch: ``t ~ U(0, 1)`` (``"full"``) or 0 (``"end"``), shape ``(n,)``;
    ``z0, z1 ~ N(0, I)``, shape ``(n, z_dim)``."""
    if sampling not in ("full", "end"):
        raise ValueError(f"unknown PPL sampling {sampling!r}; expected 'full' or 'end'")
    k_t, k_z = jax.random.split(key)
    t = jax.random.uniform(k_t, (n,)) * (1.0 if sampling == "full" else 0.0)
    z0, z1 = jnp.split(jax.random.normal(k_z, (2 * n, z_dim)), 2)
    return t, z0, z1


def path_lengths(
    key: jax.Array,
    n: int,
    *,
    z_dim: int,
    mapping: Callable[[jax.Array, jax.Array | None], jax.Array],
    synthesis: Callable[[jax.Array, jax.Array], jax.Array],
    features: Callable[[jax.Array], jax.Array],
    space: str,
    sampling: str,
    epsilon: float = EPSILON,
    crop: bool = False,
    labels: jax.Array | None = None,
) -> jax.Array:
    """``(n,)`` distances ``d(x(t), x(t + eps)) / eps^2`` (module docstring; jit it with the callables
    closed over). ``mapping(z, labels) -> ws``, ``synthesis(ws, noise_key) -> images`` NHWC in [-1, 1],
    ``features(images in [0, 255]) -> (B, D)`` whose squared L2 distance is ``d``. ``labels`` (``(n,)``
    or ``None``) condition both ends of a pair alike."""
    if space not in ("z", "w"):
        raise ValueError(f"unknown PPL space {space!r}; expected 'z' or 'w'")
    k_draw, k_noise = jax.random.split(key)
    t, z0, z1 = ppl_draws(k_draw, n, z_dim, sampling)
    pair_labels = None if labels is None else jnp.concatenate([labels, labels])
    if space == "w":
        w0, w1 = jnp.split(mapping(jnp.concatenate([z0, z1]), pair_labels), 2)
        tw = t.reshape(n, *([1] * (w0.ndim - 1)))
        ws = jnp.concatenate([lerp(w0, w1, tw), lerp(w0, w1, tw + epsilon)])
    else:
        zt0, zt1 = slerp(z0, z1, t[:, None]), slerp(z0, z1, t[:, None] + epsilon)
        ws = mapping(jnp.concatenate([zt0, zt1]), pair_labels)
    images = synthesis(ws, k_noise).astype(jnp.float32)
    factor = images.shape[1] // 256  # the generator's resolution, before any crop (as the official code)
    if crop:
        images = face_crop(images)
    images = box_downsample(images, factor)
    f0, f1 = jnp.split(features((images + 1.0) * (255.0 / 2.0)), 2)
    return jnp.sum(jnp.square(f0 - f1), axis=1) / epsilon**2


def filtered_mean(distances) -> float:
    """Mean of the distances between the 1st percentile (``method='lower'``) and the 99th
    (``method='higher'``), bounds included: StyleGAN's outlier rejection."""
    distances = np.asarray(distances, np.float64)
    lo = np.percentile(distances, 1, method="lower")
    hi = np.percentile(distances, 99, method="higher")
    return float(distances[(distances >= lo) & (distances <= hi)].mean())


def redraw_noise(variables: dict, key: jax.Array) -> dict:
    """``variables`` with every ``noise_const`` leaf (a layer's fixed ``(H, W)`` noise, the official
    ``noise_const`` buffer) replaced by a fresh ``N(0, 1)`` draw from ``key``; with ``noise_mode="const"``
    every image of the batch, both ends of each pair included, then sees the same noise."""
    leaves, tree = jax.tree.flatten(variables.get("noise_const", {}))
    if not leaves:
        return variables
    keys = jax.random.split(key, len(leaves))
    fresh = [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves, strict=True)]
    return {**variables, "noise_const": jax.tree.unflatten(tree, fresh)}


def style_ppl_fn(gan, state, features: Callable, feature_params, *, space: str, sampling: str,
                 epsilon: float = EPSILON, crop: bool = False, use_ema: bool = True):  # fmt: skip
    """``fn(key, n) -> (n,)`` path lengths of a style-based run (StyleGAN, StyleGAN2: the generator's
    ``mapping`` and ``synthesis`` methods) with ``features(feature_params, images in [0, 255])``,
    compiled once per ``n`` (the networks' weights are arguments, not constants). Labels of a
    conditional run are drawn as :meth:`~gans_jax.training.state.GAN.sample_labels` draws them; each
    layer's ``noise_const`` is redrawn from the key for every batch (the official buffers)."""
    from gans_jax.style_sampling import is_style_generator

    if not is_style_generator(gan):
        raise ValueError(
            f"perceptual path length needs a generator with a mapping network (StyleGAN, StyleGAN2); "
            f"{type(gan.generator).__name__} has none"
        )
    params = state.ema_params if use_ema and state.ema_params is not None else state.g_params
    variables = {"params": params, **state.g_collections}
    z_dim = gan.latent_shape[0]

    @functools.partial(jax.jit, static_argnums=3)
    def compiled(variables, feature_params, key, n):
        def mapping(z, labels):
            return gan.generator.apply(variables, z, labels, method="mapping")

        def synthesis(ws, noise_key):
            redrawn = redraw_noise(variables, noise_key)
            return gan.generator.apply(redrawn, ws, noise_mode="const", method="synthesis")

        k_label, k_path = jax.random.split(key)
        return path_lengths(
            k_path, n, z_dim=z_dim, mapping=mapping, synthesis=synthesis,
            features=lambda images: features(feature_params, images), space=space, sampling=sampling,
            epsilon=epsilon, crop=crop, labels=gan.sample_labels(k_label, n),
        )  # fmt: skip

    return lambda key, n: compiled(variables, feature_params, key, n)


def perceptual_path_length(
    fn: Callable[[jax.Array, int], jax.Array], key: jax.Array, num_samples: int = NUM_SAMPLES,
    batch_size: int = 64, *, progress: bool = False, desc: str = "ppl",
) -> dict[str, float | int]:  # fmt: skip
    """``{"ppl": filtered mean, "num_samples": n}`` of ``num_samples`` path lengths, batch ``i`` drawn
    by ``fn(fold_in(key, i), batch_size)`` (the last batch's surplus dropped)."""
    if num_samples < 1 or batch_size < 1:
        raise ValueError(f"num_samples and batch_size must be >= 1, got {num_samples}, {batch_size}")
    from tqdm.auto import tqdm

    batches = -(-num_samples // batch_size)
    dist = [
        np.asarray(fn(jax.random.fold_in(key, i), batch_size))
        for i in tqdm(range(batches), desc=desc, disable=not progress, leave=False)
    ]
    dist = np.concatenate(dist)[:num_samples]
    return {"ppl": filtered_mean(dist), "num_samples": int(num_samples)}


def ppl_of_run(
    gan, state, name: str, lpips_weights: dict, *, num_samples: int = NUM_SAMPLES, batch_size: int = 64,
    seed: int = 0, crop: bool = False, progress: bool = False,
) -> float:  # fmt: skip
    """Metric ``name`` (:data:`PPL_METRICS`) of a run's EMA generator with LPIPS weights
    (:func:`gans_jax.metrics.lpips.load_lpips_weights`); samples drawn from ``PRNGKey(seed)``."""
    from gans_jax.metrics.lpips import lpips_features

    if name not in PPL_METRICS:
        raise ValueError(f"unknown PPL metric {name!r}; expected one of {sorted(PPL_METRICS)}")
    space, sampling = PPL_METRICS[name]
    weights = jax.tree.map(jnp.asarray, lpips_weights)
    fn = style_ppl_fn(gan, state, lpips_features, weights, space=space, sampling=sampling, crop=crop)
    key = jax.random.PRNGKey(seed)
    return perceptual_path_length(fn, key, num_samples, batch_size, progress=progress, desc=name)["ppl"]
