"""Class-conditional DCGAN on scikit-learn's bundled 8x8 digits upscaled to 16x16: the `make demo` default.

Trains in about 30 s on 2 CPU cores; samples are judged by a digits classifier trained on the real
digits (``class_agreement`` next to its ``real_accuracy`` on held-out digits).

    python experiments/dcgan_digits.py --workdir=runs/digits --config.train.steps=2000
"""

from gans_jax.configs import adam, default_config, parse_presets


def get_config(arg: str | None = None):
    parse_presets(arg, ())  # no presets: a name after the colon is refused, not ignored
    c = default_config()
    c.model.update(resolution=16, latent_dim=64, g_channels=32, d_channels=32, conditional=True)
    c.data.update(source="digits", split="train")
    c.optim.g = adam(2e-4)
    c.optim.d = adam(2e-4)
    c.train.update(
        steps=1500, batch_size=64, ema_decay=0.995, log_every=50, sample_every=500, checkpoint_every=500
    )
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
