"""Kernel Inception Distance (Bińkowski et al., 2018, "Demystifying MMD GANs", Sec. 3 and App. D).

KID is the squared MMD between Inception features of real and generated images under the cubic
polynomial kernel ``k(x, y) = (x . y / d + 1) ** 3``, estimated without bias on random subsets:

``MMD^2_u = sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)] / (m (m - 1)) - 2 sum_{i, j} k(x_i, y_j) / m^2``

for ``num_subsets`` subsets of ``m = min(subset_size, n_real, n_fake)`` samples drawn without
replacement from each set, reported as the mean and standard deviation over subsets (StyleGAN2-ADA's
``kid50k``: subsets of 1000, 100 subsets; its number is the mean). Unlike FID, the features must be
kept (a subset is any 1000 of them).
"""

from __future__ import annotations

import numpy as np

__all__ = ["kernel_inception_distance", "polynomial_mmd_unbiased"]


def polynomial_mmd_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between equally sized samples ``x``, ``y`` ``(m, d)`` with the cubic kernel."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, d = x.shape
    if y.shape != (m, d) or m < 2:
        raise ValueError(f"need two (m, d) samples with m >= 2, got {x.shape} and {y.shape}")
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.sum() / (m * m))


def kernel_inception_distance(
    real_features,
    fake_features,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float | int]:
    """KID mean and standard deviation over subsets; ``seed`` fixes the subsets.

    Returns ``{"kid": mean, "kid_std": std, "num_subsets", "subset_size": m, "num_real", "num_fake"}``.
    """
    real, fake = np.asarray(real_features), np.asarray(fake_features)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d, got {real.shape} and {fake.shape}")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be positive, got {num_subsets}")
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {len(real)} and {len(fake)}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        values.append(polynomial_mmd_unbiased(x, y))
    return {
        "kid": float(np.mean(values)),
        "kid_std": float(np.std(values)),
        "num_subsets": num_subsets,
        "subset_size": m,
        "num_real": len(real),
        "num_fake": len(fake),
    }
