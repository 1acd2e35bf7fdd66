"""The keys every experiment shares, with their defaults; ``experiments/*.py`` start from here.

Every key exists in every experiment (unused ones empty), so a command-line override of a key that
does not exist is a typo and is refused. These are the only defaults: the builders
(:mod:`gans_jax.builders`, :mod:`gans_jax.models.registry`, :mod:`gans_jax.optimizers`) read keys
with ``config[key]`` and fail on a missing one, and :func:`with_defaults` completes a config saved by
an older version (a workdir's ``config.json``) with the keys added since.

Where config keys are read: the builders above (``model``, ``optim``, ``objective``, ``regularizers``,
``auxiliary_losses``, ``train``); the training loop (:mod:`gans_jax.training.loop`: ``train``, ``eval``,
``model.resolution`` and ``model.conditional``), the Progressive GAN driver
(:mod:`gans_jax.training.progressive`: ``progressive``), the evaluation (:mod:`gans_jax.evaluation`,
:mod:`gans_jax.metrics.evaluate`: ``eval``), the commands of trained runs (:mod:`gans_jax.commands`,
:mod:`gans_jax.metrics.commands`: ``model``, ``data``) and the data pipeline
(:mod:`gans_jax.data.pipeline`, :mod:`gans_jax.data.translation`: the ``data`` section, which they also
accept as a partial mapping with their own documented defaults, for use without a config).
"""

from __future__ import annotations

import copy
import importlib.util
import os
from collections.abc import Mapping
from typing import Any

import ml_collections

from gans_jax.schedules import is_schedule_spec, schedule_range


def adam(
    lr: float, b1: float = 0.5, b2: float = 0.999, schedule: str = "constant", clip: float = 0.0
) -> dict:
    """Adam (Kingma & Ba 2015) with DCGAN's beta1 = 0.5 (Radford et al. 2016, Sec. 4) unless given."""
    return dict(name="adam", lr=lr, b1=b1, b2=b2, schedule=schedule, clip=clip)


def rmsprop(lr: float, decay: float = 0.99, eps: float = 1e-8, clip: float = 0.0, schedule: str = "constant"):
    """RMSProp as PyTorch's ``optim.RMSprop`` defaults (decay alpha = 0.99, g / (sqrt(v) + eps)), which the
    WGAN authors' code uses; ``clip`` > 0 is WGAN weight clipping."""
    return dict(name="rmsprop", lr=lr, decay=decay, eps=eps, schedule=schedule, clip=clip)


def sgd(lr: float, schedule: str = "constant", clip: float = 0.0) -> dict:
    """Plain stochastic gradient descent."""
    return dict(name="sgd", lr=lr, schedule=schedule, clip=clip)


OPTIMIZERS = {"adam": adam, "rmsprop": rmsprop, "sgd": sgd}


def lazy_adam(lr: float, every: int, b1: float = 0.0, b2: float = 0.99) -> dict:
    """Adam adjusted for a regulariser evaluated every ``every`` updates (StyleGAN2 App. B): ``lr * c``,
    ``beta ** c`` with ``c = every / (every + 1)``; StyleGAN2's betas (0, 0.99) unless given."""
    c = every / (every + 1)
    return adam(lr * c, b1=b1**c, b2=b2**c)


def optimizer_with_defaults(opt: Mapping[str, Any]) -> dict:
    """An ``optim.g``/``optim.d`` spec completed with its optimiser's defaults above: ``{"name":
    "sgd", "lr": 0.1}`` -> ``sgd(0.1)``; the spec's own keys win. An unknown name is refused."""
    name = opt["name"]
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {tuple(OPTIMIZERS)}")
    return {**OPTIMIZERS[name](opt["lr"]), **opt}


