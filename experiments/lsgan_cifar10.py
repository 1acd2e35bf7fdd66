"""LSGAN on CIFAR-10 (32x32) through TFDS: Mao et al. 2017, "Least Squares Generative Adversarial
Networks" (arXiv 1611.04076).

- Objective ``least_squares``: D minimises 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] and G
  minimises 1/2 E[(D(G(z)) - c)^2], with D's raw (linear) output.
- Presets for the paper's two codings: the default (a, b, c) = (0, 1, 1) ("0-1 coding", G wants D to
  take its samples for real; the one the paper trains with), and ``:pearson`` (a, b, c) = (-1, 1, 0),
  which satisfies b - c = 1, b - a = 2 so that the objective minimises the Pearson chi^2 divergence
  (Sec. 3.2.2).
- Adam, alpha = 2e-4, beta1 = 0.5 (the paper follows DCGAN's beta1; it uses alpha = 1e-3 for its
  112x112 scene model and 2e-4 for its other models), batch 64, the DCGAN architecture (ours,
  32x32; the paper's networks are VGG-like variants of DCGAN's), 50,000 steps (our choice).

``:digits`` (alone or as ``:pearson,digits``) is the same recipe on the bundled digits, offline.

    gans-jax train --config experiments/lsgan_cifar10.py:pearson --workdir runs/lsgan_pearson
"""

from gans_jax.configs import adam, default_config, digits_preset, parse_presets

CODINGS = {"01": dict(a=0.0, b=1.0, c=1.0), "pearson": dict(a=-1.0, b=1.0, c=0.0)}


PRESETS = ("pearson", "digits")


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    c.model.update(name="dcgan", resolution=32, latent_dim=100, g_channels=64, d_channels=64)
    c.data.update(source="tfds:cifar10", split="train", label_key="label")
    c.objective.update(name="least_squares", kwargs=CODINGS["pearson" if "pearson" in presets else "01"])
    c.optim.g = adam(2e-4, b1=0.5)
    c.optim.d = adam(2e-4, b1=0.5)
    c.train.update(steps=50_000, batch_size=64)
    if "digits" in presets:
        digits_preset(c)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
