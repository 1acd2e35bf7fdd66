"""Reusable Flax layers shared by every model family."""

from gans_jax.layers.conditioning import ProjectionHead
from gans_jax.layers.normalization import ConditionalBatchNorm, spectral_norm
from gans_jax.layers.upsample import SubPixelConvTranspose, conv_transpose_subpixel

__all__ = [
    "ConditionalBatchNorm",
    "ProjectionHead",
    "SubPixelConvTranspose",
    "conv_transpose_subpixel",
    "spectral_norm",
]
