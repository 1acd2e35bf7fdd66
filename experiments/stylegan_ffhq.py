"""StyleGAN (Karras et al. 2019) on FFHQ 1024x1024, without progressive growing (the official code
grows from 8x8; here the full network trains from the start, as in StyleGAN2's comparisons).

Default: 1024x1024, channels ``min(16384 // res, 512)`` (26.2M G parameters), z = w = 512, 8-layer
mapping at lr x0.01, style mixing regularisation 0.9, truncation psi = 0.7 on the first 8 layers for
samples (``gan.generate(..., truncation_psi=0.7, truncation_cutoff=8)``), non-saturating logistic loss
with R1 (gamma = 10, every D step, as the paper's FFHQ runs), Adam lr 0.001, betas (0, 0.99), batch 32,
EMA half-life 10 kimg. Data: a folder (or zip) of FFHQ images (``data.path``) or ``tfds:<name>``.

    python experiments/stylegan_ffhq.py --workdir=runs/stylegan_ffhq --config.data.path=/data/ffhq1024
    gans-jax train --config experiments/stylegan_ffhq.py:tiny --workdir=runs/stylegan_tiny
"""

from gans_jax.configs import adam, default_config

PRESETS = ("1024", "tiny")


def get_config(arg: str | None = None):
    preset = arg or "1024"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {PRESETS}")
    c = default_config()
    c.model.update(
        name="stylegan",
        resolution=1024,
        latent_dim=512,
        w_dim=512,
        mapping_layers=8,
        channel_base=16384,
        channel_max=512,
        style_mixing_prob=0.9,
        mbstd_group_size=4,
        conditional=False,
    )
    c.data.update(source="folder", path="", crop="center", channels=3)
    c.objective.name = "non_saturating"
    c.optim.d = adam(0.001, b1=0.0, b2=0.99)
    c.optim.g = adam(0.001, b1=0.0, b2=0.99)
    c.regularizers = {"r1": {"weight": 10.0 / 2, "every": 1}}
    batch = 32
    c.train.update(
        steps=25_000_000 // batch,
        batch_size=batch,
        ema_decay=0.5 ** (batch / 10_000),
        log_every=100,
        sample_every=2000,
        checkpoint_every=2000,
    )
    c.eval.update(fid_num=50_000)
    if preset == "tiny":
        c.model.update(
            resolution=16, latent_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32
        )
        c.data.update(source="digits", path="", channels=0)
        c.regularizers = {"r1": {"weight": 0.1 / 2, "every": 4}}
        c.optim.d = adam(0.002, b1=0.0, b2=0.99)
        c.optim.g = adam(0.002, b1=0.0, b2=0.99)
        c.train.update(
            steps=300, batch_size=32, ema_decay=0.99, log_every=50, sample_every=150, checkpoint_every=150
        )
        c.eval.update(num_samples=500)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
