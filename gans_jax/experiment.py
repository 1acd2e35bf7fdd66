"""From a config (``experiments/*.py``'s ``get_config()``) to the library's pieces: GAN, train step,
evaluation. This is the only place that reads config keys; everything below it takes plain arguments."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gans_jax import regularizers as regs
from gans_jax import sampling
from gans_jax.auxiliary_losses import auxiliary_loss
from gans_jax.latent_codes import LatentCodes
from gans_jax.losses import get_objective
from gans_jax.training.checkpoint import Checkpointer
from gans_jax.training.state import GAN, GANState, standing_statistics
from gans_jax.training.step import TrainStep, make_train_step

MODELS = (
    "mlp",
    "dcgan",
    "infogan",
    "sngan_cnn",
    "sngan_resnet",
    "biggan",
    "progressive",
    "stylegan",
    "stylegan2",
    "pix2pix",
    "cyclegan",
    "srgan",
)


def load_config(path: str, overrides: Mapping[str, Any] | None = None):
    """``get_config(arg)`` of an experiment file (``"file.py"`` or ``"file.py:arg"``), then dotted
    ``overrides`` such as ``{"train.steps": 100}``; an unknown key raises a ``KeyError`` naming it."""
    path, _, arg = path.partition(":")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"experiment config file {path!r} does not exist")
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config(arg or None)
    for dotted, value in (overrides or {}).items():
        node, parts = config, dotted.split(".")
        for depth, part in enumerate(parts):
            if part not in node:
                where = ".".join(parts[:depth]) or "the config"
                raise KeyError(f"unknown config key {dotted!r}: {where} has {sorted(node)}")
            if depth < len(parts) - 1:
                node = node[part]
        node[parts[-1]] = value  # ConfigDict refuses a value of another type (TypeError)
    return config


OPTIMIZERS = ("adam", "rmsprop", "sgd")


def build_optimizer(opt: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """``opt``: ``name`` in :data:`OPTIMIZERS`, ``lr``, ``b1``/``b2`` (adam), ``decay``/``eps`` (rmsprop),
    ``schedule`` (``constant``, ``cosine`` decay to 5% over ``total_steps``, ``linear`` decay to 0
    over ``total_steps`` as in SNGAN's ResNet runs, or ``constant_then_linear``: constant for the first
    half, then linear to 0, pix2pix's and CycleGAN's policy), ``clip`` (WGAN weight clipping, 0 = off)."""
    lr = opt["lr"]
    schedule = opt.get("schedule", "constant")
    if schedule == "cosine":
        lr = optax.cosine_decay_schedule(lr, max(total_steps, 1), alpha=0.05)
    elif schedule == "linear":
        lr = optax.linear_schedule(lr, 0.0, max(total_steps, 1))
    elif schedule == "constant_then_linear":
        half = max(total_steps // 2, 1)
        lr = optax.join_schedules(
            [optax.constant_schedule(lr), optax.linear_schedule(lr, 0.0, max(total_steps - half, 1))], [half]
        )
    elif schedule != "constant":
        expected = "'constant', 'cosine', 'linear' or 'constant_then_linear'"
        raise ValueError(f"unknown lr schedule {schedule!r}; expected {expected}")
    name = opt["name"]
    if name == "adam":
        tx = optax.adam(lr, b1=opt.get("b1", 0.9), b2=opt.get("b2", 0.999))
    elif name == "rmsprop":
        # PyTorch's RMSprop (the WGAN authors' optimiser): v <- decay v + (1 - decay) g^2,
        # update -lr g / (sqrt(v) + eps), decay 0.99 unless given.
        tx = optax.rmsprop(lr, decay=opt.get("decay", 0.99), eps=opt.get("eps", 1e-8), eps_in_sqrt=False)
    elif name == "sgd":
        tx = optax.sgd(lr)
    else:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
    # A run-time learning-rate factor (exact for adam, rmsprop and sgd, whose updates are linear in
    # the learning rate) that the divergence guard lowers after restoring a good checkpoint.
    tx = optax.chain(tx, optax.inject_hyperparams(optax.scale)(step_size=1.0))
    if opt.get("clip", 0.0):
        tx = optax.chain(tx, regs.weight_clipping(opt["clip"]))
    return tx


def scale_learning_rate(opt_state, factor: float):
    """Multiply the run-time learning-rate factor of an optimiser built by :func:`build_optimizer`."""

    def is_factor(node) -> bool:
        return hasattr(node, "hyperparams") and "step_size" in getattr(node, "hyperparams", {})

    def scale(node):
        if not is_factor(node):
            return node
        return node._replace(
            hyperparams={**node.hyperparams, "step_size": node.hyperparams["step_size"] * factor}
        )

    return jax.tree.map(scale, opt_state, is_leaf=is_factor)


def build_networks(model: Mapping[str, Any], sample_shape, num_classes: int | None):
    """The generator and discriminator modules named by ``model.name``."""
    name = model["name"]
    if name == "mlp":
        from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator

        init_std = model.get("init_std", 0.0) or None
        return (
            MLPGenerator(
                int(np.prod(sample_shape)),
                tuple(model["g_hidden"]),
                num_classes,
                batch_norm=model.get("g_batch_norm", False),
                bn_momentum=model.get("g_bn_momentum", 0.9),
                init_std=init_std,
            ),
            MLPDiscriminator(
                tuple(model["d_hidden"]),
                num_classes,
                maxout_pieces=model.get("d_maxout_pieces", 0),
                pack=model.get("pack", 1),
                spectral_norm=model.get("d_spectral_norm", False),
                init_std=init_std,
            ),
        )
    if name == "dcgan":
        from gans_jax.models import dcgan

        resolution = model["resolution"]
        return (
            dcgan.Generator(
                resolution,
                model["g_channels"],
                sample_shape[-1],
                num_classes,
                normalization=model.get("g_normalization", "batch"),
                vbn_reference_size=model.get("vbn_reference_size", 64),
                latent_distribution=model.get("latent_distribution", "normal"),
            ),
            dcgan.Discriminator(
                resolution,
                model["d_channels"],
                num_classes,
                conditioning=model.get("conditioning", "concat"),
                categorical_codes=tuple(model.get("categorical_codes", ())),
                continuous_codes=model.get("continuous_codes", 0),
                q_hidden=model.get("q_hidden", 128),
                return_features=model.get("d_features", False),
                normalization=model.get("d_normalization", "batch"),
                spectral_norm=model.get("d_spectral_norm", False),
                minibatch_kernels=model.get("minibatch_kernels", 0),
                minibatch_kernel_dim=model.get("minibatch_kernel_dim", 5),
            ),
        )
    if name == "infogan":
        from gans_jax.models import infogan

        conditioning = model.get("conditioning", "concat")
        if num_classes is not None and conditioning != "acgan":
            raise ValueError(
                f"model.name='infogan' takes labels only with conditioning='acgan', got {conditioning!r}"
            )
        return (
            infogan.Generator(
                model["resolution"], model["g_channels"], model["g_hidden"][0], sample_shape[-1], num_classes
            ),
            infogan.Discriminator(
                model["resolution"],
                model["d_channels"],
                model["d_hidden"][0],
                num_classes,
                categorical_codes=tuple(model.get("categorical_codes", ())),
                continuous_codes=model.get("continuous_codes", 0),
                q_hidden=model.get("q_hidden", 128),
                return_features=model.get("d_features", False),
            ),
        )
    if name in ("sngan_cnn", "sngan_resnet"):
        from gans_jax.models import sngan

        networks = {
            "sngan_cnn": (sngan.CNNGenerator, sngan.CNNDiscriminator),
            "sngan_resnet": (sngan.ResNetGenerator, sngan.ResNetDiscriminator),
        }
        generator, discriminator = networks[name]
        resolution = model["resolution"]
        return (
            generator(resolution, model["g_channels"], sample_shape[-1], num_classes),
            discriminator(resolution, model["d_channels"], num_classes),
        )
    if name == "biggan":
        from gans_jax.models import biggan

        if num_classes is None:
            raise ValueError("BigGAN is class-conditional: set model.conditional=True and use labelled data")
        common = dict(resolution=model["resolution"], num_classes=num_classes, attention=model["attention"])
        return (
            biggan.Generator(
                ch=model["g_channels"],
                latent_dim=model["latent_dim"],
                shared_dim=model["shared_dim"],
                hierarchical=model["hierarchical"],
                out_channels=sample_shape[-1],
                **common,
            ),
            biggan.Discriminator(ch=model["d_channels"], **common),
        )
    if name == "progressive":
        from gans_jax.models import progressive

        if num_classes is not None:
            raise ValueError("the progressive GAN is unconditional: set model.conditional=False")
        common = {k: model[k] for k in ("resolution", "channel_base", "channel_max")}
        return (
            progressive.Generator(out_channels=sample_shape[-1], **common),
            progressive.Discriminator(mbstd_group_size=model["mbstd_group_size"], **common),
        )
    if name in ("pix2pix", "cyclegan", "srgan"):
        return translation_networks(model, sample_shape)
    if name in ("stylegan", "stylegan2"):
        from gans_jax.models import stylegan, stylegan2

        family = stylegan if name == "stylegan" else stylegan2

        common = dict(
            resolution=model["resolution"],
            channel_base=model["channel_base"],
            channel_max=model["channel_max"],
            num_classes=num_classes,
        )
        return (
            family.Generator(
                z_dim=model["latent_dim"],
                w_dim=model["w_dim"],
                mapping_layers=model["mapping_layers"],
                out_channels=sample_shape[-1],
                style_mixing_prob=model["style_mixing_prob"],
                **common,
            ),
            family.Discriminator(mbstd_group_size=model["mbstd_group_size"], **common),
        )
    raise ValueError(f"unknown model.name {name!r}; expected one of {MODELS}")


def translation_networks(model: Mapping[str, Any], sample_shape):
    """pix2pix (U-Net + conditional PatchGAN), CycleGAN (two ResNet generators + two PatchGANs) and
    SRGAN (SRResNet + the SRGAN discriminator); ``model.condition_shape`` is the source's shape."""
    name, out_channels = model["name"], sample_shape[-1]
    condition_shape = model.get("condition_shape")
    if not condition_shape:
        raise ValueError(f"model.name={name!r} translates images: its data needs source images ('condition')")
    if name == "pix2pix":
        from gans_jax.models.pix2pix import PatchDiscriminator, UNetGenerator

        return (
            UNetGenerator(
                out_channels,
                model["g_channels"],
                normalization=model["g_normalization"],
                dropout_rate=model["g_dropout"],
            ),
            PatchDiscriminator(
                model["d_channels"], model["d_layers"], normalization=model["d_normalization"]
            ),
        )
    if name == "cyclegan":
        from gans_jax.models.cyclegan import CycleGANDiscriminator, CycleGANGenerator

        return (
            CycleGANGenerator(
                out_channels,
                model["g_channels"],
                model["residual_blocks"],
                model["g_normalization"],
                identity=model["identity_mapping"],
                x_channels=condition_shape[-1],
            ),
            CycleGANDiscriminator(model["d_channels"], model["d_layers"], model["d_normalization"]),
        )
    from gans_jax.models.srgan import SRGANDiscriminator, SRResNetGenerator

    factor = sample_shape[0] // condition_shape[0]
    if factor * condition_shape[0] != sample_shape[0]:
        raise ValueError(
            f"SRGAN: image side {sample_shape[0]} is not a multiple of the source's {condition_shape[0]}"
        )
    return (
        SRResNetGenerator(
            out_channels,
            model["g_channels"],
            model["residual_blocks"],
            upscale_factor=factor,
            output=model.get("g_output", "tanh"),
            normalization=model.get("g_normalization", "batch"),
            icnr=model.get("icnr", False),
        ),
        SRGANDiscriminator(model["d_channels"], pool_size=model["d_pool_size"] or None),
    )


