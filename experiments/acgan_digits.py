"""AC-GAN (Odena et al. 2017) on scikit-learn's bundled digits at 16x16.

The class-conditional DCGAN generator (label embedding concatenated to z); the discriminator does not
see the label but predicts it with an auxiliary classifier head. D minimises its adversarial loss plus
the class cross-entropy on real and fake digits, G its adversarial loss plus the cross-entropy on fakes
(``-L_C``, Eq. 2-3). Samples are judged by a digits classifier (``class_agreement``).

    python experiments/acgan_digits.py --workdir=runs/acgan_digits
"""

from gans_jax.configs import adam, default_config, parse_presets


def get_config(arg: str | None = None):
    parse_presets(arg, ())  # no presets: a name after the colon is refused, not ignored
    c = default_config()
    c.model.update(
        resolution=16, latent_dim=64, g_channels=32, d_channels=32, conditional=True, conditioning="acgan"
    )
    c.data.update(source="digits", split="train")
    c.auxiliary_losses = {"auxiliary_classifier": dict(weight=1.0)}
    c.optim.g = adam(2e-4)  # the paper's Adam: lr 2e-4, beta1 0.5
    c.optim.d = adam(2e-4)
    c.train.update(
        steps=1500, batch_size=64, ema_decay=0.995, log_every=50, sample_every=500, checkpoint_every=500
    )
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
