"""Multilayer perceptrons for vector data: the networks of the original GAN (Goodfellow et al. 2014) and
of the 2-D mode-collapse benchmark (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018, App.).

PacGAN's 2-D networks (its code, ``synthetic_data_experiments/*/pacgan_task.py``): the generator is a
ReLU MLP with four hidden layers of 400 units, each ``Dense (no bias) -> BatchNorm -> ReLU``, and a
linear output; the discriminator has three maxout layers of 200 units with 5 pieces each (no batch
norm, no dropout) and a linear output; every weight is drawn from N(0, 0.02^2), biases are zero.
"""

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


def _dense_init(init_std: float | None) -> dict:
    """Dense initialisers: N(0, init_std^2) weights and zero biases, or Flax's defaults for ``None``."""
    if init_std is None:
        return {}
    if not init_std > 0:
        raise ValueError(f"init_std must be positive or None, got {init_std!r}")
    return {"kernel_init": nn.initializers.normal(init_std), "bias_init": nn.initializers.zeros}


class MLPGenerator(nn.Module):
    """``G(z) = W_L relu(... relu(W_1 z))``: ReLU hidden layers and a linear output of ``out_dim``.

    With ``batch_norm`` every hidden layer is ``Dense -> BatchNorm -> ReLU`` and its Dense has no bias
    (batch norm's shift replaces it), as PacGAN's 2-D generator. ``bn_momentum`` is the running-average
    decay (PacGAN: 0.95, its population update ``0.05 * batch + 0.95 * running``).
    """

    out_dim: int = 2
    hidden: Sequence[int] = (128, 128)
    num_classes: int | None = None
    batch_norm: bool = False
    axis_name: str | None = None
    bn_momentum: float = 0.9
    init_std: float | None = None

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True):
        h = _condition(z, labels, self.num_classes)
        init = _dense_init(self.init_std)
        for width in self.hidden:
            h = nn.Dense(width, use_bias=not self.batch_norm, **init)(h)
            if self.batch_norm:
                h = nn.BatchNorm(
                    use_running_average=not train, momentum=self.bn_momentum, axis_name=self.axis_name
                )(h)
            h = nn.relu(h)
        return nn.Dense(self.out_dim, **init)(h)


def maxout(h: jax.Array, num_pieces: int) -> jax.Array:
    """Maxout (Goodfellow et al. 2013, Eq. 1): ``(..., U * k) -> (..., U)``, unit ``u`` the max of
    features ``u * k, ..., u * k + k - 1`` (the grouping of Theano/Blocks' ``Maxout`` that PacGAN uses)."""
    if h.shape[-1] % num_pieces:
        raise ValueError(f"{h.shape[-1]} features do not split into maxout units of {num_pieces} pieces")
    return jnp.max(h.reshape(*h.shape[:-1], h.shape[-1] // num_pieces, num_pieces), axis=-1)


class MLPDiscriminator(nn.Module):
    """``D(x)``: LeakyReLU(0.2) hidden layers and one logit per example (no sigmoid).

    Options of the 2-D benchmark (PacGAN's packing is ``model.pack``, which wraps any discriminator in
    :class:`gans_jax.layers.packing.Packed`):
      maxout_pieces: ``k > 0`` makes every hidden layer a maxout layer (Goodfellow et al. 2013) of
        ``width`` units with ``k`` pieces (a Dense to ``width * k`` features, then :func:`maxout`);
        PacGAN uses 3 layers of 200 units with 5 pieces.
      spectral_norm: ``nn.SpectralNorm`` on every Dense (Miyato et al. 2018), one power iteration per
        call in training mode; ``u`` and ``sigma`` live in the ``batch_stats`` collection.
      init_std: N(0, init_std^2) weights and zero biases (PacGAN: 0.02); ``None``: Flax's defaults.
    """

    hidden: Sequence[int] = (128, 128)
    num_classes: int | None = None
    negative_slope: float = 0.2
    maxout_pieces: int = 0
    spectral_norm: bool = False
    init_std: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True):
        h = _condition(x.reshape(x.shape[0], -1), labels, self.num_classes)
        init = _dense_init(self.init_std)

        def dense(features):
            layer = nn.Dense(features, **init)
            if self.spectral_norm:
                return lambda h: nn.SpectralNorm(layer)(h, update_stats=train)
            return layer

        for width in self.hidden:
            if self.maxout_pieces:
                h = maxout(dense(width * self.maxout_pieces)(h), self.maxout_pieces)
            else:
                h = nn.leaky_relu(dense(width)(h), self.negative_slope)
        return dense(1)(h)[:, 0]