def build_gan(config, sample_shape, num_classes: int | None, condition_shape=None) -> GAN:
    """The :class:`GAN` of ``config`` for data of ``sample_shape`` (and ``condition_shape``, the source
    images of an image-to-image model, ``model.translation``)."""
    num_classes = num_classes if config.model.get("conditional", False) else None
    translation = config.model.get("translation", "") or None
    if translation and condition_shape is None:
        raise ValueError(
            f"model.translation={translation!r} needs data with source images ('condition'); "
            f"data.source={config.data.source!r} has none"
        )
    model = config.model
    if translation:
        model = {**config.model, "condition_shape": tuple(condition_shape)}
    generator, discriminator = build_networks(model, sample_shape, num_classes)
    codes = LatentCodes(config.model.get("categorical_codes", ()), config.model.get("continuous_codes", 0))
    steps = config.train.steps
    return GAN(
        generator,
        discriminator,
        g_optimizer=build_optimizer(config.optim.g, steps),
        d_optimizer=build_optimizer(config.optim.d, steps * config.train.n_critic),
        latent_shape=(config.model.latent_dim + codes.dim,),
        num_classes=num_classes,
        latent_distribution=config.model.get("latent_distribution", "normal"),
        latent_codes=codes if codes else None,
        translation=translation,
        condition_shape=tuple(condition_shape) if translation else None,
        image_pool_size=config.train.get("image_pool_size", 0),
    )


