"""2-D Gaussian-mixture benchmarks for mode collapse.

The protocol follows VEEGAN (Srivastava et al., 2017, "VEEGAN: Reducing Mode Collapse in GANs
using Implicit Variational Learning", Sec. 5.1) and PacGAN (Lin et al., 2018, "PacGAN: The power
of two samples in generative adversarial networks", Sec. 4.1 and Appendix):

* ``ring8``: 8 Gaussians with means ``(cos 2*pi*k/8, sin 2*pi*k/8)`` and standard deviation 0.01
  (variance 1e-4);
* ``grid25``: 25 Gaussians with means on ``{-4, -2, 0, 2, 4}^2`` and standard deviation 0.05
  (variance 0.0025).

Samples are drawn uniformly over components. Score generators with
:func:`gans_jax.metrics.modes.mode_metrics`.

Checked against PacGAN's code (``synthetic_data_experiments/2DRing_GAN&PacGAN/config.py`` and
``2DGrid_GAN&PacGAN/config.py``): ring means ``(cos(2 pi k / 8), sin(2 pi k / 8))`` for k = 0..7 with
covariance ``0.01^2 I``; grid means ``itertools.product(range(-4, 5, 2), range(-4, 5, 2))`` (the
order of :func:`grid_means`) with covariance ``0.05^2 I``; uniform priors. PacGAN trains on a fixed
sample of 100,000 points (``num_sample``) and builds each pack from ``m`` indices drawn with
replacement; :meth:`GaussianMixture2D.sample_jax` draws fresh points from the exact mixture instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["GaussianMixture2D", "get_mixture", "grid_means", "ring_means", "MIXTURES"]


def ring_means(num_modes: int = 8, radius: float = 1.0) -> np.ndarray:
    """Means ``radius * (cos 2*pi*k/K, sin 2*pi*k/K)``, ``k = 0..K-1``, as a ``(K, 2)`` array."""
    if not isinstance(num_modes, (int, np.integer)) or num_modes < 1:
        raise ValueError(f"num_modes must be a positive integer, got {num_modes!r}")
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_means(side: int = 5, spacing: float = 2.0) -> np.ndarray:
    """Means on a centred ``side x side`` grid with the given spacing, as a ``(side**2, 2)`` array.

    The defaults give ``{-4, -2, 0, 2, 4}^2`` (row-major: the second coordinate varies fastest).
    """
    if not isinstance(side, (int, np.integer)) or side < 1:
        raise ValueError(f"side must be a positive integer, got {side!r}")
    coords = (np.arange(side) - (side - 1) / 2.0) * spacing
    xs, ys = np.meshgrid(coords, coords, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


@dataclass(frozen=True)
class GaussianMixture2D:
    """Uniform mixture of isotropic 2-D Gaussians ``N(means[k], std^2 I)``.

    Attributes:
      means: ``(K, 2)`` component means.
      std: the common standard deviation of every component (per coordinate).
    """

    means: np.ndarray
    std: float

    def __post_init__(self) -> None:
        means = np.asarray(self.means, dtype=np.float64)
        if means.ndim != 2 or means.shape[1] != 2 or means.shape[0] < 1:
            raise ValueError(f"means must have shape (K, 2) with K >= 1, got {means.shape}")
        if not np.all(np.isfinite(means)):
            raise ValueError("means must be finite")
        if not (np.isfinite(self.std) and self.std > 0):
            raise ValueError(f"std must be a positive finite number, got {self.std!r}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "std", float(self.std))

    @property
    def num_modes(self) -> int:
        """Number of components ``K``."""
        return int(self.means.shape[0])

    def sample(self, rng: np.random.Generator | int, n: int) -> np.ndarray:
        """Draws ``n`` points, components chosen uniformly; returns ``(n, 2)`` float32.

        Args:
          rng: a numpy ``Generator`` (advanced in place) or an integer seed.
          n: number of samples (>= 0).
        """
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = np.random.default_rng(rng)
        components = rng.integers(self.num_modes, size=n)
        noise = rng.standard_normal((n, 2))
        return (self.means[components] + self.std * noise).astype(np.float32)

    def sample_jax(self, key: jax.Array, n: int) -> jax.Array:
        """Draws ``n`` points inside a JAX program (jit/scan/vmap): ``(n, 2)`` float32, components
        uniform, then ``mean + std * N(0, I)``."""
        k_component, k_noise = jax.random.split(key)
        components = jax.random.randint(k_component, (n,), 0, self.num_modes)
        means = jnp.asarray(self.means, jnp.float32)
        return means[components] + self.std * jax.random.normal(k_noise, (n, 2), jnp.float32)

    @classmethod
    def ring8(cls) -> GaussianMixture2D:
        """8 modes on the unit circle, std 0.01 (PacGAN's 2D-ring; VEEGAN's ring layout)."""
        return cls(means=ring_means(8, 1.0), std=0.01)

    @classmethod
    def grid25(cls) -> GaussianMixture2D:
        """25 modes on ``{-4, -2, 0, 2, 4}^2``, std 0.05 (VEEGAN/PacGAN's 2D-grid)."""
        return cls(means=grid_means(5, 2.0), std=0.05)


MIXTURES = ("ring8", "grid25")


def get_mixture(name: str) -> GaussianMixture2D:
    """Returns the benchmark mixture called ``name`` (one of :data:`MIXTURES`)."""
    if name == "ring8":
        return GaussianMixture2D.ring8()
    if name == "grid25":
        return GaussianMixture2D.grid25()
    raise ValueError(f"unknown mixture {name!r}; expected one of {list(MIXTURES)}")