def default_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.model = dict(
        name="dcgan",
        resolution=32,
        latent_dim=100,  # noise dimensions; InfoGAN codes are appended to them
        latent_distribution="normal",
        conditional=False,
        g_channels=64,
        d_channels=64,
        g_hidden=(128, 128),
        d_hidden=(128, 128),
        shared_dim=128,  # BigGAN: shared class embedding size (0 = per-layer class embeddings)
        hierarchical=True,  # BigGAN: skip-z, a chunk of z per generator block
        attention="64",  # BigGAN: G_attn, resolutions of self-attention blocks ("64", "32_64"; "0" = none)
        d_attention="",  # BigGAN: D_attn ("" = as attention)
        bn_eps=1e-5,  # BigGAN: BN_eps of the class-conditional batch norms
        sn_eps=1e-6,  # BigGAN: SN_eps (BigGAN-PyTorch's launch scripts; its utils.py default is 1e-8)
        sn_itrs=1,  # BigGAN: power iterations per training-mode call of G's layers (num_G_SV_itrs)
        d_sn_itrs=0,  # BigGAN: ... of D's (num_D_SV_itrs; 0 = as sn_itrs)
        weight_init="ortho",  # BigGAN: G_init / D_init: ortho | N02 | glorot
        bn_unbiased_var=True,  # BigGAN: running variance updated with the unbiased batch variance
        # (F.batch_norm, BigGAN-PyTorch's default); False: the biased one (its --mybn)
        conditioning="concat",  # conditional=True: concat (labels into D's input) | acgan | projection
        categorical_codes=(),  # InfoGAN: sizes of the categorical codes, e.g. (10,)
        continuous_codes=0,  # InfoGAN: number of Unif(-1, 1) codes
        q_hidden=128,  # InfoGAN Q head width
        d_features=False,  # D also returns its last hidden features (feature matching)
        # MLP options of the 2-D benchmark (PacGAN, Lin et al. 2018, App.):
        g_batch_norm=False,  # MLP generator: Dense (no bias) -> BatchNorm -> ReLU in every hidden layer
        g_bn_momentum=0.9,  # its running-average decay (PacGAN: 0.95)
        d_maxout_pieces=0,  # MLP discriminator: maxout hidden layers with k pieces (PacGAN: 5); 0 = LeakyReLU
        d_spectral_norm=False,  # MLP and DCGAN D: spectral norm on every layer (Miyato et al. 2018)
        pack=1,  # PacGAN packing m, any model: D sees packs of m samples concatenated along channels
        # (gans_jax.layers.packing; batch_size counts samples: m x packs)
        init_std=0.0,  # MLPs: N(0, init_std^2) weights, zero biases (PacGAN: 0.02); 0 = Flax defaults
        # DCGAN options for the variants (gans_jax.models.dcgan):
        d_normalization="batch",  # batch | layer | none (WGAN-GP's critic: no batch norm)
        minibatch_kernels=0,  # minibatch discrimination kernels B (Salimans et al. 2016); 0 = off
        minibatch_kernel_dim=5,  # ... and their dimension C
        g_normalization="batch",  # batch | virtual_batch (Salimans et al. 2016, Sec. 3.4)
        vbn_reference_size=64,  # virtual batch norm: examples in the fixed reference batch
        translation="",  # image-to-image: paired (pix2pix, SRGAN) | unpaired (CycleGAN); "" = latent GAN
        # image-to-image networks (gans_jax.models.pix2pix / cyclegan / srgan); g_/d_normalization also
        # take "instance" there (SRResNet's g_normalization: batch | none):
        g_dropout=0.5,  # pix2pix U-Net: dropout in decoder layers 1..num_downs-5 (authors' code)
        g_test_dropout=True,  # pix2pix U-Net: dropout on with running statistics too (the paper's test-time
        # noise); False = the authors' test.py --eval (see eval.batch_stats)
        d_layers=3,  # PatchGAN: strided layers (3 = 70x70 patches)
        residual_blocks=9,  # CycleGAN ResNet generator (6 at 128x128, 9 at 256x256); SRResNet (16)
        identity_mapping=True,  # CycleGAN: also compute F(x), G(y) for the identity loss
        g_output="tanh",  # SRResNet output: tanh | linear (unbounded; evaluation and samples clip) |
        # bicubic_residual (linear, added to the bicubic upsampling of the input; zero-initialised)
        icnr=False,  # SRResNet: ICNR initialisation of the sub-pixel convolutions (Aitken et al. 2017)
        d_pool_size=0,  # SRGAN D: average the last map to k x k before the dense head (0 = flatten, paper)
        # Progressive GAN and StyleGAN/StyleGAN2 (gans_jax.models.progressive / stylegan / stylegan2);
        # resolution is the final one, latent_dim the size of z:
        channel_base=32768,  # channels at resolution r: min(channel_base // r, channel_max) (PGGAN: 16384)
        channel_max=512,
        mbstd_group_size=4,  # minibatch stddev group size (0 = no such layer; StyleGAN2: the whole batch)
        w_dim=512,  # StyleGAN: intermediate latent (W) size
        mapping_layers=8,  # StyleGAN: FC layers of the mapping network (lr multiplier 0.01)
        style_mixing_prob=0.9,  # StyleGAN: style-mixing regularisation probability (0 = off)
        mapping_lr_multiplier=0.01,  # StyleGAN: learning-rate multiplier of the mapping networks' FC layers
        w_avg_beta=0.995,  # StyleGAN: decay of the tracked average w_avg (truncation's centre)
        # StyleGAN2 options named as stylegan2-ada-pytorch's init_kwargs, defaults as its train.py configs
        # (gans_jax.models.stylegan2; gans-jax convert maps an official pickle's values onto these keys):
        g_architecture="skip",  # synthesis: orig | skip | resnet
        d_architecture="resnet",  # discriminator: orig | skip | resnet (the cifar config: orig)
        conv_clamp=256.0,  # clamp convolution outputs to +-conv_clamp (every official config: 256); 0 = off
        mbstd_num_channels=1,  # minibatch stddev features (0 = no such layer)
        cmap_dim=0,  # conditional D: width of the projected label embedding cmap; 0 = the 4x4 channels
        d_mapping_layers=8,  # conditional D: FC layers of its label mapping network
        d_mapping_lr_multiplier=0.01,  # ... and their learning-rate multiplier
        # R3GAN (gans_jax.models.r3gan; Huang et al. 2024): per stage from 4x4 up (G's order, D reversed);
        # resolution = 4 * 2^(stages - 1); latent_dim is the official NoiseDimension (64)
        stage_widths=(768, 768, 768, 768),
        stage_cardinalities=(96, 96, 96, 96),
        stage_blocks=(2, 2, 2, 2),
        expansion=2,  # R3GAN: width expansion inside each residual block
        g_embed_dim=0,  # R3GAN conditional G: class-embedding size (0 = latent_dim, official)
        d_embed_dim=0,  # R3GAN conditional D: projection size (0 = stage_widths[0], official)
    )
    c.data = dict(
        source="digits",  # toy | digits | folder | tfds:<name> | offline:edges2faces|gray2color|sr_photos
        path="",  # folder or zip; TFDS data_dir ("" = default)
        name="",  # toy mixture: ring8 | grid25
        split="train",
        num_samples=100_000,  # toy: size of the fixed sample
        image_key="image",
        label_key="label",  # TFDS; "" = unlabelled
        crop="center",  # center | none
        channels=0,  # folders: 1 or 3 to convert every image; 0 = infer (mixed channel counts refused)
        on_corrupt="error",  # error | skip
        num_threads=2,
        # Image-to-image data (gans_jax.data.translation): batches {"image": target, "condition": input}.
        translation="",  # "" | paired (pix2pix) | unpaired (CycleGAN) | super_resolution (SRGAN)
        layout="folders",  # paired: folders (A/x.png <-> B/x.png; or <split>A/, <split>B/) | side_by_side
        direction="AtoB",  # AtoB: condition = A, image = B | BtoA
        jitter=False,  # resize to load_size, random resolution crop + mirror (pix2pix; also unpaired, SR)
        load_size=0,  # jitter: side before the random crop; 0 = round(resolution * 286 / 256)
        scale=4,  # super_resolution: condition = PIL bicubic downsample of the image by this factor
        limit=0,  # digits: train on only the first N examples of the split (limited-data runs); 0 = all
        stacked=False,  # tfds:mnist / digits: stacked MNIST, three independent digits as RGB, 1000 classes
        mirror=False,  # double the image data set with x-flips (StyleGAN2-ADA / R3GAN --mirror=1)
    )
    # adversarial_weight: the generator's adversarial term next to its auxiliary terms (SRGAN: 1e-3);
    # adversarial_start: that weight is 0 before this step (content-only pretraining, SRGAN's SRResNet
    # initialisation; D still trains), see gans_jax.training.step.make_train_step
    c.objective = dict(name="non_saturating", kwargs={}, adversarial_weight=1.0, adversarial_start=0)
    c.optim = dict(g=adam(2e-4), d=adam(2e-4))
    c.regularizers = {}
    # name -> dict(weight=..., players=(...), replace_adversarial=..., **kwargs), see
    # gans_jax.auxiliary_losses.auxiliary_loss: mutual_information_categorical, mutual_information_continuous,
    # auxiliary_classifier, feature_matching, l1_reconstruction, cycle_consistency, identity, content.
    c.auxiliary_losses = {}
    # Discriminator augmentation (gans_jax.augment; Karras et al. 2020, Zhao et al. 2020): every image D
    # sees, real and fake, is augmented. kind: none | ada (StyleGAN2-ADA's pipeline at the adaptive p) |
    # fixed (the pipeline at constant p) | diffaugment (policy). preset: the pipeline's transforms
    # (gans_jax.augment.PRESETS, train.py --augpipe); p: the initial (ada) or constant (fixed) probability,
    # or for fixed a schedule of the step (gans_jax.schedules; R3GAN's cosine 0 -> 0.55);
    # target, interval, speed_kimg: the ADA heuristic (train.py / training_loop.py defaults); options:
    # AugmentSpec fields overriding the preset (e.g. {"rotate_max": 0.5}).
    c.augment = dict(
        kind="none",
        preset="bgc",
        p=0.0,
        target=0.6,
        interval=4,
        speed_kimg=500.0,
        policy="color,translation,cutout",
        options={},
    )
    c.train = dict(
        steps=10_000,
        batch_size=64,
        n_critic=1,
        critic_batches="split",
        reuse_fakes=True,
        ema_decay=0.999,
        ema_halflife={},  # a schedule of the EMA half-life in images (R3GAN's); {} = the constant ema_decay
        ema_start=0,
        accumulation_steps=1,  # micro-batches per update, gradients averaged (BigGAN's accumulations)
        compute_dtype="float32",  # float32 | bfloat16 (mixed precision: float32 parameters and optimiser)
        image_pool_size=0,  # > 0: D sees fakes from a history of this many per domain (CycleGAN: 50)
        shard_params=False,  # FSDP-style: parameters and optimiser states sharded along the data axis
        prefetch=-1,  # batches placed on the devices ahead of the step; -1: 2 on GPU/TPU, 0 on CPU
        log_every=100,
        sample_every=1000,
        checkpoint_every=1000,
        keep_checkpoints=3,
        init_from="",  # a workdir (a run, or `gans-jax convert` output) whose networks a new run starts from
        nonfinite_retries=0,  # > 0: restore the last checkpoint and lower the learning rates
        nonfinite_lr_factor=0.5,
    )
    # Progressive growing (Karras et al. 2018, App. A.1; gans_jax.training.progressive), used when
    # model.name == "progressive": stages from start_resolution to model.resolution, each fading its new
    # block in over fade_images real images, then stabilising for stabilize_images (train.steps and
    # train.batch_size are then set per stage).
    c.progressive = dict(
        start_resolution=4,
        fade_images=800_000,
        stabilize_images=800_000,
        batch_sizes=(16, 16, 16, 16, 16, 16, 14, 6, 3),  # at 4, 8, 16, ...; the last entry for the rest
        reset_optimizer=True,  # Adam moments reset when a fade starts and ends (authors' code)
    )
    c.eval = dict(
        num_samples=1000,
        fid_every=0,  # > 0: FID of the EMA generator every N steps (needs fid_stats)
        fid_stats="",  # reference mu/sigma npz (gans-jax stats DATA -o ref.npz)
        fid_num=10_000,
        fid_resize="legacy_tf",
        fid_weights="",  # Inception weights file ("" = looked up)
        fid_batch_size=64,  # images per Inception call of the training-time FID
        standing_stats=0,  # > 0: G's batch-norm statistics from this many train-mode batches (BigGAN)
        truncations=(),  # truncation thresholds to sweep in evaluation, e.g. (0.5, 1.0, 1.5)
        split="",  # image-to-image: held-out split for sample grids and metrics ("" = data.split)
        path="",  # ... or held-out folder ("" = data.path)
        # super-resolution metrics (Ledig et al. 2017, Sec. 3.1; gans_jax.evaluation.translation_evaluation):
        resolution=0,  # held-out HR crop side (G is fully convolutional); 0 = model.resolution
        shave=0,  # border pixels removed before PSNR / L1 (SR papers: the scale factor)
        # image-to-image: how held-out metrics, sample grids and `gans-jax translate` run the generator.
        # True: as the pix2pix/CycleGAN authors' test.py without --eval (batch size 1, training mode): each
        # image alone, batch norm with its own statistics, dropout on (gans_jax.evaluation.translate);
        # False: running statistics (their --eval; pix2pix's dropout then as model.g_test_dropout).
        # The pix2pix and CycleGAN experiments and converted upstream checkpoints set True.
        batch_stats=False,
    )
    return c


