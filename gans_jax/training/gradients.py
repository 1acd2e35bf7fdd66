"""The two players' gradients on one (micro-)batch and the forward passes they are made of, for the
train step of :mod:`gans_jax.training.step` (read that module first: every function here takes its
:class:`~gans_jax.training.step.TrainStep` as ``spec``).

The discriminator's regularisers get a critic ``critic(x, labels)``: real samples are scored under their
own labels and fakes under the labels they were generated with. With discriminator augmentation
(``spec.augment``) every image D sees is augmented first, with one key per example (``augment_keys``):
reals, fakes, and the critic's inputs, so a gradient penalty differentiates through the augmentation
with respect to the un-augmented images (StyleGAN2-ADA's ``loss.py``). Every train-mode pass draws its PRNG
streams from one key: ``dropout``, and the network's own ``rng_streams`` (StyleGAN's ``noise`` and
``mixing``) folded in from it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from gans_jax.auxiliary_losses import AuxiliaryInputs
from gans_jax.regularizers import RegularizerInputs
from gans_jax.training.image_pool import query_image_pool
from gans_jax.training.sharding import constrain_batch
from gans_jax.training.state import GANState

if TYPE_CHECKING:
    from gans_jax.training.step import TrainStep

Metrics = dict[str, jax.Array]


class Fakes(NamedTuple):
    """Generated samples with what made them: ``labels`` (or the translated sources), the latents ``z``,
    and, for the generator update, the VJP of the forward pass and G's updated collections."""

    samples: Any
    labels: Any
    z: jax.Array | None
    vjp_fn: Callable | None = None
    collections: Any = None


def discriminator_gradients(
    spec: TrainStep, state: GANState, *, real, real_labels, fakes: Fakes, key, update_index, augment_keys=None
) -> tuple[Any, Any, Metrics]:
    """The discriminator's gradients on one (micro-)batch: ``(grads, collections, metrics)``; with
    ``spec.augment``, ``augment_keys`` holds one key per example (:func:`augment_keys`), from which the reals
    (stream 0), the fakes (1) and the critic's inputs (2) are augmented."""
    gan, d_regs, d_aux = (
        spec.gan,
        spec.regularizers_of("discriminator"),
        spec.auxiliary_losses_of("discriminator"),
    )
    fake, fake_labels = fakes.samples, fakes.labels
    k_real, k_fake, k_reg = jax.random.split(key, 3)

    augmented = functools.partial(_augmented, spec, state, augment_keys)

    def loss_fn(d_params):
        real_out, coll = _forward(
            spec, gan.discriminator, d_params, state.d_collections, augmented(0, real), real_labels, k_real
        )
        fake_out, coll = _forward(
            spec, gan.discriminator, d_params, coll, augmented(1, fake), fake_labels, k_fake
        )
        real_out, fake_out = _as_outputs(real_out), _as_outputs(fake_out)
        real_logits, fake_logits = real_out["logits"], fake_out["logits"]
        adversarial = spec.objective.discriminator_loss(real_logits, fake_logits)

        def critic(x, labels):
            x = augmented(2, x)
            out = _forward(spec, gan.discriminator, d_params, state.d_collections, x, labels, k_reg)[0]
            return _as_outputs(out)["logits"]

        inputs = RegularizerInputs(
            params=d_params, key=_replica_key(spec, k_reg), critic=critic, real=real, fake=fake,
            real_labels=real_labels, fake_labels=fake_labels,
        )  # fmt: skip
        penalties = {r.name: r.penalty(inputs, update_index) for r in d_regs}
        total = adversarial + sum(r.weight_at(update_index) * penalties[r.name] for r in d_regs)
        aux_inputs = AuxiliaryInputs(
            fake=fake_out, player="discriminator", real=real_out, real_labels=real_labels,
            fake_labels=fake_labels, z=fakes.z, codes=gan.latent_codes, fake_samples=fake, real_samples=real,
        )  # fmt: skip
        terms = {a.name: a.fn(aux_inputs) for a in d_aux}
        total = total + sum(a.weight * terms[a.name] for a in d_aux)
        return total, (coll, adversarial, penalties, terms, real_logits, fake_logits)

    grads, (coll, adversarial, penalties, terms, real_logits, fake_logits) = jax.grad(loss_fn, has_aux=True)(
        state.d_params
    )
    metrics = {
        "d_loss": adversarial,
        "d_real": jnp.mean(real_logits),
        "d_fake": jnp.mean(fake_logits),
        **{f"reg/{name}": value for name, value in penalties.items()},
        **{f"d_aux_{name}": value for name, value in terms.items()},
    }
    if spec.augment is not None:  # the overfitting heuristic r_t of the adaptive augmentation
        metrics["augment/rt"] = jnp.mean(jnp.sign(real_logits))
    return grads, coll, metrics


