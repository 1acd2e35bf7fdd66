"""BigGAN-PyTorch's layers (Brock et al.'s ``layers.py``) as Flax modules whose variables are its state dict.

Each module holds the variables of its namesake under the same names (dots of a PyTorch path become
nested modules, ``blocks.0.1`` becomes ``blocks_0_1``), so the authors' checkpoints convert one array to
one array (:mod:`gans_jax.pretrained.biggan`):

- :class:`SNConv2d`, :class:`SNLinear`, :class:`SNEmbedding`: spectral normalisation as ``layers.SN``
  computes it. The weight matrix is ``W = weight.view(weight.size(0), -1)`` (output units x inputs; an
  embedding's rows are its *classes*) and the buffer ``u0`` of shape ``(1, rows)`` lives in that row
  space, ``sv0`` holds the last estimate of ``sigma``. Every call runs the power iteration from the
  stored ``u0``: ``v = normalize(u W)``, ``u = normalize(v W^T)``, ``sigma = v W^T u^T`` (``u``, ``v``
  constants, the gradient flows through ``W``) and uses ``W / sigma``; in training mode (``train=True``)
  it runs ``num_itrs`` iterations, stores ``u0`` and ``sv0``, otherwise one iteration and stores nothing
  (in the reference every evaluation-mode iteration restarts from the stored ``u0``). ``normalize``
  divides by ``max(||x||, eps)`` (``F.normalize``). The buffers live in the ``batch_stats`` collection,
  which the train step carries. Flax's ``nn.SpectralNorm`` (used by the other models) keeps ``u`` in the
  feature space of an embedding, where one iteration gives another ``sigma`` than the reference's.
- :class:`BatchNorm`: the batch normalisation of ``ccbn``/``bn`` without the affine part:
  batch statistics in training mode (biased variance, as ``F.batch_norm`` and ``myBN`` normalise), the
  running ``mean``/``var`` (``stored_mean``/``stored_var``) otherwise. The running variance is updated
  with the unbiased batch variance as ``F.batch_norm`` does (``unbiased_var=True``, the reference's
  default ``ccbn``/``bn``), or with the biased one as ``layers.myBN`` does (``--mybn``, needed there for
  standing statistics).
- :class:`CCBN` (``layers.ccbn``): ``out = bn(x) * (1 + gain(y)) + bias(y)`` where ``gain``/``bias`` are
  bias-free :class:`SNLinear` maps of the shared-embedding-and-z vector (``G_shared``), or plain
  embeddings of the class labels (no ``G_shared``; not spectrally normalised, as in the reference).
- :class:`BN` (``layers.bn``): batch norm with learned ``gain`` (ones) and ``bias`` (zeros): G's output layer.
- :class:`Attention` (``layers.Attention``): SA-GAN's non-local block as the reference implements it.

Initialisation follows ``init_weights`` (``G_init``/``D_init``: ``ortho``, ``N02`` or ``glorot`` for every
conv, linear and embedding weight) and PyTorch's defaults elsewhere (biases ``U(-1/sqrt(fan_in),
1/sqrt(fan_in))``, ``u0 ~ N(0, 1)``, ``sv0 = 1``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from gans_jax.layers.conv import conv_general_dilated_cpu

Initializer = nn.initializers.Initializer

INITS: dict[str, Initializer] = {
    "ortho": nn.initializers.orthogonal(),
    "N02": nn.initializers.normal(0.02),
    "glorot": nn.initializers.xavier_uniform(),
    "xavier": nn.initializers.xavier_uniform(),
}


def weight_init(name: str) -> Initializer:
    """The initialiser of ``G_init``/``D_init`` (``BigGAN.Generator.init_weights``)."""
    if name not in INITS:
        raise ValueError(f"unknown BigGAN weight init {name!r}; expected one of {sorted(INITS)}")
    return INITS[name]


def torch_bias_init(fan_in: int) -> Initializer:
    """PyTorch's default bias of ``nn.Conv2d``/``nn.Linear``: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def _normalize(x: jax.Array, eps: float) -> jax.Array:
    """``F.normalize(x, eps=eps)`` of a row vector: ``x / max(||x||, eps)``."""
    return x / jnp.maximum(jnp.sqrt(jnp.sum(jnp.square(x), axis=-1, keepdims=True)), eps)


