"""Multilayer perceptrons for vector data: the networks of the original GAN (Goodfellow et al. 2014)."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def _condition(h: jax.Array, labels: jax.Array | None, num_classes: int | None) -> jax.Array:
    """Concatenate a one-hot label to the input (conditional GAN, Mirza & Osindero 2014)."""
    if num_classes is None:
        return h
    if labels is None:
        raise ValueError("this network is class-conditional (num_classes set): pass labels")
    return jnp.concatenate([h, jax.nn.one_hot(labels, num_classes, dtype=h.dtype)], axis=-1)


class MLPGenerator(nn.Module):
    """``G(z) = W_L relu(... relu(W_1 z))``: ReLU hidden layers and a linear output of ``out_dim``."""

    out_dim: int = 2
    hidden: Sequence[int] = (128, 128)
    num_classes: int | None = None
    batch_norm: bool = False
    axis_name: str | None = None

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True):
        h = _condition(z, labels, self.num_classes)
        for width in self.hidden:
            h = nn.Dense(width)(h)
            if self.batch_norm:
                h = nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name)(h)
            h = nn.relu(h)
        return nn.Dense(self.out_dim)(h)


class MLPDiscriminator(nn.Module):
    """``D(x)``: LeakyReLU(0.2) hidden layers and one logit per example (no sigmoid)."""

    hidden: Sequence[int] = (128, 128)
    num_classes: int | None = None
    negative_slope: float = 0.2

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        h = _condition(x.reshape(x.shape[0], -1), labels, self.num_classes)
        for width in self.hidden:
            h = nn.leaky_relu(nn.Dense(width)(h), self.negative_slope)
        return nn.Dense(1)(h)[:, 0]
