"""Progressive GAN on CelebA-HQ 1024x1024: Karras et al. 2018, "Progressive Growing of GANs for Improved
Quality, Stability, and Variation", Table 2 and Appendix A.1.

- Networks grown from 4x4 to 1024x1024 (``gans_jax.models.progressive``): 512 feature maps up to 32x32,
  then 256, 128, 64, 32, 16; equalized learning rate, pixelwise normalisation in G, minibatch
  standard deviation (groups of 4) in D; 23.1M parameters in each network; 512-d latents normalised
  onto the hypersphere.
- Each new resolution fades in over 800k real images, then stabilises for 800k (the 4x4 stage only
  stabilises); batch 16 up to 128x128, then 14, 6 and 3 at 256, 512 and 1024
  (``gans_jax.training.progressive``).
- WGAN-GP loss with n_critic = 1, lambda = 10, plus the drift term 0.001 E[D(x)^2] (the penalty's input
  gradients are those of sum_b D(x_hat)_b, through the minibatch-stddev layer, as the authors' code);
  Adam lr 0.001,
  betas (0, 0.99), eps 1e-8 for both; generator EMA with decay 0.999. Adam moments reset when a
  fade starts and ends (the authors' ``reset_opt_for_new_lod``).
- Data: TFDS ``celeb_a_hq/1024`` (must be prepared manually, see its TFDS page), or any image folder with
  ``--config.data.source=folder --config.data.path=DIR``.

``:tiny`` trains the same recipe on the bundled digits offline on a CPU in minutes: 4 -> 8 -> 16,
feature maps min(256 // r, 64), 3,200 images per phase, batch 16.

    gans-jax train --config experiments/pggan_celebahq.py --workdir runs/pggan_celebahq
    gans-jax train --config experiments/pggan_celebahq.py:tiny --workdir runs/pggan_tiny
"""

from gans_jax.configs import adam, default_config, parse_presets

PRESETS = ("tiny",)


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    c.model.update(
        name="progressive",
        resolution=1024,
        latent_dim=512,
        channel_base=16384,
        channel_max=512,
        mbstd_group_size=4,
    )
    c.data.update(source="tfds:celeb_a_hq/1024", split="train", label_key="")
    c.objective.name = "wasserstein"
    c.regularizers = {"gradient_penalty": {"weight": 10.0}, "drift": {"weight": 0.001}}
    c.optim.g = adam(1e-3, b1=0.0, b2=0.99)
    c.optim.d = adam(1e-3, b1=0.0, b2=0.99)
    c.progressive.update(
        start_resolution=4,
        fade_images=800_000,
        stabilize_images=800_000,
        batch_sizes=(16, 16, 16, 16, 16, 16, 14, 6, 3),
        reset_optimizer=True,
    )
    c.train.update(n_critic=1, ema_decay=0.999, log_every=1000, sample_every=10_000, checkpoint_every=10_000)
    if "tiny" in presets:
        c.model.update(resolution=16, latent_dim=64, channel_base=256, channel_max=64)
        c.data.update(source="digits", path="", label_key="label")
        c.progressive.update(fade_images=3200, stabilize_images=3200, batch_sizes=(16,))
        c.train.update(ema_decay=0.99, log_every=50, sample_every=200, checkpoint_every=200)
        c.eval.num_samples = 500
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