COMPUTE_DTYPES = {"float32": None, "bfloat16": jnp.bfloat16}


def _compute_dtype(name: str):
    if name not in COMPUTE_DTYPES:
        raise ValueError(f"unknown train.compute_dtype {name!r}; expected one of {sorted(COMPUTE_DTYPES)}")
    return COMPUTE_DTYPES[name]


CONTENT_FEATURES = ("pixel", "inception", "vgg22", "vgg54")


def _auxiliary_kwargs(config, name: str, spec: dict) -> dict:
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

        spec["features"] = inception_feature_fn(config.eval.get("fid_weights", "") or None)
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
    return [
        regs.regularizer(name, **dict(spec)) for name, spec in dict(config.get("regularizers", {})).items()
    ]


def build_train_step(config, gan: GAN, axis_name: str | None = None, *, auxiliary: bool = True) -> TrainStep:
    """The train step of ``config`` for ``gan``; ``auxiliary=False`` leaves out the auxiliary losses (they
    do not change the state, and their feature extractors load weights)."""
    objective = get_objective(config.objective.name, **dict(config.objective.get("kwargs", {})))
    penalties = build_regularizers(config)
    specs = dict(config.get("auxiliary_losses", {})) if auxiliary else {}
    auxiliary = [
        auxiliary_loss(name, **_auxiliary_kwargs(config, name, dict(spec))) for name, spec in specs.items()
    ]
    train = config.train
    return make_train_step(
        gan,
        objective,
        n_critic=train.n_critic,
        critic_batches=train.get("critic_batches", "split"),
        reuse_fakes=train.get("reuse_fakes", True),
        regularizers=penalties,
        auxiliary_losses=auxiliary,
        adversarial_weight=config.objective.get("adversarial_weight", 1.0),
        adversarial_start=config.objective.get("adversarial_start", 0),
        ema_decay=train.ema_decay or None,
        ema_start=train.get("ema_start", 0),
        accumulation_steps=train.get("accumulation_steps", 1),
        compute_dtype=_compute_dtype(train.get("compute_dtype", "float32")),
        axis_name=axis_name,
    )


