"""From an experiment config to the library's pieces, and back from a workdir.

:func:`build_gan` assembles the :class:`~gans_jax.training.state.GAN` (networks from
:mod:`gans_jax.models.registry`, optimisers from :mod:`gans_jax.optimizers`), :func:`build_train_step`
the train step of its objective, regularisers and auxiliary losses, and :func:`load_run` rebuilds
``(config, gan, state)`` from a training workdir. Keys are read with ``config[key]`` (or attribute
access): their defaults live in :mod:`gans_jax.configs` only.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import jax.numpy as jnp

from gans_jax import configs
from gans_jax.auxiliary_losses import auxiliary_loss
from gans_jax.latent_codes import LatentCodes
from gans_jax.losses import get_objective
from gans_jax.models.registry import build_networks
from gans_jax.optimizers import build_optimizer
from gans_jax.regularizers import regularizer
from gans_jax.schedules import ema_decay_schedule
from gans_jax.training.checkpoint import Checkpointer
from gans_jax.training.state import GAN, GANState
from gans_jax.training.step import TrainStep, make_train_step


def build_gan(config, sample_shape, num_classes: int | None, condition_shape=None) -> GAN:
    """The :class:`GAN` of ``config`` for data of ``sample_shape`` (and ``condition_shape``, the source
    images of an image-to-image model, ``model.translation``)."""
    num_classes = num_classes if config.model.conditional else None
    translation = config.model.translation or None
    if translation and condition_shape is None:
        raise ValueError(
            f"model.translation={translation!r} needs data with source images ('condition'); "
            f"data.source={config.data.source!r} has none"
        )
    condition_shape = tuple(condition_shape) if translation else None
    generator, discriminator = build_networks(config.model, sample_shape, num_classes, condition_shape)
    codes = LatentCodes(config.model.categorical_codes, config.model.continuous_codes)
    steps = config.train.steps
    return GAN(
        generator,
        discriminator,
        g_optimizer=build_optimizer(config.optim.g, steps),
        d_optimizer=build_optimizer(config.optim.d, steps * config.train.n_critic),
        latent_shape=(config.model.latent_dim + codes.dim,),
        num_classes=num_classes,
        latent_distribution=config.model.latent_distribution,
        latent_codes=codes if codes else None,
        translation=translation,
        condition_shape=condition_shape,
        image_pool_size=config.train.image_pool_size,
    )


COMPUTE_DTYPES = {"float32": None, "bfloat16": jnp.bfloat16}


def _compute_dtype(name: str):
    if name not in COMPUTE_DTYPES:
        raise ValueError(f"unknown train.compute_dtype {name!r}; expected one of {sorted(COMPUTE_DTYPES)}")
    return COMPUTE_DTYPES[name]


CONTENT_FEATURES = ("pixel", "inception", "vgg22", "vgg54")


def auxiliary_loss_kwargs(config, name: str, spec: dict) -> dict:
    """A config's auxiliary-loss spec as :func:`auxiliary_loss` arguments: SRGAN's ``content`` takes
    ``features`` = ``"pixel"`` (MSE on pixels), ``"inception"`` (MSE on FID Inception pool3 features,
    weights from ``eval.fid_weights`` or looked up) or ``"vgg22"`` / ``"vgg54"`` (MSE on VGG19's
    phi_{2,2} / phi_{5,4} rescaled by ``rescale``, 1/12.75 by default, Ledig et al. 2017 Sec. 2.2.2 and
    3.2; :func:`gans_jax.models.vgg.vgg_feature_fn`), whose weights the user supplies as ``weights`` =
    a path to torchvision's ``vgg19-dcbb9e9d.pth`` or an ``.npz`` with its keys."""
    if name != "content" or "features" not in spec:
        return spec
    features = spec.pop("features")
    weights = spec.pop("weights", "") or None
    rescale = spec.pop("rescale", None)
    if features not in CONTENT_FEATURES:
        raise ValueError(
            f"unknown auxiliary_losses.content.features {features!r}; expected {CONTENT_FEATURES}"
        )
    if not features.startswith("vgg") and (weights is not None or rescale is not None):
        given = {k: v for k, v in (("weights", weights), ("rescale", rescale)) if v is not None}
        raise ValueError(
            f"auxiliary_losses.content {given} is only used with VGG features (features='vgg22' or "
            f"'vgg54'), not with features={features!r}"
        )
    if features == "inception":
        from gans_jax.metrics.features import inception_feature_fn

        spec["features"] = inception_feature_fn(config.eval.fid_weights or None)
    elif features.startswith("vgg"):
        from gans_jax.models.vgg import HOW_TO_GET_WEIGHTS, SRGAN_RESCALE, vgg_feature_fn

        if weights is None:
            raise ValueError(
                f"auxiliary_losses.content.features={features!r} needs auxiliary_losses.content.weights "
                f"(a path). {HOW_TO_GET_WEIGHTS}. Without VGG19 weights use features='inception' (FID "
                "Inception port, offline) or 'pixel' (pixel MSE)."
            )
        spec["features"] = vgg_feature_fn(
            weights, features, rescale=SRGAN_RESCALE if rescale is None else float(rescale)
        )
    return spec


