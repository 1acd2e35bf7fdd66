"""pix2pix on CMP Facades, labels -> photo (Isola et al. 2017, "Image-to-Image Translation with
Conditional Adversarial Networks").

- Generator: the U-Net of App. 6.1.1 (encoder C64-C128-C256-C512-C512-C512-C512-C512, decoder with skip
  connections and dropout 0.5 in three of its layers, 2-4 as in the authors' code, also at test time:
  the noise source).
- Discriminator: the 70x70 PatchGAN of App. 6.1.2 on (label map, photo) pairs.
- Loss: the conditional GAN loss (non-saturating for G, as the paper's Sec. 3.3) + lambda * L1 with
  lambda = 100 (Eq. 4). The paper halves D's objective; Adam's update does not change under that scale.
- Adam 2e-4, (0.5, 0.999), batch 1, batch norm (instance norm at batch 1), random jitter (resize to
  286, random 256 crop, mirror), 200 epochs over the 400 training images: 100 at a constant rate, 100
  decaying linearly to 0.

Data: the authors' ``facades`` archive (http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz)
holds side-by-side ``A|B`` JPEGs (A = photo, B = labels) in ``train/``, ``val/`` and ``test/``; unpack it
to ``data/facades`` or point ``--config.data.path`` elsewhere. Held-out metrics (L1 and PSNR against
the identity baseline) and sample grids use ``eval.path`` (``data/facades/val``).

``:tiny`` trains on offline data in a few minutes on CPU: Canny edges -> LFW face crops at 32x32
(``offline:edges2faces``, 80 training and 20 held-out faces), a U-Net and PatchGAN of width 16.

    gans-jax train --config experiments/pix2pix_facades.py --workdir runs/pix2pix_facades
    gans-jax translate --workdir runs/pix2pix_facades --input labels/ --out photos/
"""

from gans_jax.configs import adam, default_config, parse_presets

PRESETS = ("tiny",)


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    c.model.update(
        name="pix2pix",
        translation="paired",
        resolution=256,
        g_channels=64,
        d_channels=64,
        g_normalization="batch",
        d_normalization="batch",
        g_dropout=0.5,
        d_layers=3,
    )
    c.data.update(
        source="folder",
        path="data/facades/train",
        translation="paired",
        layout="side_by_side",
        direction="BtoA",
        jitter=True,
        channels=3,
    )
    c.objective.name = "non_saturating"
    c.auxiliary_losses = {"l1_reconstruction": dict(weight=100.0)}
    c.optim.g = adam(2e-4, b1=0.5, b2=0.999, schedule="constant_then_linear")
    c.optim.d = adam(2e-4, b1=0.5, b2=0.999, schedule="constant_then_linear")
    c.train.update(steps=80_000, batch_size=1, ema_decay=0.0, sample_every=4000, checkpoint_every=4000)
    c.eval.update(path="data/facades/val", num_samples=100, batch_stats=True)
    if "tiny" in presets:
        c.model.update(resolution=32, g_channels=16, d_channels=16)
        c.data.update(source="offline:edges2faces", path="", layout="folders", direction="AtoB", jitter=False)
        c.data.channels = 0
        c.optim.g = adam(2e-4, b1=0.5, b2=0.999)
        c.optim.d = adam(2e-4, b1=0.5, b2=0.999)
        c.train.update(steps=600, batch_size=8, log_every=50, sample_every=200, checkpoint_every=200)
        c.eval.update(path="", split="test", num_samples=20)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