R3GAN_AUGMENT = dict(
    kind="fixed",
    preset="bgc",
    options=dict(brightness=0.5, contrast=0.5, lumaflip=0.5, hue=0.5, saturation=0.5, cutout=1.0),
)
"""R3GAN's discriminator augmentation (brownvc/R3GAN ``train.py``, ``--aug=1``: ``AugmentPipe(xflip=1,
rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=0.5, contrast=0.5, lumaflip=0.5,
hue=0.5, saturation=0.5, cutout=1)``, the official strengths otherwise): the ``bgc`` preset with the colour
multipliers halved and cutout (a 0.5 x 0.5 rectangle) added, at the probability that the trainer's
``aug_scheduler`` sets before every step (``kind="fixed"`` with a scheduled ``p``)."""


def r3gan_training(
    c: ml_collections.ConfigDict,
    *,
    batch_size: int,
    decay_images: float,
    gamma: tuple[float, float],
    ema_images: float,
    augment_p: float = 0.0,
    lr: tuple[float, float] = (2e-4, 5e-5),
    beta2: tuple[float, float] = (0.9, 0.99),
) -> ml_collections.ConfigDict:
    """R3GAN's training recipe (Huang et al. 2024, Sec. 3 and App.; brownvc/R3GAN ``train.py`` and
    ``training_loop.py``): the RpGAN objective with R1 + R2 at weight gamma / 2 each (Eq. 6 with both
    zero-centred penalties), Adam with beta1 = 0 (eps 1e-8, optax's and PyTorch's default), one D and one G
    update per step, and every hyper-parameter on a cosine from its initial to its final value over
    ``decay_images`` images
    (``cosine_decay_with_warmup`` without warm-up): lr ``lr``, Adam's beta2 ``beta2``, gamma ``gamma``,
    the EMA half-life from 0 to ``ema_images`` images, and with ``augment_p`` > 0 the probability of
    StyleGAN2-ADA's augmentation from 0 to ``augment_p`` (:data:`R3GAN_AUGMENT`, the official ``--aug=1``,
    at a scheduled rather than adaptive p). Schedules count updates here, so ``decay_images / batch_size``
    steps; ``train.steps`` is set to that (the official runs have no fixed end, ``--kimg`` defaults to
    10^7 kimg)."""
    steps = max(1, round(decay_images / batch_size))
    cosine = lambda pair: {"shape": "cosine", "init": pair[0], "final": pair[1], "steps": steps}
    c.objective.name = "relativistic_pairing"
    c.optim.g = adam(cosine(lr), b1=0.0, b2=cosine(beta2))
    c.optim.d = adam(cosine(lr), b1=0.0, b2=cosine(beta2))
    c.regularizers = {"r1": {"gamma": cosine(gamma)}, "r2": {"gamma": cosine(gamma)}}
    c.train.update(steps=steps, batch_size=batch_size, n_critic=1, ema_decay=0.0, ema_start=0)
    c.train.ema_halflife = cosine((0, ema_images))
    if augment_p:
        c.augment = {**c.augment.to_dict(), **copy.deepcopy(R3GAN_AUGMENT), "p": cosine((0.0, augment_p))}
    return c