def init_state(config, gan: GAN, key: jax.Array, sample_shape) -> GANState:
    """The state that the train step of ``config`` trains (EMA generator, regulariser state included)."""
    return build_train_step(config, gan, auxiliary=False).init_state(key, tuple(sample_shape))


def evaluate(config, gan: GAN, state: GANState, key: jax.Array) -> dict[str, float]:
    """Quality metrics that need no download: class agreement for digits, mode coverage for toy data.

    ``eval.standing_stats`` > 0 first replaces G's batch-norm statistics by standing statistics over
    that many batches (:func:`gans_jax.training.state.standing_statistics`); ``eval.truncations`` adds
    ``class_agreement@<t>`` for latents truncated at each threshold (BigGAN's truncation sweep)."""
    if gan.translation is not None:
        return translation_evaluation(config, gan, state)
    source = config.data.source
    num = config.eval.num_samples
    if config.eval.get("standing_stats", 0):
        state = standing_statistics(
            gan, state, jax.random.fold_in(key, 2), num_batches=config.eval.standing_stats
        )
    k_z, k_y = jax.random.split(key)
    z = gan.sample_latents(k_z, num)
    labels = gan.sample_labels(k_y, num)
    generate = jax.jit(gan.generate)  # compiled once: op-by-op, a large generator takes seconds per call
    samples = np.asarray(generate(state, z, labels))
    if source == "toy":
        from gans_jax.data.toy import get_mixture
        from gans_jax.metrics.modes import mode_metrics

        return mode_metrics(samples, get_mixture(config.data.name))
    results = {}
    if source == "digits" and (gan.conditional or (gan.latent_codes and gan.latent_codes.categorical)):
        from gans_jax.metrics.digits_classifier import DigitsJudge

        judge = DigitsJudge.fit()
        results.update(real_accuracy=judge.real_accuracy(), num_samples=num)
        if gan.conditional:
            results["class_agreement"] = judge.class_agreement(samples, np.asarray(labels))
            for t in config.eval.get("truncations", ()):
                z_t = sampling.truncated_latents(k_z, num, tuple(gan.latent_shape), float(t))
                truncated = np.asarray(generate(state, z_t, labels))
                results[f"class_agreement@{t:g}"] = judge.class_agreement(truncated, np.asarray(labels))
        if gan.latent_codes and gan.latent_codes.categorical:
            results.update(infogan_code_purity(gan, state, judge, jax.random.fold_in(key, 1), num))
    return results


