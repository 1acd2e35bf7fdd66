"""The GAN and its train state: what a model family is, and the pytree a train step carries."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gans_jax import sampling
from gans_jax.latent_codes import LatentCodes, structured_latents

PyTree = Any


@flax.struct.dataclass
class GANState:
    """Everything that changes during training, as one pytree (checkpointed whole).

    ``*_collections`` hold the networks' mutable Flax collections (``batch_stats`` for batch norm,
    spectral-norm power-iteration vectors, ...). ``ema_params`` is the exponential moving average of
    the generator's parameters (Karras et al. 2018; Yazici et al. 2019), or ``None``. ``key`` is the
    run's base PRNG key: step ``t`` draws from ``fold_in(key, t)``, so a resumed run repeats the
    exact draws of an uninterrupted one. ``extra`` holds regulariser state (e.g. StyleGAN2's pl_mean).
    """

    step: jax.Array
    key: jax.Array
    g_params: PyTree
    g_collections: PyTree
    g_opt_state: PyTree
    d_params: PyTree
    d_collections: PyTree
    d_opt_state: PyTree
    ema_params: PyTree = None
    extra: PyTree = flax.struct.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class GAN:
    """A model family: the two networks, their optimisers, and the latent space.

    ``generator(z, labels=None, train=...)`` maps latents to samples; ``discriminator(x, labels=None,
    train=...)`` maps samples to one logit per example (or a dict with ``"logits"`` and auxiliary
    heads). ``num_classes`` makes both class-conditional. ``latent_codes`` (InfoGAN) makes the last
    ``latent_codes.dim`` entries of the (1-D) latent one-hot categorical and Unif(-1, 1) codes.
    """

    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    latent_shape: Sequence[int]
    num_classes: int | None = None
    latent_distribution: str = "normal"
    latent_codes: LatentCodes | None = None

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    def sample_latents(self, key: jax.Array, num: int) -> jax.Array:
        if self.latent_codes:
            if len(self.latent_shape) != 1:
                raise ValueError(f"latent codes need a 1-D latent_shape, got {tuple(self.latent_shape)}")
            return structured_latents(
                key, num, self.latent_shape[0], self.latent_codes, self.latent_distribution
            )
        return sampling.sample_latents(key, num, tuple(self.latent_shape), self.latent_distribution)

    def sample_labels(self, key: jax.Array, num: int) -> jax.Array | None:
        return sampling.sample_labels(key, num, self.num_classes) if self.conditional else None

    def init_state(self, key: jax.Array, sample_shape: Sequence[int], *, ema: bool = False) -> GANState:
        """Initialise both networks and optimisers; ``sample_shape`` is one example's, e.g. (H, W, C)."""
        k_g, k_d, k_run = jax.random.split(key, 3)
        labels = jnp.zeros((1,), jnp.int32) if self.conditional else None
        z = jnp.zeros((1, *self.latent_shape))
        x = jnp.zeros((1, *sample_shape))
        g_vars = self.generator.init({"params": k_g, "dropout": k_g}, z, labels, train=False)
        d_vars = self.discriminator.init({"params": k_d, "dropout": k_d}, x, labels, train=False)
        g_params, g_coll = _split_params(g_vars)
        d_params, d_coll = _split_params(d_vars)
        return GANState(
            step=jnp.zeros((), jnp.int32),
            key=k_run,
            g_params=g_params,
            g_collections=g_coll,
            g_opt_state=self.g_optimizer.init(g_params),
            d_params=d_params,
            d_collections=d_coll,
            d_opt_state=self.d_optimizer.init(d_params),
            ema_params=jax.tree.map(jnp.copy, g_params) if ema else None,
        )

    def generate(
        self,
        state: GANState,
        z: jax.Array,
        labels: jax.Array | None = None,
        *,
        use_ema: bool = True,
        train: bool = False,
    ) -> jax.Array:
        """Samples ``G(z, y)``; the EMA generator when it exists and ``use_ema``; running BN statistics
        unless ``train`` (then batch statistics, without updating any state)."""
        params = state.ema_params if use_ema and state.ema_params is not None else state.g_params
        out = self.generator.apply(
            {"params": params, **state.g_collections},
            z,
            labels,
            train=train,
            mutable=list(state.g_collections) if train else False,
            rngs={"dropout": jax.random.PRNGKey(0)},
        )
        return out[0] if train else out


def _split_params(variables) -> tuple[PyTree, dict]:
    variables = dict(variables)
    params = variables.pop("params")
    return params, variables
