"""WGAN with weight clipping on CIFAR-10 (32x32) through TFDS: Arjovsky, Chintala & Bottou 2017,
"Wasserstein GAN", Algorithm 1 with its default values.

- Critic: the DCGAN discriminator (batch norm, as the paper's DCGAN critic) whose output is used raw,
  without a sigmoid; objective ``wasserstein``: the critic minimises E[D(G(z))] - E[D(x)], the
  generator -E[D(G(z))].
- Weight clipping c = 0.01 after every critic update, on every critic parameter (the authors' code
  clamps all of ``netD.parameters()``, batch-norm scales included): ``optim.d.clip``.
- RMSProp, learning rate alpha = 5e-5 for both players (the authors' code: PyTorch ``RMSprop``
  defaults, decay 0.99, eps 1e-8), batch m = 64, n_critic = 5. Each critic update reads its own
  64 real images (``critic_batches="split"``), so a loader batch holds 5 x 64 = 320 images; the
  generator update uses 64 latents.
- Generator: DCGAN, z ~ N(0, I_100). 100,000 generator iterations is our choice (the paper plots
  its curves over a few 1e5 generator iterations). Not reproduced: the authors' code runs 100 critic
  iterations for the first 25 generator iterations and every 500th.

Needs the TFDS ``cifar10`` dataset prepared locally (see ``dcgan_cifar10.py``). ``:digits`` is the
same recipe on the bundled digits (class-conditional, 16x16), runnable offline.

    gans-jax train --config experiments/wgan_cifar10.py --workdir runs/wgan_cifar10
"""

from gans_jax.configs import default_config, digits_preset, parse_presets, rmsprop

N_CRITIC, M = 5, 64


PRESETS = ("digits",)


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    c.model.update(name="dcgan", resolution=32, latent_dim=100, g_channels=64, d_channels=64)
    c.data.update(source="tfds:cifar10", split="train", label_key="label")
    c.objective.name = "wasserstein"
    c.optim.g = rmsprop(5e-5)
    c.optim.d = rmsprop(5e-5, clip=0.01)
    c.train.update(steps=100_000, batch_size=N_CRITIC * M, n_critic=N_CRITIC, critic_batches="split")
    if "digits" in presets:
        digits_preset(c)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
