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

A discriminator returns either ``(B,)`` logits or a dict with ``"logits"`` and extra heads
(``"class_logits"`` of AC-GAN, InfoGAN's ``"code_logits"``/``"code_mean"``/``"code_log_std"``,
``"features"`` for feature matching). :class:`AuxiliaryLoss` terms (see :func:`auxiliary_loss`) turn
those heads, the labels and the latents that made the fakes into extra loss terms for either player.
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

from gans_jax import auxiliary_losses as aux
from gans_jax import regularizers as regs
from gans_jax.latent_codes import LatentCodes
from gans_jax.losses import Objective
from gans_jax.training.image_pool import query_image_pool
from gans_jax.training.state import GAN, GANState

Batch = Mapping[str, jax.Array]
Metrics = dict[str, jax.Array]

PLAYERS = ("discriminator", "generator")
CRITIC_BATCHES = ("split", "shared")


class RegularizerInputs(NamedTuple):
    """What a regulariser may look at: the regularised player's parameters, the critic as a function of
    samples (labels bound), the real and fake batch of this update, and a PRNG key. Generator
    regularisers also get ``generator(params, *args, method=None)`` (the train-mode generator, its
    collection updates discarded; ``method`` names a module method such as StyleGAN2's ``"mapping"``),
    the ``latents`` and ``labels`` that made ``fake``, and the state's ``extra`` (regulariser state)."""

    params: Any
    critic: Callable[[jax.Array], jax.Array] | None
    real: jax.Array | None
    fake: jax.Array | None
    key: jax.Array
    generator: Callable[..., Any] | None = None
    latents: jax.Array | None = None
    labels: jax.Array | None = None
    extra: Mapping[str, Any] = {}


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """A penalty ``weight * fn(inputs)`` added to one player's loss.

    Lazy regularisation (Karras et al. 2020, App. B): with ``every = k > 1`` the penalty is evaluated
    only on that player's updates whose index is a multiple of ``k``, with weight ``k * weight`` so
    that its average strength is unchanged.

    ``init_extra`` (generator regularisers only) makes it stateful: ``fn`` returns ``(value, updates)``,
    ``updates`` new values of the ``GANState.extra`` entries named in ``init_extra`` (their initial
    values, e.g. StyleGAN2's ``pl_mean``), kept unchanged on skipped updates.
    """

    name: str
    fn: Callable[[RegularizerInputs], Any]
    weight: float
    player: str = "discriminator"
    every: int = 1
    init_extra: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.player not in PLAYERS:
            raise ValueError(f"regularizer {self.name!r}: player {self.player!r} not in {PLAYERS}")
        if self.every < 1:
            raise ValueError(f"regularizer {self.name!r}: every must be >= 1, got {self.every}")
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
        return self.weight * self.every


_REGULARIZERS: dict[str, tuple[str, Callable[..., jax.Array]]] = {
    "gradient_penalty": (
        "discriminator",
        lambda r, **kw: regs.gradient_penalty(r.critic, r.real, r.fake, r.key, **kw),
    ),
    "r1": ("discriminator", lambda r: regs.r1_penalty(r.critic, r.real)),
    "r2": ("discriminator", lambda r: regs.r2_penalty(r.critic, r.fake)),
    "drift": ("discriminator", lambda r: regs.drift_penalty(r.critic, r.real)),
    "orthogonal": ("generator", lambda r, **kw: regs.orthogonal_regularization(r.params, **kw)),
}


