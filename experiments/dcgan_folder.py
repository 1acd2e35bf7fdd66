"""Unconditional DCGAN (Radford et al. 2016) on any folder or zip of images.

Images are centre-cropped and resized to ``model.resolution``; labels are ignored. Presets after a
colon pick the resolution: ``dcgan_folder.py:32`` (default 64).

    gans-jax train --config experiments/dcgan_folder.py:64 --workdir runs/faces --config.data.path=~/faces
"""

from gans_jax.configs import adam, default_config

PRESETS = ("<resolution>",)  # e.g. dcgan_folder.py:32; 64 by default


def get_config(arg: str | None = None):
    if arg and not arg.isdigit():
        raise ValueError(f"unknown preset {arg!r}: dcgan_folder.py takes a resolution, e.g. :32")
    c = default_config()
    c.model.update(name="dcgan", resolution=int(arg or 64), latent_dim=100, g_channels=64, d_channels=64)
    c.data.update(source="folder", path="")
    c.optim.g = adam(2e-4)
    c.optim.d = adam(2e-4)
    c.train.update(steps=20_000, batch_size=64, ema_decay=0.999)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
