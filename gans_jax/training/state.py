"""The GAN and its train state: what a model family is, and the pytree a train step carries."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Sequence
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gans_jax import sampling
from gans_jax.latent_codes import LatentCodes, structured_latents
from gans_jax.training.image_pool import init_image_pool

PyTree = Any
TRANSLATIONS = ("paired", "unpaired")


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


class _PlainNetwork(nn.Module):
    """A network whose ``__call__`` lacks the condition or ``train`` argument, called the library's way
    ``(x, condition=None, train=...)``; it shares the wrapped module's scope, so its parameters are the
    wrapped module's own (no extra nesting)."""

    inner: nn.Module
    takes_condition: bool
    takes_train: bool

    def setup(self):
        nn.share_scope(self, self.inner)

    @property
    def rng_streams(self) -> tuple[str, ...]:
        return tuple(getattr(self.inner, "rng_streams", ()))

    def __call__(self, x, condition=None, train: bool = True, **kwargs):
        args = (x, condition) if self.takes_condition else (x,)
        return self.inner(*args, **({"train": train} if self.takes_train else {}), **kwargs)


def _network_signature(module: nn.Module) -> tuple[bool, bool]:
    """``(takes a condition, takes train)`` of ``module.__call__``."""
    params = list(inspect.signature(type(module).__call__).parameters.values())[1:]  # without self
    kinds = {p.kind for p in params}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_condition = len(positional) >= 2 or inspect.Parameter.VAR_POSITIONAL in kinds
    takes_train = any(p.name == "train" for p in params) or inspect.Parameter.VAR_KEYWORD in kinds
    return takes_condition, takes_train


