"""R3GAN (Huang et al. 2024, config E) on FFHQ at 256x256, unconditional, with the official settings
(brownvc/R3GAN ``train.py`` preset ``FFHQ-256``, the README's command ``--batch=256 --mirror=1 --aug=1``).

- Networks (:mod:`gans_jax.models.r3gan`): seven stages 4x4 .. 256x256 of widths 768, 768, 768, 768, 384,
  192, 96 (``3/4`` of 1024, 1024, 1024, 1024, 512, 256, 128), two residual blocks each, cardinalities
  96, 96, 96, 96, 48, 24, 12, expansion 2, latent 64: 23.06M parameters in G, 23.01M in D, as the
  official networks (``tests/test_r3gan.py``).
- RpGAN + R1 + R2 with gamma cosine 150 -> 15; Adam beta1 = 0, lr cosine 2e-4 -> 5e-5, beta2 cosine
  0.9 -> 0.99; EMA half-life cosine 0 -> 0.5M images; every schedule over 20M images (78,125 steps at
  batch 256, ``train.steps`` here; the official runs have no fixed end). The paper reports FID 2.75.
- Augmentation (``gans_jax.configs.R3GAN_AUGMENT``, ``r3gan_cifar10.py``'s pipeline): StyleGAN2-ADA's
  pipeline at a fixed probability p scheduled on a cosine 0 -> 0.3 over the 20M images (``train.py``
  line 225, ``aug_scheduler``).
- The dataset x-flips (``--mirror=1``): ``data.mirror``.
- Not reproduced: G's own real batch; bfloat16 in the four highest-resolution stages.

Data: an image folder or zip of FFHQ at 256x256 (``--config.data.path``). Presets: ``paper`` (default),
``tiny`` (``r3gan_cifar10.py``'s digits recipe, for smoke tests).

    gans-jax train --config experiments/r3gan_ffhq256.py --config.data.path=ffhq256.zip --workdir runs/r3
"""

from gans_jax.configs import default_config, r3gan_digits_preset, r3gan_training

PRESETS = ("paper", "tiny")


def get_config(arg: str | None = None):
    preset = arg or "paper"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {arg!r}; expected one of {PRESETS}")
    c = default_config()
    if preset == "tiny":
        return r3gan_digits_preset(c)
    c.model.update(
        name="r3gan",
        resolution=256,
        latent_dim=64,
        conditional=False,
        stage_widths=(768, 768, 768, 768, 384, 192, 96),
        stage_cardinalities=(96, 96, 96, 96, 48, 24, 12),
        stage_blocks=(2,) * 7,
        expansion=2,
    )
    c.data.update(source="folder", channels=3, label_key="", mirror=True)
    r3gan_training(c, batch_size=256, decay_images=2e7, gamma=(150.0, 15.0), ema_images=5e5, augment_p=0.3)
    c.train.update(sample_every=2000, checkpoint_every=2000)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
