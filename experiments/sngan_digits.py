"""A tiny class-conditional SNGAN on scikit-learn's 8x8 digits upscaled to 16x16: the standard CNN
(default) or the ResNet (``sngan_digits.py:resnet``) of Miyato et al. 2018 at small widths, spectral
normalisation on every discriminator layer, the projection discriminator and conditional batch norm in
the generator (Miyato & Koyama 2018), hinge loss. Offline and fast, for the "it learns" test.

Not the paper's CIFAR-10 settings (those are ``sngan_cifar10.py``): with Adam lr 2e-4, betas (0, 0.9)
the class-conditional gains and biases move slowly (Adam steps each by about lr), and the CNN needs
about 2000 steps to reach 0.97 class agreement; Adam lr 1e-3, betas (0.5, 0.999) (the paper's setting
E with n_dis = 1) reaches 0.92 in 600 steps.

    python experiments/sngan_digits.py --workdir=runs/sngan_digits
"""

from gans_jax.configs import adam, default_config

PRESETS = ("cnn", "resnet")


def get_config(arg: str | None = None):
    if arg not in (None, *PRESETS):
        raise ValueError(f"unknown preset {arg!r}; expected 'cnn' (default) or 'resnet'")
    c = default_config()
    if arg == "resnet":
        c.model.update(name="sngan_resnet", g_channels=32, d_channels=32)
    else:
        c.model.update(name="sngan_cnn", g_channels=16, d_channels=16)
    c.model.update(resolution=16, latent_dim=32, conditional=True)
    c.data.update(source="digits", split="train")
    c.objective.name = "hinge"
    c.optim.g = adam(1e-3, b1=0.5, b2=0.999)
    c.optim.d = adam(1e-3, b1=0.5, b2=0.999)
    c.train.update(
        steps=600,
        batch_size=64,
        n_critic=1,
        ema_decay=0.995,
        log_every=50,
        sample_every=300,
        checkpoint_every=300,
    )
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