def _path_length(r: RegularizerInputs, *, decay: float = 0.01, batch_shrink: int = 2):
    """StyleGAN2's path-length penalty on ``latents[: B // batch_shrink]``: ``w = G.mapping(z)`` (with
    style mixing in train mode), the penalty on ``G.synthesis`` at ``w``, ``pl_mean`` updated."""
    if r.generator is None or r.latents is None:
        raise ValueError("path_length needs the generator and its latents (a generator regulariser)")
    num = max(r.latents.shape[0] // batch_shrink, 1)
    labels = None if r.labels is None else r.labels[:num]
    ws = r.generator(r.params, r.latents[:num], labels, method="mapping")
    value, pl_mean = regs.path_length_penalty(
        lambda w: r.generator(r.params, w, method="synthesis"), ws, r.key, r.extra["pl_mean"], decay=decay
    )
    return value, {"pl_mean": pl_mean}


_STATEFUL = {"path_length": {"pl_mean": 0.0}}
_REGULARIZERS["path_length"] = ("generator", _path_length)


def regularizer(
    name: str, weight: float, *, every: int = 1, player: str | None = None, **kwargs
) -> Regularizer:
    """Build a named regulariser for configs: ``gradient_penalty`` (lambda = 10 in WGAN-GP),
    ``r1``/``r2`` (weight = gamma / 2), ``drift`` (eps_drift = 0.001 in Progressive GAN),
    ``orthogonal`` (beta = 1e-4 in BigGAN; either player),
    ``path_length`` (StyleGAN2: weight 2, every 4, ``decay`` 0.01, ``batch_shrink`` 2; keeps ``pl_mean``
    in ``GANState.extra``; the generator needs ``mapping`` and ``synthesis`` methods)."""
    if name not in _REGULARIZERS:
        raise ValueError(f"unknown regularizer {name!r}; expected one of {sorted(_REGULARIZERS)}")
    default_player, fn = _REGULARIZERS[name]
    return Regularizer(
        name,
        functools.partial(fn, **kwargs),
        weight,
        player or default_player,
        every,
        dict(_STATEFUL.get(name, {})),
    )


class AuxiliaryInputs(NamedTuple):
    """What an auxiliary loss may look at: the discriminator's outputs (dicts with ``"logits"`` and its
    heads) on the real batch (``None`` in the generator update unless the loss ``uses_real``) and on the
    fakes, both batches' labels or conditions (``None`` when unconditional), the latents ``z`` that made
    the fakes, the GAN's InfoGAN :class:`LatentCodes` (or ``None``), the player being updated, and the
    samples themselves: the generator's output (differentiable in the generator update) and the real
    batch (image-to-image reconstruction terms)."""

    real: Mapping[str, jax.Array] | None
    fake: Mapping[str, jax.Array]
    real_labels: jax.Array | None
    fake_labels: jax.Array | None
    z: jax.Array
    codes: LatentCodes | None
    player: str
    fake_samples: Any = None
    real_samples: Any = None


@dataclasses.dataclass(frozen=True)
class AuxiliaryLoss:
    """A term ``weight * fn(inputs)`` added to the loss of each player in ``players``.

    ``uses_real``: the generator update also runs D on the real batch (feature matching).
    ``replace_adversarial``: the generator minimises this term *instead of* its adversarial loss
    (Salimans et al. 2016, Sec. 3.1); the adversarial value is still reported as ``g_loss``.
    """

    name: str
    fn: Callable[[AuxiliaryInputs], jax.Array]
    weight: float
    players: tuple[str, ...] = PLAYERS
    uses_real: bool = False
    replace_adversarial: bool = False

    def __post_init__(self):
        object.__setattr__(self, "players", tuple(self.players))
        bad = [p for p in self.players if p not in PLAYERS]
        if bad or not self.players:
            raise ValueError(f"auxiliary loss {self.name!r}: players {self.players} must be among {PLAYERS}")
        if self.replace_adversarial and "generator" not in self.players:
            raise ValueError(f"auxiliary loss {self.name!r}: replace_adversarial needs the generator player")


def _head(outputs: Mapping[str, jax.Array] | None, key: str, loss: str) -> jax.Array:
    if outputs is None or key not in outputs:
        have = None if outputs is None else sorted(outputs)
        raise ValueError(
            f"auxiliary loss {loss!r} needs the discriminator output {key!r}; it returned {have}"
        )
    return outputs[key]


def _codes(a: AuxiliaryInputs, loss: str) -> LatentCodes:
    if not a.codes:
        raise ValueError(
            f"auxiliary loss {loss!r} needs InfoGAN latent codes (GAN.latent_codes), got {a.codes}"
        )
    return a.codes


def _mutual_information_categorical(a: AuxiliaryInputs) -> jax.Array:
    name = "mutual_information_categorical"
    _, onehots, _ = _codes(a, name).split(a.z)
    return -aux.categorical_mutual_information(_head(a.fake, "code_logits", name), onehots)


def _mutual_information_continuous(a: AuxiliaryInputs, *, std: float = 0.0) -> jax.Array:
    name = "mutual_information_continuous"
    _, _, continuous = _codes(a, name).split(a.z)
    mean = _head(a.fake, "code_mean", name)
    log_std = jnp.log(std) if std > 0 else _head(a.fake, "code_log_std", name)
    return -aux.gaussian_mutual_information(mean, log_std, continuous)


def _auxiliary_classifier(a: AuxiliaryInputs) -> jax.Array:
    name = "auxiliary_classifier"
    if a.fake_labels is None:
        raise ValueError(f"auxiliary loss {name!r} needs a class-conditional GAN (num_classes set)")
    loss = aux.auxiliary_classifier_loss(_head(a.fake, "class_logits", name), a.fake_labels)
    if a.player == "discriminator":  # the real term is constant for G
        loss = loss + aux.auxiliary_classifier_loss(_head(a.real, "class_logits", name), a.real_labels)
    return loss


def _feature_matching(a: AuxiliaryInputs) -> jax.Array:
    name = "feature_matching"
    real = lax.stop_gradient(_head(a.real, "features", name))
    return aux.feature_matching_loss(real, _head(a.fake, "features", name))


def _samples(a: AuxiliaryInputs, loss: str):
    if a.fake_samples is None or a.real_samples is None:
        raise ValueError(f"auxiliary loss {loss!r} needs the generator's output and the real samples")
    return a.fake_samples, a.real_samples


def _entry(samples, key: str, loss: str) -> jax.Array:
    if not isinstance(samples, Mapping) or key not in samples:
        have = sorted(samples) if isinstance(samples, Mapping) else type(samples).__name__
        raise ValueError(f"auxiliary loss {loss!r} needs the generator output {key!r}; it returned {have}")
    return samples[key]


def _l1_reconstruction(a: AuxiliaryInputs) -> jax.Array:
    fake, real = _samples(a, "l1_reconstruction")
    return aux.l1_loss(fake, real)


def _cycle_consistency(a: AuxiliaryInputs) -> jax.Array:
    name = "cycle_consistency"
    fake, real = _samples(a, name)
    return sum(aux.l1_loss(_entry(fake, f"rec_{d}", name), _entry(real, d, name)) for d in ("x", "y"))


def _identity(a: AuxiliaryInputs) -> jax.Array:
    name = "identity"
    fake, real = _samples(a, name)
    return sum(aux.l1_loss(_entry(fake, f"idt_{d}", name), _entry(real, d, name)) for d in ("x", "y"))


def _content(a: AuxiliaryInputs, *, features: Callable[[jax.Array], jax.Array] | None = None) -> jax.Array:
    fake, real = _samples(a, "content")
    if features is None:
        return aux.l2_loss(fake, real)
    return aux.l2_loss(features(fake), lax.stop_gradient(features(real)))


# name -> (default players, uses_real, fn)
_AUXILIARY_LOSSES: dict[str, tuple[tuple[str, ...], bool, Callable[..., jax.Array]]] = {
    "mutual_information_categorical": (PLAYERS, False, _mutual_information_categorical),
    "mutual_information_continuous": (PLAYERS, False, _mutual_information_continuous),
    "auxiliary_classifier": (PLAYERS, False, _auxiliary_classifier),
    "feature_matching": (("generator",), True, _feature_matching),
    "l1_reconstruction": (("generator",), False, _l1_reconstruction),
    "cycle_consistency": (("generator",), False, _cycle_consistency),
    "identity": (("generator",), False, _identity),
    "content": (("generator",), False, _content),
}


def auxiliary_loss(
    name: str,
    weight: float,
    *,
    players: Sequence[str] | None = None,
    replace_adversarial: bool = False,
    **kwargs,
) -> AuxiliaryLoss:
    """Build a named auxiliary loss for configs (each player *minimises* it):

    - ``mutual_information_categorical``: ``-L_I`` of InfoGAN's categorical codes (Chen et al. 2016,
      Eq. 5-6; lambda = 1), both players; needs the ``"code_logits"`` head.
    - ``mutual_information_continuous``: ``-L_I`` of the Unif(-1, 1) codes with a Gaussian Q
      (``"code_mean"`` and ``"code_log_std"``, or a fixed ``std=...``), both players.
    - ``auxiliary_classifier``: AC-GAN's ``-L_C`` (Odena et al. 2017, Eq. 2-3) on the ``"class_logits"``
      head: real + fake cross-entropy for D, fake for G.
    - ``feature_matching``: ``||E f(x) - E f(G(z))||^2`` on the ``"features"`` output (Salimans et al.
      2016, Sec. 3.1), generator only; ``replace_adversarial=True`` as in the paper.
    - ``l1_reconstruction``: pix2pix's ``E ||y - G(x)||_1`` (Isola et al. 2017, Eq. 3; lambda = 100).
    - ``cycle_consistency``: CycleGAN's ``E ||F(G(x)) - x||_1 + E ||G(F(y)) - y||_1`` (Zhu et al. 2017,
      Eq. 2; lambda = 10) on the generator outputs ``"rec_x"``/``"rec_y"``.
    - ``identity``: ``E ||F(x) - x||_1 + E ||G(y) - y||_1`` (Zhu et al. 2017, Sec. 5.2; 0.5 lambda) on
      ``"idt_x"``/``"idt_y"``.
    - ``content``: SRGAN's content loss ``E ||phi(y) - phi(G(x))||^2`` (Ledig et al. 2017, Eq. 5-6) for a
      feature extractor ``features=phi``, pixel MSE without one.
    """
    if name not in _AUXILIARY_LOSSES:
        raise ValueError(f"unknown auxiliary loss {name!r}; expected one of {sorted(_AUXILIARY_LOSSES)}")
    default_players, uses_real, fn = _AUXILIARY_LOSSES[name]
    return AuxiliaryLoss(
        name,
        functools.partial(fn, **kwargs),
        weight,
        tuple(players or default_players),
        uses_real,
        replace_adversarial,
    )


def _as_outputs(out) -> dict[str, jax.Array]:
    """A discriminator's output as a dict with ``"logits"`` (a bare array is the logits)."""
    if isinstance(out, Mapping):
        if "logits" not in out:
            raise ValueError(
                f"a discriminator returning a dict must include 'logits'; got keys {sorted(out)}"
            )
        return dict(out)
    return {"logits": out}


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


def make_train_step(
    gan: GAN,
    objective: Objective,
    *,
    n_critic: int = 1,
    critic_batches: str = "split",
    reuse_fakes: bool = True,
    regularizers: Sequence[Regularizer] = (),
    auxiliary_losses: Sequence[AuxiliaryLoss] = (),
    ema_decay: float | None = None,
    ema_start: int = 0,
    adversarial_weight: float = 1.0,
    adversarial_start: int = 0,
    accumulation_steps: int = 1,
    compute_dtype: Any = None,
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
      auxiliary_losses: terms from :func:`auxiliary_loss` on the discriminator's heads (InfoGAN,
        AC-GAN, feature matching), each with its weight and players; reported as ``d_aux_<name>`` and
        ``g_aux_<name>`` (unweighted).
      adversarial_weight: the weight of the generator's adversarial term next to its auxiliary terms
        (SRGAN: 1e-3 next to the content loss, Ledig et al. 2017, Eq. 3).
      adversarial_start: the generator's adversarial weight is 0 before this step (content-only
        pretraining, as SRGAN starts from an MSE-trained SRResNet, Ledig et al. 2017, Sec. 3.2);
        the discriminator trains from step 0 all the same, so it is not a fresh network when the
        adversarial term starts. When > 0 the metrics report the weight in use as
        ``g_adversarial_weight``.
      ema_decay: if set, ``ema <- decay * ema + (1 - decay) * params`` after every generator update
        from step ``ema_start`` on (before it the EMA copies the parameters). ``state.ema_params``
        must exist (``gan.init_state(..., ema=True)``).
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
    """
    if accumulation_steps < 1:
        raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}")
    if n_critic < 1:
        raise ValueError(f"n_critic must be >= 1, got {n_critic}")
    if adversarial_start < 0:
        raise ValueError(f"adversarial_start must be >= 0, got {adversarial_start}")
    if critic_batches not in CRITIC_BATCHES:
        raise ValueError(f"critic_batches {critic_batches!r} not in {CRITIC_BATCHES}")
    generator, discriminator = gan.generator, gan.discriminator
    d_regs = [r for r in regularizers if r.player == "discriminator"]
    g_regs = [r for r in regularizers if r.player == "generator"]
    names = [r.name for r in regularizers]
    if len(set(names)) != len(names):
        raise ValueError(f"regularizer names must be unique, got {names}")
    d_aux = [a for a in auxiliary_losses if "discriminator" in a.players]
    g_aux = [a for a in auxiliary_losses if "generator" in a.players]
    aux_names = [a.name for a in auxiliary_losses]
    if len(set(aux_names)) != len(aux_names):
        raise ValueError(f"auxiliary loss names must be unique, got {aux_names}")
    g_replaces_adversarial = any(a.replace_adversarial for a in g_aux)
    g_needs_real = any(a.uses_real for a in g_aux)
    codes = getattr(gan, "latent_codes", None)
    single_pass = n_critic == 1 and reuse_fakes and accumulation_steps == 1
    if gan.image_pool_size and not single_pass:
        raise ValueError(
            "an image pool (GAN.image_pool_size) needs n_critic == 1, reuse_fakes and accumulation_steps == 1"
        )

    def g_adversarial_weight(step):
        """``adversarial_weight``, or 0 before ``adversarial_start`` (content-only pretraining)."""
        if not adversarial_start:
            return adversarial_weight
        return jnp.where(step >= adversarial_start, adversarial_weight, 0.0).astype(jnp.float32)

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

    def cast(tree, dtype):
        return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)

    def rngs(key):
        """PRNG streams of a train-mode pass: ``dropout``, and ``noise``/``mixing`` (StyleGAN's noise
        inputs and style mixing) folded in from the same key."""
        key = replica_key(key)
        return {"dropout": key, "noise": jax.random.fold_in(key, 1), "mixing": jax.random.fold_in(key, 2)}

    def generator_call(collections, key):
        """``fn(params, *args, method=None)``: G's train-mode pass (any method), updates discarded."""

        def fn(params, *args, method=None):
            if compute_dtype is not None:
                params, args = cast(params, compute_dtype), cast(args, compute_dtype)
            out, _ = generator.apply(
                {"params": params, **collections},
                *args,
                train=True,
                mutable=list(collections),
                rngs=rngs(key),
                method=method,
            )
            return out if compute_dtype is None else cast(out, jnp.float32)

        return fn

    def apply(module, params, collections, x, labels, key):
        """Train-mode forward pass: (output, updated mutable collections)."""
        if compute_dtype is not None:
            params, x = cast(params, compute_dtype), cast(x, compute_dtype)
        out, updated = module.apply(
            {"params": params, **collections},
            x,
            labels,
            train=True,
            mutable=list(collections),
            rngs=rngs(key),
        )
        if compute_dtype is not None:
            out = cast(out, jnp.float32)
            updated = jax.tree.map(lambda new, old: new.astype(old.dtype), dict(updated), dict(collections))
        return out, updated

    def accumulate(grad_fn, micro_inputs, key):
        """``grad_fn(inputs, key) -> (grads, collections, metrics)`` averaged over micro-batches (the
        leading axis of ``micro_inputs``, split from the update's batch), one micro-batch at a time."""
        if accumulation_steps == 1:
            return grad_fn(jax.tree.map(lambda x: x[0], micro_inputs), key)

        def body(total, j):
            inputs = jax.tree.map(lambda x: x[j], micro_inputs)
            grads, coll, metrics = grad_fn(inputs, jax.random.fold_in(key, j))
            return jax.tree.map(jnp.add, total, grads), (coll, metrics)

        zeros = jax.eval_shape(lambda: grad_fn(jax.tree.map(lambda x: x[0], micro_inputs), key)[0])
        zeros = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), zeros)
        total, (colls, metrics) = lax.scan(body, zeros, jnp.arange(accumulation_steps))
        mean = lambda tree: jax.tree.map(
            lambda a: jnp.mean(a, axis=0).astype(a.dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a[-1],
            tree,
        )
        return jax.tree.map(lambda g: g / accumulation_steps, total), mean(colls), mean(metrics)

    def micro(x):
        """``(B, ...) -> (accumulation_steps, B / accumulation_steps, ...)`` (``None`` stays ``None``)."""
        return _strided_split(x, accumulation_steps, "accumulation_steps")

    def d_gradients(state: GANState, real, real_labels, fake, fake_labels, z, key, update_index):
        """The discriminator's gradients on one (micro-)batch: (grads, collections, metrics)."""
        k_real, k_fake, k_reg = jax.random.split(key, 3)

        def loss_fn(d_params):
            real_out, coll = apply(discriminator, d_params, state.d_collections, real, real_labels, k_real)
            fake_out, coll = apply(discriminator, d_params, coll, fake, fake_labels, k_fake)
            real_out, fake_out = _as_outputs(real_out), _as_outputs(fake_out)
            real_logits, fake_logits = real_out["logits"], fake_out["logits"]
            adversarial = objective.discriminator_loss(real_logits, fake_logits)

            def critic(x):
                out = apply(discriminator, d_params, state.d_collections, x, real_labels, k_reg)[0]
                return _as_outputs(out)["logits"]

            inputs = RegularizerInputs(d_params, critic, real, fake, replica_key(k_reg))
            penalties = {r.name: r.penalty(inputs, update_index) for r in d_regs}
            total = adversarial + sum(r.effective_weight * penalties[r.name] for r in d_regs)
            aux_inputs = AuxiliaryInputs(
                real_out, fake_out, real_labels, fake_labels, z, codes, "discriminator", fake, real
            )
            terms = {a.name: a.fn(aux_inputs) for a in d_aux}
            total = total + sum(a.weight * terms[a.name] for a in d_aux)
            aux = (coll, adversarial, penalties, terms, real_logits, fake_logits)
            return total, aux

        grads, (coll, adversarial, penalties, terms, real_logits, fake_logits) = jax.grad(
            loss_fn, has_aux=True
        )(state.d_params)
        metrics = {
            "d_loss": adversarial,
            "d_real": jnp.mean(real_logits),
            "d_fake": jnp.mean(fake_logits),
            **{f"reg/{name}": value for name, value in penalties.items()},
            **{f"d_aux_{name}": value for name, value in terms.items()},
        }
        return grads, coll, metrics

    def d_apply(state: GANState, grads, coll, metrics):
        grads = cross_replica_mean(grads)
        params, opt_state = _optimizer_step(gan.d_optimizer, grads, state.d_opt_state, state.d_params)
        state = state.replace(d_params=params, d_collections=coll, d_opt_state=opt_state)
        return state, {**metrics, "d_grad_norm": optax.tree.norm(grads)}

    def pooled_fakes(state: GANState, fake, key):
        """The fakes the discriminator sees: from the history of generated images when the GAN keeps
        one (per domain: the real samples' structure), else ``fake`` itself."""
        if not gan.image_pool_size:
            return state, fake
        pools = state.extra["image_pool"]
        fresh = {k: fake[k] for k in pools} if isinstance(fake, Mapping) and "images" not in pools else fake
        leaves, treedef = jax.tree.flatten(fresh)
        pool_leaves = treedef.flatten_up_to(pools)
        queried = [
            query_image_pool(pool, images, jax.random.fold_in(key, i))
            for i, (pool, images) in enumerate(zip(pool_leaves, leaves, strict=True))
        ]
        shown = treedef.unflatten([images for images, _ in queried])
        new_pools = treedef.unflatten([pool for _, pool in queried])
        state = state.replace(extra={**state.extra, "image_pool": new_pools})
        return state, ({**fake, **shown} if isinstance(fake, Mapping) else shown)

    def d_update(state: GANState, real, real_labels, fake, fake_labels, z, key, update_index):
        return d_apply(state, *d_gradients(state, real, real_labels, fake, fake_labels, z, key, update_index))

    def d_update_drawing_fakes(state: GANState, real, real_labels, key, update_index):
        """One discriminator update on ``real`` against fresh fakes (train-mode G, its collection
        updates discarded), accumulated over micro-batches."""
        k_fake, k_update = jax.random.split(key)
        z, labels, k_drop = draw_latents(state, k_fake, _batch_size(real), real_labels)

        def grad_fn(inputs, k):
            real_j, real_labels_j, z_j, labels_j = inputs
            k_gen, k_d = jax.random.split(k) if accumulation_steps > 1 else (k_drop, k_update)
            fake, _, _ = generator_forward(state, z_j, labels_j, k_gen)
            return d_gradients(
                state, real_j, real_labels_j, lax.stop_gradient(fake), labels_j, z_j, k_d, update_index
            )

        inputs = (micro(real), micro(real_labels), micro(z), micro(labels))
        return d_apply(state, *accumulate(grad_fn, inputs, k_update))

    def draw_latents(state: GANState, key, num, condition=None):
        """This step's latents and labels for ``num`` fakes, and the generator's dropout key. A translation
        GAN has no latents and translates ``condition`` (the real batch's sources)."""
        del state
        k_z, k_y, k_drop = jax.random.split(key, 3)
        if gan.translation is not None:
            return None, condition, k_drop
        return draw(gan.sample_latents, k_z, num), draw(gan.sample_labels, k_y, num), k_drop

    def generator_forward(state: GANState, z, labels, k_drop):
        """G in train mode: (fakes, VJP for the generator update, updated collections)."""
        return jax.vjp(
            lambda p: apply(generator, p, state.g_collections, z, labels, k_drop),
            state.g_params,
            has_aux=True,
        )

    def generator_pass(state: GANState, key, num, condition):
        """Draw latents/labels, run G in train mode, keep its VJP for the generator update."""
        z, labels, k_drop = draw_latents(state, key, num, condition)
        fake, vjp_fn, coll = generator_forward(state, z, labels, k_drop)
        return fake, labels, z, vjp_fn, coll

    def g_gradients(state: GANState, fake, labels, z, real, real_labels, vjp_fn, key):
        """The generator's gradients on one (micro-)batch of fakes: (grads, metrics)."""
        k_d, k_reg = jax.random.split(key)
        real_out = None
        if g_needs_real:
            # D (updated) on the real batch, train mode, its collection updates discarded.
            out, _ = apply(
                discriminator,
                state.d_params,
                state.d_collections,
                real,
                real_labels,
                jax.random.fold_in(k_d, 1),
            )
            real_out = lax.stop_gradient(_as_outputs(out))

        weight = g_adversarial_weight(state.step)

        def adversarial_fn(x):
            out, _ = apply(discriminator, state.d_params, state.d_collections, x, labels, k_d)
            out = _as_outputs(out)
            adversarial = objective.generator_loss(out["logits"])
            if not g_aux:
                return weight * adversarial, (adversarial, out["logits"], {})
            aux_inputs = AuxiliaryInputs(real_out, out, real_labels, labels, z, codes, "generator", x, real)
            terms = {a.name: a.fn(aux_inputs) for a in g_aux}
            total = 0.0 if g_replaces_adversarial else weight * adversarial
            total = total + sum(a.weight * terms[a.name] for a in g_aux)
            return total, (adversarial, out["logits"], terms)

        (_, (adversarial, fake_logits, terms)), d_fake = jax.value_and_grad(adversarial_fn, has_aux=True)(
            fake
        )
        (grads,) = vjp_fn(d_fake)
        penalties, updates = {}, {}
        if g_regs:

            def penalty_fn(g_params):
                inputs = RegularizerInputs(
                    g_params,
                    None,
                    None,
                    fake,
                    replica_key(k_reg),
                    generator_call(state.g_collections, jax.random.fold_in(k_reg, 1)),
                    z,
                    labels,
                    state.extra,
                )
                out = {r.name: r.penalty_and_state(inputs, state.step) for r in g_regs}
                values = {name: value for name, (value, _) in out.items()}
                new_extra = {k: v for _, (_, upd) in out.items() for k, v in upd.items()}
                return sum(r.effective_weight * values[r.name] for r in g_regs), (values, new_extra)

            reg_grads, (penalties, updates) = jax.grad(penalty_fn, has_aux=True)(state.g_params)
            grads = jax.tree.map(jnp.add, grads, reg_grads)
        metrics = {
            "g_loss": adversarial,
            **({"g_adversarial_weight": weight} if adversarial_start else {}),
            "d_fake_for_g": jnp.mean(fake_logits),
            **{f"reg/{name}": value for name, value in penalties.items()},
            **{f"g_aux_{name}": value for name, value in terms.items()},
        }
        return grads, metrics, updates

    def g_apply(state: GANState, grads, g_coll, metrics, updates=None):
        grads = cross_replica_mean(grads)
        params, opt_state = _optimizer_step(gan.g_optimizer, grads, state.g_opt_state, state.g_params)
        state = state.replace(g_params=params, g_collections=g_coll, g_opt_state=opt_state)
        if updates:  # regulariser state (pl_mean), averaged across replicas
            state = state.replace(extra={**state.extra, **cross_replica_mean(updates)})
        return state, {**metrics, "g_grad_norm": optax.tree.norm(grads)}

    def g_update(state: GANState, fake, labels, z, real, real_labels, vjp_fn, g_coll, key):
        grads, metrics, updates = g_gradients(state, fake, labels, z, real, real_labels, vjp_fn, key)
        return g_apply(state, grads, g_coll, metrics, updates)

    def g_update_drawing_fakes(state: GANState, real, real_labels, k_fake, k_update, num):
        """One generator update on ``num`` fresh fakes, accumulated over micro-batches."""
        z, labels, k_drop = draw_latents(state, k_fake, num, real_labels)

        def grad_fn(inputs, k):
            z_j, labels_j, real_j, real_labels_j = inputs
            k_gen, k_g = jax.random.split(k) if accumulation_steps > 1 else (k_drop, k_update)
            fake, vjp_fn, coll = generator_forward(state, z_j, labels_j, k_gen)
            grads, metrics, updates = g_gradients(
                state, fake, labels_j, z_j, real_j, real_labels_j, vjp_fn, k_g
            )
            return grads, (coll, updates), metrics

        inputs = (micro(z), micro(labels), micro(real), micro(real_labels))
        grads, (coll, updates), metrics = accumulate(grad_fn, inputs, k_update)
        return g_apply(state, grads, coll, metrics, updates)

    def train_step(state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
        real, real_labels = gan.split_batch(batch)
        key = jax.random.fold_in(state.key, state.step)
        k_d, k_g, k_gupdate = jax.random.split(key, 3)
        first_d_update = state.step * n_critic

        if single_pass:
            fake, fake_labels, z, vjp_fn, g_coll = generator_pass(state, k_g, _batch_size(real), real_labels)
            state, shown = pooled_fakes(state, lax.stop_gradient(fake), jax.random.fold_in(k_d, 1))
            state, d_metrics = d_update(state, real, real_labels, shown, fake_labels, z, k_d, first_d_update)
            state, g_metrics = g_update(
                state, fake, fake_labels, z, real, real_labels, vjp_fn, g_coll, k_gupdate
            )
        else:
            if critic_batches == "split":
                reals = _strided_split(real, n_critic)
                labels = _strided_split(real_labels, n_critic)
            num = _batch_size(real) // (n_critic if critic_batches == "split" else 1)

            def critic_step(state, i):
                if critic_batches == "split":
                    real_i = jax.tree.map(lambda x: x[i], reals)
                    labels_i = jax.tree.map(lambda x: x[i], labels)
                else:
                    real_i, labels_i = real, real_labels
                return d_update_drawing_fakes(
                    state, real_i, labels_i, jax.random.fold_in(k_d, i), first_d_update + i
                )

            state, d_metrics = lax.scan(critic_step, state, jnp.arange(n_critic))
            d_metrics = jax.tree.map(lambda m: jnp.mean(m, axis=0), d_metrics)
            state, g_metrics = g_update_drawing_fakes(state, real, real_labels, k_g, k_gupdate, num)

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
