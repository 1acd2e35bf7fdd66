"""BigGAN on ImageNet (Brock et al. 2019): the BigGAN-128 recipe, ready for a TPU pod or a GPU machine.

Default: 128x128, ch = 96, shared embedding (128-d) + hierarchical latents (z of 120 = 6 chunks of 20),
self-attention at 64x64, hinge loss, 2 D steps per G step, Adam (G 1e-4, D 4e-4, betas (0, 0.999)),
orthogonal regularisation beta = 1e-4 on G (off-diagonal form), EMA of G (decay 0.9999 from step
20,000), batch 2048 per update (the data batch holds the 2 D steps' minibatches: 4096 images per step).
BigGAN-PyTorch's script for this model (launch_BigGAN_bs256x8.sh) differs in three places: 1 D step, no
orthogonal regularisation, Adam eps 1e-6; the defaults here are the paper's.

ImageNet is read from a prepared TFDS ``imagenet2012`` (ArrayRecord files under ``data.path``, each host
reading its own slice of every global batch), centre-cropped and resized to the model resolution.

    # every host of a TPU pod slice (jax.distributed finds the topology):
    python experiments/biggan_imagenet.py --workdir=gs://BUCKET/biggan128 --distributed \\
        --config.data.path=gs://BUCKET/tensorflow_datasets
    # tiny preset: labelled digits at 16x16, a minute on a CPU
    gans-jax train --config experiments/biggan_imagenet.py:tiny --workdir=runs/biggan_tiny
"""

from gans_jax.configs import adam, default_config

PRESETS = ("128", "tiny")


def get_config(arg: str | None = None):
    preset = arg or "128"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {PRESETS}")
    c = default_config()
    c.model.update(
        name="biggan",
        resolution=128,
        latent_dim=120,
        conditional=True,
        g_channels=96,
        d_channels=96,
        shared_dim=128,
        hierarchical=True,
        attention="64",
    )
    c.data.update(source="tfds:imagenet2012", split="train", label_key="label", crop="center")
    c.objective.name = "hinge"
    c.optim.g = adam(1e-4, b1=0.0, b2=0.999)
    c.optim.d = adam(4e-4, b1=0.0, b2=0.999)
    c.regularizers = {"orthogonal": {"weight": 1e-4, "player": "generator"}}
    c.train.update(
        steps=150_000,
        batch_size=4096,  # 2 D minibatches of 2048; G updates on 2048 samples
        n_critic=2,
        critic_batches="split",
        ema_decay=0.9999,
        ema_start=20_000,
        log_every=100,
        sample_every=2000,
        checkpoint_every=1000,
    )
    c.eval.update(num_samples=1000, fid_num=50_000, standing_stats=16, truncations=(0.5, 1.0, 1.5, 2.0))
    if preset == "tiny":
        # Labelled 8x8 digits at 16x16 (G_ARCH[16]: the 32x32 widths, one block fewer), ch 16, attention
        # at 8x8; lr 1e-3, betas (0.5, 0.999) for both players (as sngan_digits: at the paper's 1e-4 / 4e-4
        # the class-conditional gains barely move in a few hundred steps) and no EMA (a 0.999 EMA started
        # at step 100 still holds 82% of the step-100 generator at step 300).
        c.model.update(
            resolution=16, latent_dim=48, g_channels=16, d_channels=16, shared_dim=32, attention="8"
        )
        c.data.update(source="digits", split="train")
        c.optim.g = adam(1e-3, b1=0.5, b2=0.999)
        c.optim.d = adam(1e-3, b1=0.5, b2=0.999)
        c.train.update(
            steps=300,
            batch_size=64,
            ema_decay=0.0,
            ema_start=0,
            log_every=50,
            sample_every=150,
            checkpoint_every=150,
        )
        c.eval.update(num_samples=500)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
