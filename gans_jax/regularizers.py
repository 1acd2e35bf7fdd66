"""Regularisers for GAN training: pure penalty functions, and the :class:`Regularizer` terms that the
train step (:func:`gans_jax.training.step.make_train_step`) adds to a player's loss.

Gradient penalties take ``critic_fn``, a function from a batch (B, ...) to logits of shape (B,) or
(B, 1), usually ``lambda x: discriminator.apply(variables, x)`` closed over the parameters, so the
penalty stays differentiable with respect to them (double backpropagation). Per-example input
gradients are computed as the gradient of ``sum_b critic_fn(x)_b``. That is each example's own gradient
when the critic treats examples independently; with a layer that mixes examples, such as the minibatch
standard deviation of the PGGAN and StyleGAN2 critics, it is the gradient of the summed logits, which is
what the official implementations compute too (StyleGAN2-ADA's ``loss.py``: ``grad(real_logits.sum())``).

Each penalty function returns the bare penalty; the caller multiplies by its weight (lambda, gamma / 2,
beta). :func:`regularizer` builds the named terms of configs; a plain function of
:class:`RegularizerInputs` becomes one the same way.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from gans_jax.losses import PLAYERS, bind_hyperparameters
from gans_jax.schedules import Schedule, is_schedule_spec, make_schedule, scaled, schedule_range

CriticFn = Callable[[jax.Array], jax.Array]


def _input_gradients(critic_fn: CriticFn, x: jax.Array) -> jax.Array:
    """d critic(x)_b / d x_b for every example b, shape (B, ...). A critic that scores packs of ``m``
    consecutive examples (PacGAN, :mod:`gans_jax.layers.packing`: ``B / m`` logits) gives each example
    the gradient of its pack's logit."""
    batch = x.shape[0]

    def total(inputs: jax.Array) -> jax.Array:
        logits = critic_fn(inputs)
        n = logits.shape[0] if logits.ndim in (1, 2) else 0
        if n < 1 or batch % n or logits.shape not in ((n,), (n, 1)):
            raise ValueError(
                f"critic_fn must map a batch of {batch} to logits of shape ({batch},) or "
                f"({batch}, 1) (or one per pack of consecutive examples); got shape {logits.shape}."
            )
        return jnp.sum(logits)

    return jax.grad(total)(x)


def _squared_norms(grads: jax.Array) -> jax.Array:
    """Per-example squared L2 norms over all non-batch axes, shape (B,)."""
    return jnp.sum(jnp.square(grads.reshape(grads.shape[0], -1)), axis=1)


