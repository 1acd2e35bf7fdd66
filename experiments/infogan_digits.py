"""InfoGAN (Chen et al. 2016) on scikit-learn's bundled digits at 16x16: unsupervised digit classes.

A DCGAN trunk whose discriminator carries InfoGAN's Q head; latents are 16 N(0, 1) noise dimensions,
one categorical code with 10 values and 2 Unif(-1, 1) codes. Both players add -lambda L_I (lambda = 1
for the categorical code, 0.1 for the continuous ones with a fixed-variance Gaussian Q). Evaluation
labels samples of every code value with a digits classifier: ``code_purity`` is the fraction agreeing
with their value's majority class, ``code_distinct_classes`` the number of different majority classes.

    python experiments/infogan_digits.py --workdir=runs/infogan_digits
"""

from gans_jax.configs import adam, default_config, parse_presets


def get_config(arg: str | None = None):
    parse_presets(arg, ())  # no presets: a name after the colon is refused, not ignored
    c = default_config()
    c.model.update(
        resolution=16,
        latent_dim=16,
        g_channels=32,
        d_channels=32,
        categorical_codes=(10,),
        continuous_codes=2,
    )
    c.data.update(source="digits", split="train")
    c.auxiliary_losses = {
        "mutual_information_categorical": dict(weight=1.0),
        "mutual_information_continuous": dict(weight=0.1, std=1.0),
    }
    c.optim.g = adam(1e-3)  # the paper's MNIST learning rates
    c.optim.d = adam(2e-4)
    c.train.update(
        steps=1500, batch_size=64, ema_decay=0.995, log_every=50, sample_every=500, checkpoint_every=500
    )
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
