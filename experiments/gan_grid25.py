"""GAN, non-saturating (PacGAN's GAN) on the grid of 25 Gaussians (std 0.05) (PacGAN's 2-D benchmark).

PacGAN's baseline GAN (non-saturating loss, as in its code) with its networks and recipe:
BN ReLU generator 4 x 400, maxout discriminator 3 x 200 x 5, Adam 1e-4 / beta1 0.8, batch 100,
400 epochs (400,000 steps). `metrics.json` reports modes captured, the high-quality fraction
and reverse KL on 2,500 samples. The argument may name another variant or the epochs.

    python experiments/gan_grid25.py --workdir=runs/gan_grid25
    gans-jax train --config=experiments/gan_grid25.py:epochs=10 --workdir=runs/gan_grid25_e10

Recipe and variants: :mod:`gans_jax.mode_collapse`.
"""

from gans_jax.mode_collapse import experiment_config

PRESETS = ("<variant>", "epochs=<N>")  # gans_jax.mode_collapse.VARIANTS


def get_config(arg: str | None = None):
    return experiment_config("grid25", "gan", arg)


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