def spectral_norm_sigma(
    module: nn.Module, w_mat: jax.Array, *, train: bool, num_itrs: int, eps: float
) -> jax.Array:
    """``sigma``, the power-iteration estimate of ``w_mat``'s largest singular value, as ``layers.SN.W_``
    computes it, with the buffers ``u0`` (shape ``(1, rows)``) and ``sv0`` (``(1,)``) of ``module``.

    Call from ``module``'s ``@nn.compact`` method. ``w_mat``: ``(rows, cols)``, rows the output units
    (the reference's ``weight.view(weight.size(0), -1)``, up to an order of its columns, which leaves
    ``u`` and ``sigma`` unchanged)."""
    if num_itrs < 1:
        raise ValueError(f"num_itrs (power iterations per call) must be >= 1, got {num_itrs}")
    rows = w_mat.shape[0]
    u_var = module.variable(
        "batch_stats", "u0", lambda: jax.random.normal(module.make_rng("params"), (1, rows), jnp.float32)
    )
    sv_var = module.variable("batch_stats", "sv0", lambda: jnp.ones((1,), jnp.float32))
    w = lax.stop_gradient(w_mat).astype(jnp.float32)
    u = u_var.value
    for _ in range(num_itrs if train else 1):
        v = _normalize(u @ w, eps)
        u = _normalize(v @ w.T, eps)
    sigma = (v @ w_mat.astype(jnp.float32).T @ u.T)[0, 0]
    if train and not module.is_initializing():
        u_var.value = u
        sv_var.value = lax.stop_gradient(sigma)[None]
    return sigma


class SNConv2d(nn.Module):
    """``layers.SNConv2d``: a ``kernel_size`` x ``kernel_size`` convolution, stride 1, ``padding =
    kernel_size // 2`` (the reference's 3x3 with padding 1, and 1x1), of the spectrally normalised kernel.
    ``kernel``: ``(kh, kw, C_in, C_out)`` (the reference's ``weight`` transposed by ``(2, 3, 1, 0)``)."""

    features: int
    kernel_size: int = 3
    use_bias: bool = True
    num_itrs: int = 1
    eps: float = 1e-6
    kernel_init: Initializer = INITS["ortho"]

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        k, cin = self.kernel_size, x.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (k, k, cin, self.features))
        sigma = spectral_norm_sigma(
            self, kernel.reshape(-1, self.features).T, train=train, num_itrs=self.num_itrs, eps=self.eps
        )
        pad = k // 2
        y = conv_general_dilated_cpu(
            x,
            (kernel / sigma).astype(x.dtype),
            (1, 1),
            [(pad, pad), (pad, pad)],
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        if self.use_bias:
            y = y + self.param("bias", torch_bias_init(k * k * cin), (self.features,)).astype(y.dtype)
        return y


class SNLinear(nn.Module):
    """``layers.SNLinear``: ``x (W / sigma)^T + b``; ``kernel`` ``(in, out)`` is its ``weight.T``."""

    features: int
    use_bias: bool = True
    num_itrs: int = 1
    eps: float = 1e-6
    kernel_init: Initializer = INITS["ortho"]

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features))
        sigma = spectral_norm_sigma(self, kernel.T, train=train, num_itrs=self.num_itrs, eps=self.eps)
        y = x @ (kernel / sigma).astype(x.dtype)
        if self.use_bias:
            y = y + self.param("bias", torch_bias_init(x.shape[-1]), (self.features,)).astype(y.dtype)
        return y


class SNEmbedding(nn.Module):
    """``layers.SNEmbedding``: rows of ``embedding / sigma`` (``(num_embeddings, features)``, the
    reference's ``weight``); ``u0`` has one entry per class (``(1, num_embeddings)``), as there."""

    num_embeddings: int
    features: int
    num_itrs: int = 1
    eps: float = 1e-6
    embedding_init: Initializer = INITS["ortho"]

    @nn.compact
    def __call__(self, labels: jax.Array, train: bool) -> jax.Array:
        table = self.param("embedding", self.embedding_init, (self.num_embeddings, self.features))
        sigma = spectral_norm_sigma(self, table, train=train, num_itrs=self.num_itrs, eps=self.eps)
        return jnp.take(table / sigma, labels, axis=0)


class BatchNorm(nn.Module):
    """Batch normalisation without affine part over all axes but the last (channels); see the module doc.

    ``momentum`` in Flax's convention, ``r <- momentum r + (1 - momentum) b`` (the reference's
    PyTorch momentum 0.1 is 0.9 here). Batch statistics are averaged over ``axis_name`` when set
    (cross-replica batch norm; under ``jit`` with a sharded batch they are global anyway)."""

    momentum: float = 0.9
    epsilon: float = 1e-5
    unbiased_var: bool = True
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        c = x.shape[-1]
        mean_var = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
        var_var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))
        axes = tuple(range(x.ndim - 1))
        if train:
            xf = x.astype(jnp.float32)
            count = math.prod(x.shape[:-1])
            mean = jnp.mean(xf, axes)
            if self.axis_name is None:
                var = jnp.mean(jnp.square(xf - mean), axes)
            else:
                mean2 = lax.pmean(jnp.mean(jnp.square(xf), axes), self.axis_name)
                mean = lax.pmean(mean, self.axis_name)
                var = jnp.maximum(mean2 - jnp.square(mean), 0.0)
                count = count * lax.psum(1, self.axis_name)
            if not self.is_initializing():
                running = var * count / jnp.maximum(count - 1, 1) if self.unbiased_var else var
                m = self.momentum
                mean_var.value = m * mean_var.value + (1 - m) * lax.stop_gradient(mean)
                var_var.value = m * var_var.value + (1 - m) * lax.stop_gradient(running)
        else:
            mean, var = mean_var.value, var_var.value
        return ((x.astype(jnp.float32) - mean) * lax.rsqrt(var + self.epsilon)).astype(x.dtype)