def generator_gradients(
    spec: TrainStep,
    state: GANState,
    *,
    fakes: Fakes,
    real,
    real_labels,
    key,
    augment_keys=None,
    real_augment_keys=None,
) -> tuple[Any, Metrics, dict[str, jax.Array]]:
    """The generator's gradients on one (micro-)batch of fakes, through their recorded VJP:
    ``(grads, metrics, regulariser state updates)``; with ``spec.augment``, D sees the fakes augmented with
    ``augment_keys`` and (for auxiliary losses on reals) the reals with ``real_augment_keys``."""
    gan, g_regs, g_aux = spec.gan, spec.regularizers_of("generator"), spec.auxiliary_losses_of("generator")
    replaces_adversarial = any(a.replace_adversarial for a in g_aux)
    k_d, k_reg = jax.random.split(key)
    real_out = None
    # D (updated) on the real batch, its collection updates discarded: for a relativistic objective
    # (uses_real: G's loss compares its fakes with these reals) or an auxiliary loss that reads them
    if spec.objective.uses_real or any(a.uses_real for a in g_aux):
        out, _ = _forward(
            spec,
            gan.discriminator,
            state.d_params,
            state.d_collections,
            _augmented(spec, state, real_augment_keys, 0, real),
            real_labels,
            jax.random.fold_in(k_d, 1),
        )
        real_out = lax.stop_gradient(_as_outputs(out))
    weight = _adversarial_weight(spec, state.step)

    def adversarial_fn(x):
        shown = _augmented(spec, state, augment_keys, 0, x)
        out, _ = _forward(
            spec, gan.discriminator, state.d_params, state.d_collections, shown, fakes.labels, k_d
        )
        out = _as_outputs(out)
        if spec.objective.uses_real:
            adversarial = spec.objective.generator_loss(out["logits"], real_out["logits"])
        else:
            adversarial = spec.objective.generator_loss(out["logits"])
        if not g_aux:
            return weight * adversarial, (adversarial, out["logits"], {})
        aux_inputs = AuxiliaryInputs(
            fake=out, player="generator", real=real_out, real_labels=real_labels, fake_labels=fakes.labels,
            z=fakes.z, codes=gan.latent_codes, fake_samples=x, real_samples=real,
        )  # fmt: skip
        terms = {a.name: a.fn(aux_inputs) for a in g_aux}
        total = 0.0 if replaces_adversarial else weight * adversarial
        total = total + sum(a.weight * terms[a.name] for a in g_aux)
        return total, (adversarial, out["logits"], terms)

    (_, (adversarial, fake_logits, terms)), d_fake = jax.value_and_grad(adversarial_fn, has_aux=True)(
        fakes.samples
    )
    (grads,) = fakes.vjp_fn(d_fake)
    penalties, updates = {}, {}
    if g_regs:

        def penalty_fn(g_params):
            inputs = RegularizerInputs(
                params=g_params, key=_replica_key(spec, k_reg), fake=fakes.samples, fake_labels=fakes.labels,
                generator=_generator_call(spec, state.g_collections, jax.random.fold_in(k_reg, 1)),
                latents=fakes.z, extra=state.extra,
            )  # fmt: skip
            out = {r.name: r.penalty_and_state(inputs, state.step) for r in g_regs}
            values = {name: value for name, (value, _) in out.items()}
            new_extra = {k: v for _, (_, upd) in out.items() for k, v in upd.items()}
            return sum(r.weight_at(state.step) * values[r.name] for r in g_regs), (values, new_extra)

        reg_grads, (penalties, updates) = jax.grad(penalty_fn, has_aux=True)(state.g_params)
        grads = jax.tree.map(jnp.add, grads, reg_grads)
    metrics = {
        "g_loss": adversarial,
        **({"g_adversarial_weight": weight} if spec.adversarial_start else {}),
        "d_fake_for_g": jnp.mean(fake_logits),
        **{f"reg/{name}": value for name, value in penalties.items()},
        **{f"g_aux_{name}": value for name, value in terms.items()},
    }
    return grads, metrics, updates


def _adversarial_weight(spec: TrainStep, step):
    """``adversarial_weight``, or 0 before ``adversarial_start`` (content-only pretraining)."""
    if not spec.adversarial_start:
        return spec.adversarial_weight
    return jnp.where(step >= spec.adversarial_start, spec.adversarial_weight, 0.0).astype(jnp.float32)


# ------------------------------------------------------------------------------------------------ passes


def draw_inputs(spec: TrainStep, *, key, num: int, condition):
    """The latents and labels of ``num`` fakes, and the generator's dropout key. A translation GAN has no
    latents and translates ``condition`` (the real batch's sources)."""
    gan = spec.gan
    k_z, k_y, k_drop = jax.random.split(key, 3)
    if gan.translation is not None:
        return None, condition, k_drop
    return _draw(spec, gan.sample_latents, k_z, num), _draw(spec, gan.sample_labels, k_y, num), k_drop


def generator_forward(spec: TrainStep, state: GANState, *, z, labels, key) -> Fakes:
    """G in train mode, its VJP recorded for the generator update."""
    samples, vjp_fn, collections = jax.vjp(
        lambda p: _forward(spec, spec.gan.generator, p, state.g_collections, z, labels, key),
        state.g_params,
        has_aux=True,
    )
    return Fakes(samples, labels, z, vjp_fn, collections)


