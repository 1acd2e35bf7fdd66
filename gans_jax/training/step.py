"""The one train-step factory every model family uses.

``make_train_step(gan, objective, ...)`` returns a :class:`TrainStep`: a pure, jit-able
``train_step(state, batch) -> (state, metrics)`` doing ``n_critic`` discriminator updates, one
generator update, then the EMA update (Goodfellow et al. 2014, Alg. 1; Arjovsky et al. 2017, Alg. 1),
and ``train_step.init_state(key, sample_shape)``, the state it trains. Compile it with
:mod:`gans_jax.training.sharding` (jit over a mesh) or, when built with ``axis_name``, with ``jax.pmap``:
both compute the same update.

The module reads top to bottom: the :class:`TrainStep` and its factory, then :func:`train_step` (one
step), then the two updates it is made of (:func:`discriminator_update`, :func:`generator_update`); their
gradients and forward passes are in :mod:`gans_jax.training.gradients`. Every update goes one way: draw the
fakes, compute gradients micro-batch by micro-batch (one micro-batch unless ``accumulation_steps`` > 1),
average across replicas, apply the optimiser. The single pass of the PyTorch DCGAN loop (``n_critic``
1, ``reuse_fakes``) is the special case in which the generator's forward pass is recorded once with
``jax.vjp``, the discriminator trains on those fakes and the generator update replays the pass
backwards through the updated discriminator: one generator forward pass per step instead of two.

Randomness: step ``t`` draws every latent, label and dropout mask from ``fold_in(state.key, t)``.
Latents and labels are drawn for the *global* batch and each replica takes its slice, so a pmapped
step draws exactly what the single-device step draws. So are the per-example keys of the
discriminator augmentation (``augment``, :mod:`gans_jax.augment`), which every update folds from its
own key apart from the other draws: with ``augment=None`` the step is what it was without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax import lax

from gans_jax.augment import Augmentation
from gans_jax.auxiliary_losses import AuxiliaryLoss
from gans_jax.losses import Objective
from gans_jax.regularizers import Regularizer
from gans_jax.training.gradients import (
    Fakes,
    augment_keys,
    discriminator_gradients,
    draw_inputs,
    generator_forward,
    generator_gradients,
    pooled_fakes,
)
from gans_jax.training.state import GAN, GANState

Batch = Mapping[str, jax.Array]
Metrics = dict[str, jax.Array]

CRITIC_BATCHES = ("split", "shared")


@dataclasses.dataclass(frozen=True, eq=False)
class TrainStep:
    """``train_step(state, batch) -> (state, metrics)`` and ``init_state(key, sample_shape)``: one GAN
    recipe. Build it with :func:`make_train_step`, whose docstring describes the fields, the batch and the
    metrics."""

    gan: GAN
    objective: Objective
    n_critic: int = 1
    critic_batches: str = "split"
    reuse_fakes: bool = True
    regularizers: tuple[Regularizer, ...] = ()
    auxiliary_losses: tuple[AuxiliaryLoss, ...] = ()
    ema_decay: float | Callable[[jax.Array], jax.Array] | None = None
    ema_start: int = 0
    adversarial_weight: float = 1.0
    adversarial_start: int = 0
    accumulation_steps: int = 1
    compute_dtype: Any = None
    axis_name: str | None = None
    augment: Augmentation | None = None

    def __post_init__(self):
        object.__setattr__(self, "regularizers", tuple(self.regularizers))
        object.__setattr__(self, "auxiliary_losses", tuple(self.auxiliary_losses))
        if self.accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {self.accumulation_steps}")
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {self.n_critic}")
        if self.adversarial_start < 0:
            raise ValueError(f"adversarial_start must be >= 0, got {self.adversarial_start}")
        if self.critic_batches not in CRITIC_BATCHES:
            raise ValueError(f"critic_batches {self.critic_batches!r} not in {CRITIC_BATCHES}")
        if self.ema_decay is not None and not callable(self.ema_decay) and not 0.0 <= self.ema_decay <= 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1] (or be None: no EMA), got {self.ema_decay}")
        for i, r in enumerate(self.regularizers):
            if not isinstance(r, Regularizer):
                raise TypeError(
                    f"regularizers[{i}] is a {type(r).__name__}, not a Regularizer: build it with "
                    "gans_jax.regularizers.regularizer(name_or_function, weight, player=...)"
                )
        for i, a in enumerate(self.auxiliary_losses):
            if not isinstance(a, AuxiliaryLoss):
                raise TypeError(
                    f"auxiliary_losses[{i}] is a {type(a).__name__}, not an AuxiliaryLoss: build it with "
                    "gans_jax.auxiliary_losses.auxiliary_loss(name_or_function, weight)"
                )
        for what, names in (
            ("regularizer", [r.name for r in self.regularizers]),
            ("auxiliary loss", [a.name for a in self.auxiliary_losses]),
        ):
            if len(set(names)) != len(names):
                raise ValueError(f"{what} names must be unique, got {names}")
        if self.augment is not None and not isinstance(self.augment, Augmentation):
            raise TypeError(
                f"augment is a {type(self.augment).__name__}, not an Augmentation: build it with "
                "gans_jax.augment.augmentation('ada' | 'diffaugment', ...)"
            )
        if self.augment is not None and self.gan.translation is not None:
            raise ValueError(
                f"augment ({self.augment.kind}) serves latent GANs: an image-to-image discriminator also "
                "sees the source images, which would need the same transform"
            )
        if self.gan.image_pool_size and not self.single_pass:
            raise ValueError(
                "an image pool (GAN.image_pool_size) needs n_critic == 1, reuse_fakes and "
                "accumulation_steps == 1"
            )

    def regularizers_of(self, player: str) -> list[Regularizer]:
        return [r for r in self.regularizers if r.player == player]

    def auxiliary_losses_of(self, player: str) -> list[AuxiliaryLoss]:
        return [a for a in self.auxiliary_losses if player in a.players]

    @property
    def single_pass(self) -> bool:
        """D trains on the very fakes the generator update backpropagates through."""
        return self.n_critic == 1 and self.reuse_fakes and self.accumulation_steps == 1

    def init_state(self, key: jax.Array, sample_shape: Sequence[int]) -> GANState:
        """The state this step trains: :meth:`GAN.init_state`, plus the EMA generator (a copy of the
        generator's parameters) when ``ema_decay`` is set, the regularisers' state (``init_extra``) and the
        augmentation's (its probability p). Compiled as one program: initialised op by op, the tiny
        StyleGAN2 compiles hundreds of small programs (17.8 s on a 2-core CPU, against 5.2 s)."""
        return jax.jit(self._init_state, static_argnums=1)(key, tuple(sample_shape))

    def _init_state(self, key: jax.Array, sample_shape: tuple[int, ...]) -> GANState:
        state = self.gan.init_state(key, sample_shape)
        extra = {k: jnp.asarray(v, jnp.float32) for r in self.regularizers for k, v in r.init_extra.items()}
        if self.augment is not None:
            extra.update({k: jnp.asarray(v, jnp.float32) for k, v in self.augment.init_extra.items()})
        ema = jax.tree.map(jnp.copy, state.g_params) if self.ema_decay is not None else None
        return state.replace(ema_params=ema, extra={**state.extra, **extra})

    def __call__(self, state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
        return train_step(self, state, batch)


def make_train_step(
    gan: GAN,
    objective: Objective,
    *,
    n_critic: int = 1,
    critic_batches: str = "split",
    reuse_fakes: bool = True,
    regularizers: Sequence[Regularizer] = (),
    auxiliary_losses: Sequence[AuxiliaryLoss] = (),
    ema_decay: float | Callable[[jax.Array], jax.Array] | None = None,
    ema_start: int = 0,
    adversarial_weight: float = 1.0,
    adversarial_start: int = 0,
    accumulation_steps: int = 1,
    compute_dtype: Any = None,
    axis_name: str | None = None,
    augment: Augmentation | None = None,
) -> TrainStep:
    """The pure train step for ``gan`` (the networks, optimisers and latent space,
    :class:`gans_jax.training.state.GAN`) trained with ``objective`` (the pair of adversarial losses,
    :func:`gans_jax.losses.get_objective`). Every argument is checked here, not when the step is traced.

    Use::

        step = make_train_step(gan, get_objective("hinge"), regularizers=[regularizer("r1", gamma=10)],
                               ema_decay=0.999)
        state = step.init_state(jax.random.PRNGKey(0), sample_shape)
        state, metrics = jax.jit(step)(state, batch)

    **The batch** is a dict of arrays with a leading batch axis: ``"image"``, the real samples (any
    shape; images NHWC in [-1, 1]); ``"label"``, int class labels, needed when ``gan.num_classes`` is set;
    ``"condition"``, the source images of an image-to-image GAN (``gan.translation``). Other keys are
    ignored. With ``n_critic > 1`` and ``critic_batches="split"`` it holds ``n_critic`` minibatches.

    **The metrics** (means over the step's updates and replicas): ``d_loss``/``g_loss`` (the adversarial
    losses), ``d_real``/``d_fake`` (mean logits in D's update), ``d_fake_for_g`` (mean logit of the fakes
    in G's update), ``d_grad_norm``/``g_grad_norm``, ``reg/<name>`` (each regulariser's unweighted value,
    0 on skipped lazy updates), ``d_aux_<name>``/``g_aux_<name>`` (each auxiliary term, unweighted),
    when ``adversarial_start`` > 0, ``g_adversarial_weight`` and, with ``augment``, ``augment/rt`` (the mean
    sign of D's logits of the reals) and for ADA ``augment/p`` (the step's probability).

    Args:
      n_critic: discriminator updates per generator update (5 in WGAN and WGAN-GP).
      critic_batches: ``"split"`` gives each discriminator update its own slice of the batch (the
        batch then holds ``n_critic`` minibatches, WGAN Alg. 1); ``"shared"`` reuses the whole batch
        of reals with fresh fakes in every discriminator update.
      reuse_fakes: with ``n_critic == 1``, train D on the fakes the generator update then
        backpropagates through (PyTorch DCGAN order). Otherwise fakes are drawn afresh.
      regularizers: penalties from :func:`gans_jax.regularizers.regularizer`, each with its player, weight
        and interval. D's critic scores real samples under their labels and fakes under the labels they
        were generated with.
      auxiliary_losses: terms from :func:`gans_jax.auxiliary_losses.auxiliary_loss` on the discriminator's
        heads (InfoGAN, AC-GAN, feature matching) or the samples (image-to-image reconstruction), each
        with its weight and players.
      ema_decay: if set, the state keeps an EMA generator ``ema <- decay * ema + (1 - decay) * params``,
        updated after every generator update from step ``ema_start`` on (before it the EMA copies the
        parameters); ``init_state`` creates it. A number, or a schedule ``decay(step)`` (R3GAN's ramped
        half-life: :func:`gans_jax.schedules.ema_decay_schedule`). ``None``: no EMA.
      adversarial_weight: the weight of the generator's adversarial term next to its auxiliary terms
        (SRGAN: 1e-3 next to the content loss, Ledig et al. 2017, Eq. 3).
      adversarial_start: the generator's adversarial weight is 0 before this step (content-only
        pretraining, as SRGAN starts from an MSE-trained SRResNet, Ledig et al. 2017, Sec. 3.2);
        the discriminator trains from step 0 all the same, so it is not a fresh network when the
        adversarial term starts.
      accumulation_steps: split every update's batch into this many micro-batches and average their
        gradients before one optimiser step (BigGAN-PyTorch's ``num_D_accumulations`` /
        ``num_G_accumulations``): the update of one big batch with the memory of one micro-batch.
        Latents are drawn for the whole batch and sliced, so for networks without batch norm the
        update equals the big-batch one; batch norm normalises each micro-batch with its own
        statistics ("ghost" batch norm, as the reference) and its running averages take the mean of
        the micro-batches' updates. Fakes are drawn afresh for the generator update (no single pass).
      compute_dtype: e.g. ``jnp.bfloat16``: mixed precision. Parameters, optimiser states and mutable
        collections stay float32; each forward pass runs on a ``compute_dtype`` copy of the parameters
        and inputs, its outputs are cast back to float32 for the losses, and gradients reach the
        float32 parameters through the casts.
      axis_name: set to the ``jax.pmap`` axis name to average gradients, metrics and batch-norm
        statistics (modules built with the same ``axis_name``) across replicas.
      augment: discriminator augmentation (:func:`gans_jax.augment.augmentation`): every image D sees, real
        and fake, in both players' updates and inside the regularisers' critic, is augmented with a
        differentiable transform drawn per example (Karras et al. 2020; Zhao et al. 2020), so R1 is the
        gradient with respect to the un-augmented image as in StyleGAN2-ADA's ``loss.py``. ADA keeps p in
        ``GANState.extra["augment_p"]`` and, when adaptive, moves it after every step by
        :meth:`~gans_jax.augment.Augmentation.update` from the reals' ``E[sign(D(x))]``.
    """
    return TrainStep(
        gan=gan,
        objective=objective,
        n_critic=n_critic,
        critic_batches=critic_batches,
        reuse_fakes=reuse_fakes,
        regularizers=tuple(regularizers),
        auxiliary_losses=tuple(auxiliary_losses),
        ema_decay=ema_decay,
        ema_start=ema_start,
        adversarial_weight=adversarial_weight,
        adversarial_start=adversarial_start,
        accumulation_steps=accumulation_steps,
        compute_dtype=compute_dtype,
        axis_name=axis_name,
        augment=augment,
    )


# ------------------------------------------------------------------------------------------------ one step


def train_step(spec: TrainStep, state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
    """``n_critic`` discriminator updates, one generator update, the EMA update; the step count + 1."""
    _check_state(spec, state)
    real, real_labels = spec.gan.split_batch(batch)
    key = jax.random.fold_in(state.key, state.step)
    k_d, k_g, k_gupdate = jax.random.split(key, 3)
    first_d_update = state.step * spec.n_critic
    num = _batch_size(real)
    fakes = None
    if spec.single_pass:
        z, labels, k_drop = draw_inputs(spec, key=k_g, num=num, condition=real_labels)
        fakes = generator_forward(spec, state, z=z, labels=labels, key=k_drop)
        state, shown = pooled_fakes(
            spec, state, lax.stop_gradient(fakes.samples), key=jax.random.fold_in(k_d, 1)
        )
        state, d_metrics = discriminator_update(
            spec, state, real=real, real_labels=real_labels, key=k_d, update_index=first_d_update,
            fakes=fakes._replace(samples=shown),
        )  # fmt: skip
    else:
        if spec.critic_batches == "split":  # each critic update on its own slice of the batch
            num //= spec.n_critic
            slices = _strided_split((real, real_labels), spec.n_critic)
            critic_batch = lambda i: jax.tree.map(lambda x: x[i], slices)
        else:
            critic_batch = lambda i: (real, real_labels)

        def critic_step(state, i):
            real_i, labels_i = critic_batch(i)
            return discriminator_update(
                spec, state, real=real_i, real_labels=labels_i, key=jax.random.fold_in(k_d, i),
                update_index=first_d_update + i,
            )  # fmt: skip

        state, d_metrics = lax.scan(critic_step, state, jnp.arange(spec.n_critic))
        d_metrics = jax.tree.map(lambda m: jnp.mean(m, axis=0), d_metrics)
    state, g_metrics = generator_update(
        spec, state, real=real, real_labels=real_labels, draw_key=k_g, key=k_gupdate, num=num, fakes=fakes
    )
    step = state.step
    state = ema_update(spec, state).replace(step=step + 1)
    metrics = _cross_replica_mean(spec, {**d_metrics, **g_metrics})
    if spec.augment is not None:  # the adaptive p moves after the step, from every replica's reals
        images = _batch_size(real) * (1 if spec.axis_name is None else lax.axis_size(spec.axis_name))
        updates, augment_metrics = spec.augment.update(state.extra, metrics.pop("augment/rt"), step, images)
        state = state.replace(extra={**state.extra, **updates})
        metrics.update(augment_metrics)
    return state, metrics


def _check_state(spec: TrainStep, state: GANState) -> None:
    """Refuse (when traced) a state that lacks what this step keeps."""
    how = "make the state with train_step.init_state(key, sample_shape)"
    if spec.ema_decay is not None and state.ema_params is None:
        raise ValueError(
            f"this step keeps an EMA generator (ema_decay={spec.ema_decay}) but the state has none: {how}"
        )
    missing = sorted({k for r in spec.regularizers for k in r.init_extra} - set(state.extra))
    if missing:
        raise ValueError(f"the regularisers keep state.extra entries {missing} that the state lacks: {how}")
    missing = sorted(set(spec.augment.init_extra if spec.augment else ()) - set(state.extra))
    if missing:
        raise ValueError(f"the augmentation keeps state.extra entries {missing} that the state lacks: {how}")


def ema_update(spec: TrainStep, state: GANState) -> GANState:
    """``ema <- decay * ema + (1 - decay) * params`` from step ``ema_start`` on (Karras et al. 2018;
    Yazici et al. 2019); before it the EMA copies the parameters."""
    if spec.ema_decay is None:
        return state
    decay = spec.ema_decay(state.step) if callable(spec.ema_decay) else spec.ema_decay
    decay = jnp.where(state.step >= spec.ema_start, decay, 0.0)
    return state.replace(ema_params=optax.incremental_update(state.g_params, state.ema_params, 1.0 - decay))


# ------------------------------------------------------------------------------------------------ updates


def discriminator_update(
    spec: TrainStep, state: GANState, *, real, real_labels, key, update_index, fakes: Fakes | None = None
) -> tuple[GANState, Metrics]:
    """One discriminator update on ``real``: against ``fakes`` when given (the single pass), else against
    fakes drawn afresh for it (train-mode G, its collection updates discarded), accumulated over
    micro-batches."""
    aug_keys = augment_keys(spec, key, _batch_size(real))
    if fakes is not None:
        grads, collections, metrics = discriminator_gradients(
            spec, state, real=real, real_labels=real_labels, fakes=fakes, key=key, update_index=update_index,
            augment_keys=aug_keys,
        )  # fmt: skip
    else:
        k_fake, k_update = jax.random.split(key)
        z, labels, k_drop = draw_inputs(spec, key=k_fake, num=_batch_size(real), condition=real_labels)

        def micro_gradients(inputs, k):
            real_j, real_labels_j, z_j, labels_j, aug_keys_j = inputs
            k_gen, k_d = jax.random.split(k) if spec.accumulation_steps > 1 else (k_drop, k_update)
            fake = generator_forward(spec, state, z=z_j, labels=labels_j, key=k_gen).samples
            return discriminator_gradients(
                spec, state, real=real_j, real_labels=real_labels_j,
                fakes=Fakes(lax.stop_gradient(fake), labels_j, z_j), key=k_d, update_index=update_index,
                augment_keys=aug_keys_j,
            )  # fmt: skip

        inputs = tuple(_micro_batches(spec, x) for x in (real, real_labels, z, labels, aug_keys))
        grads, collections, metrics = accumulate(spec, micro_gradients, inputs, key=k_update)
    grads = _cross_replica_mean(spec, grads)
    params, opt_state = _optimizer_step(spec.gan.d_optimizer, grads, state.d_opt_state, state.d_params)
    state = state.replace(d_params=params, d_collections=collections, d_opt_state=opt_state)
    return state, {**metrics, "d_grad_norm": optax.tree.norm(grads)}


def generator_update(
    spec: TrainStep, state: GANState, *, real, real_labels, draw_key, key, num, fakes: Fakes | None = None
) -> tuple[GANState, Metrics]:
    """One generator update through the (updated) discriminator: on ``fakes`` when given (the single pass:
    their recorded VJP), else on ``num`` fakes drawn from ``draw_key``, accumulated over micro-batches."""
    aug_keys = augment_keys(spec, key, num)
    real_aug_keys = augment_keys(spec, jax.random.fold_in(key, 1), _batch_size(real))
    if fakes is not None:
        grads, metrics, updates = generator_gradients(
            spec, state, fakes=fakes, real=real, real_labels=real_labels, key=key, augment_keys=aug_keys,
            real_augment_keys=real_aug_keys,
        )  # fmt: skip
        collections = fakes.collections
    else:
        z, labels, k_drop = draw_inputs(spec, key=draw_key, num=num, condition=real_labels)

        def micro_gradients(inputs, k):
            z_j, labels_j, real_j, real_labels_j, aug_keys_j, real_aug_keys_j = inputs
            k_gen, k_g = jax.random.split(k) if spec.accumulation_steps > 1 else (k_drop, key)
            micro_fakes = generator_forward(spec, state, z=z_j, labels=labels_j, key=k_gen)
            grads, metrics, updates = generator_gradients(
                spec, state, fakes=micro_fakes, real=real_j, real_labels=real_labels_j, key=k_g,
                augment_keys=aug_keys_j, real_augment_keys=real_aug_keys_j,
            )  # fmt: skip
            return grads, (micro_fakes.collections, updates), metrics

        batches = (z, labels, real, real_labels, aug_keys, real_aug_keys)
        inputs = tuple(_micro_batches(spec, x) for x in batches)
        grads, (collections, updates), metrics = accumulate(spec, micro_gradients, inputs, key=key)
    grads = _cross_replica_mean(spec, grads)
    params, opt_state = _optimizer_step(spec.gan.g_optimizer, grads, state.g_opt_state, state.g_params)
    state = state.replace(g_params=params, g_collections=collections, g_opt_state=opt_state)
    if updates:  # regulariser state (pl_mean), averaged across replicas
        state = state.replace(extra={**state.extra, **_cross_replica_mean(spec, updates)})
    return state, {**metrics, "g_grad_norm": optax.tree.norm(grads)}


def accumulate(spec: TrainStep, grad_fn, micro_inputs, *, key):
    """``grad_fn(inputs, key) -> (grads, collections, metrics)`` averaged over micro-batches (the
    leading axis of ``micro_inputs``, split from the update's batch), one micro-batch at a time."""
    if spec.accumulation_steps == 1:
        return grad_fn(jax.tree.map(lambda x: x[0], micro_inputs), key)

    def body(total, j):
        inputs = jax.tree.map(lambda x: x[j], micro_inputs)
        grads, collections, metrics = grad_fn(inputs, jax.random.fold_in(key, j))
        return jax.tree.map(jnp.add, total, grads), (collections, metrics)

    zeros = jax.eval_shape(lambda: grad_fn(jax.tree.map(lambda x: x[0], micro_inputs), key)[0])
    zeros = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), zeros)
    total, (collections, metrics) = lax.scan(body, zeros, jnp.arange(spec.accumulation_steps))
    mean = lambda tree: jax.tree.map(
        lambda a: jnp.mean(a, axis=0).astype(a.dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a[-1],
        tree,
    )
    return jax.tree.map(lambda g: g / spec.accumulation_steps, total), mean(collections), mean(metrics)


# ------------------------------------------------------------------------------------------------ helpers


def _cross_replica_mean(spec: TrainStep, tree):
    return tree if spec.axis_name is None else lax.pmean(tree, spec.axis_name)


def _micro_batches(spec: TrainStep, x):
    """``(B, ...) -> (accumulation_steps, B / accumulation_steps, ...)`` (``None`` stays ``None``)."""
    return _strided_split(x, spec.accumulation_steps, "accumulation_steps")


def _batch_size(tree) -> int:
    """The leading dimension of a batch: an array or a dict of arrays (CycleGAN's two domains)."""
    return jax.tree.leaves(tree)[0].shape[0]


def _strided_split(tree, n: int, what: str = "n_critic"):
    """``(B, ...) -> (n, B // n, ...)`` for every array of ``tree`` (``None`` stays ``None``), slice ``i`` =
    rows ``i, i + n, ...``: the same rows whether the batch is split globally (jit) or per replica (pmap)."""

    def split(x):
        if x.shape[0] % n:
            raise ValueError(f"batch of {x.shape[0]} does not split into {what}={n} equal parts")
        return jnp.swapaxes(x.reshape(x.shape[0] // n, n, *x.shape[1:]), 0, 1)

    return jax.tree.map(split, tree)


def _optimizer_step(tx: optax.GradientTransformation, grads, opt_state, params):
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state
