"""Two of the "practical tips" of Salimans et al. 2016, "Improved Techniques for Training GANs":
minibatch discrimination (Sec. 3.2) and virtual batch normalisation (Sec. 3.4).

Both are per-layer modules; where they go in a network is the model's business (see
:mod:`gans_jax.models.dcgan`, options ``minibatch_kernels`` and ``g_normalization="virtual_batch"``).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax


class MinibatchDiscrimination(nn.Module):
    """Minibatch features o(x_i) of Salimans et al. 2016, Sec. 3.2, Eqs. 3-4.

    With f(x_i) in R^A the (flattened) input features and T in R^{A x B x C} a learnt tensor,
    M_i = f(x_i) T in R^{B x C}, c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1) and
    o(x_i)_b = sum_{j != i} c_b(x_i, x_j). Returns o of shape (N, B); the caller concatenates it to
    f(x). The paper's sum runs over every j; j = i only adds the constant exp(0) = 1, which the
    authors' code (improved-gan, ``MinibatchLayer``) leaves out as done here. T ~ N(0, 0.05^2) as in
    that code. With ``axis_name`` (``jax.pmap``) the sum runs over the examples of every replica, so
    the features equal the single-device ones on the global batch.
    """

    num_kernels: int  # B
    kernel_dim: int = 5  # C
    axis_name: str | None = None
    kernel_init: nn.initializers.Initializer = nn.initializers.normal(0.05)

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        if self.num_kernels < 1 or self.kernel_dim < 1:
            raise ValueError(
                f"minibatch discrimination needs num_kernels >= 1 and kernel_dim >= 1, "
                f"got {self.num_kernels} and {self.kernel_dim}"
            )
        f = features.reshape(features.shape[0], -1)
        t = self.param("T", self.kernel_init, (f.shape[-1], self.num_kernels * self.kernel_dim), f.dtype)
        m = (f @ t).reshape(-1, self.num_kernels, self.kernel_dim)  # (N, B, C)
        others, offset = m, 0
        if self.axis_name is not None:
            others = lax.all_gather(m, self.axis_name, tiled=True)
            offset = lax.axis_index(self.axis_name) * m.shape[0]
        l1 = jnp.sum(jnp.abs(m[:, None] - others[None]), axis=-1)  # (N, N_all, B)
        self_pair = jnp.arange(m.shape[0])[:, None] + offset == jnp.arange(others.shape[0])[None, :]
        c = jnp.where(self_pair[..., None], 0.0, jnp.exp(-l1))
        return jnp.sum(c, axis=1)


def _fixed_scale_init(key, shape, dtype=jnp.float32):
    # DCGAN's batch-norm scale ~ N(1, 0.02) (PyTorch example's weights_init), as dcgan._batch_norm.
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalisation (Salimans et al. 2016, Sec. 3.4) over NHWC or (N, C) features.

    The input holds the ``num_reference`` examples of the fixed reference batch first, then the
    examples to normalise: ``x = concat([x_ref, x_batch])``. The reference batch is normalised with its
    own statistics (mean over the batch and spatial axes, per channel), as batch norm does. Every other
    example x is normalised with the statistics of the reference batch "combined with" x itself, i.e.
    of the reference batch with x appended: with N = ``num_reference``, mu = N/(N+1) mu_ref +
    1/(N+1) mean(x), and likewise for the mean of squares (the OpenAI implementation's ``VBN``).
    An example's output therefore depends on the reference batch and on itself only, never on the
    other examples of its batch, and is the same in training and evaluation. Then scale and bias per
    channel, as batch norm.
    """

    num_reference: int
    epsilon: float = 1e-5
    scale_init: nn.initializers.Initializer = _fixed_scale_init

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        n = self.num_reference
        if n < 1 or x.shape[0] <= n:
            raise ValueError(
                f"virtual batch norm with num_reference={n} needs an input of the reference batch "
                f"followed by at least one example, got batch dimension {x.shape[0]}"
            )
        reduce = tuple(range(1, x.ndim - 1))  # spatial axes of one example
        ref, batch = x[:n], x[n:]
        ref_mean = jnp.mean(ref, axis=(0, *reduce))
        ref_mean_sq = jnp.mean(jnp.square(ref), axis=(0, *reduce))
        own_mean = jnp.mean(batch, axis=reduce, keepdims=True)
        own_mean_sq = jnp.mean(jnp.square(batch), axis=reduce, keepdims=True)
        new = 1.0 / (n + 1.0)
        mean = (1.0 - new) * ref_mean + new * own_mean
        mean_sq = (1.0 - new) * ref_mean_sq + new * own_mean_sq

        def normalize(y, mu, mu_sq):
            return (y - mu) * lax.rsqrt(jnp.maximum(mu_sq - jnp.square(mu), 0.0) + self.epsilon)

        y = jnp.concatenate([normalize(ref, ref_mean, ref_mean_sq), normalize(batch, mean, mean_sq)])
        features = x.shape[-1]
        scale = self.param("scale", self.scale_init, (features,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (features,), jnp.float32)
        return (y * scale + bias).astype(x.dtype)


__all__ = ["MinibatchDiscrimination", "VirtualBatchNorm"]
