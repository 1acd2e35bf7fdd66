"""The train step's golden cases: a few steps of every path through ``make_train_step`` (single pass,
split and shared critic batches, gradient accumulation, lazy and stateful regularisers, auxiliary heads,
image-to-image with an image pool, mixed precision, EMA, delayed adversarial term).

``tests/fixtures/make_step_golden.py`` recorded their final states and metrics before the step was
restructured (issue 15); ``tests/test_step_golden.py`` checks that the step still computes them. Two
cases were re-recorded when ``init_state`` became one compiled program, which moved some initial
weights by an ulp (fused scaling of the random draws): the old digests still held with the old
initial state, and the other six cases kept theirs. Only
unconditional discriminator regularisers appear here: the conditional ones changed on purpose (their
critic now takes the labels of the samples it scores)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gans_jax.auxiliary_losses import auxiliary_loss
from gans_jax.latent_codes import LatentCodes
from gans_jax.losses import get_objective
from gans_jax.models import dcgan, stylegan2
from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator
from gans_jax.regularizers import regularizer
from gans_jax.training.state import GAN
from gans_jax.training.step import make_train_step
from tests.i2i_helpers import PairD, PixelG
from tests.test_training_step_auxiliary import HeadsMLP
from tests.test_training_step_translation import CycleD, CycleG

CODES = LatentCodes((4,), 2)


def _points(n, seed=0, dim=2):
    return {"image": jnp.asarray(np.random.default_rng(seed).normal(size=(n, dim)), jnp.float32)}


def _images(n, shape, seed=0, num_classes=None):
    rng = np.random.default_rng(seed)
    batch = {"image": jnp.asarray(rng.uniform(-1, 1, (n, *shape)), jnp.float32)}
    if num_classes:
        batch["label"] = jnp.asarray(rng.integers(0, num_classes, n), jnp.int32)
    return batch


def _mlp(num_classes=None, d_tx=None):
    return GAN(
        MLPGenerator(2, (16,), num_classes=num_classes),
        MLPDiscriminator((16,), num_classes=num_classes),
        optax.adam(1e-2, 0.5),
        d_tx or optax.adam(1e-2, 0.5),
        latent_shape=(3,),
        num_classes=num_classes,
    )


def _case(gan, sample_shape, batches, **step_kwargs):
    step = make_train_step(gan, **step_kwargs)
    return step, step.init_state(jax.random.PRNGKey(0), sample_shape), batches


def mlp_single_pass():
    """Single pass, EMA from step 1, lazy R1, R2, drift (D) and orthogonal (G)."""
    regs = [
        regularizer("r1", 0.5, every=2),
        regularizer("r2", 0.25),
        regularizer("drift", 0.1),
        regularizer("orthogonal", 1e-3, player="generator"),
    ]
    objective = get_objective("non_saturating")
    return _case(
        _mlp(), (2,), [_points(32, s) for s in range(3)],
        objective=objective, regularizers=regs, ema_decay=0.9, ema_start=1,
    )  # fmt: skip


def mlp_gradient_penalty_split_critic():
    """WGAN-GP: n_critic 3 on split batches, gradient penalty."""
    return _case(
        _mlp(), (2,), [_points(30, s) for s in range(3)],
        objective=get_objective("wasserstein"), n_critic=3,
        regularizers=[regularizer("gradient_penalty", 10.0)],
    )  # fmt: skip


def dcgan_conditional_shared_accumulated():
    """Conditional DCGAN (batch norm): n_critic 2 on the shared batch, 2 micro-batches, hinge, EMA."""
    gan = GAN(
        dcgan.Generator(16, 4, 1, num_classes=10),
        dcgan.Discriminator(16, 4, num_classes=10),
        optax.adam(1e-3, 0.5),
        optax.adam(1e-3, 0.5),
        latent_shape=(8,),
        num_classes=10,
    )
    return _case(
        gan, (16, 16, 1), [_images(8, (16, 16, 1), s, 10) for s in range(2)],
        objective=get_objective("hinge"), n_critic=2, critic_batches="shared", accumulation_steps=2,
        ema_decay=0.99,
    )  # fmt: skip


def auxiliary_heads():
    """AC-GAN and InfoGAN heads and feature matching (D on the real batch in the G update)."""
    gan = GAN(
        MLPGenerator(2, (16,), num_classes=3),
        HeadsMLP(),
        optax.sgd(1e-2),
        optax.sgd(1e-2),
        latent_shape=(3 + CODES.dim,),
        num_classes=3,
        latent_codes=CODES,
    )
    losses = [
        auxiliary_loss("auxiliary_classifier", 0.5),
        auxiliary_loss("mutual_information_categorical", 1.0),
        auxiliary_loss("mutual_information_continuous", 0.3),
        auxiliary_loss("feature_matching", 2.0),
    ]
    batches = [{**_points(16, s), "label": jnp.arange(16, dtype=jnp.int32) % 3} for s in range(2)]
    return _case(gan, (2,), batches, objective=get_objective("non_saturating"), auxiliary_losses=losses)


def stylegan2_lazy_path_length():
    """StyleGAN2 (noise and style-mixing streams) with lazy R1 and the stateful path-length penalty."""
    small = dict(resolution=4, channel_base=32, channel_max=8)
    g = stylegan2.Generator(z_dim=8, w_dim=8, mapping_layers=2, out_channels=1, **small)
    d = stylegan2.Discriminator(mbstd_group_size=2, **small)
    gan = GAN(g, d, optax.adam(1e-3, b1=0.0, b2=0.99), optax.adam(1e-3, b1=0.0, b2=0.99), (8,))
    regs = [regularizer("r1", 5.0, every=2), regularizer("path_length", 2.0, every=2)]
    return _case(
        gan, (4, 4, 1), [_images(4, (4, 4, 1), s) for s in range(3)],
        objective=get_objective("non_saturating"), regularizers=regs, ema_decay=0.9, reuse_fakes=False,
    )  # fmt: skip


def paired_delayed_adversarial():
    """pix2pix-style paired translation: L1 reconstruction, adversarial weight 0.5 from step 2."""
    gan = GAN(
        PixelG(), PairD(), optax.adam(1e-2, 0.5), optax.adam(1e-2, 0.5), latent_shape=(),
        translation="paired", condition_shape=(4, 4, 3),
    )  # fmt: skip
    rng = np.random.default_rng(0)
    batches = [
        {
            "image": jnp.asarray(rng.uniform(-1, 1, (8, 4, 4, 2)), jnp.float32),
            "condition": jnp.asarray(rng.uniform(-1, 1, (8, 4, 4, 3)), jnp.float32),
        }
        for _ in range(3)
    ]
    return _case(
        gan, (4, 4, 2), batches, objective=get_objective("non_saturating"),
        auxiliary_losses=[auxiliary_loss("l1_reconstruction", 10.0)], adversarial_weight=0.5,
        adversarial_start=2,
    )  # fmt: skip


def unpaired_image_pool():
    """CycleGAN-style unpaired translation with cycle and identity terms and a 4-image pool per domain."""
    gan = GAN(
        CycleG(), CycleD(), optax.sgd(1e-2), optax.sgd(1e-2), latent_shape=(), translation="unpaired",
        condition_shape=(3, 3, 1), image_pool_size=4,
    )  # fmt: skip
    rng = np.random.default_rng(1)
    batches = [
        {
            "image": jnp.asarray(rng.uniform(-1, 1, (4, 3, 3, 1)), jnp.float32),
            "condition": jnp.asarray(rng.uniform(-1, 1, (4, 3, 3, 1)), jnp.float32),
        }
        for _ in range(3)
    ]
    losses = [auxiliary_loss("cycle_consistency", 10.0), auxiliary_loss("identity", 5.0)]
    return _case(gan, (3, 3, 1), batches, objective=get_objective("least_squares"), auxiliary_losses=losses)


def mixed_precision():
    """bfloat16 compute with float32 parameters, LSGAN."""
    return _case(
        _mlp(), (2,), [_points(16, s) for s in range(2)],
        objective=get_objective("least_squares"), compute_dtype=jnp.bfloat16,
    )  # fmt: skip


CASES = {
    fn.__name__: fn
    for fn in (
        mlp_single_pass,
        mlp_gradient_penalty_split_critic,
        dcgan_conditional_shared_accumulated,
        auxiliary_heads,
        stylegan2_lazy_path_length,
        paired_delayed_adversarial,
        unpaired_image_pool,
        mixed_precision,
    )
}


def run_case(name: str) -> dict[str, np.ndarray]:
    """The case's final state and every step's metrics, flattened to ``{path: array}``."""
    step, state, batches = CASES[name]()
    step = jax.jit(step)
    out = {}
    for i, batch in enumerate(batches):
        state, metrics = step(state, batch)
        out.update({f"metrics/{i}/{k}": np.asarray(v) for k, v in metrics.items()})
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        out["state" + jax.tree_util.keystr(path)] = np.asarray(leaf)
    return out


def digest(array: np.ndarray) -> tuple[str, np.ndarray]:
    """``(sha256 of the bytes, 8 fixed random projections in float64)``: the first pins an array bit
    for bit, the second within a tolerance (another jax version may round differently)."""
    import hashlib

    array = np.ascontiguousarray(array)
    flat = array.astype(np.float64).ravel()
    projection = np.random.default_rng(flat.size).normal(size=(8, flat.size)) @ flat
    return hashlib.sha256(array.tobytes()).hexdigest(), projection
