"""Helpers of the image-to-image model tests: parameter counts from shapes alone, and variables filled
with numpy random values (no compiled ``init``: XLA:CPU compiles a network's initialiser slower than its
forward pass, and these tests check the networks' functions, not the initialisers); and the tiny
stand-in networks of the image-to-image step tests."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

KEYS = {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}


def variable_shapes(module, *args, **kwargs):
    return jax.eval_shape(lambda *a: module.init(KEYS, *a, train=False, **kwargs), *args)


def num_params(module, *args, **kwargs) -> int:
    return sum(
        int(np.prod(p.shape)) for p in jax.tree.leaves(variable_shapes(module, *args, **kwargs)["params"])
    )


def random_variables(module, *args, seed: int = 0, **kwargs):
    """Variables of ``module`` with kernels ~ N(0, 1/fan_in), biases and batch-norm statistics random
    around their neutral values, so every path of the network carries signal."""
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        name = getattr(path[-1], "key", str(path[-1]))
        shape = leaf.shape
        if name == "kernel":
            fan_in = int(np.prod(shape[:-1]))
            value = rng.normal(size=shape) / np.sqrt(fan_in)
        elif name == "scale":
            value = 1.0 + 0.1 * rng.normal(size=shape)
        elif name == "var":
            value = 1.0 + rng.uniform(size=shape)
        elif name == "negative_slope":
            value = np.full(shape, 0.25)
        else:  # bias, mean
            value = 0.1 * rng.normal(size=shape)
        return np.asarray(value, leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, variable_shapes(module, *args, **kwargs))


class PixelG(nn.Module):
    """A 1x1 convolution of the source: ``G(x) = tanh(x W + b)`` with ``channels`` outputs."""

    channels: int = 2

    @nn.compact
    def __call__(self, z, condition, train=True):
        assert z is None
        return jnp.tanh(nn.Conv(self.channels, (1, 1))(condition))


class PairD(nn.Module):
    """A linear discriminator of the pair (source, image), concatenated on channels."""

    @nn.compact
    def __call__(self, x, condition, train=True):
        h = jnp.concatenate([condition, x], axis=-1)
        return nn.Dense(1)(h.reshape(h.shape[0], -1))[:, 0]
