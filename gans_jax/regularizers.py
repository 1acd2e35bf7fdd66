"""Regularisers for GAN training as pure functions.

Gradient penalties take ``critic_fn``, a function from a batch (B, ...) to logits of shape (B,) or
(B, 1), usually ``lambda x: discriminator.apply(variables, x)`` closed over the parameters, so the
penalty stays differentiable with respect to them (double backpropagation). Per-example input
gradients are computed as the gradient of ``sum_b critic_fn(x)_b``, which is exact only when the
critic treats examples independently: ``critic_fn`` must not mix examples (no batch norm in training
mode, no minibatch standard deviation layer).

Each function returns the bare penalty; the caller multiplies by its weight (lambda, gamma / 2,
beta).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

CriticFn = Callable[[jax.Array], jax.Array]


def _input_gradients(critic_fn: CriticFn, x: jax.Array) -> jax.Array:
    """d critic(x)_b / d x_b for every example b, shape (B, ...)."""
    batch = x.shape[0]

    def total(inputs: jax.Array) -> jax.Array:
        logits = critic_fn(inputs)
        if logits.shape not in ((batch,), (batch, 1)):
            raise ValueError(
                f"critic_fn must map a batch of {batch} to logits of shape ({batch},) or "
                f"({batch}, 1); got shape {logits.shape}."
            )
        return jnp.sum(logits)

    return jax.grad(total)(x)


def _squared_norms(grads: jax.Array) -> jax.Array:
    """Per-example squared L2 norms over all non-batch axes, shape (B,)."""
    return jnp.sum(jnp.square(grads.reshape(grads.shape[0], -1)), axis=1)


def gradient_penalty(
    critic_fn: CriticFn, real: jax.Array, fake: jax.Array, key: jax.Array, *, target: float = 1.0
) -> jax.Array:
    """WGAN-GP two-sided gradient penalty E[(||grad_x D(x_hat)||_2 - target)^2].

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Alg. 1 lines 6-7:
    eps ~ U[0, 1] per example, drawn as ``jax.random.uniform(key, (B,) + (1,) * (real.ndim - 1))``,
    x_hat = eps * real + (1 - eps) * fake, and the penalty is the batch mean of
    (||grad_x D(x_hat)_b||_2 - target)^2. The caller multiplies by lambda (10 in the paper).
    The norm is sqrt(sum + 1e-12), so its gradient is finite even where grad_x D vanishes.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have equal shapes; got {real.shape} and {fake.shape}.")
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), dtype=real.dtype)
    x_hat = eps * real + (1.0 - eps) * fake
    norms = jnp.sqrt(_squared_norms(_input_gradients(critic_fn, x_hat)) + 1e-12)
    return jnp.mean(jnp.square(norms - target))


def r1_penalty(critic_fn: CriticFn, real: jax.Array) -> jax.Array:
    """R1 penalty E_x[||grad_x D(x)||_2^2] on real data.

    Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?", Eq. 9:
    R1 = gamma / 2 * E_pdata[||grad D(x)||^2]; this returns the expectation, the caller multiplies
    by gamma / 2.
    """
    return jnp.mean(_squared_norms(_input_gradients(critic_fn, real)))


def r2_penalty(critic_fn: CriticFn, fake: jax.Array) -> jax.Array:
    """R2 penalty E_z[||grad_x D(G(z))||_2^2] on generated data.

    Mescheder et al. 2018, Eq. 10: like R1 but under the generator's distribution; the caller
    multiplies by gamma / 2 (and ``fake`` should carry no gradient to the generator).
    """
    return jnp.mean(_squared_norms(_input_gradients(critic_fn, fake)))


def drift_penalty(critic_fn: CriticFn, real: jax.Array) -> jax.Array:
    """Drift penalty E_x[D(x)^2] on real data, which keeps the critic's output near zero.

    Karras et al. 2018, "Progressive Growing of GANs", App. A.1: L' = L + eps_drift E_{x~Pr}[D(x)^2]
    with eps_drift = 0.001 added to the WGAN-GP critic loss; the caller multiplies by eps_drift.
    """
    return jnp.mean(jnp.square(critic_fn(real).astype(jnp.float32)))


