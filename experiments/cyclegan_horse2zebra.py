"""CycleGAN on horse2zebra through TFDS (Zhu et al. 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks").

- Generators G: X -> Y and F: Y -> X: the ResNet of App. 7.2 (c7s1-64, d128, d256, 9 residual blocks,
  u128, u64, c7s1-3; reflection padding, instance norm). Discriminators D_X, D_Y: 70x70 PatchGANs.
- Least-squares adversarial loss (Sec. 4), cycle consistency lambda = 10 (Eq. 2) and identity loss
  0.5 lambda (Sec. 5.2). Our generator's adversarial term is 1/4 of the reference's: it averages over
  the two discriminators where the reference sums them, and the LSGAN loss carries Mao et al.'s 1/2. So
  the weights here are lambda / 4 = 2.5 and 1.25: the reference objective times 1/4, which leaves
  Adam's updates unchanged.
- A history of the 50 last generated images per domain for the discriminators (Sec. 4).
- Adam 2e-4, (0.5, 0.999), batch 1, 200 epochs (1334 steps each): constant for 100, then linear to 0.
  One compiled step updates all four networks.

``:tiny``: grey -> colour photo crops at 32x32 (``offline:gray2color``, two disjoint sets of bundled
photos, unpaired), networks of width 16 with 2 residual blocks, a few minutes on CPU.

    gans-jax train --config experiments/cyclegan_horse2zebra.py --workdir runs/horse2zebra
    gans-jax translate --workdir runs/horse2zebra --input horses/ --out zebras/ --direction x2y
"""

from gans_jax.configs import adam, default_config, parse_presets

PRESETS = ("tiny",)


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    c.model.update(
        name="cyclegan",
        translation="unpaired",
        resolution=256,
        g_channels=64,
        d_channels=64,
        residual_blocks=9,
        g_normalization="instance",
        d_normalization="instance",
        d_layers=3,
        identity_mapping=True,
    )
    c.data.update(source="tfds:cycle_gan/horse2zebra", translation="unpaired", split="train", jitter=True)
    c.objective.name = "least_squares"
    c.auxiliary_losses = {"cycle_consistency": dict(weight=2.5), "identity": dict(weight=1.25)}
    c.optim.g = adam(2e-4, b1=0.5, b2=0.999, schedule="constant_then_linear")
    c.optim.d = adam(2e-4, b1=0.5, b2=0.999, schedule="constant_then_linear")
    c.train.update(
        steps=266_800,
        batch_size=1,
        ema_decay=0.0,
        image_pool_size=50,
        sample_every=5000,
        checkpoint_every=5000,
    )
    c.eval.update(split="test", num_samples=100, batch_stats=True)
    if "tiny" in presets:
        c.model.update(resolution=32, g_channels=16, d_channels=16, residual_blocks=2)
        c.data.update(source="offline:gray2color", jitter=False)
        c.model.identity_mapping = False  # grey X and colour Y: no identity mapping between them
        c.auxiliary_losses = {"cycle_consistency": dict(weight=2.5)}
        c.optim.g = adam(2e-4, b1=0.5, b2=0.999)
        c.optim.d = adam(2e-4, b1=0.5, b2=0.999)
        c.train.update(steps=300, batch_size=4, log_every=50, sample_every=100, checkpoint_every=100)
        c.eval.update(num_samples=32)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
