"""Class-conditional DCGAN on scikit-learn's bundled 8x8 digits upscaled to 16x16: the `make demo` default.

Trains in about 30 s on 2 CPU cores; samples are judged by a digits classifier trained on the real
digits (``class_agreement`` next to its ``real_accuracy`` on held-out digits).

    python experiments/dcgan_digits.py --workdir=runs/digits --config.train.steps=2000

Limited data (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data"):
``:limit100`` / ``:limit200`` train on only 100 / 200 of the 1,437 training digits (balanced classes,
``data.limit``); adding ``ada`` (``:limit100,ada``) augments everything D sees with StyleGAN2-ADA's
``bgc`` pipeline at the adaptive p (target 0.6, adjusted every 4 steps). ``speed_kimg`` is 20 rather
than the paper's 500 so that p can move within these short runs (0 to 1 in about 300 steps of 64);
the same steps and seed with and without ``ada`` are the comparison in ``benchmarks/RESULTS.md``
(``benchmarks/ada_digits.py``).

    gans-jax train --config experiments/dcgan_digits.py:limit100,ada --workdir=runs/digits_ada100
"""

from gans_jax.configs import adam, default_config, parse_presets

PRESETS = ("limit100", "limit200", "ada")


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    c.model.update(resolution=16, latent_dim=64, g_channels=32, d_channels=32, conditional=True)
    c.data.update(source="digits", split="train")
    c.optim.g = adam(2e-4)
    c.optim.d = adam(2e-4)
    c.train.update(
        steps=1500, batch_size=64, ema_decay=0.995, log_every=50, sample_every=500, checkpoint_every=500
    )
    if {"limit100", "limit200"} <= presets:
        raise ValueError(f"presets limit100 and limit200 exclude each other, got {arg!r}")
    if "limit100" in presets or "limit200" in presets:
        c.data.limit = 100 if "limit100" in presets else 200
    if "ada" in presets:
        c.augment.update(kind="ada", preset="bgc", p=0.0, target=0.6, interval=4, speed_kimg=20.0)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
