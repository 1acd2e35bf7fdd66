"""SRGAN x4 super-resolution on any image folder (Ledig et al. 2017, "Photo-Realistic Single Image
Super-Resolution Using a Generative Adversarial Network").

- Generator: SRResNet (Fig. 4): 9x9 conv + PReLU, 16 residual blocks, two x2 sub-pixel convolutions.
- Discriminator: the eight 3x3 conv layers (64 -> 512) + Dense 1024 + Dense 1 of Fig. 4.
- Perceptual loss (Eq. 3): content loss + 1e-3 x adversarial loss (``objective.adversarial_weight``).
  The paper's content loss is the MSE of VGG19 features (VGG54), whose weights cannot be downloaded
  here: this config uses the pixel-wise MSE (Eq. 4, the paper's SRGAN-MSE). With torchvision's
  ``vgg19-dcbb9e9d.pth`` supplied (or an ``.npz`` of its tensors), ``auxiliary_losses.content =
  dict(weight=1.0, features="vgg54", weights=path)`` (or ``"vgg22"``) is the paper's SRGAN-VGG54 (-VGG22)
  loss, features rescaled by 1/12.75 (Sec. 3.2; :mod:`gans_jax.models.vgg`); ``features="inception"``
  takes the MSE of the FID Inception port's pool3 features instead (offline weights), and library users
  pass any extractor as ``auxiliary_loss("content", w, features=phi)``. The metrics name the choice:
  ``g_aux_content`` with ``content.features`` in config.json.
- HR crops of 96x96, LR = PIL bicubic downsample x4 (``data.translation="super_resolution"``), Adam
  1e-4, (0.9, 0.999), batch 16; 10^5 updates at 1e-4 then 10^5 at 1e-5 in the paper (here: 2 x 10^5
  with a constant rate; use a schedule override for the step).
- SRResNet initialisation: the paper starts SRGAN from an SRResNet trained with the MSE for 10^6
  updates. Here one run does both: ``objective.adversarial_start=10^5`` content-only (SRResNet) updates,
  then the 2 x 10^5 SRGAN updates above (3 x 10^5 in all; D trains throughout, so it is not a fresh
  network when the adversarial term starts).
- Evaluation as the paper's Sec. 3.1: PSNR with a 4-pixel border shaved (``eval.shave``), on RGB and on
  BT.601 luma (``psnr_y``), against PIL bicubic upsampling of the LR input; ``eval.resolution`` sets
  the held-out crop size (the generator is fully convolutional; 0 = the training crop).

Point ``--config.data.path`` at a folder of photos (e.g. a DIV2K or ImageNet subset); held-out metrics
(PSNR against bicubic upsampling, L1) use ``eval.path``.

``:tiny``: x4 super-resolution of 32x32 crops of the photos bundled with scikit-image/scikit-learn
(``offline:sr_photos``, disjoint train/test rows; 1,024 training crops per photo), width 32 with 4
residual blocks, ICNR-initialised sub-pixel convolutions (Aitken et al. 2017), and two changes to the
paper's generator that a CPU-sized run needs: no batch norm (``model.g_normalization="none"``, as EDSR)
and a global bicubic skip (``model.g_output="bicubic_residual"``, VDSR's residual learning: the untrained
network is bicubic interpolation). Adam 1e-3 with cosine decay; 500 content-only (SRResNet) steps, then
100 SRGAN steps (the paper's 5:1 ratio of SRResNet to SRGAN updates) with adversarial weight 3e-4: at the
paper's 1e-3, those 100 steps cost 1.2 dB on these crops (26.34 dB, below bicubic). Held-out metrics on
all 768 test crops (128 from each of the six photos), 4-pixel border shaved. Measured (600 steps, 98 s
on 2 CPU cores): RGB PSNR 27.31 dB against bicubic's 26.86 (+0.44), Y 29.36 against 28.78 (+0.59); above
bicubic on five of the six photos (rocket: 28.26 against 28.46). Without the adversarial phase the same
run reaches 27.52 dB; with the paper's generator (batch norm, tanh output, no skip) and 450 + 150 steps at
2e-3, 24.93 dB.

    gans-jax train --config experiments/srgan_folder.py --config.data.path=photos/ --workdir runs/srgan
"""

from gans_jax.configs import adam, default_config, parse_presets

PRESETS = ("tiny",)


def get_config(arg: str | None = None):
    presets = parse_presets(arg, PRESETS)
    c = default_config()
    c.model.update(
        name="srgan", translation="paired", resolution=96, g_channels=64, d_channels=64, residual_blocks=16
    )
    c.data.update(
        source="folder",
        path="data/photos",
        translation="super_resolution",
        scale=4,
        crop="none",
        jitter=True,
        channels=3,
    )
    c.objective.update(name="non_saturating", adversarial_weight=1e-3, adversarial_start=100_000)
    c.auxiliary_losses = {"content": dict(weight=1.0, features="pixel", weights="")}
    c.optim.g = adam(1e-4, b1=0.9, b2=0.999)
    c.optim.d = adam(1e-4, b1=0.9, b2=0.999)
    c.train.update(steps=300_000, batch_size=16, ema_decay=0.0, sample_every=5000, checkpoint_every=5000)
    c.eval.update(path="data/photos_test", num_samples=100, shave=4)
    if "tiny" in presets:
        c.model.update(
            resolution=32,
            g_channels=32,
            d_channels=16,
            residual_blocks=4,
            d_pool_size=1,
            icnr=True,
            g_output="bicubic_residual",
            g_normalization="none",
        )
        c.data.update(source="offline:sr_photos", path="", jitter=False, channels=0, crop="center")
        c.objective.update(adversarial_start=500, adversarial_weight=3e-4)
        c.optim.g = adam(1e-3, b1=0.9, b2=0.999, schedule="cosine")
        c.train.update(steps=600, batch_size=16, log_every=50, sample_every=300, checkpoint_every=300)
        c.eval.update(path="", split="test", num_samples=768)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
