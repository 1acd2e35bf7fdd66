"""R3GAN (Huang et al. 2024, config E) on ImageNet at 64x64, class-conditional, with the official settings
(brownvc/R3GAN ``train.py`` preset ``ImageNet-64``, the README's command ``--batch=4096 --mirror=1 --aug=1
--cond=1``).

- Networks (:mod:`gans_jax.models.r3gan`): five stages 4x4 .. 64x64 of width 1536 (``6 * 1024 // 4``), two
  residual blocks each, cardinality 96, expansion 2, latent 64, G's class embedding 64, D's projection
  1536: 103.57M parameters in G, 107.21M in D for 1000 classes, as the official networks
  (``tests/test_r3gan.py``).
- RpGAN + R1 + R2 with gamma cosine 1 -> 0.1; Adam beta1 = 0, lr cosine 2e-4 -> 5e-5, beta2 cosine
  0.9 -> 0.99; EMA half-life cosine 0 -> 50M images; every schedule over 200M images (48,828 steps at
  batch 4096, ``train.steps`` here; the official runs have no fixed end). The paper reports FID 2.09.
- Augmentation (``gans_jax.configs.R3GAN_AUGMENT``, ``r3gan_cifar10.py``'s pipeline): StyleGAN2-ADA's
  pipeline at a fixed probability p scheduled on a cosine 0 -> 0.4 over the 200M images (``train.py``
  line 263, ``aug_scheduler``).
- The dataset x-flips (``--mirror=1``): ``data.mirror``.
- Not reproduced: G's own real batch; bfloat16 in the four highest-resolution stages.

Data: TFDS ``imagenet_resized/64x64`` prepared locally. Presets: ``paper`` (default), ``tiny``
(``r3gan_cifar10.py``'s digits recipe, for smoke tests).

    gans-jax train --config experiments/r3gan_imagenet64.py --workdir runs/r3gan_imagenet64
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
        resolution=64,
        latent_dim=64,
        conditional=True,
        stage_widths=(1536,) * 5,
        stage_cardinalities=(96,) * 5,
        stage_blocks=(2,) * 5,
        expansion=2,
    )
    c.data.update(source="tfds:imagenet_resized/64x64", split="train", label_key="label", mirror=True)
    r3gan_training(c, batch_size=4096, decay_images=2e8, gamma=(1.0, 0.1), ema_images=5e7, augment_p=0.4)
    c.train.update(sample_every=1000, checkpoint_every=1000)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
