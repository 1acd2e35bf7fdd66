"""StyleGAN2-ADA's CIFAR-10 configuration (Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data", Sec. 5 and App. D; the official ``train.py --cfg=cifar --cond=1 --aug=ada``): the
class-conditional StyleGAN2 of ``cfg_specs['cifar']`` (32x32, ``fmaps=1`` so channel_base 16384 and
channel_max 512, a 2-layer mapping network, D architecture ``orig``, minibatch-stddev groups of 32, batch
64, Adam lr 0.0025 with betas (0, 0.99), R1 gamma 0.01 every 16 D steps, no path length and no style
mixing, EMA over 500 kimg, 100,000 kimg in all) trained with adaptive discriminator augmentation: the
``bgc`` pipeline (x-flips, quarter turns, integer translation, the general geometric and the colour
transforms) on every image D sees, its probability p adjusted every 4 steps towards
``E[sign(D(real))] = 0.6``, able to move from 0 to 1 in 500 kimg. The paper reports FID 2.42 for this
setting (5.59 without ADA).

Data: CIFAR-10 from TFDS (``tfds:cifar10``, labelled). Preset ``tiny``: the same recipe shrunk to the
bundled 16x16 digits (class-conditional, small widths, 300 steps of 32; p moving in 10 kimg so that it
acts within the run), minutes on a CPU.

    python experiments/stylegan2_ada_cifar10.py --workdir=runs/stylegan2_ada_cifar10
    gans-jax train --config experiments/stylegan2_ada_cifar10.py:tiny --workdir=runs/sg2ada_tiny
"""

from gans_jax.configs import adam, default_config, lazy_adam, parse_presets

PRESETS = ("tiny",)


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    batch, lr, r1_every = 64, 0.0025, 16
    c.model.update(
        name="stylegan2",
        resolution=32,
        latent_dim=512,
        w_dim=512,
        mapping_layers=2,
        channel_base=16384,  # fmaps=1: 32768 * 0.5
        channel_max=512,
        mbstd_group_size=32,
        d_architecture="orig",
        style_mixing_prob=0.0,
        conditional=True,
    )
    c.data.update(source="tfds:cifar10", label_key="label", path="", crop="center")
    c.objective.name = "non_saturating"
    c.optim.d = lazy_adam(lr, r1_every)
    c.optim.g = adam(lr, b1=0.0, b2=0.99)  # no lazy path-length term to adjust for
    c.regularizers = {"r1": {"weight": 0.01 / 2, "every": r1_every}}
    c.train.update(
        steps=100_000_000 // batch,
        batch_size=batch,
        n_critic=1,
        reuse_fakes=True,
        ema_decay=0.5 ** (batch / 500_000),  # ema=500 kimg (without the official 0.05 ramp-up)
        log_every=100,
        sample_every=2000,
        checkpoint_every=2000,
    )
    c.eval.update(fid_num=50_000)
    c.augment.update(kind="ada", preset="bgc", p=0.0, target=0.6, interval=4, speed_kimg=500.0)
    if "tiny" in presets:
        c.model.update(
            resolution=16, latent_dim=32, w_dim=32, channel_base=256, channel_max=32, mbstd_group_size=4
        )
        c.data.update(source="digits", split="train", label_key="label")
        c.regularizers.r1.weight = 0.1 / 2  # gamma 0.1 for 16x16 digits
        c.train.update(
            steps=300, batch_size=32, ema_decay=0.99, log_every=50, sample_every=150, checkpoint_every=150
        )
        c.augment.speed_kimg = 10.0
        c.eval.update(num_samples=500)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