@dataclasses.dataclass(frozen=True)
class GAN:
    """A model family: the two networks, their optimisers, and the latent space.

    **The network contract.** The library calls ``generator(z, labels, train=...)`` and
    ``discriminator(x, labels, train=...)``: ``labels`` is ``None`` for an unconditional GAN (class labels
    when ``num_classes`` is set, the source images of an image-to-image GAN), and ``train`` is ``True`` in
    the train step (batch statistics, dropout, noise) and ``False`` when sampling. The generator maps
    latents to samples; the discriminator maps samples to one logit per example (or a dict with
    ``"logits"`` and auxiliary heads). A network whose ``__call__`` takes neither is adapted, so a plain
    unconditional pair works as it is::

        class G(nn.Module):
            @nn.compact
            def __call__(self, z):
                return nn.Dense(2)(nn.relu(nn.Dense(64)(z)))

        class D(nn.Module):
            @nn.compact
            def __call__(self, x):
                return nn.Dense(1)(nn.relu(nn.Dense(64)(x)))[:, 0]

        gan = GAN(G(), D(), optax.adam(2e-4), optax.adam(2e-4), latent_shape=8)

    A network may declare extra PRNG streams of its train-mode passes as a class attribute
    ``rng_streams`` (StyleGAN: ``("noise", "mixing")``); every network gets ``"dropout"``.

    ``latent_shape`` is one latent's shape (an int for a vector). ``num_classes`` makes both networks
    class-conditional. ``latent_codes`` (InfoGAN) makes the last ``latent_codes.dim`` entries of the
    (1-D) latent one-hot categorical and Unif(-1, 1) codes.

    Image-to-image GANs set ``translation``; they have no latent (``z`` is ``None``, the noise is
    dropout) and their *condition* takes the place of the labels: both networks are called with it.
    With ``"paired"`` (pix2pix, SRGAN) the batch is ``{"image": target, "condition": source}`` and the
    discriminator judges ``(condition, image)``. With ``"unpaired"`` (CycleGAN) ``image`` and
    ``condition`` are independent draws from the domains Y and X; real samples and the condition are
    then the dict ``{"x": ..., "y": ...}``, the generator returns a dict of translations (and
    reconstructions) and the discriminator judges the dict. ``condition_shape`` is one source
    example's shape.

    ``image_pool_size`` > 0 keeps a history of that many generated images per domain in
    ``GANState.extra["image_pool"]`` and shows the discriminator fakes drawn from it (Shrivastava et al.
    2017, Sec. 2.3; CycleGAN: 50), see :mod:`gans_jax.training.image_pool`.
    """

    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    latent_shape: int | Sequence[int]
    num_classes: int | None = None
    latent_distribution: str = "normal"
    latent_codes: LatentCodes | None = None
    translation: str | None = None
    condition_shape: Sequence[int] | None = None
    image_pool_size: int = 0

    def __post_init__(self):
        shape = self.latent_shape
        object.__setattr__(self, "latent_shape", (int(shape),) if isinstance(shape, int) else tuple(shape))
        if self.translation is not None:
            if self.translation not in TRANSLATIONS:
                raise ValueError(f"translation {self.translation!r} not in {TRANSLATIONS}")
            if self.condition_shape is None:
                raise ValueError(f"a {self.translation} image-to-image GAN needs condition_shape")
            if self.num_classes is not None:
                raise ValueError("an image-to-image GAN cannot also be class-conditional (num_classes)")
        if self.image_pool_size and (self.conditional or self.translation == "paired"):
            raise ValueError(
                f"image_pool_size={self.image_pool_size}: a history of fakes loses their labels or sources; "
                "it serves unconditional and unpaired GANs only"
            )
        for role in ("generator", "discriminator"):
            module = getattr(self, role)
            takes_condition, takes_train = _network_signature(module)
            if takes_condition and takes_train:
                continue
            if not takes_condition and (self.conditional or self.translation is not None):
                what = "labels" if self.conditional else "source images"
                raise ValueError(
                    f"the {role} {type(module).__name__}.__call__ takes no {what}, but this GAN is "
                    f"{'class-conditional' if self.conditional else 'image-to-image'}: the library calls "
                    f"{role}(x, condition, train=...) (see GAN's docstring)"
                )
            object.__setattr__(self, role, _PlainNetwork(module, takes_condition, takes_train))

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    def split_batch(self, batch) -> tuple[PyTree, PyTree]:
        """``(real samples, condition)`` of a data batch: the condition is the labels of a
        class-conditional GAN, the source images of a translation GAN, ``None`` otherwise."""
        if self.translation is None:
            labels = batch.get("label") if self.conditional else None
            if self.conditional and labels is None:
                raise ValueError("a class-conditional GAN needs batch['label']")
            return batch["image"], labels
        if "condition" not in batch:
            raise ValueError(
                f"a {self.translation} image-to-image GAN needs batch['condition']; got {sorted(batch)}"
            )
        if self.translation == "paired":
            return batch["image"], batch["condition"]
        domains = {"x": batch["condition"], "y": batch["image"]}
        return domains, domains

    def example_inputs(self, sample_shape: Sequence[int], num: int = 1):
        """Zero ``(z, condition, x)`` of ``num`` examples, as the networks take them (for ``init``)."""
        x = jnp.zeros((num, *sample_shape))
        if self.translation is None:
            labels = jnp.zeros((num,), jnp.int32) if self.conditional else None
            return jnp.zeros((num, *self.latent_shape)), labels, x
        condition = jnp.zeros((num, *self.condition_shape))
        if self.translation == "paired":
            return None, condition, x
        domains = {"x": condition, "y": x}
        return None, domains, domains

    def sample_latents(self, key: jax.Array, num: int) -> jax.Array | None:
        if self.translation is not None:
            return None
        if self.latent_codes:
            if len(self.latent_shape) != 1:
                raise ValueError(f"latent codes need a 1-D latent_shape, got {tuple(self.latent_shape)}")
            return structured_latents(
                key, num, self.latent_shape[0], self.latent_codes, self.latent_distribution
            )
        return sampling.sample_latents(key, num, tuple(self.latent_shape), self.latent_distribution)

    def sample_labels(self, key: jax.Array, num: int) -> jax.Array | None:
        return sampling.sample_labels(key, num, self.num_classes) if self.conditional else None

    def init_state(self, key: jax.Array, sample_shape: Sequence[int]) -> GANState:
        """The networks' parameters and collections, their optimisers' states and the image pool, for
        examples of ``sample_shape``, e.g. (H, W, C). To train, make the state with the train step's
        ``init_state`` (:class:`gans_jax.training.step.TrainStep`), which adds what its recipe keeps (the
        EMA generator, regulariser state)."""
        k_g, k_d, k_run = jax.random.split(key, 3)
        z, labels, x = self.example_inputs(sample_shape)
        g_vars = self.generator.init({"params": k_g, "dropout": k_g}, z, labels, train=False)
        d_vars = self.discriminator.init({"params": k_d, "dropout": k_d}, x, labels, train=False)
        g_params, g_coll = _split_params(g_vars)
        d_params, d_coll = _split_params(d_vars)
        extra = {}
        if self.image_pool_size:
            extra["image_pool"] = jax.tree.map(
                lambda a: init_image_pool(self.image_pool_size, a.shape[1:]), x
            )
        return GANState(
            step=jnp.zeros((), jnp.int32),
            key=k_run,
            g_params=g_params,
            g_collections=g_coll,
            g_opt_state=self.g_optimizer.init(g_params),
            d_params=d_params,
            d_collections=d_coll,
            d_opt_state=self.d_optimizer.init(d_params),
            extra=extra,
        )

    def generate(
        self,
        state: GANState,
        z: jax.Array,
        labels: jax.Array | None = None,
        *,
        use_ema: bool = True,
        train: bool = False,
        dropout_key: jax.Array | None = None,
        **kwargs,
    ) -> jax.Array:
        """Samples ``G(z, y)``; the EMA generator when it exists and ``use_ema``; running BN statistics
        unless ``train`` (then batch statistics, without updating any state). Dropout (pix2pix's noise)
        draws from ``dropout_key`` (default ``PRNGKey(0)``). ``kwargs`` go to the generator (e.g.
        StyleGAN's ``truncation_psi``, ``truncation_cutoff``: Python scalars, compiled in). Compiled once
        per generator, options and shapes (:func:`apply_generator`)."""
        params = state.ema_params if use_ema and state.ema_params is not None else state.g_params
        out = apply_generator(
            self.generator,
            {"params": params, **state.g_collections},
            (z, labels),
            {"dropout": jax.random.PRNGKey(0) if dropout_key is None else dropout_key},
            None,
            (("train", train), ("mutable", tuple(state.g_collections) if train else False), *kwargs.items()),
        )
        return out[0] if train else out


