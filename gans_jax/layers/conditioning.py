"""Class conditioning for discriminators: the projection discriminator (Miyato & Koyama 2018)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.layers.normalization import spectral_norm

Initializer = nn.initializers.Initializer


class ProjectionHead(nn.Module):
    """The projection discriminator's output layer (Miyato & Koyama 2018, Eq. 3 and Fig. 1):
    ``f(x, y) = psi(phi(x)) + <embed(y), phi(x)>``, with ``psi`` a linear map to one logit and
    ``embed(y)`` the row ``V^T y`` of a class-embedding matrix, applied to the pooled features
    ``phi(x)`` of shape ``(B, C)``. Unconditional (``psi`` alone) when ``num_classes`` is ``None``.
    With ``spectral_norm`` both ``psi`` and the embedding are spectrally normalised, as in the
    authors' SNGAN-projection code (``SNLinear`` and ``SNEmbedID``); both use Glorot-uniform
    initialisation as there. Returns logits of shape ``(B,)``.
    """

    num_classes: int | None
    spectral_norm: bool = False
    use_bias: bool = True  # psi's bias (the SNGAN ResNet's final layer has none)
    kernel_init: Initializer = nn.initializers.xavier_uniform()

    @nn.compact
    def __call__(self, features: jax.Array, labels: jax.Array | None, train: bool) -> jax.Array:
        if features.ndim != 2:
            raise ValueError(f"ProjectionHead expects pooled features (B, C), got shape {features.shape}")
        sn = lambda layer: spectral_norm(layer, enabled=self.spectral_norm, train=train)
        logits = sn(nn.Dense(1, use_bias=self.use_bias, kernel_init=self.kernel_init, name="psi"))(features)[
            :, 0
        ]
        if self.num_classes is None:
            return logits
        if labels is None:
            raise ValueError(f"conditional ProjectionHead (num_classes={self.num_classes}) needs labels")
        if labels.shape != features.shape[:1]:
            raise ValueError(f"labels must have shape {features.shape[:1]}, got {labels.shape}")
        embed = nn.Embed(self.num_classes, features.shape[-1], embedding_init=self.kernel_init, name="embed")
        projection = jnp.sum(sn(embed)(labels).astype(features.dtype) * features, axis=-1)
        return logits + projection


__all__ = ["ProjectionHead"]
