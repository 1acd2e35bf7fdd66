"""Class-conditional DCGAN on MNIST through TFDS (``tfds.data_source``, no TensorFlow needed).

Digits are resized from 28x28 to 32x32. Needs the TFDS ``mnist`` dataset prepared locally
(``tfds build mnist --file_format=array_record`` with the ``tf`` extra, or a copy in
``data.path``); TFRecord-only datasets need the ``tf`` extra at train time too.

    gans-jax train --config experiments/dcgan_mnist.py --workdir runs/mnist
"""

from gans_jax.configs import adam, default_config, parse_presets


def get_config(arg: str | None = None):
    parse_presets(arg, ())  # no presets: a name after the colon is refused, not ignored
    c = default_config()
    c.model.update(
        name="dcgan", resolution=32, latent_dim=100, g_channels=64, d_channels=64, conditional=True
    )
    c.data.update(source="tfds:mnist", split="train", label_key="label")
    c.optim.g = adam(2e-4)
    c.optim.d = adam(2e-4)
    c.train.update(steps=20_000, batch_size=128)
    return c


if __name__ == "__main__":
    from gans_jax.cli import run_experiment_file

    run_experiment_file(__file__)
