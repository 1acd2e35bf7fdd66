"""InfoGAN on MNIST with the paper's networks and hyper-parameters (Chen et al. 2016, App. C.1).

Latents: 62 Unif(-1, 1) noise dimensions, one categorical code with 10 values and 2 Unif(-1, 1)
continuous codes (74 inputs to G); lambda = 1 for the categorical code and, for the continuous codes
(factored Gaussian Q with fixed unit variance, as in the authors' code), 0.1; Adam with D lr 2e-4,
G lr 1e-3, beta1 0.5; batch 100. 28x28 images through TFDS (``tfds.data_source``, prepared locally:
``tfds build mnist --file_format=array_record``). The paper reports 5% error when matching the
categorical code's values to digit classes.

    gans-jax train --config experiments/infogan_mnist.py --workdir runs/infogan_mnist
"""

from gans_jax.configs import adam, default_config, parse_presets


def get_config(arg: str | None = None):
    parse_presets(arg, ())  # no presets: a name after the colon is refused, not ignored
    c = default_config()
    c.model.update(
        name="infogan",
        resolution=28,
        latent_dim=62,
        latent_distribution="uniform",
        g_channels=64,
        d_channels=64,
        g_hidden=(1024,),
        d_hidden=(1024,),
        categorical_codes=(10,),
        continuous_codes=2,
        q_hidden=128,
    )
    c.data.update(source="tfds:mnist", split="train", label_key="")
    c.auxiliary_losses = {
        "mutual_information_categorical": dict(weight=1.0),
        "mutual_information_continuous": dict(weight=0.1, std=1.0),
    }
    c.optim.g = adam(1e-3)
    c.optim.d = adam(2e-4)
    c.train.update(steps=30_000, batch_size=100, ema_decay=0.0)  # 50 epochs of 60,000
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