def build_regularizers(config):
    """The config's ``regularizers`` (name -> dict(weight=..., every=..., **kwargs))."""
    return [regularizer(name, **dict(spec)) for name, spec in dict(config.regularizers).items()]


def build_augmentation(config):
    """The :class:`gans_jax.augment.Augmentation` of the config's ``augment`` section (``None`` when
    ``augment.kind`` is ``"none"``; sections saved before it existed read as off)."""
    from gans_jax.augment import augmentation

    aug = dict(config.get("augment", None) or {})
    if aug.get("kind", "none") == "none":
        return None
    options = dict(aug.pop("options", {}) or {})
    return augmentation(aug.pop("kind"), **aug, **options)


def build_train_step(config, gan: GAN, axis_name: str | None = None, *, auxiliary: bool = True) -> TrainStep:
    """The train step (:func:`gans_jax.training.step.make_train_step`) of ``config`` for ``gan``;
    ``auxiliary=False`` leaves out the auxiliary losses (they do not change the state, and their feature
    extractors load weights)."""
    objective = get_objective(config.objective.name, **dict(config.objective.kwargs))
    penalties = build_regularizers(config)
    specs = dict(config.auxiliary_losses) if auxiliary else {}
    auxiliary = [
        auxiliary_loss(name, **auxiliary_loss_kwargs(config, name, dict(spec)))
        for name, spec in specs.items()
    ]
    train = config.train
    ema_decay = train.ema_decay or None
    if train.ema_halflife:  # a half-life schedule in images (R3GAN's EMA) instead of a constant decay
        ema_decay = ema_decay_schedule(train.ema_halflife, train.batch_size)
    return make_train_step(
        gan,
        objective,
        n_critic=train.n_critic,
        critic_batches=train.critic_batches,
        reuse_fakes=train.reuse_fakes,
        regularizers=penalties,
        auxiliary_losses=auxiliary,
        adversarial_weight=config.objective.adversarial_weight,
        adversarial_start=config.objective.adversarial_start,
        ema_decay=ema_decay,
        ema_start=train.ema_start,
        accumulation_steps=train.accumulation_steps,
        compute_dtype=_compute_dtype(train.compute_dtype),
        axis_name=axis_name,
        augment=build_augmentation(config),
    )


def init_state(config, gan: GAN, key: jax.Array, sample_shape) -> GANState:
    """The state that the train step of ``config`` trains (EMA generator, regulariser state included)."""
    return build_train_step(config, gan, auxiliary=False).init_state(key, tuple(sample_shape))


def load_run(workdir: str, step: int | None = None) -> tuple[Any, GAN, GANState]:
    """``(config, gan, state)`` of a training run, from its ``config.json`` (completed with the keys
    added to :func:`gans_jax.configs.default_config` since it was written), ``run.json`` and checkpoint
    ``step`` (default: the latest)."""
    paths = [os.path.join(workdir, name) for name in ("config.json", "run.json")]
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{workdir} is not a training workdir: {path} is missing")
    with open(paths[0]) as f:
        config = configs.with_defaults(json.load(f))
    with open(paths[1]) as f:
        run = json.load(f)
    condition_shape = run.get("condition_shape")
    gan = build_gan(config, tuple(run["sample_shape"]), run["num_classes"], condition_shape)
    like = jax.eval_shape(lambda: init_state(config, gan, jax.random.PRNGKey(0), run["sample_shape"]))
    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"))
    try:
        state, _ = checkpointer.restore(like, step)
    finally:
        checkpointer.close()
    return config, gan, state
