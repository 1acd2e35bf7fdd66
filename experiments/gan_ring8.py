"""The original GAN (MLPs, non-saturating loss; Goodfellow et al. 2014) on the ring of 8 Gaussians.

Data and metrics follow VEEGAN / PacGAN: 8 modes on the unit circle with std 0.01; modes captured,
high-quality fraction (within 3 std) and reverse KL over modes.

    python experiments/gan_ring8.py --workdir=runs/ring8
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.model = dict(name="mlp", latent_dim=2, g_hidden=(128, 128), d_hidden=(128, 128), conditional=False)
    c.data = dict(source="toy", name="ring8", num_samples=100_000, path="", split="")
    c.objective = dict(name="non_saturating", kwargs={})
    adam = dict(name="adam", lr=1e-3, b1=0.5, b2=0.999, schedule="cosine", clip=0.0)
    c.optim = dict(g=dict(adam), d=dict(adam))
    c.regularizers = {}
    c.train = dict(
        steps=3000,
        batch_size=256,
        n_critic=1,
        critic_batches="split",
        reuse_fakes=True,
        ema_decay=0.99,
        ema_start=0,
        log_every=100,
        sample_every=1000,
        checkpoint_every=1000,
    )
    c.eval = dict(num_samples=2500)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
