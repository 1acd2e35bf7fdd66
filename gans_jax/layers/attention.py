"""Self-attention for convolutional GANs (SAGAN, Zhang et al. 2019, Sec. 3; BigGAN's variant)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.normalization import spectral_norm


class SelfAttention(nn.Module):
    """``y = x + gamma * o(softmax(theta(x)^T phi(x)) g(x))`` over all spatial positions.

    SAGAN eq. 1-3: ``theta``, ``phi`` project to ``C/8`` channels, ``g`` to ``C/2`` and ``o`` back to
    ``C`` (1x1 convolutions without bias, written as dense layers over channels); ``gamma`` starts at 0 so
    the block begins as the identity. As in BigGAN, ``phi`` and ``g`` are max-pooled 2x2 (the keys and
    values cover a quarter of the positions), which needs even ``H`` and ``W``.
    """

    spectral_norm: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.orthogonal()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        n, h, w, c = x.shape
        if c % 8 or h % 2 or w % 2:
            raise ValueError(f"self-attention needs channels divisible by 8 and even H, W; got {x.shape}")

        def project(features: int, name: str):
            dense = nn.Dense(features, use_bias=False, kernel_init=self.kernel_init, name=name)
            return spectral_norm(dense, enabled=self.spectral_norm, train=train)

        def pool(t):
            return nn.max_pool(t, (2, 2), strides=(2, 2)).reshape(n, h * w // 4, -1)

        theta = project(c // 8, "theta")(x).reshape(n, h * w, c // 8)
        phi = pool(project(c // 8, "phi")(x))
        g = pool(project(c // 2, "g")(x))
        beta = jax.nn.softmax(jnp.einsum("nqc,nkc->nqk", theta, phi), axis=-1)
        o = project(c, "o")(jnp.einsum("nqk,nkc->nqc", beta, g).reshape(n, h, w, c // 2))
        gamma = self.param("gamma", nn.initializers.zeros, ())
        return x + gamma * o
