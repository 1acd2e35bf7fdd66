"""Reusable Flax layers shared by every model family."""

from gans_jax.layers.upsample import SubPixelConvTranspose, conv_transpose_subpixel

__all__ = ["SubPixelConvTranspose", "conv_transpose_subpixel"]
