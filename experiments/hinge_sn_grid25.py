"""hinge + spectral norm on the grid of 25 Gaussians (std 0.05) (PacGAN's 2-D benchmark).

    python experiments/hinge_sn_grid25.py --workdir=runs/hinge_sn_grid25
    gans-jax train --config=experiments/hinge_sn_grid25.py:epochs=10 --workdir=runs/hinge_sn_grid25_e10

Recipe and variants: :mod:`gans_jax.mode_collapse`.
"""

from gans_jax.mode_collapse import experiment_config

PRESETS = ("<variant>", "epochs=<N>")  # gans_jax.mode_collapse.VARIANTS


def get_config(arg: str | None = None):
    return experiment_config("grid25", "hinge_sn", arg)


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