def r3gan_digits_preset(c: ml_collections.ConfigDict, steps: int = 800) -> ml_collections.ConfigDict:
    """R3GAN's recipe (:func:`r3gan_training`) on the bundled digits (16x16, grey, 10 classes) with small
    networks: stages 32/32/16 wide, cardinality 4/4/2, one block each, latent 32, batch 64, gamma cosine
    1 -> 0.1 and lr 1e-3 -> 2e-4 (5x the paper's, for short runs) over ``steps``, EMA half-life up to
    3,200 images: the ``:tiny`` preset of the ``experiments/r3gan_*.py`` files."""
    c.model.update(
        name="r3gan",
        resolution=16,
        latent_dim=32,
        conditional=True,
        stage_widths=(32, 32, 16),
        stage_cardinalities=(4, 4, 2),
        stage_blocks=(1, 1, 1),
    )
    c.data.update(source="digits", path="", split="train", label_key="label")
    r3gan_training(
        c, batch_size=64, decay_images=64 * steps, gamma=(1.0, 0.1), ema_images=64 * 50, lr=(1e-3, 2e-4)
    )
    c.train.update(log_every=100, sample_every=400, checkpoint_every=400)
    c.eval.num_samples = 1000
    return c


def digits_preset(c: ml_collections.ConfigDict, *, steps: int = 2000) -> ml_collections.ConfigDict:
    """Shrink an image experiment to the bundled offline digits (16x16, class-conditional, small
    networks) keeping its objective, optimisers and n_critic: the ``:digits`` preset of the
    ``experiments/*_cifar10.py`` files, used by the tests. The evaluation is the digits judge's class
    agreement (``gans_jax.metrics.digits_classifier``)."""
    c.model.update(
        resolution=16, latent_dim=64, g_channels=32, d_channels=32, conditional=True, vbn_reference_size=32
    )
    c.data.update(source="digits", path="", split="train", label_key="label")
    c.train.update(steps=steps, ema_decay=0.995, log_every=50, sample_every=500, checkpoint_every=500)
    return c


