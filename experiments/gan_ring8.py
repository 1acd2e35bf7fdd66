"""The original GAN (MLPs, non-saturating loss; Goodfellow et al. 2014) on the ring of 8 Gaussians.

Data and metrics follow VEEGAN / PacGAN: 8 modes on the unit circle with std 0.01; `metrics.json`
reports modes captured, the high-quality fraction (within 3 std of a mode) and reverse KL over modes.

    python experiments/gan_ring8.py --workdir=runs/ring8
"""

from gans_jax.configs import adam, default_config


def get_config(arg: str | None = None):
    c = default_config()
    c.model.update(name="mlp", latent_dim=2, g_hidden=(128, 128), d_hidden=(128, 128))
    c.data.update(source="toy", name="ring8", num_samples=100_000)
    c.optim.g = adam(1e-3, schedule="cosine")
    c.optim.d = adam(1e-3, schedule="cosine")
    c.train.update(
        steps=3000, batch_size=256, ema_decay=0.99, log_every=100, sample_every=1000, checkpoint_every=1000
    )
    c.eval.num_samples = 2500
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
