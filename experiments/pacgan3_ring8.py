"""PacGAN3 on the ring of 8 Gaussians (std 0.01) (PacGAN's 2-D benchmark).

    python experiments/pacgan3_ring8.py --workdir=runs/pacgan3_ring8
    gans-jax train --config=experiments/pacgan3_ring8.py:epochs=10 --workdir=runs/pacgan3_ring8_e10

Recipe and variants: :mod:`gans_jax.mode_collapse`.
"""

from gans_jax.mode_collapse import experiment_config

PRESETS = ("<variant>", "epochs=<N>")  # gans_jax.mode_collapse.VARIANTS


def get_config(arg: str | None = None):
    return experiment_config("ring8", "pacgan3", arg)


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