@functools.partial(jax.jit, static_argnames=("generator", "method", "options"))
def apply_generator(
    generator: nn.Module, variables, args: tuple, rngs: dict, method: str | None, options: tuple
):
    """``generator.apply(variables, *args, method=method, rngs=rngs, **dict(options))`` compiled once per
    generator, method and static ``options`` (hashable ``(name, value)`` pairs). Op by op, the first
    100 samples of the tiny StyleGAN2 took 8.4 s on a 2-core CPU, against 1.2 s to compile them."""
    return generator.apply(variables, *args, method=method, rngs=rngs, **dict(options))


def _split_params(variables) -> tuple[PyTree, dict]:
    variables = dict(variables)
    params = variables.pop("params")
    return params, variables


def standing_statistics(
    gan: GAN,
    state: GANState,
    key: jax.Array,
    *,
    num_batches: int = 16,
    batch_size: int = 64,
    use_ema: bool = True,
) -> GANState:
    """The state with the generator's batch-norm running statistics replaced by *standing statistics*
    (Brock et al. 2019, Sec. 3 / App. C): the average over ``num_batches`` train-mode forward passes of
    the (EMA) generator of each layer's batch mean and variance, as BigGAN-PyTorch's
    ``accumulate_standing_stats``. Sampling with running averages collected during training suits the
    EMA weights poorly; standing statistics match the weights that will be used.

    Each pass's batch statistics are read back from Flax's update ``r' = m r + (1 - m) b`` by running it
    from ``r = 0`` and from ``r = 1``: ``m = r'_1 - r'_0`` and ``b = r'_0 / (1 - m)``, whatever each
    layer's momentum ``m``. Only batch-norm ``mean``/``var`` entries change; other collection entries
    (spectral-norm vectors) keep their values.
    """
    if num_batches < 1 or batch_size < 1:
        raise ValueError(f"num_batches and batch_size must be >= 1, got {num_batches}, {batch_size}")
    params = state.ema_params if use_ema and state.ema_params is not None else state.g_params
    collections = state.g_collections

    def is_bn_stat(path) -> bool:
        last = path[-1]
        return getattr(last, "key", None) in ("mean", "var")

    def filled(value: float):
        return jax.tree_util.tree_map_with_path(
            lambda p, x: jnp.full_like(x, value) if is_bn_stat(p) else x, collections
        )

    @jax.jit
    def batch_statistics(k):
        k_z, k_y, k_drop = jax.random.split(k, 3)
        z = gan.sample_latents(k_z, batch_size)
        labels = gan.sample_labels(k_y, batch_size)

        def run(start):
            _, updated = gan.generator.apply(
                {"params": params, **start},
                z,
                labels,
                train=True,
                mutable=list(start),
                rngs={"dropout": k_drop},
            )
            return updated

        from_zero, from_one = run(filled(0.0)), run(filled(1.0))
        return jax.tree.map(lambda r0, r1: r0 / jnp.maximum(1.0 - (r1 - r0), 1e-12), from_zero, from_one)

    totals = None
    for k in jax.random.split(key, num_batches):
        stats = batch_statistics(k)
        totals = stats if totals is None else jax.tree.map(jnp.add, totals, stats)
    means = jax.tree.map(lambda t: t / num_batches, totals)
    standing = jax.tree_util.tree_map_with_path(
        lambda p, old, new: new if is_bn_stat(p) else old, collections, means
    )
    return state.replace(g_collections=standing)