# The numeric ranges validate() checks (choices among names are checked where each is used, with the
# list of what exists: model.name by the registry, optim.*.name by the optimiser factory, ...).
AT_LEAST_ONE = (
    "model.resolution", "model.latent_dim", "model.g_channels", "model.d_channels", "model.channel_base",
    "model.channel_max", "model.w_dim", "model.mapping_layers", "train.steps", "train.batch_size",
    "train.n_critic", "train.accumulation_steps", "train.log_every", "train.sample_every",
    "train.checkpoint_every", "train.keep_checkpoints", "eval.num_samples", "eval.fid_num",
    "eval.fid_batch_size", "data.num_threads", "data.scale", "augment.interval", "model.pack",
)  # fmt: skip
AT_LEAST_ZERO = (
    "train.ema_start", "train.image_pool_size", "train.nonfinite_retries", "eval.fid_every",
    "eval.standing_stats", "eval.resolution", "eval.shave", "data.channels", "data.load_size",
    "model.mbstd_group_size", "model.minibatch_kernels", "model.continuous_codes",
    "model.shared_dim", "model.d_pool_size", "model.init_std", "objective.adversarial_start",
    "objective.adversarial_weight", "data.limit",
)  # fmt: skip
FRACTIONS = {  # key -> (low, high, whether high itself is allowed)
    "train.ema_decay": (0.0, 1.0, False),
    "train.nonfinite_lr_factor": (0.0, 1.0, True),
    "model.style_mixing_prob": (0.0, 1.0, True),
    "model.g_dropout": (0.0, 1.0, False),
    "model.g_bn_momentum": (0.0, 1.0, True),
    "augment.p": (0.0, 1.0, True),
    "augment.target": (0.0, 1.0, True),
}


