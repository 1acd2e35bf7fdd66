"""Unconditional DCGAN on CIFAR-10 (32x32) through TFDS, as in Radford et al. 2016.

Needs the TFDS ``cifar10`` dataset prepared locally (``tfds build cifar10
--file_format=array_record`` with the ``tf`` extra). ``dcgan_cifar10.py:conditional`` trains the
class-conditional variant.

    gans-jax train --config experiments/dcgan_cifar10.py --workdir runs/cifar10
"""

from gans_jax.configs import adam, default_config

PRESETS = ("conditional",)


def get_config(arg: str | None = None):
    if arg not in (None, *PRESETS):
        raise ValueError(f"unknown preset {arg!r}; expected none or 'conditional'")
    c = default_config()
    c.model.update(
        name="dcgan",
        resolution=32,
        latent_dim=100,
        g_channels=64,
        d_channels=64,
        conditional=arg == "conditional",
    )
    c.data.update(source="tfds:cifar10", split="train", label_key="label")
    c.optim.g = adam(2e-4)
    c.optim.d = adam(2e-4)
    c.train.update(steps=50_000, batch_size=128)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