class CCBN(nn.Module):
    """``layers.ccbn``, class-conditional batch norm: ``BatchNorm(x) * (1 + gain(y)) + bias(y)``.

    ``y``: the float vector ``[shared(label), z_chunk]`` ``(B, D)`` with ``which_linear`` a bias-free
    :class:`SNLinear` (``G_shared``), or integer labels ``(B,)`` with ``num_classes`` (then ``gain``
    and ``bias`` are ``nn.Embedding`` tables initialised like every other weight, as the reference's
    ``which_embedding``). Submodules ``gain``, ``bias`` and ``bn`` (batch statistics)."""

    which_linear: Callable[..., nn.Module]
    num_classes: int | None = None
    epsilon: float = 1e-5
    momentum: float = 0.9
    unbiased_var: bool = True
    axis_name: str | None = None
    embedding_init: Initializer = INITS["ortho"]

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array, train: bool) -> jax.Array:
        c = x.shape[-1]
        if jnp.issubdtype(y.dtype, jnp.integer):
            if self.num_classes is None or y.ndim != 1:
                raise ValueError(
                    f"ccbn got integer labels of shape {y.shape}: they need num_classes (got "
                    f"{self.num_classes}) and shape (B,)"
                )
            gain = nn.Embed(self.num_classes, c, embedding_init=self.embedding_init, name="gain")(y)
            bias = nn.Embed(self.num_classes, c, embedding_init=self.embedding_init, name="bias")(y)
        else:
            if y.ndim != 2:
                raise ValueError(f"ccbn's conditioning vector must have shape (B, D), got {y.shape}")
            gain = self.which_linear(c, use_bias=False, name="gain")(y, train)
            bias = self.which_linear(c, use_bias=False, name="bias")(y, train)
        h = BatchNorm(self.momentum, self.epsilon, self.unbiased_var, self.axis_name, name="bn")(x, train)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (c,)
        return h * (1 + gain).reshape(shape).astype(h.dtype) + bias.reshape(shape).astype(h.dtype)


class BN(nn.Module):
    """``layers.bn``: batch norm with a learned per-channel ``gain`` (init 1) and ``bias`` (init 0).
    The reference builds G's output ``bn`` with its default ``eps=1e-5`` (not ``BN_eps``)."""

    epsilon: float = 1e-5
    momentum: float = 0.9
    unbiased_var: bool = True
    axis_name: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        c = x.shape[-1]
        gain = self.param("gain", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        h = BatchNorm(self.momentum, self.epsilon, self.unbiased_var, self.axis_name, name="bn")(x, train)
        return h * gain.astype(h.dtype) + bias.astype(h.dtype)


class Attention(nn.Module):
    """``layers.Attention``, SA-GAN's non-local block as the released code computes it (Zhang et al. 2019;
    the reference notes the paper's description differs): 1x1 convolutions without bias ``theta``,
    ``phi`` (``C // 8`` channels), ``g`` (``C // 2``) and ``o`` (back to ``C``); ``phi`` and ``g`` max-pooled
    2x2; ``beta = softmax_keys(theta^T phi)``; ``x + gamma * o(g beta^T)``, ``gamma`` initialised to 0."""

    which_conv: Callable[..., nn.Module]

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        n, h, w, c = x.shape
        if h % 2 or w % 2 or c < 8:
            raise ValueError(f"Attention needs even H, W and at least 8 channels, got input {x.shape}")

        def conv(features: int, name: str, t: jax.Array) -> jax.Array:
            return self.which_conv(features, kernel_size=1, use_bias=False, name=name)(t, train)

        def pool(t: jax.Array) -> jax.Array:
            return nn.max_pool(t, (2, 2), strides=(2, 2)).reshape(n, h * w // 4, -1)

        theta = conv(c // 8, "theta", x).reshape(n, h * w, c // 8)
        phi = pool(conv(c // 8, "phi", x))
        g = pool(conv(c // 2, "g", x))
        beta = jax.nn.softmax(jnp.einsum("nqc,nkc->nqk", theta, phi), axis=-1)
        o = conv(c, "o", jnp.einsum("nqk,nkc->nqc", beta, g).reshape(n, h, w, c // 2))
        gamma = self.param("gamma", nn.initializers.zeros, ())
        return x + gamma.astype(x.dtype) * o


__all__ = [
    "BN",
    "CCBN",
    "Attention",
    "BatchNorm",
    "SNConv2d",
    "SNEmbedding",
    "SNLinear",
    "spectral_norm_sigma",
    "torch_bias_init",
    "weight_init",
]
