"""The one train-step factory every model family uses.

``make_train_step(gan, objective, ...)`` returns a pure ``train_step(state, batch) -> (state, metrics)``:
``n_critic`` discriminator updates, one generator update, then the EMA update (Goodfellow et al. 2014,
Alg. 1; Arjovsky et al. 2017, Alg. 1). Compile it with :mod:`gans_jax.training.sharding` (jit over a
mesh) or, when built with ``axis_name``, with ``jax.pmap``: both compute the same update.

Randomness: step ``t`` draws every latent, label and dropout mask from ``fold_in(state.key, t)``.
Latents and labels are drawn for the *global* batch and each replica takes its slice, so a pmapped
step draws exactly what the single-device step draws. The generator's forward pass is recorded once
with ``jax.vjp``: with ``n_critic == 1`` and ``reuse_fakes`` the discriminator trains on those very
fakes and the generator update replays the pass backwards through the updated discriminator — the
order of the reference PyTorch DCGAN loop, and one generator forward pass per step instead of two.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from gans_jax import regularizers as regs
from gans_jax.losses import Objective
from gans_jax.training.state import GAN, GANState

Batch = Mapping[str, jax.Array]
Metrics = dict[str, jax.Array]

PLAYERS = ("discriminator", "generator")
CRITIC_BATCHES = ("split", "shared")


class RegularizerInputs(NamedTuple):
    """What a regulariser may look at: the regularised player's parameters, the critic as a function of
    samples (labels bound), the real and fake batch of this update, and a PRNG key."""

    params: Any
    critic: Callable[[jax.Array], jax.Array] | None
    real: jax.Array | None
    fake: jax.Array | None
    key: jax.Array


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """A penalty ``weight * fn(inputs)`` added to one player's loss.

    Lazy regularisation (Karras et al. 2020, App. B): with ``every = k > 1`` the penalty is evaluated
    only on that player's updates whose index is a multiple of ``k``, with weight ``k * weight`` so
    that its average strength is unchanged.
    """

    name: str
    fn: Callable[[RegularizerInputs], jax.Array]
    weight: float
    player: str = "discriminator"
    every: int = 1

    def __post_init__(self):
        if self.player not in PLAYERS:
            raise ValueError(f"regularizer {self.name!r}: player {self.player!r} not in {PLAYERS}")
        if self.every < 1:
            raise ValueError(f"regularizer {self.name!r}: every must be >= 1, got {self.every}")

    def penalty(self, inputs: RegularizerInputs, update_index: jax.Array) -> jax.Array:
        """The unweighted value on active updates, 0 on skipped ones."""
        if self.every == 1:
            return self.fn(inputs)
        return lax.cond(
            update_index % self.every == 0,
            lambda: self.fn(inputs).astype(jnp.float32),
            lambda: jnp.zeros((), jnp.float32),
        )

    @property
    def effective_weight(self) -> float:
        return self.weight * self.every


_REGULARIZERS: dict[str, tuple[str, Callable[..., jax.Array]]] = {
    "gradient_penalty": (
        "discriminator",
        lambda r, **kw: regs.gradient_penalty(r.critic, r.real, r.fake, r.key, **kw),
    ),
    "r1": ("discriminator", lambda r: regs.r1_penalty(r.critic, r.real)),
    "r2": ("discriminator", lambda r: regs.r2_penalty(r.critic, r.fake)),
    "orthogonal": ("generator", lambda r, **kw: regs.orthogonal_regularization(r.params, **kw)),
}


def regularizer(
    name: str, weight: float, *, every: int = 1, player: str | None = None, **kwargs
) -> Regularizer:
    """Build a named regulariser for configs: ``gradient_penalty`` (lambda = 10 in WGAN-GP),
    ``r1``/``r2`` (weight = gamma / 2), ``orthogonal`` (beta = 1e-4 in BigGAN; either player)."""
    if name not in _REGULARIZERS:
        raise ValueError(f"unknown regularizer {name!r}; expected one of {sorted(_REGULARIZERS)}")
    default_player, fn = _REGULARIZERS[name]
    return Regularizer(name, functools.partial(fn, **kwargs), weight, player or default_player, every)


def _strided_split(x: jax.Array, n: int) -> jax.Array:
    """``(B, ...) -> (n, B // n, ...)`` with slice ``i`` = rows ``i, i + n, ...``: the same rows whether the
    batch is split globally (jit) or per replica (pmap)."""
    if x.shape[0] % n:
        raise ValueError(f"batch of {x.shape[0]} does not split into n_critic={n} equal parts")
    return jnp.swapaxes(x.reshape(x.shape[0] // n, n, *x.shape[1:]), 0, 1)


def _optimizer_step(tx: optax.GradientTransformation, grads, opt_state, params):
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def make_train_step(
    gan: GAN,
    objective: Objective,
    *,
    n_critic: int = 1,
    critic_batches: str = "split",
    reuse_fakes: bool = True,
    regularizers: Sequence[Regularizer] = (),
    ema_decay: float | None = None,
    ema_start: int = 0,
    axis_name: str | None = None,
) -> Callable[[GANState, Batch], tuple[GANState, Metrics]]:
    """Return the pure train step for ``gan`` trained with ``objective``.

    Args:
      n_critic: discriminator updates per generator update (5 in WGAN and WGAN-GP).
      critic_batches: ``"split"`` gives each discriminator update its own slice of the batch (the
        batch then holds ``n_critic`` minibatches, WGAN Alg. 1); ``"shared"`` reuses the whole batch
        of reals with fresh fakes in every discriminator update.
      reuse_fakes: with ``n_critic == 1``, train D on the fakes the generator update then
        backpropagates through (PyTorch DCGAN order). Otherwise fakes are drawn afresh.
      regularizers: penalties from :func:`regularizer`, each with its player, weight and interval.
      ema_decay: if set, ``ema <- decay * ema + (1 - decay) * params`` after every generator update
        from step ``ema_start`` on (before it the EMA copies the parameters). ``state.ema_params``
        must exist (``gan.init_state(..., ema=True)``).
      axis_name: set to the ``jax.pmap`` axis name to average gradients, metrics and batch-norm
        statistics (modules built with the same ``axis_name``) across replicas.
    """
    if n_critic < 1:
        raise ValueError(f"n_critic must be >= 1, got {n_critic}")
    if critic_batches not in CRITIC_BATCHES:
        raise ValueError(f"critic_batches {critic_batches!r} not in {CRITIC_BATCHES}")
    generator, discriminator = gan.generator, gan.discriminator
    d_regs = [r for r in regularizers if r.player == "discriminator"]
    g_regs = [r for r in regularizers if r.player == "generator"]
    names = [r.name for r in regularizers]
    if len(set(names)) != len(names):
        raise ValueError(f"regularizer names must be unique, got {names}")
    single_pass = n_critic == 1 and reuse_fakes

    def cross_replica_mean(tree):
        return tree if axis_name is None else lax.pmean(tree, axis_name)

    def draw(sampler, key, num):
        """``sampler(key, num)`` as a slice of the global draw (identical under jit and pmap)."""
        if axis_name is None:
            return sampler(key, num)
        full = sampler(key, num * lax.axis_size(axis_name))
        if full is None:
            return None
        return lax.dynamic_slice_in_dim(full, lax.axis_index(axis_name) * num, num)

    def replica_key(key):
        return key if axis_name is None else jax.random.fold_in(key, lax.axis_index(axis_name))

    def apply(module, params, collections, x, labels, key):
        """Train-mode forward pass: (output, updated mutable collections)."""
        return module.apply(
            {"params": params, **collections},
            x,
            labels,
            train=True,
            mutable=list(collections),
            rngs={"dropout": replica_key(key)},
        )

    def d_update(state: GANState, real, real_labels, fake, fake_labels, key, update_index):
        k_real, k_fake, k_reg = jax.random.split(key, 3)

        def loss_fn(d_params):
            real_logits, coll = apply(discriminator, d_params, state.d_collections, real, real_labels, k_real)
            fake_logits, coll = apply(discriminator, d_params, coll, fake, fake_labels, k_fake)
            adversarial = objective.discriminator_loss(real_logits, fake_logits)

            def critic(x):
                return apply(discriminator, d_params, state.d_collections, x, real_labels, k_reg)[0]

            inputs = RegularizerInputs(d_params, critic, real, fake, replica_key(k_reg))
            penalties = {r.name: r.penalty(inputs, update_index) for r in d_regs}
            total = adversarial + sum(r.effective_weight * penalties[r.name] for r in d_regs)
            aux = (coll, adversarial, penalties, real_logits, fake_logits)
            return total, aux

        grads, (coll, adversarial, penalties, real_logits, fake_logits) = jax.grad(loss_fn, has_aux=True)(
            state.d_params
        )
        grads = cross_replica_mean(grads)
        params, opt_state = _optimizer_step(gan.d_optimizer, grads, state.d_opt_state, state.d_params)
        state = state.replace(d_params=params, d_collections=coll, d_opt_state=opt_state)
        metrics = {
            "d_loss": adversarial,
            "d_real": jnp.mean(real_logits),
            "d_fake": jnp.mean(fake_logits),
            "d_grad_norm": optax.tree.norm(grads),
            **{f"reg/{name}": value for name, value in penalties.items()},
        }
        return state, metrics

    def generator_pass(state: GANState, key, num):
        """Draw latents/labels, run G in train mode, keep its VJP for the generator update."""
        k_z, k_y, k_drop = jax.random.split(key, 3)
        z = draw(gan.sample_latents, k_z, num)
        labels = draw(gan.sample_labels, k_y, num)
        fake, vjp_fn, coll = jax.vjp(
            lambda p: apply(generator, p, state.g_collections, z, labels, k_drop),
            state.g_params,
            has_aux=True,
        )
        return fake, labels, vjp_fn, coll

    def g_update(state: GANState, fake, labels, vjp_fn, g_coll, key):
        k_d, k_reg = jax.random.split(key)

        def adversarial_fn(x):
            logits, _ = apply(discriminator, state.d_params, state.d_collections, x, labels, k_d)
            return objective.generator_loss(logits), logits

        (adversarial, fake_logits), d_fake = jax.value_and_grad(adversarial_fn, has_aux=True)(fake)
        (grads,) = vjp_fn(d_fake)
        penalties = {}
        if g_regs:

            def penalty_fn(g_params):
                inputs = RegularizerInputs(g_params, None, None, fake, replica_key(k_reg))
                values = {r.name: r.penalty(inputs, state.step) for r in g_regs}
                return sum(r.effective_weight * values[r.name] for r in g_regs), values

            reg_grads, penalties = jax.grad(penalty_fn, has_aux=True)(state.g_params)
            grads = jax.tree.map(jnp.add, grads, reg_grads)
        grads = cross_replica_mean(grads)
        params, opt_state = _optimizer_step(gan.g_optimizer, grads, state.g_opt_state, state.g_params)
        state = state.replace(g_params=params, g_collections=g_coll, g_opt_state=opt_state)
        metrics = {
            "g_loss": adversarial,
            "d_fake_for_g": jnp.mean(fake_logits),
            "g_grad_norm": optax.tree.norm(grads),
            **{f"reg/{name}": value for name, value in penalties.items()},
        }
        return state, metrics

    def train_step(state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
        real = batch["image"]
        real_labels = batch.get("label") if gan.conditional else None
        if gan.conditional and real_labels is None:
            raise ValueError("a class-conditional GAN needs batch['label']")
        key = jax.random.fold_in(state.key, state.step)
        k_d, k_g, k_gupdate = jax.random.split(key, 3)
        first_d_update = state.step * n_critic

        if single_pass:
            fake, fake_labels, vjp_fn, g_coll = generator_pass(state, k_g, real.shape[0])
            state, d_metrics = d_update(
                state, real, real_labels, lax.stop_gradient(fake), fake_labels, k_d, first_d_update
            )
        else:
            if critic_batches == "split":
                reals = _strided_split(real, n_critic)
                labels = None if real_labels is None else _strided_split(real_labels, n_critic)
            num = real.shape[0] // n_critic if critic_batches == "split" else real.shape[0]

            def critic_step(state, i):
                k_i = jax.random.fold_in(k_d, i)
                k_fake, k_update = jax.random.split(k_i)
                # Fakes for the critic: train-mode G whose collection updates are discarded.
                fake_i, fake_labels_i, _, _ = generator_pass(state, k_fake, num)
                if critic_batches == "split":
                    real_i = reals[i]
                    labels_i = None if labels is None else labels[i]
                else:
                    real_i, labels_i = real, real_labels
                return d_update(
                    state,
                    real_i,
                    labels_i,
                    lax.stop_gradient(fake_i),
                    fake_labels_i,
                    k_update,
                    first_d_update + i,
                )

            state, d_metrics = lax.scan(critic_step, state, jnp.arange(n_critic))
            d_metrics = jax.tree.map(lambda m: jnp.mean(m, axis=0), d_metrics)
            fake, fake_labels, vjp_fn, g_coll = generator_pass(state, k_g, num)

        state, g_metrics = g_update(state, fake, fake_labels, vjp_fn, g_coll, k_gupdate)
        if ema_decay is not None:
            if state.ema_params is None:
                raise ValueError("ema_decay is set but the state has no ema_params (init with ema=True)")
            decay = jnp.where(state.step >= ema_start, ema_decay, 0.0)
            state = state.replace(
                ema_params=optax.incremental_update(state.g_params, state.ema_params, 1.0 - decay)
            )
        state = state.replace(step=state.step + 1)
        return state, cross_replica_mean({**d_metrics, **g_metrics})

    return train_step
