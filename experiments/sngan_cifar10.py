"""SNGAN (Miyato et al. 2018) on CIFAR-10 (32x32) through TFDS, with the paper's settings.

Presets (``sngan_cifar10.py:<preset>``):

- ``resnet`` (default): the ResNet of Table 4, hinge loss (Eq. 17), Adam lr 2e-4, betas (0, 0.9),
  n_dis = 5, batch 64 per discriminator update, learning rate decayed linearly to 0 over 50k
  generator updates, z ~ N(0, I_128) -- the authors' ``configs/sn_cifar10_unconditional.yml``
  (pfnet-research/sngan_projection). The paper reports Inception score 8.22, FID 21.7 (Table 2).
- ``resnet_conditional``: the same with conditional batch norm in G and the projection discriminator
  (Miyato & Koyama 2018; ``configs/sn_cifar10_conditional.yml``).
- ``cnn``: the standard CNN of Table 3 with the non-saturating GAN loss and setting C of Table 1
  (Adam lr 2e-4, betas (0.5, 0.999), n_dis = 1), batch 64, 100k generator updates (the paper's
  7.42 Inception score row).

Differences from the authors' code: our train step draws the generator update's fakes with the batch
size of one discriminator update (64; their updater draws 128), and runs the discriminator updates
before the generator update instead of after it. No EMA of the generator, as in the paper.
Needs the TFDS ``cifar10`` dataset prepared locally (``tfds build cifar10 --file_format=array_record``).

    gans-jax train --config experiments/sngan_cifar10.py:resnet --workdir runs/sngan_cifar10
"""

from gans_jax.configs import adam, default_config

PRESETS = ("resnet", "resnet_conditional", "cnn")


def get_config(arg: str | None = None):
    preset = arg or "resnet"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {arg!r}; expected one of {PRESETS}")
    c = default_config()
    c.data.update(source="tfds:cifar10", split="train", label_key="label")
    c.train.update(ema_decay=0.0, sample_every=5000, checkpoint_every=5000)
    if preset == "cnn":
        c.model.update(name="sngan_cnn", resolution=32, latent_dim=128, g_channels=64, d_channels=64)
        c.objective.name = "non_saturating"
        c.optim.g = adam(2e-4, b1=0.5, b2=0.999)
        c.optim.d = adam(2e-4, b1=0.5, b2=0.999)
        c.train.update(steps=100_000, batch_size=64, n_critic=1)
    else:
        c.model.update(
            name="sngan_resnet",
            resolution=32,
            latent_dim=128,
            g_channels=256,
            d_channels=128,
            conditional=preset == "resnet_conditional",
        )
        c.objective.name = "hinge"
        c.optim.g = adam(2e-4, b1=0.0, b2=0.9, schedule="linear")
        c.optim.d = adam(2e-4, b1=0.0, b2=0.9, schedule="linear")
        # the batch holds n_critic minibatches of 64, one per discriminator update (critic_batches="split")
        c.train.update(steps=50_000, batch_size=5 * 64, n_critic=5, critic_batches="split")
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
