"""Structured latents of InfoGAN (Chen et al. 2016, Sec. 4): ``z = [noise, c]``.

The latent vector fed to the generator is the concatenation of the incompressible noise, one one-hot
vector per categorical code ``c_i ~ Cat(K_i)`` and ``n`` continuous codes ``c_j ~ Unif(-1, 1)``, in
that order. :class:`LatentCodes` describes the trailing code part; the generator sees one vector.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from gans_jax import sampling


@dataclasses.dataclass(frozen=True)
class LatentCodes:
    """The code part of an InfoGAN latent: ``categorical`` sizes ``(K_1, ...)`` and ``continuous`` count."""

    categorical: Sequence[int] = ()
    continuous: int = 0

    def __post_init__(self):
        object.__setattr__(self, "categorical", tuple(int(k) for k in self.categorical))
        if any(k < 2 for k in self.categorical):
            raise ValueError(f"categorical code sizes must be >= 2, got {self.categorical}")
        if self.continuous < 0:
            raise ValueError(f"continuous code count must be >= 0, got {self.continuous}")

    @property
    def dim(self) -> int:
        """Length of the code part of the latent vector."""
        return sum(self.categorical) + self.continuous

    def __bool__(self) -> bool:
        return self.dim > 0

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        """``(num, dim)``: one-hot categorical codes (uniform) then continuous codes ~ Unif(-1, 1)."""
        keys = jax.random.split(key, len(self.categorical) + 1)
        parts = [
            jax.nn.one_hot(sampling.sample_labels(k, num, size), size)
            for k, size in zip(keys[:-1], self.categorical, strict=True)
        ]
        parts.append(jax.random.uniform(keys[-1], (num, self.continuous), minval=-1.0, maxval=1.0))
        return jnp.concatenate(parts, axis=-1)

    def split(self, z: jax.Array) -> tuple[jax.Array, list[jax.Array], jax.Array]:
        """``z (B, noise + dim) -> (noise, [one-hot (B, K_i)], continuous (B, n))``."""
        if z.ndim != 2 or z.shape[-1] < self.dim:
            raise ValueError(f"latents of shape {z.shape} cannot hold {self.dim} code dimensions")
        noise_dim = z.shape[-1] - self.dim
        noise, rest = z[:, :noise_dim], z[:, noise_dim:]
        onehots, start = [], 0
        for size in self.categorical:
            onehots.append(rest[:, start : start + size])
            start += size
        return noise, onehots, rest[:, start:]

    def set_categorical(self, z: jax.Array, values: jax.Array, index: int = 0) -> jax.Array:
        """``z`` with categorical code ``index`` set to ``values`` (B,) (for traversals and purity)."""
        if not 0 <= index < len(self.categorical):
            raise ValueError(f"categorical code index {index} not in [0, {len(self.categorical)})")
        start = z.shape[-1] - self.dim + sum(self.categorical[:index])
        onehot = jax.nn.one_hot(values, self.categorical[index], dtype=z.dtype)
        return z.at[:, start : start + self.categorical[index]].set(onehot)


def structured_latents(
    key: jax.Array, num: int, latent_dim: int, codes: LatentCodes, distribution: str = "normal"
) -> jax.Array:
    """``(num, latent_dim)`` latents whose last ``codes.dim`` entries are InfoGAN codes and the rest noise
    drawn from ``distribution`` (the paper's MNIST noise: 62 dims, Unif(-1, 1))."""
    noise_dim = latent_dim - codes.dim
    if noise_dim < 0:
        raise ValueError(f"latent_dim {latent_dim} is smaller than the {codes.dim} code dimensions")
    k_noise, k_codes = jax.random.split(key)
    noise = sampling.sample_latents(k_noise, num, (noise_dim,), distribution)
    return jnp.concatenate([noise, codes.sample(k_codes, num)], axis=-1)