def pooled_fakes(spec: TrainStep, state: GANState, fake, *, key):
    """The fakes the discriminator sees: from the history of generated images when the GAN keeps one (one
    pool per domain of an unpaired GAN, whose generator output also holds reconstructions), else ``fake``."""
    gan = spec.gan
    if not gan.image_pool_size:
        return state, fake
    pools = state.extra["image_pool"]
    fresh = {k: fake[k] for k in pools} if gan.translation == "unpaired" else fake
    leaves, treedef = jax.tree.flatten(fresh)
    pool_leaves = treedef.flatten_up_to(pools)
    queried = [
        query_image_pool(pool, images, jax.random.fold_in(key, i))
        for i, (pool, images) in enumerate(zip(pool_leaves, leaves, strict=True))
    ]
    shown = treedef.unflatten([images for images, _ in queried])
    state = state.replace(
        extra={**state.extra, "image_pool": treedef.unflatten([pool for _, pool in queried])}
    )
    return state, ({**fake, **shown} if gan.translation == "unpaired" else shown)


def _forward(spec: TrainStep, module, params, collections, x, condition, key):
    """Train-mode pass: ``(output, updated mutable collections)``, in ``compute_dtype`` when set."""
    dtype = spec.compute_dtype
    if dtype is not None:
        params, x = _cast(params, dtype), _cast(x, dtype)
    out, updated = module.apply(
        {"params": params, **collections},
        x,
        condition,
        train=True,
        mutable=list(collections),
        rngs=_rngs(spec, module, key),
    )
    if dtype is not None:
        out = _cast(out, jnp.float32)
        updated = jax.tree.map(lambda new, old: new.astype(old.dtype), dict(updated), dict(collections))
    return out, updated


def _generator_call(spec: TrainStep, collections, key):
    """``fn(params, *args, method=None)``: G's train-mode pass (any method), updates discarded."""
    generator, dtype = spec.gan.generator, spec.compute_dtype

    def fn(params, *args, method=None):
        if dtype is not None:
            params, args = _cast(params, dtype), _cast(args, dtype)
        out, _ = generator.apply(
            {"params": params, **collections},
            *args,
            train=True,
            mutable=list(collections),
            rngs=_rngs(spec, generator, key),
            method=method,
        )
        return out if dtype is None else _cast(out, jnp.float32)

    return fn


def _rngs(spec: TrainStep, module, key) -> dict[str, jax.Array]:
    """PRNG streams of a train-mode pass: ``dropout`` from this replica's key, and the module's own
    ``rng_streams`` (StyleGAN's ``noise``, ``mixing``) folded in from it, the i-th as ``fold_in(key, i)``."""
    key = _replica_key(spec, key)
    streams = ("dropout", *getattr(module, "rng_streams", ()))
    return {name: key if i == 0 else jax.random.fold_in(key, i) for i, name in enumerate(streams)}


# ------------------------------------------------------------------------------------------------ helpers


AUGMENT_STREAM = 0xADA  # folded into an update's key for its augmentation keys, apart from its other draws


def augment_keys(spec: TrainStep, key, num: int):
    """One augmentation key per example of an update's ``num`` examples (a slice of the global batch's
    keys under ``axis_name``), from ``fold_in(key, AUGMENT_STREAM)``; ``None`` without ``spec.augment``."""
    if spec.augment is None:
        return None
    return _draw(spec, jax.random.split, jax.random.fold_in(key, AUGMENT_STREAM), num)


def _augmented(spec: TrainStep, state: GANState, keys, stream: int, x):
    """``x`` as the discriminator sees it: augmented with ``fold_in(keys[b], stream)`` per example at the
    state's augmentation probability, or ``x`` itself without ``spec.augment``."""
    if spec.augment is None:
        return x
    if keys is None:
        raise ValueError("spec.augment is set but no augmentation keys were given (augment_keys)")
    keys = jax.vmap(lambda k: jax.random.fold_in(k, stream))(keys)
    return spec.augment(keys, x, state.extra, axis_name=spec.axis_name)


def _draw(spec: TrainStep, sampler, key, num):
    """``sampler(key, num)`` as a slice of the global draw (identical under jit and pmap); under jit over
    a mesh, sharded along the batch like the real batch (``sharding.constrain_batch``)."""
    if spec.axis_name is None:
        return constrain_batch(sampler(key, num))
    full = sampler(key, num * lax.axis_size(spec.axis_name))
    if full is None:
        return None
    return lax.dynamic_slice_in_dim(full, lax.axis_index(spec.axis_name) * num, num)


def _replica_key(spec: TrainStep, key):
    return key if spec.axis_name is None else jax.random.fold_in(key, lax.axis_index(spec.axis_name))


def _cast(tree, dtype):
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def _as_outputs(out) -> dict[str, jax.Array]:
    """A discriminator's output as a dict with ``"logits"`` (a bare array is the logits)."""
    if isinstance(out, Mapping):
        if "logits" not in out:
            raise ValueError(
                f"a discriminator returning a dict must include 'logits'; got keys {sorted(out)}"
            )
        return dict(out)
    return {"logits": out}
