"""R3GAN (Huang et al. 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline", config E) on
CIFAR-10 (32x32, class-conditional) through TFDS, with the official settings (brownvc/R3GAN ``train.py``
preset ``CIFAR10`` and the README's command ``--batch=512 --mirror=1 --aug=1 --cond=1``).

- Networks (:mod:`gans_jax.models.r3gan`): four stages 4x4 .. 32x32 of width 768 (``3 * 1024 // 4``), two
  residual blocks each, cardinality 96, expansion 2, latent 64; G's class embedding 64, D's projection
  768. 20.78M parameters in G, 21.28M in D, as the official networks (``tests/test_r3gan.py``).
- Objective: RpGAN, ``softplus(-(D(x) - D(G(z))))`` paired in the batch (Sec. 3.1, Eq. 2), with R1 and R2
  (Sec. 3.2, Eq. 6), gamma on a cosine from 0.05 to 0.005.
- Optimisation: Adam, beta1 = 0, lr cosine 2e-4 -> 5e-5, beta2 cosine 0.9 -> 0.99, batch 512, one D and
  one G update per step; EMA of G with a half-life that grows along a cosine from 0 to 5M images. All
  schedules end at 20M images (39,062 steps), which is ``train.steps`` here: the official command has no
  fixed end (``--kimg`` defaults to 10^7 kimg); the paper reports FID 1.96 (Table 3).

- Augmentation (``gans_jax.configs.R3GAN_AUGMENT``): D's inputs (reals and fakes, also in G's step; R1/R2
  are taken with respect to the un-augmented images) go through StyleGAN2-ADA's pipeline at a *fixed*,
  scheduled probability p, cosine 0 -> 0.55 over the 20M images (``train.py`` line 193,
  ``aug_scheduler``; not ADA's adaptive p), with ``xflip=1, rotate90=1, xint=1, scale=1, rotate=1,
  aniso=1, xfrac=1, brightness=0.5, contrast=0.5, lumaflip=0.5, hue=0.5, saturation=0.5, cutout=1``
  (``train.py`` line 300, ``--aug`` defaults to on).
- The dataset's x-flips (``--mirror=1``): ``data.mirror``, the 50k images and their mirror images.

Not reproduced here:

- G's step draws its own real batch in the official loop (two batches per step); our one train step
  pairs G's fakes with the step's real batch.
- The official networks run their three highest-resolution stages in bfloat16 (``FP16Stages = [-1, -2,
  -3]`` of G's stages, which run from 4x4 up; D's first three); ``train.compute_dtype`` casts whole
  networks only.

Presets (``r3gan_cifar10.py:<preset>``): ``paper`` (default, above); ``unconditional`` (the preset
without ``--cond``: no class embeddings, G 20.73M, D 20.68M); ``tiny``: the same recipe shrunk to the
bundled 16x16 digits (three stages of widths 32/32/16, cardinality 4/4/2, one block each, latent 32,
batch 64, class-conditional; gamma cosine 1 -> 0.1, lr 1e-3 -> 2e-4 over 800 steps; no augmentation),
for the "it learns" test.

    gans-jax train --config experiments/r3gan_cifar10.py --workdir runs/r3gan_cifar10
"""

from gans_jax.configs import default_config, r3gan_digits_preset, r3gan_training

PRESETS = ("paper", "unconditional", "tiny")


def get_config(arg: str | None = None):
    preset = arg or "paper"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {arg!r}; expected one of {PRESETS}")
    c = default_config()
    if preset == "tiny":
        return r3gan_digits_preset(c)
    c.model.update(
        name="r3gan",
        resolution=32,
        latent_dim=64,
        conditional=preset == "paper",
        stage_widths=(768,) * 4,
        stage_cardinalities=(96,) * 4,
        stage_blocks=(2,) * 4,
        expansion=2,
    )
    c.data.update(source="tfds:cifar10", split="train", label_key="label", mirror=True)
    r3gan_training(c, batch_size=512, decay_images=2e7, gamma=(0.05, 0.005), ema_images=5e6, augment_p=0.55)
    c.train.update(sample_every=2000, checkpoint_every=2000)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
