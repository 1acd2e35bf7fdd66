"""A mixed variant on CIFAR-10 (32x32) through TFDS: DCGAN networks, the hinge loss and spectral
normalisation in the discriminator (Miyato et al. 2018, "Spectral Normalization for Generative
Adversarial Networks").

- Objective ``hinge`` (Lim & Ye 2017; Miyato et al. 2018, Eqs. 16-17).
- Spectral norm on every discriminator convolution, one power iteration per call, u vectors in
  ``batch_stats`` (``model.d_spectral_norm``); no batch norm in the discriminator
  (``model.d_normalization="none"``), as in the paper's standard CNN. The generator keeps batch norm.
- Adam alpha = 2e-4, beta1 = 0.5, beta2 = 0.999, n_dis = 1: setting C of the paper's Table 1, the
  DCGAN-style setting; batch 64; 100,000 generator updates (our choice).

``:digits`` is the same recipe on the bundled digits (class-conditional, 16x16), offline.

    gans-jax train --config experiments/dcgan_hinge_sn_cifar10.py --workdir runs/hinge_sn
"""

from gans_jax.configs import adam, default_config, digits_preset, parse_presets

PRESETS = ("digits",)


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    c.model.update(
        name="dcgan",
        resolution=32,
        latent_dim=128,
        g_channels=64,
        d_channels=64,
        d_normalization="none",
        d_spectral_norm=True,
    )
    c.data.update(source="tfds:cifar10", split="train", label_key="label")
    c.objective.name = "hinge"
    c.optim.g = adam(2e-4, b1=0.5, b2=0.999)
    c.optim.d = adam(2e-4, b1=0.5, b2=0.999)
    c.train.update(steps=100_000, batch_size=64, n_critic=1)
    if "digits" in presets:
        digits_preset(c)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
