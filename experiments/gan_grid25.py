"""The original GAN (MLPs, non-saturating loss) on the grid of 25 Gaussians (VEEGAN / PacGAN).

Means on {-4, -2, 0, 2, 4}^2, std 0.05; `metrics.json` reports modes captured, high-quality fraction
and reverse KL over modes. A harder benchmark than the ring: expect missed modes in short runs.

    python experiments/gan_grid25.py --workdir=runs/grid25
"""

from gans_jax.configs import adam, default_config


def get_config(arg: str | None = None):
    c = default_config()
    c.model.update(name="mlp", latent_dim=2, g_hidden=(256, 256, 256), d_hidden=(256, 256, 256))
    c.data.update(source="toy", name="grid25", num_samples=100_000)
    c.optim.g = adam(1e-3, schedule="cosine")
    c.optim.d = adam(1e-3, schedule="cosine")
    c.train.update(
        steps=6000, batch_size=256, ema_decay=0.99, log_every=100, sample_every=1000, checkpoint_every=1000
    )
    c.eval.num_samples = 2500
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