def validate(config) -> None:
    """Refuse a config whose numbers are out of range, naming the key, the value and what is allowed:
    sizes, counts and intervals >= 1 (:data:`AT_LEAST_ONE`), offsets and optional features >= 0
    (:data:`AT_LEAST_ZERO`), decays and probabilities in [0, 1) or [0, 1] (:data:`FRACTIONS`), and
    ``n_critic`` dividing ``batch_size`` when the critic updates split the batch. Run before anything is
    built or written; a model's own structural limits (e.g. a power-of-two resolution) are checked
    when its networks are built."""

    def value(key: str):
        node = config
        for part in key.split("."):
            node = node[part]
        return node

    def bad(key: str, expected: str):
        v = value(key)
        v = dict(v) if hasattr(v, "keys") else v  # a schedule spec: one line
        raise ValueError(f"{key}={v!r} is out of range: expected {expected}")

    for key in AT_LEAST_ONE:
        if not value(key) >= 1:
            bad(key, "an integer >= 1")
    for key in AT_LEAST_ZERO:
        if not value(key) >= 0:
            bad(key, "a number >= 0")
    for key, (low, high, closed) in FRACTIONS.items():
        v_low, v_high = schedule_range(value(key))  # a number, or a schedule (augment.p) of numbers
        if not (low <= v_low and (v_high <= high if closed else v_high < high)):
            bad(key, f"a number in [{low:g}, {high:g}{']' if closed else ')'}")
    if not value("train.prefetch") >= -1:
        bad("train.prefetch", "-1 (by platform) or a number of batches >= 0")
    for key in ("optim.g.lr", "optim.d.lr"):
        if not schedule_range(value(key))[0] >= 0:  # a number or a schedule (gans_jax.schedules)
            bad(key, "a learning rate >= 0")
    _validate_augment(config)
    train = config.train
    if train.critic_batches == "split" and train.batch_size % train.n_critic:
        raise ValueError(
            f"train.batch_size={train.batch_size} does not split into train.n_critic={train.n_critic} "
            "critic batches (train.critic_batches='split'); make it a multiple of n_critic"
        )


