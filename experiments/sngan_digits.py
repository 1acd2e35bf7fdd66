"""A tiny class-conditional SNGAN on scikit-learn's 8x8 digits upscaled to 16x16: spectrally normalised
ResNet discriminator with the projection head (Miyato & Koyama 2018), conditional batch norm in the
ResNet generator, hinge loss. Offline and fast, for the "it learns" test; ``sngan_digits.py:cnn`` uses the
standard CNN instead.

    python experiments/sngan_digits.py --workdir=runs/sngan_digits
"""

from gans_jax.configs import adam, default_config


def get_config(arg: str | None = None):
    if arg not in (None, "resnet", "cnn"):
        raise ValueError(f"unknown preset {arg!r}; expected 'resnet' (default) or 'cnn'")
    c = default_config()
    if arg == "cnn":
        c.model.update(name="sngan_cnn", g_channels=16, d_channels=16)
    else:
        c.model.update(name="sngan_resnet", g_channels=32, d_channels=32)
    c.model.update(resolution=16, latent_dim=32, conditional=True)
    c.data.update(source="digits", split="train")
    c.objective.name = "hinge"
    c.optim.g = adam(2e-4, b1=0.0, b2=0.9)
    c.optim.d = adam(2e-4, b1=0.0, b2=0.9)
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