def path_length_penalty(
    synthesis_fn: Callable[[jax.Array], jax.Array],
    ws: jax.Array,
    key: jax.Array,
    pl_mean: jax.Array,
    *,
    decay: float = 0.01,
) -> tuple[jax.Array, jax.Array]:
    """StyleGAN2's path length regularisation (Karras et al. 2020, Sec. 3.2, Eq. 4).

    For images ``g(w)`` of shape (B, H, W, C) and ``y ~ N(0, I) / sqrt(H W)``, the per-example length
    ``a_b = sqrt(mean_layers sum_dims (J_w^T y)_b^2)`` with ``J_w^T y = grad_w sum(g(w) * y)`` (``ws`` of
    shape (B, num_ws, w_dim)); ``pl_mean <- pl_mean + decay (mean_b a_b - pl_mean)`` and the penalty is
    ``mean_b (a_b - pl_mean)^2`` with the updated (constant) ``pl_mean``. Returns ``(penalty, pl_mean)``;
    the caller multiplies by the weight (2 in StyleGAN2, times the lazy interval)."""
    images, vjp_fn = jax.vjp(synthesis_fn, ws)
    h, w = images.shape[1], images.shape[2]
    noise = jax.random.normal(key, images.shape, images.dtype) / jnp.sqrt(float(h * w))
    (grads,) = vjp_fn(noise)
    lengths = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=2), axis=1))
    new_mean = jax.lax.stop_gradient(pl_mean + decay * (jnp.mean(lengths) - pl_mean))
    return jnp.mean(jnp.square(lengths - new_mean)), new_mean


def _is_kernel(path: tuple[Any, ...]) -> bool:
    last = path[-1] if path else None
    return getattr(last, "key", getattr(last, "name", None)) == "kernel"


def orthogonal_regularization(params: Any, *, off_diagonal: bool = True) -> jax.Array:
    """BigGAN orthogonal regularisation summed over every "kernel" leaf with ndim >= 2.

    Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis",
    Sec. 3.1, Eq. 3: each kernel is reshaped to W of shape (-1, out) (out = its last dimension, so
    a conv kernel (h, w, in, out) becomes (h * w * in, out)) and contributes
    ||W^T W * (1 - I)||_F^2 (``off_diagonal=True``, BigGAN's relaxed form, which leaves the filter
    norms free) or ||W^T W - I||_F^2 (``off_diagonal=False``, the full form of Brock et al. 2017
    and Saxe et al. 2014). Leaves with other names (bias, scale, embeddings) are ignored.
    The caller multiplies by beta (1e-4 in BigGAN).
    """
    total = jnp.zeros((), jnp.float32)
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if not _is_kernel(path) or jnp.ndim(leaf) < 2:
            continue
        w = jnp.asarray(leaf, jnp.float32).reshape(-1, leaf.shape[-1])
        gram = w.T @ w
        eye = jnp.eye(gram.shape[0], dtype=gram.dtype)
        residual = gram * (1.0 - eye) if off_diagonal else gram - eye
        total = total + jnp.sum(jnp.square(residual))
    return total


def weight_clipping(clip_value: float) -> optax.GradientTransformation:
    """WGAN weight clipping as an optax transformation, to be chained *last*.

    Arjovsky et al. 2017, "Wasserstein GAN", Alg. 1 line 7: w <- clip(w, -c, c) after every critic
    update. Its ``update(updates, state, params)`` returns clip(params + updates, -c, c) - params,
    so ``optax.apply_updates`` yields the clipped parameters, e.g.
    ``optax.chain(optax.rmsprop(5e-5), weight_clipping(0.01))``. Where floating-point rounding
    would put params + updates just outside [-c, c], the update is moved one ulp inwards, so the
    parameters always land inside the box (within one ulp of |param| of the exact clip).

    Raises:
      ValueError: if ``clip_value`` is not positive, or (in ``update``) if params are not given.
    """
    if not clip_value > 0:
        raise ValueError(f"clip_value must be positive; got {clip_value!r}.")

    def clipping_update(update: jax.Array, param: jax.Array) -> jax.Array:
        delta = jnp.clip(param + update, -clip_value, clip_value) - param
        # delta is rounded to the precision of |param|, so param + delta may overshoot the box by
        # half an ulp; step delta one ulp back inside where it does.
        landed = param + delta
        delta = jnp.where(landed > clip_value, jnp.nextafter(delta, -jnp.inf), delta)
        return jnp.where(landed < -clip_value, jnp.nextafter(delta, jnp.inf), delta)

    def init_fn(params: optax.Params) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update_fn(
        updates: optax.Updates, state: optax.EmptyState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, optax.EmptyState]:
        if params is None:
            raise ValueError("weight_clipping needs the current params: call update(updates, state, params).")
        return jax.tree.map(clipping_update, updates, params), state

    return optax.GradientTransformation(init_fn, update_fn)