def _validate_augment(config) -> None:
    """The ``augment`` section (:func:`gans_jax.augment.augmentation`): its kind, preset, policy and
    options by name, ``speed_kimg`` > 0 and ``interval`` an integer (the ranges of ``p`` and ``target``
    are in :data:`FRACTIONS`); an image-to-image experiment refuses it."""
    from gans_jax.augment import AUGMENT_KINDS, PRESETS, augment_spec, diffaugment_policy

    aug = config.augment
    kinds = ("none", *AUGMENT_KINDS)
    if aug.kind not in kinds:
        raise ValueError(f"augment.kind={aug.kind!r} is unknown: expected one of {kinds}")
    if not (isinstance(aug.interval, int) and not isinstance(aug.interval, bool)):
        raise ValueError(f"augment.interval={aug.interval!r} is out of range: expected an integer >= 1")
    if not aug.speed_kimg > 0:
        raise ValueError(f"augment.speed_kimg={aug.speed_kimg!r} is out of range: expected a number > 0")
    if is_schedule_spec(aug.p) and aug.kind != "fixed":
        raise ValueError(f"augment.p={dict(aug.p)!r} is a schedule, which serves augment.kind='fixed' only")
    if aug.kind in ("ada", "fixed"):
        if aug.preset not in PRESETS:
            raise ValueError(f"augment.preset={aug.preset!r} is unknown: expected one of {list(PRESETS)}")
        try:
            augment_spec(aug.preset, **dict(aug.options))
        except (TypeError, ValueError) as e:
            raise ValueError(f"augment.options={dict(aug.options)!r}: {e}") from e
    if aug.kind == "diffaugment":
        try:
            policy = diffaugment_policy(aug.policy)
        except ValueError as e:
            raise ValueError(f"augment.policy={aug.policy!r}: {e}") from e
        if not policy:
            raise ValueError(
                f"augment.policy={aug.policy!r} is empty: expected e.g. 'color,translation,cutout'"
            )
    if aug.kind != "none" and (config.model.translation or config.data.translation):
        raise ValueError(
            f"augment.kind={aug.kind!r} serves latent GANs: an image-to-image discriminator also sees the "
            "source images, which would need the same transform; set augment.kind='none'"
        )


def parse_presets(arg: str | None, allowed: tuple[str, ...]) -> set[str]:
    """``"a,b"`` -> ``{"a", "b"}`` for an experiment's ``get_config(arg)``; an unknown name is refused."""
    presets = {p for p in (arg or "").split(",") if p}
    unknown = sorted(presets - set(allowed))
    if unknown and not allowed:
        raise ValueError(f"unknown preset(s) {unknown} in {arg!r}: this experiment has no presets")
    if unknown:
        raise ValueError(
            f"unknown preset(s) {unknown} in {arg!r}; expected a comma-separated subset of {allowed}"
        )
    return presets


# One line per top-level section of default_config(), for `gans-jax train --help`.
SECTIONS = {
    "seed": "initialisation, data order and sampling seed",
    "model": "the networks: name (mlp, dcgan, infogan, sngan_*, biggan, progressive, stylegan[2], "
    "pix2pix, cyclegan, srgan), resolution, widths, conditioning, latent sizes",
    "data": "source (toy, digits, folder, tfds:<name>, offline:<task>), path, split, image-to-image options",
    "objective": "adversarial loss name and kwargs, its weight next to the auxiliary losses",
    "optim": "g and d: adam | rmsprop | sgd, lr, betas, schedule, WGAN weight clipping",
    "regularizers": "name -> {weight, every, ...}: gradient_penalty, r1, r2, drift, orthogonal, path_length",
    "auxiliary_losses": "name -> {weight, ...}: InfoGAN codes, auxiliary_classifier, feature_matching, "
    "l1_reconstruction, cycle_consistency, identity, content",
    "train": "steps, batch_size, n_critic, EMA, accumulation, precision, log/sample/checkpoint periods",
    "progressive": "Progressive GAN stages: start resolution, fade and stabilise lengths, batch sizes",
    "eval": "final evaluation (samples, standing statistics, truncations) and training-time FID",
    "augment": "discriminator augmentation: kind (none, ada, fixed, diffaugment), preset, p, target, "
    "interval, speed_kimg, policy, options",
}


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


