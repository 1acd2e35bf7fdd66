"""gans-jax: generative adversarial networks as pure JAX functions composed into compiled train steps."""

__version__ = "0.1.0"
