"""Small layers of the image-to-image networks: reflection padding and PReLU.

- :func:`reflection_pad`: PyTorch's ``nn.ReflectionPad2d`` (the edge pixel is not repeated), which the
  CycleGAN ResNet generator puts before every stride-1 convolution (Zhu et al. 2017, App. 7.2).
- :class:`PReLU`: the parametric ReLU of He et al. (2015), ``max(0, x) + a min(0, x)`` with a learned
  slope ``a`` initialised to 0.25, shared by all channels (PyTorch's ``nn.PReLU()``) or one per channel;
  SRGAN's generator uses it (Ledig et al. 2017, Fig. 4). Flax's ``nn.PReLU`` has only the shared slope,
  initialised to 0.01.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def reflection_pad(x: jax.Array, pad: int) -> jax.Array:
    """Pad NHWC ``x`` by ``pad`` pixels on each side of H and W, reflecting about the edge pixels."""
    if pad < 0 or pad >= min(x.shape[1], x.shape[2]):
        raise ValueError(f"reflection padding {pad} must be in [0, min(H, W)) for shape {x.shape}")
    return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


class PReLU(nn.Module):
    """Parametric ReLU (He et al. 2015, Eq. 1): ``x`` where ``x > 0``, else ``a x``; ``a`` shared or
    per channel (the last axis), initialised to ``negative_slope_init`` (0.25, as in the paper)."""

    channelwise: bool = False
    negative_slope_init: float = 0.25

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (x.shape[-1],) if self.channelwise else ()
        a = self.param("negative_slope", nn.initializers.constant(self.negative_slope_init), shape)
        return jnp.where(x > 0, x, a.astype(x.dtype) * x)


__all__ = ["PReLU", "reflection_pad"]