# Mappings taken whole from a saved config: each optimiser spec is completed by
# optimizer_with_defaults for its own name, not merged key by key over the default Adam.
_TAKEN_WHOLE = ("optim.g", "optim.d")


def with_defaults(saved: Mapping[str, Any]) -> ml_collections.ConfigDict:
    """A saved config (a workdir's ``config.json``) merged over :func:`default_config`: keys added to
    the defaults since it was written take their default values, every saved value is kept. Free-form
    mappings (``regularizers``, ``auxiliary_losses``, ``objective.kwargs``: empty by default) and the
    optimiser specs are taken as saved."""

    def merge(base: dict, over: Mapping[str, Any], prefix: str) -> None:
        for key, value in over.items():
            path = f"{prefix}{key}"
            default = base.get(key)
            if (
                isinstance(value, Mapping)
                and isinstance(default, dict)
                and default
                and path not in _TAKEN_WHOLE
            ):
                merge(default, value, path + ".")
            else:
                base[key] = copy.deepcopy(value)

    merged = default_config().to_dict()
    merge(merged, saved, "")
    return ml_collections.ConfigDict(merged)


def experiments_dir() -> str | None:
    """The ``experiments/`` folder: under the current directory, else next to the ``gans_jax``
    package (a source checkout); ``None`` when neither exists (an installed wheel)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(os.getcwd(), "experiments"), os.path.join(here, "experiments")):
        if os.path.isdir(candidate):
            return candidate
    return None


def describe_experiment_file(path: str) -> tuple[str, tuple[str, ...]]:
    """``(first line of the module docstring, PRESETS)`` of an experiment file, read with ``ast``
    without running it. ``PRESETS`` is a module-level tuple of the arguments ``get_config(arg)``
    takes (``"<...>"`` marks a value to fill in); a file without one takes none."""
    import ast

    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    summary = _first_sentence(" ".join((ast.get_docstring(tree) or "").split("\n\n")[0].split()))
    presets: tuple[str, ...] = ()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PRESETS" for t in node.targets):
            presets = tuple(ast.literal_eval(node.value))
    return summary, presets


def _first_sentence(text: str) -> str:
    """Up to the first full stop outside parentheses that ends a sentence (not "et al." or "Sec.")."""
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "." and depth == 0 and text[i + 1 : i + 2] in ("", " "):
            word = text[:i].rsplit(" ", 1)[-1]
            if word not in ("al", "e.g", "i.e", "Sec", "App", "Fig", "Eq", "vs", "etc"):
                return text[: i + 1]
    return text


def list_experiments(directory: str | None = None) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(name, summary, presets)`` of every ``experiments/*.py`` file (see
    :func:`describe_experiment_file`), sorted by name; empty when there is no such folder."""
    directory = directory or experiments_dir()
    if directory is None:
        return []
    names = sorted(f[:-3] for f in os.listdir(directory) if f.endswith(".py") and not f.startswith("_"))
    return [(name, *describe_experiment_file(os.path.join(directory, f"{name}.py"))) for name in names]


def resolve_experiment(name: str) -> str:
    """An experiment given as a path (``experiments/x.py:preset``) or a name (``x:preset``) -> the
    path form that :func:`load_config` and ``--config`` take."""
    stem, colon, arg = name.partition(":")
    if stem.endswith(".py") or os.sep in stem:
        return name
    directory = experiments_dir()
    known = [n for n, _, _ in list_experiments(directory)]
    if stem not in known:
        raise FileNotFoundError(
            f"no experiment named {stem!r}; expected a file path or one of {known}"
            if known
            else f"no experiment named {stem!r} and no experiments/ folder here: give the file's path"
        )
    return os.path.join(directory, f"{stem}.py") + colon + arg
