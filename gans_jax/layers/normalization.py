"""Normalisation layers: spectral normalisation and class-conditional batch normalisation.

Spectral normalisation (Miyato et al. 2018) is Flax's ``nn.SpectralNorm``: it divides every
matrix-shaped parameter of the wrapped layer by its largest singular value, estimated by one step of
power iteration per call from a persistent vector ``u`` (Miyato et al. 2018, Alg. 1). ``u`` and the
last ``sigma`` live in the ``batch_stats`` collection, so the train step carries them in
``GANState.d_collections`` and updates them whenever a network runs with ``train=True``. Convolution
kernels ``(kh, kw, C_in, C_out)`` are reshaped to ``(kh * kw * C_in, C_out)``: the transpose of the
paper's ``(C_out, C_in * kh * kw)`` matrix, with the same singular values. With ``train=False`` the
power iteration still runs once from the stored ``u`` (as in the authors' Chainer code), but nothing
is stored, so evaluation is deterministic and leaves the state unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

Initializer = nn.initializers.Initializer


def spectral_norm(layer: nn.Module, *, enabled: bool, train: bool) -> Callable[..., jax.Array]:
    """``layer`` with spectral normalisation (Miyato et al. 2018, Eq. 8: ``W / sigma(W)``) when
    ``enabled``, else ``layer`` itself. ``train`` updates the power-iteration vector ``u`` (Alg. 1).

    Call inside a ``@nn.compact`` method, like the layer it wraps."""
    if not enabled:
        return layer
    wrapped = nn.SpectralNorm(layer)
    return lambda *args, **kwargs: wrapped(*args, update_stats=train, **kwargs)


class ConditionalBatchNorm(nn.Module):
    """Batch normalisation with class-conditional gains and biases (Dumoulin et al. 2017, Eq. 3;
    de Vries et al. 2017): ``gamma(c) * (x - mu) / sqrt(var + eps) + beta(c)`` over all but the last axis.

    ``condition`` is either integer class labels ``(B,)`` (needs ``num_classes``; ``gamma`` and
    ``beta`` are rows of two embedding tables initialised to 1 and 0, as in the conditional SNGAN
    ResNet generator of Miyato & Koyama 2018), or a float vector ``(B, D)`` mapped linearly to the
    gains and biases, ``gamma = 1 + W_gamma c`` and ``beta = W_beta c`` (BigGAN, Brock et al. 2019,
    Sec. 3 / App. B: ``c`` is the shared class embedding concatenated with a chunk of ``z``), the maps
    spectrally normalised when ``spectral_norm``. Batch statistics are averaged over ``axis_name``
    when set (cross-replica batch norm).
    """

    num_classes: int | None = None
    spectral_norm: bool = False
    momentum: float = 0.9
    epsilon: float = 1e-5
    axis_name: str | None = None
    kernel_init: Initializer = nn.initializers.orthogonal()

    @nn.compact
    def __call__(self, x: jax.Array, condition: jax.Array, train: bool) -> jax.Array:
        features = x.shape[-1]
        h = nn.BatchNorm(
            use_running_average=not train,
            momentum=self.momentum,
            epsilon=self.epsilon,
            use_scale=False,
            use_bias=False,
            axis_name=self.axis_name,
        )(x)
        if jnp.issubdtype(condition.dtype, jnp.integer):
            if self.num_classes is None:
                raise ValueError(
                    f"ConditionalBatchNorm got integer labels of shape {condition.shape} but num_classes=None"
                )
            if condition.ndim != 1:
                raise ValueError(f"class labels must have shape (B,), got {condition.shape}")
            gamma = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.ones, name="gamma")
            beta = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.zeros, name="beta")
            gamma, beta = gamma(condition), beta(condition)
        else:
            if condition.ndim != 2:
                raise ValueError(f"a conditioning vector must have shape (B, D), got {condition.shape}")
            dense = lambda name: spectral_norm(
                nn.Dense(features, use_bias=False, kernel_init=self.kernel_init, name=name),
                enabled=self.spectral_norm,
                train=train,
            )
            gamma = 1.0 + dense("gamma")(condition)
            beta = dense("beta")(condition)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (features,)
        return h * gamma.reshape(shape).astype(h.dtype) + beta.reshape(shape).astype(h.dtype)


def instance_norm(affine: bool = False, epsilon: float = 1e-5, name: str | None = None) -> nn.InstanceNorm:
    """Instance normalisation (Ulyanov et al. 2016): per example and channel over H and W.

    Defaults match PyTorch's ``nn.InstanceNorm2d`` as CycleGAN and pix2pix use it (Zhu et al. 2017,
    App. 7.2): no learned scale or bias (``affine=False``), ``epsilon=1e-5``, no running statistics.
    Flax's ``nn.InstanceNorm`` defaults differ (learned scale and bias, ``epsilon=1e-6``)."""
    return nn.InstanceNorm(epsilon=epsilon, use_scale=affine, use_bias=affine, name=name)


__all__ = ["ConditionalBatchNorm", "instance_norm", "spectral_norm"]