def held_out_examples(config, gan: GAN, num: int, resolution: int | None = None) -> dict[str, np.ndarray]:
    """The first ``num`` examples of the evaluation split (``eval.split``, else ``data.split``) of an
    image-to-image experiment's data, in a fixed order, at ``resolution`` (default ``model.resolution``)."""
    from gans_jax.data.pipeline import make_source

    data = {**dict(config.data), "jitter": False}
    if config.eval.get("split", ""):
        data["split"] = config.eval.split
    if config.eval.get("path", ""):
        data["path"] = config.eval.path
    source = make_source(data, resolution=resolution or config.model.get("resolution"), seed=config.seed)
    try:
        count = min(int(num), len(source))
        batch = source.read_batch(np.arange(count))
    finally:
        getattr(source, "close", lambda: None)()
    return {k: np.asarray(batch[k]) for k in ("image", "condition")}


def translate(gan: GAN, state: GANState, condition, *, batch_size: int = 32, use_ema: bool = True):
    """``G(condition)`` in batches (numpy in, numpy out); a dict of arrays for unpaired GANs."""
    generate = jax.jit(lambda s, c: gan.generate(s, None, c, use_ema=use_ema))
    n = len(jax.tree.leaves(condition)[0])
    parts = [
        jax.device_get(generate(state, jax.tree.map(lambda a, i=i: a[i : i + batch_size], condition)))
        for i in range(0, n, batch_size)
    ]
    return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


