"""WGAN-GP on CIFAR-10 (32x32) through TFDS: Gulrajani et al. 2017, "Improved Training of
Wasserstein GANs", Algorithm 1 with its default values.

- Objective ``wasserstein`` (critic without sigmoid) plus the gradient penalty
  lambda * E[(||grad D(x_hat)||_2 - 1)^2] on x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1], with
  lambda = 10 (``regularizers.gradient_penalty``).
- n_critic = 5; Adam with alpha = 1e-4, beta1 = 0, beta2 = 0.9 for both players; batch m = 64 per
  critic update (``critic_batches="split"``: a loader batch holds 5 x 64 = 320 images).
- No batch norm in the critic, whose per-example gradients the penalty needs (Sec. 4): layer
  normalisation instead, as the paper recommends (``model.d_normalization="layer"``, or ``"none"``).
  The generator keeps batch norm.
- The DCGAN architecture (ours, 32x32); z ~ N(0, I_128) and 200,000 generator iterations as in the
  authors' CIFAR-10 code (``gan_cifar.py``, whose Adam uses beta1 = 0.5 where Algorithm 1 says 0;
  we follow the paper).

``:digits`` is the same recipe on the bundled digits (class-conditional, 16x16), offline.

    gans-jax train --config experiments/wgan_gp_cifar10.py --workdir runs/wgan_gp_cifar10
"""

from gans_jax.configs import adam, default_config, digits_preset, parse_presets

N_CRITIC, M = 5, 64


PRESETS = ("digits",)


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    c.model.update(
        name="dcgan", resolution=32, latent_dim=128, g_channels=64, d_channels=64, d_normalization="layer"
    )
    c.data.update(source="tfds:cifar10", split="train", label_key="label")
    c.objective.name = "wasserstein"
    c.regularizers = {"gradient_penalty": {"weight": 10.0}}
    c.optim.g = adam(1e-4, b1=0.0, b2=0.9)
    c.optim.d = adam(1e-4, b1=0.0, b2=0.9)
    c.train.update(steps=200_000, batch_size=N_CRITIC * M, n_critic=N_CRITIC, critic_batches="split")
    if "digits" in presets:
        digits_preset(c)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
