"""StyleGAN2 config F on FFHQ 1024x1024 (Karras et al. 2020, Sec. 4 / App. B; the official
``stylegan2-ada-pytorch --cfg=stylegan2`` recipe without augmentation).

Default: 1024x1024, channel_base 32768 / channel_max 512 (30.4M G, 29.0M D parameters), z = w = 512,
8-layer mapping at lr x0.01, style mixing 0.9, non-saturating logistic loss, lazy R1 (gamma = 10:
weight gamma / 2 = 5, every 16 D steps), path length (weight 2, every 4 G steps, decay 0.01, half
batch), Adam lr 0.002, betas (0, 0.99), both adjusted for lazy regularisation as in App. B
(``lr * c``, ``beta ** c`` with ``c = k / (k + 1)``), batch 32, EMA half-life 10 kimg, 25,000 kimg.
Data: a folder (or zip) of FFHQ images (``data.path``), or any ``tfds:<name>`` data source.
Presets ``512`` ... ``32``: the same recipe at that resolution (config F channels, R1 gamma from
StyleGAN2-ADA's heuristic ``0.0002 res^2 / batch``). ``paper256`` and ``cifar``: StyleGAN2-ADA's
``--cfg=paper256`` (channel_base 16384, batch 64, mbstd groups of 8, lr 0.0025, gamma 1, EMA 20 kimg)
and ``--cfg=cifar`` (class-conditional CIFAR-10 from TFDS, 2 mapping layers, D architecture ``orig``,
mbstd groups of 32, batch 64, lr 0.0025, gamma 0.01, no path length and no style mixing, EMA 500 kimg
without its ramp-up, 100,000 kimg): the networks of the released 256x256 and CIFAR-10 pickles, for
fine-tuning them after ``gans-jax convert`` (``--config.train.init_from``). The networks follow the
official ``train.py`` defaults throughout: ``conv_clamp`` 256, skip G, resnet D. ``ada`` (combined with
any other preset, e.g. ``:256,ada``): StyleGAN2-ADA's default ``--aug=ada --augpipe=bgc`` (adaptive p,
target 0.6, adjusted every 4 steps, 500 kimg from 0 to 1; ``gans_jax.augment``); ``:tiny,ada`` moves p
in 10 kimg so that it acts within the tiny run.

    python experiments/stylegan2_ffhq.py --workdir=runs/stylegan2_ffhq --config.data.path=/data/ffhq1024
    # tiny: digits at 16x16 on a CPU in minutes
    gans-jax train --config experiments/stylegan2_ffhq.py:tiny --workdir=runs/stylegan2_tiny
    # the same on a folder of images (150 steps of 16x16 greyscale: about 1.5 min on 2 CPU cores)
    gans-jax train --config experiments/stylegan2_ffhq.py:tiny --config.data.source=folder \
        --config.data.path=my_images --config.data.channels=1 --workdir=runs/stylegan2_folder
"""

from gans_jax.configs import adam, default_config, lazy_adam

PRESETS = ("1024", "512", "256", "128", "64", "32", "paper256", "cifar", "tiny")


def get_config(arg: str | None = None):
    names = [n for n in (arg or "").split(",") if n]
    ada = "ada" in names
    names = [n for n in names if n != "ada"]
    if len(names) > 1:
        raise ValueError(f"presets {names} in {arg!r} exclude each other: pick one of {PRESETS} (plus 'ada')")
    preset = names[0] if names else "1024"
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {PRESETS}, optionally with ',ada'")
    c = default_config()
    c.model.update(
        name="stylegan2",
        resolution=1024,
        latent_dim=512,
        w_dim=512,
        mapping_layers=8,
        channel_base=32768,
        channel_max=512,
        style_mixing_prob=0.9,
        mbstd_group_size=4,
        conditional=False,
    )
    c.data.update(source="folder", path="", crop="center", channels=3)
    c.objective.name = "non_saturating"
    r1_every, pl_every = 16, 4
    c.optim.d = lazy_adam(0.002, r1_every)
    c.optim.g = lazy_adam(0.002, pl_every)
    c.regularizers = {
        "r1": {"weight": 10.0 / 2, "every": r1_every},
        "path_length": {"weight": 2.0, "every": pl_every, "decay": 0.01, "batch_shrink": 2},
    }
    batch = 32
    c.train.update(
        steps=25_000_000 // batch,
        batch_size=batch,
        n_critic=1,
        reuse_fakes=True,
        ema_decay=0.5 ** (batch / 10_000),  # half-life of 10k images
        log_every=100,
        sample_every=2000,
        checkpoint_every=2000,
    )
    c.eval.update(fid_num=50_000)
    if preset.isdigit() and preset != "1024":
        # Other resolutions keep config F's schedule min(32768 // res, 512); R1 gamma from
        # StyleGAN2-ADA's heuristic 0.0002 * res^2 / batch (the paper tunes gamma per dataset).
        res = int(preset)
        c.model.update(resolution=res)
        c.regularizers.r1.weight = 0.0002 * res**2 / batch / 2
    if preset in ("paper256", "cifar"):  # train.py's cfg_specs
        batch, lr = 64, 0.0025
        c.optim.d = lazy_adam(lr, r1_every)
        c.optim.g = lazy_adam(lr, pl_every)
        c.train.update(batch_size=batch)
    if preset == "paper256":
        c.model.update(resolution=256, channel_base=16384, mbstd_group_size=8)
        c.regularizers.r1.weight = 1.0 / 2
        c.train.update(steps=25_000_000 // batch, ema_decay=0.5 ** (batch / 20_000))
    if preset == "cifar":
        c.model.update(
            resolution=32, mapping_layers=2, mbstd_group_size=32, d_architecture="orig", style_mixing_prob=0.0
        )
        c.model.conditional = True
        c.data.update(source="tfds:cifar10", label_key="label")
        c.optim.g = adam(lr, b1=0.0, b2=0.99)  # no lazy path-length term to adjust for
        c.regularizers = {"r1": {"weight": 0.01 / 2, "every": r1_every}}
        c.train.update(steps=100_000_000 // batch, ema_decay=0.5 ** (batch / 500_000))
    if preset == "tiny":
        c.model.update(
            resolution=16, latent_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32
        )
        c.data.update(source="digits", path="", channels=0)
        c.regularizers.r1.weight = 0.1 / 2  # gamma 0.1 for 16x16 digits
        c.train.update(
            steps=300, batch_size=32, ema_decay=0.99, log_every=50, sample_every=150, checkpoint_every=150
        )
        c.eval.update(num_samples=500)
    if ada:  # train.py --aug=ada --augpipe=bgc (its defaults: target 0.6, ada_interval 4, ada_kimg 500)
        c.augment.update(kind="ada", preset="bgc", p=0.0, target=0.6, interval=4, speed_kimg=500.0)
        if preset == "tiny":
            c.augment.speed_kimg = 10.0
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