def translation_evaluation(config, gan: GAN, state: GANState) -> dict[str, float]:
    """Held-out metrics of an image-to-image GAN on ``eval.num_samples`` examples of the evaluation
    split: L1 and PSNR of ``G(source)`` against the target next to the bicubic/identity baseline
    (paired, :mod:`gans_jax.metrics.translation`); the cycle-consistency L1 in both directions (unpaired).

    Super-resolution (``data.translation="super_resolution"`` or ``offline:sr_photos``) is evaluated as
    in Ledig et al. 2017, Sec. 3.1: on ``eval.resolution`` crops (0 = ``model.resolution``; the
    generator is fully convolutional), without an ``eval.shave``-pixel border, with the PSNR also on
    BT.601 luma (``psnr_y``) for colour images, and against Pillow bicubic upsampling of the
    low-resolution input (the filter that made it)."""
    from gans_jax.data.folder import uint8_to_unit_range
    from gans_jax.data.offline import TASKS
    from gans_jax.data.translation import bicubic_upsample, unit_range_to_uint8
    from gans_jax.metrics.translation import l1_distance, translation_metrics

    source = str(config.data.source)
    offline_kind = TASKS.get(source.partition(":")[2], "") if source.startswith("offline:") else ""
    super_resolution = (config.data.get("translation", "") or offline_kind) == "super_resolution"
    resolution = config.eval.get("resolution", 0) if super_resolution else 0
    batch = held_out_examples(config, gan, config.eval.num_samples, resolution or None)
    real, condition = gan.split_batch(batch)
    out = translate(gan, state, condition)
    results = {"num_samples": int(len(batch["image"]))}
    if gan.translation == "paired" and super_resolution:
        scale = real.shape[1] // condition.shape[1]
        baseline = uint8_to_unit_range(bicubic_upsample(unit_range_to_uint8(condition), scale))
        results.update(
            translation_metrics(
                np.clip(out, -1.0, 1.0),
                real,
                condition,
                baseline=baseline,
                shave=int(config.eval.get("shave", 0)),
                luma=real.shape[-1] == 3,
            )
        )
        results["eval_resolution"] = int(real.shape[1])
    elif gan.translation == "paired":
        results.update(translation_metrics(out, real, condition))
    else:
        results["cycle_l1_x"] = l1_distance(out["rec_x"], real["x"])
        results["cycle_l1_y"] = l1_distance(out["rec_y"], real["y"])
    return results


def infogan_code_purity(gan: GAN, state: GANState, judge, key: jax.Array, num: int) -> dict[str, float]:
    """Unsupervised class purity of InfoGAN's first categorical code (Chen et al. 2016, Sec. 7.1):
    ``num`` samples spread over its values, labelled by ``judge`` (:mod:`gans_jax.metrics.purity`)."""
    from gans_jax.metrics.purity import code_purity

    k_z, k_y = jax.random.split(key)
    size = gan.latent_codes.categorical[0]
    values = np.arange(num) % size
    z = gan.latent_codes.set_categorical(gan.sample_latents(k_z, num), values)
    labels = gan.sample_labels(k_y, num)
    predictions = judge.predict(np.asarray(gan.generate(state, z, labels)))
    return {f"code_{k}": v for k, v in code_purity(values, predictions).items()}


def load_run(workdir: str, step: int | None = None) -> tuple[Any, GAN, GANState]:
    """``(config, gan, state)`` of a training run, from its ``config.json``, ``run.json`` and checkpoint
    ``step`` (default: the latest)."""
    paths = [os.path.join(workdir, name) for name in ("config.json", "run.json")]
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{workdir} is not a training workdir: {path} is missing")
    with open(paths[0]) as f:
        config = ml_collections.ConfigDict(json.load(f))
    with open(paths[1]) as f:
        run = json.load(f)
    condition_shape = run.get("condition_shape")
    gan = build_gan(config, tuple(run["sample_shape"]), run["num_classes"], condition_shape)
    like = jax.eval_shape(lambda: init_state(config, gan, jax.random.PRNGKey(0), tuple(run["sample_shape"])))
    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"))
    try:
        state, _ = checkpointer.restore(like, step)
    finally:
        checkpointer.close()
    return config, gan, state