def gradient_penalty(
    critic_fn: Callable[..., jax.Array],
    real: jax.Array,
    fake: jax.Array,
    key: jax.Array,
    *,
    target: float = 1.0,
    real_labels: Any = None,
    fake_labels: Any = None,
) -> jax.Array:
    """WGAN-GP two-sided gradient penalty E[(||grad_x D(x_hat)||_2 - target)^2].

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Alg. 1 lines 6-7:
    eps ~ U[0, 1] per example, drawn as ``jax.random.uniform(key, (B,) + (1,) * (real.ndim - 1))``,
    x_hat = eps * real + (1 - eps) * fake, and the penalty is the batch mean of
    (||grad_x D(x_hat)_b||_2 - target)^2. The caller multiplies by lambda (10 in the paper).
    The norm is sqrt(sum + 1e-12), so its gradient is finite even where grad_x D vanishes.

    A conditional critic ``critic_fn(x, labels)`` gets ``real_labels`` and ``fake_labels`` (class labels,
    or an image-to-image GAN's source images). The penalty then interpolates the joint samples
    ``(x, y)``: a discrete label cannot be interpolated, so each x_hat is scored under the real label with
    probability eps and under the fake label otherwise (a Bernoulli(eps) draw from ``fold_in(key, 1)``).
    The pairs ``(x_hat, y)`` then follow eps * P_real(x, y) + (1 - eps) * P_fake(x, y) along each line, the
    paper's sampling applied to the critic's whole input; where both labels agree this is the plain
    penalty under that label. (StudioGAN scores interpolates under the real labels and other codes under
    the fake ones; either leaves the penalty one-sided in y.)
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have equal shapes; got {real.shape} and {fake.shape}.")
    batch = real.shape[0]
    eps = jax.random.uniform(key, (batch,) + (1,) * (real.ndim - 1), dtype=real.dtype)
    x_hat = eps * real + (1.0 - eps) * fake
    if real_labels is None and fake_labels is None:
        critic = critic_fn
    else:
        from_real = jax.random.uniform(jax.random.fold_in(key, 1), (batch,)) < eps.reshape(batch)
        labels = jax.tree.map(
            lambda r, f: jnp.where(from_real.reshape((batch,) + (1,) * (jnp.ndim(r) - 1)), r, f),
            real_labels,
            fake_labels,
        )
        critic = lambda x: critic_fn(x, labels)
    norms = jnp.sqrt(_squared_norms(_input_gradients(critic, x_hat)) + 1e-12)
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


# --------------------------------------------------------------------------------------------------
# Regularisation terms of the train step.
# --------------------------------------------------------------------------------------------------


class RegularizerInputs(NamedTuple):
    """What a regulariser may look at in one update of its player.

    ``params``: the regularised player's parameters (differentiated). ``critic(x, labels)``: the
    discriminator in train mode with this update's parameters (its collection updates discarded), one logit
    per example of ``x`` scored under ``labels`` (class labels, an image-to-image GAN's source images, or
    ``None`` when unconditional); ``None`` in generator updates. ``real``/``fake``: this update's samples
    (``real`` is ``None`` in generator updates) and ``real_labels``/``fake_labels`` their labels. ``key``:
    a PRNG key of its own. Generator updates also give ``generator(params, *args, method=None)`` (the
    train-mode generator, its collection updates discarded; ``method`` names a module method such as
    StyleGAN2's ``"mapping"``), the ``latents`` that made ``fake`` and the state's ``extra`` (regulariser
    state such as StyleGAN2's ``pl_mean``)."""

    params: Any
    key: jax.Array
    critic: Callable[[jax.Array, Any], jax.Array] | None = None
    real: jax.Array | None = None
    fake: jax.Array | None = None
    real_labels: Any = None
    fake_labels: Any = None
    generator: Callable[..., Any] | None = None
    latents: jax.Array | None = None
    extra: Mapping[str, Any] = {}


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """A penalty ``weight * fn(inputs)`` added to one player's loss (build it with :func:`regularizer`).

    ``weight`` is a number, or a schedule ``weight(t)`` of the player's update count ``t`` (the
    discriminator's update index, the generator's step: the count its optimiser's schedules see),
    e.g. R3GAN's gamma decayed from 0.05 to 0.005 (:mod:`gans_jax.schedules`).

    Lazy regularisation (Karras et al. 2020, App. B): with ``every = k > 1`` the penalty is evaluated
    only on that player's updates whose index is a multiple of ``k``, with weight ``k * weight`` so
    that its average strength is unchanged.

    ``init_extra`` (generator regularisers only) makes it stateful: ``fn`` returns ``(value, updates)``,
    ``updates`` new values of the ``GANState.extra`` entries named in ``init_extra`` (their initial
    values, e.g. StyleGAN2's ``pl_mean``), kept unchanged on skipped updates. A train step's
    ``init_state`` puts them into the state.
    """

    name: str
    fn: Callable[[RegularizerInputs], Any]
    weight: float | Schedule
    player: str = "discriminator"
    every: int = 1
    init_extra: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.player not in PLAYERS:
            raise ValueError(f"regularizer {self.name!r}: player {self.player!r} not in {PLAYERS}")
        if not isinstance(self.every, numbers.Integral) or self.every < 1:
            raise ValueError(f"regularizer {self.name!r}: every must be an integer >= 1, got {self.every!r}")
        if not callable(self.weight) and (not isinstance(self.weight, numbers.Real) or not self.weight >= 0):
            raise ValueError(f"regularizer {self.name!r}: weight must be a number >= 0, got {self.weight!r}")
        if self.init_extra and self.player != "generator":
            raise ValueError(f"regularizer {self.name!r}: only generator regularisers may keep state")

    @property
    def stateful(self) -> bool:
        return bool(self.init_extra)

    def penalty(self, inputs: RegularizerInputs, update_index: jax.Array) -> jax.Array:
        """The unweighted value on active updates, 0 on skipped ones."""
        return self.penalty_and_state(inputs, update_index)[0]

    def penalty_and_state(self, inputs: RegularizerInputs, update_index: jax.Array):
        """``(value, extra updates)``: the unweighted value (0 on skipped updates) and the new values of
        the ``init_extra`` entries (unchanged on skipped updates; ``{}`` when stateless)."""

        def active():
            out = self.fn(inputs)
            value, updates = out if self.stateful else (out, {})
            return jnp.asarray(value, jnp.float32), {k: jnp.asarray(updates[k], jnp.float32) for k in updates}

        if self.every == 1:
            return active()
        kept = {k: jnp.asarray(inputs.extra[k], jnp.float32) for k in self.init_extra}
        return lax.cond(update_index % self.every == 0, active, lambda: (jnp.zeros((), jnp.float32), kept))

    @property
    def effective_weight(self) -> float:
        """``weight * every``, for a constant weight (a scheduled one: :meth:`weight_at`)."""
        if callable(self.weight):
            raise ValueError(f"regularizer {self.name!r} has a scheduled weight: use weight_at(count)")
        return self.weight * self.every

    def weight_at(self, count) -> float | jax.Array:
        """The weight at the player's update ``count``, times ``every`` (lazy regularisation); a constant
        weight gives the plain number ``weight * every``."""
        if callable(self.weight):
            return self.weight(count) * self.every
        return self.effective_weight


def _critic(r: RegularizerInputs, name: str) -> Callable[[jax.Array, Any], jax.Array]:
    if r.critic is None:
        raise ValueError(f"regularizer {name!r} needs the critic: it is a discriminator regulariser")
    return r.critic


def gradient_penalty_term(r: RegularizerInputs, *, target: float = 1.0) -> jax.Array:
    """:func:`gradient_penalty` on this update's samples, interpolates scored under their pair's labels."""
    critic = _critic(r, "gradient_penalty")
    if r.real_labels is None and r.fake_labels is None:
        return gradient_penalty(lambda x: critic(x, None), r.real, r.fake, r.key, target=target)
    return gradient_penalty(
        critic, r.real, r.fake, r.key, target=target, real_labels=r.real_labels, fake_labels=r.fake_labels
    )


def r1_term(r: RegularizerInputs) -> jax.Array:
    """:func:`r1_penalty` on the real samples, scored under their own labels."""
    critic = _critic(r, "r1")
    return r1_penalty(lambda x: critic(x, r.real_labels), r.real)


def r2_term(r: RegularizerInputs) -> jax.Array:
    """:func:`r2_penalty` on the fake samples, scored under the labels they were generated with."""
    critic = _critic(r, "r2")
    return r2_penalty(lambda x: critic(x, r.fake_labels), r.fake)


def drift_term(r: RegularizerInputs) -> jax.Array:
    """:func:`drift_penalty` on the real samples, scored under their own labels."""
    critic = _critic(r, "drift")
    return drift_penalty(lambda x: critic(x, r.real_labels), r.real)


def orthogonal_term(r: RegularizerInputs, *, off_diagonal: bool = True) -> jax.Array:
    """:func:`orthogonal_regularization` of the player's parameters."""
    return orthogonal_regularization(r.params, off_diagonal=off_diagonal)


def path_length_term(r: RegularizerInputs, *, decay: float = 0.01, batch_shrink: int = 2):
    """StyleGAN2's path-length penalty on ``latents[: B // batch_shrink]``: ``w = G.mapping(z)`` (with
    style mixing in train mode), :func:`path_length_penalty` on ``G.synthesis`` at ``w``, ``pl_mean``
    updated (returned as the term's state)."""
    if r.generator is None or r.latents is None:
        raise ValueError("path_length needs the generator and its latents (a generator regulariser)")
    num = max(r.latents.shape[0] // batch_shrink, 1)
    labels = None if r.fake_labels is None else r.fake_labels[:num]
    ws = r.generator(r.params, r.latents[:num], labels, method="mapping")
    value, pl_mean = path_length_penalty(
        lambda w: r.generator(r.params, w, method="synthesis"), ws, r.key, r.extra["pl_mean"], decay=decay
    )
    return value, {"pl_mean": pl_mean}


class _Term(NamedTuple):
    fn: Callable[..., Any]
    players: tuple[str, ...]  # the first is the default
    init_extra: Mapping[str, float] = {}
    gamma: bool = False  # R1 and R2 take ``gamma`` (weight = gamma / 2)


REGULARIZERS: dict[str, _Term] = {
    "gradient_penalty": _Term(gradient_penalty_term, ("discriminator",)),
    "r1": _Term(r1_term, ("discriminator",), gamma=True),
    "r2": _Term(r2_term, ("discriminator",), gamma=True),
    "drift": _Term(drift_term, ("discriminator",)),
    "orthogonal": _Term(orthogonal_term, ("generator", "discriminator")),
    "path_length": _Term(path_length_term, ("generator",), {"pl_mean": 0.0}),
}
"""Named regularisation terms: function of :class:`RegularizerInputs`, the players it may serve."""


def regularizer(
    name: str | Callable[[RegularizerInputs], Any],
    weight: float | None = None,
    *,
    gamma: float | None = None,
    every: int = 1,
    player: str | None = None,
    **kwargs,
) -> Regularizer:
    """A regularisation term for :func:`gans_jax.training.step.make_train_step`, every argument checked now.

    Named terms (:data:`REGULARIZERS`): ``gradient_penalty`` (lambda = 10 in WGAN-GP; ``target``), ``r1`` /
    ``r2`` (weight = gamma / 2, or give ``gamma=``), ``drift`` (eps_drift = 0.001 in Progressive GAN),
    ``orthogonal`` (beta = 1e-4 in BigGAN; generator by default, either player; ``off_diagonal``),
    ``path_length`` (StyleGAN2: weight 2, every 4, ``decay`` 0.01, ``batch_shrink`` 2; keeps ``pl_mean``
    in ``GANState.extra``; the generator needs ``mapping`` and ``synthesis`` methods). The first four are
    discriminator terms, ``path_length`` a generator term.

    ``weight`` and ``gamma`` may also be schedules of the player's update count: a mapping
    ``{"shape", "init", "final", "steps"}`` (:func:`gans_jax.schedules.make_schedule`) or a function,
    e.g. R3GAN's CIFAR-10 gamma ``{"shape": "cosine", "init": 0.05, "final": 0.005, "steps": 39062}``.

    ``name`` may instead be a plain function ``fn(inputs: RegularizerInputs) -> scalar``: it becomes the
    term ``fn.__name__`` of ``player`` (default ``"discriminator"``), with ``kwargs`` bound to its
    keyword-only parameters. For example, a zero-centred gradient penalty on reals::

        def r1_on_reals(r):
            return regs.r1_penalty(lambda x: r.critic(x, r.real_labels), r.real)

        regularizer(r1_on_reals, 5.0)
    """
    if callable(name):
        fn, label = name, getattr(name, "__name__", type(name).__name__)
        term = _Term(fn, PLAYERS)
    elif name in REGULARIZERS:
        term, label = REGULARIZERS[name], name
    else:
        raise ValueError(
            f"unknown regularizer {name!r}; expected one of {sorted(REGULARIZERS)} or a function"
        )
    for what, value in (("weight", weight), ("gamma", gamma)):
        if is_schedule_spec(value) and not schedule_range(value)[0] >= 0:
            raise ValueError(f"regularizer {label!r}: a {what} schedule must stay >= 0, got {dict(value)}")
    if gamma is not None:
        if not term.gamma:
            raise ValueError(f"regularizer {label!r} takes no gamma (only r1 and r2: weight = gamma / 2)")
        if weight is not None:
            raise ValueError(f"regularizer {label!r}: give weight={weight} or gamma={gamma}, not both")
        gamma = make_schedule(gamma, f"regularizer {label!r}: gamma")
        weight = scaled(gamma, 0.5) if callable(gamma) else gamma / 2
    if weight is None:
        raise ValueError(f"regularizer {label!r} needs a weight" + (" (or gamma)" if term.gamma else ""))
    weight = make_schedule(weight, f"regularizer {label!r}: weight")
    player = player or term.players[0]
    if player not in term.players:
        raise ValueError(f"regularizer {label!r} is a {' or '.join(term.players)} term, not a {player!r} one")
    fn = bind_hyperparameters(term.fn, kwargs, f"regularizer {label!r}")
    return Regularizer(label, fn, weight, player, every, dict(term.init_extra))
