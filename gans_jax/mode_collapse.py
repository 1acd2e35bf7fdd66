"""The 2-D mode-collapse benchmark of PacGAN (Lin et al. 2018, Sec. 4.1, Table 1): configs and the
published numbers.

Recipe (PacGAN's code, ``synthetic_data_experiments/2D{Ring,Grid}_GAN&PacGAN``): z ~ N(0, I_2);
generator 4 x (Dense 400, no bias -> BatchNorm -> ReLU) -> Dense 2; discriminator 3 maxout layers of
200 units x 5 pieces -> Dense 1; weights N(0, 0.02^2), zero biases; Adam lr 1e-4, beta1 0.8; 100
packs per batch; 400 epochs of 100,000 samples, i.e. 1,000 steps an epoch and 400,000 steps.
Its "GAN" is the non-saturating GAN (generator loss ``softplus(-D(G(z)))``) and PacGAN-m is that GAN
with packing ``m``: each step D sees 100 real packs and 100 fake packs of ``m`` samples each, so
``train.batch_size`` (which counts samples) is ``100 m``.

The other variants keep the networks and change what their papers change: the objective, the
optimiser and ``n_critic`` (WGAN: RMSProp 5e-5, clipping 0.01, n_critic 5; WGAN-GP: lambda 10,
n_critic 5, Adam 1e-4 with betas (0, 0.9)), and spectral norm for hinge + SN.
"""

from __future__ import annotations

from gans_jax.configs import adam, default_config

DATASETS = ("ring8", "grid25")
VARIANTS = (
    "minimax_gan",
    "gan",
    "lsgan",
    "wgan",
    "wgan_gp",
    "hinge_sn",
    "pacgan2",
    "pacgan3",
    "pacgan4",
)
DESCRIPTIONS = {
    "minimax_gan": "GAN, minimax (saturating) G loss",
    "gan": "GAN, non-saturating (PacGAN's GAN)",
    "lsgan": "LSGAN (a=0, b=c=1)",
    "wgan": "WGAN (clip 0.01, RMSProp)",
    "wgan_gp": "WGAN-GP (lambda 10)",
    "hinge_sn": "hinge + spectral norm",
    "pacgan2": "PacGAN2",
    "pacgan3": "PacGAN3",
    "pacgan4": "PacGAN4",
}
STEPS_PER_EPOCH = 1000  # 100,000 samples / 100 per batch
BATCH = 100  # packs (or samples, without packing) per discriminator update

# PacGAN Table 1 (10 trials, mean and standard error): (modes, high-quality %, reverse KL), each (mean, se).
PUBLISHED = {
    "ring8": {
        "GAN": ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)),
        "ALI": ((6.6, 0.3), (97.6, 0.4), (0.36, 0.04)),
        "PacGAN2": ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
        "PacGAN3": ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02)),
        "PacGAN4": ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02)),
    },
    "grid25": {
        "GAN": ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07)),
        "ALI": ((24.1, 0.4), (95.7, 0.6), (0.14, 0.03)),
        "PacGAN2": ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
        "PacGAN3": ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02)),
        "PacGAN4": ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01)),
    },
}
# Our variant whose recipe is the published row's.
PUBLISHED_ROW = {"gan": "GAN", "pacgan2": "PacGAN2", "pacgan3": "PacGAN3", "pacgan4": "PacGAN4"}


def rmsprop(lr: float, clip: float = 0.0) -> dict:
    return dict(name="rmsprop", lr=lr, b1=0.9, b2=0.999, schedule="constant", clip=clip)


def get_config(dataset: str, variant: str = "gan", epochs: float = 400, fast: bool = False):
    """The config of ``variant`` (one of :data:`VARIANTS`) on ``dataset`` (``ring8`` or ``grid25``).

    ``fast``: the same recipe shrunk for CPU runs of a few thousand steps (not PacGAN's): hidden
    widths G 128 and D 64 (3 layers each), every learning rate x10. ``epochs`` of 1,000 steps.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    c = default_config()
    c.model.update(
        name="mlp",
        latent_dim=2,
        g_hidden=(400, 400, 400, 400),
        d_hidden=(200, 200, 200),
        g_batch_norm=True,
        g_bn_momentum=0.95,
        d_maxout_pieces=5,
        init_std=0.02,
    )
    c.data.update(source="toy", name=dataset, num_samples=100_000)
    c.objective.name = "non_saturating"
    c.optim.g = adam(1e-4, b1=0.8)
    c.optim.d = adam(1e-4, b1=0.8)
    pack, n_critic = 1, 1
    if variant == "minimax_gan":
        c.objective.name = "minimax"
    elif variant == "lsgan":
        c.objective.name = "least_squares"
    elif variant == "wgan":
        c.objective.name = "wasserstein"
        c.optim.g = rmsprop(5e-5)
        c.optim.d = rmsprop(5e-5, clip=0.01)
        n_critic = 5
    elif variant == "wgan_gp":
        c.objective.name = "wasserstein"
        c.optim.g = adam(1e-4, b1=0.0, b2=0.9)
        c.optim.d = adam(1e-4, b1=0.0, b2=0.9)
        c.regularizers = {"gradient_penalty": {"weight": 10.0}}
        n_critic = 5
    elif variant == "hinge_sn":
        c.objective.name = "hinge"
        c.model.d_spectral_norm = True
    elif variant.startswith("pacgan"):
        pack = int(variant[len("pacgan") :])
    c.model.pack = pack
    if fast:
        c.model.update(g_hidden=(128, 128, 128), d_hidden=(64, 64, 64))
        c.optim.g.lr *= 10
        c.optim.d.lr *= 10
    steps = int(epochs * STEPS_PER_EPOCH)
    c.train.update(
        steps=steps,
        batch_size=BATCH * pack * n_critic,
        n_critic=n_critic,
        critic_batches="split",
        ema_decay=0.0,  # PacGAN evaluates the trained generator itself
        log_every=1000,
        sample_every=max(steps // 10, 1),
        checkpoint_every=max(steps // 10, 1),
    )
    c.eval.num_samples = 2500
    return c


def experiment_config(dataset: str, default_variant: str, arg: str | None):
    """``get_config`` of ``experiments/<variant>_<dataset>.py``: ``arg`` may name another variant and/or
    ``epochs=N``, e.g. ``"pacgan4"``, ``"epochs=10"`` or ``"lsgan,epochs=10"``."""
    variant, epochs = default_variant, 400
    for part in filter(None, (arg or "").split(",")):
        if part.startswith("epochs="):
            epochs = int(part[len("epochs=") :])
        else:
            variant = part
    return get_config(dataset, variant, epochs)
