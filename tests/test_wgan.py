"""The WGAN family, LSGAN and DCGAN + hinge + SN as configs over the one train step (experiments/*_cifar10.py
and their offline ``:digits`` presets)."""

import dataclasses
import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import builders, configs, optimizers
from gans_jax.data.digits import load_digits_dataset
from gans_jax.losses import get_objective
from gans_jax.metrics.digits_classifier import DigitsJudge
from gans_jax.training.loop import train
from tests.helpers import ONE_DEVICE, ROOT

EXPERIMENTS = [
    "wgan_cifar10",
    "wgan_gp_cifar10",
    "lsgan_cifar10",
    "lsgan_cifar10:pearson",
    "dcgan_hinge_sn_cifar10",
]


def config(name: str, **overrides):
    base, _, arg = name.partition(":")
    path = os.path.join(ROOT, "experiments", f"{base}.py") + (f":{arg}" if arg else "")
    return configs.load_config(path, overrides)


def digits_batch(n: int) -> dict:
    return {k: jnp.asarray(v[:n]) for k, v in load_digits_dataset(16).items()}


def built(cfg):
    gan = builders.build_gan(cfg, (16, 16, 1), 10)
    state = jax.jit(lambda k: builders.init_state(cfg, gan, k, (16, 16, 1)))(jax.random.PRNGKey(cfg.seed))
    return gan, state


def test_paper_defaults():
    wgan = config("wgan_cifar10")
    assert wgan.objective.name == "wasserstein" and wgan.optim.d.clip == 0.01 and not wgan.optim.g.clip
    assert (wgan.optim.d.name, wgan.optim.d.lr, wgan.train.n_critic) == ("rmsprop", 5e-5, 5)
    assert wgan.train.batch_size // wgan.train.n_critic == 64 and wgan.train.critic_batches == "split"
    gp = config("wgan_gp_cifar10")
    assert gp.objective.name == "wasserstein" and gp.regularizers.gradient_penalty.weight == 10.0
    assert (gp.optim.d.lr, gp.optim.d.b1, gp.optim.d.b2, gp.train.n_critic) == (1e-4, 0.0, 0.9, 5)
    assert gp.model.d_normalization == "layer" and not gp.optim.d.clip
    sn = config("dcgan_hinge_sn_cifar10")
    assert sn.objective.name == "hinge" and sn.model.d_spectral_norm and sn.model.d_normalization == "none"
    for name in EXPERIMENTS:  # the CIFAR-10 networks build (shapes only)
        cfg = config(name)
        gan = builders.build_gan(cfg, (32, 32, 3), 10)
        state = jax.eval_shape(lambda gan=gan: gan.init_state(jax.random.PRNGKey(0), (32, 32, 3)))
        assert cfg.data.source == "tfds:cifar10" and state.step.shape == ()
    with pytest.raises(ValueError, match="'cifar100'"):
        config("wgan_cifar10:cifar100")


@functools.cache
def digits_experiment(name: str):
    """``(config, gan, initial state, jitted train step)`` of ``name``'s ``:digits`` preset, small nets."""
    base, _, arg = name.partition(":")
    cfg = config(f"{base}:{arg + ',' if arg else ''}digits", **{"model.g_channels": 8, "model.d_channels": 8})
    cfg.train.batch_size = 4 * cfg.train.n_critic
    gan, state = built(cfg)
    return cfg, gan, state, jax.jit(builders.build_train_step(cfg, gan))


def test_wgan_step_keeps_every_critic_weight_within_c():
    cfg, _, state, step = digits_experiment("wgan_cifar10")
    c = cfg.optim.d.clip
    before = np.concatenate([np.ravel(w) for w in jax.tree.leaves(state.d_params)])
    assert np.abs(before).max() > 10 * c  # DCGAN init (batch-norm scales ~ 1) is far outside the box
    for _ in range(2):
        state, metrics = step(state, digits_batch(cfg.train.batch_size))
        after = np.concatenate([np.ravel(w) for w in jax.tree.leaves(state.d_params)])
        assert np.abs(after).max() <= c
        assert np.sum(np.abs(after) == np.float32(c)) > 0  # clipped weights sit on the boundary
        assert 0 < np.mean(np.abs(after) < c)  # ... and others move freely inside
    g_weights = np.concatenate([np.ravel(w) for w in jax.tree.leaves(state.g_params)])
    assert np.abs(g_weights).max() > 10 * c  # the generator is not clipped
    assert np.isfinite(float(metrics["d_loss"]))


class LinearCritic(nn.Module):
    """D(x) = <x, w> (gradient norm |w| everywhere), or <x, w> / |w| (gradient norm 1 everywhere)."""

    normalized: bool

    @nn.compact
    def __call__(self, x, labels=None, train=True):
        w = self.param("w", lambda k, s: 0.3 * jax.random.normal(k, s), (int(np.prod(x.shape[1:])),))
        logits = x.reshape(x.shape[0], -1) @ w
        return logits / jnp.linalg.norm(w) if self.normalized else logits


@pytest.mark.parametrize("normalized", [True, False])
def test_wgan_gp_step_reports_the_gradient_penalty(normalized):
    """The penalty is 0 for a critic with unit gradient norm everywhere, and (|w| - 1)^2 for <x, w>."""
    cfg, gan, _, _ = digits_experiment("wgan_gp_cifar10")
    lr = 1e-4 if normalized else 0.0  # a frozen critic keeps |w| through the 5 critic updates
    gan = dataclasses.replace(
        gan,
        discriminator=LinearCritic(normalized),
        d_optimizer=optimizers.build_optimizer({**cfg.optim.d, "lr": lr}, 1),
    )
    state = builders.init_state(cfg, gan, jax.random.PRNGKey(0), (16, 16, 1))
    w = np.asarray(state.d_params["w"])
    _, metrics = jax.jit(builders.build_train_step(cfg, gan))(state, digits_batch(cfg.train.batch_size))
    expected = 0.0 if normalized else (np.linalg.norm(w) - 1.0) ** 2
    assert expected == 0.0 or expected > 1.0
    np.testing.assert_allclose(float(metrics["reg/gradient_penalty"]), expected, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("preset, a, b, c", [("", 0.0, 1.0, 1.0), ("pearson", -1.0, 1.0, 0.0)])
def test_lsgan_presets_losses(preset, a, b, c):
    cfg = config("lsgan_cifar10" + (f":{preset}" if preset else ""))
    assert dict(cfg.objective.kwargs) == {"a": a, "b": b, "c": c}
    objective = get_objective(cfg.objective.name, **cfg.objective.kwargs)  # as build_train_step does
    real, fake = np.array([0.5, 2.0, -1.0]), np.array([-0.5, 0.0, 1.5])
    # (0, 1, 1): D = 1/2 mean((r - 1)^2) + 1/2 mean(f^2), G = 1/2 mean((f - 1)^2)
    # (-1, 1, 0): D = 1/2 mean((r - 1)^2) + 1/2 mean((f + 1)^2), G = 1/2 mean(f^2)
    d_by_hand = {
        0.0: (0.25 + 1 + 4) / 6 + (0.25 + 0 + 2.25) / 6,
        -1.0: (0.25 + 1 + 4) / 6 + (0.25 + 1 + 6.25) / 6,
    }
    g_by_hand = {1.0: (2.25 + 1 + 0.25) / 6, 0.0: (0.25 + 0 + 2.25) / 6}
    np.testing.assert_allclose(objective.discriminator_loss(real, fake), d_by_hand[a], rtol=1e-6)
    np.testing.assert_allclose(objective.generator_loss(fake), g_by_hand[c], rtol=1e-6)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_digits_preset_trains_two_steps(name):
    """Each experiment's ``:digits`` preset: two train steps on real digits, finite state and losses.
    (The training loop runs the WGAN-GP preset in the "it learns" test below.)"""
    cfg, _, state, step = digits_experiment(name)
    assert cfg.data.source == "digits" and cfg.model.conditional and cfg.model.resolution == 16
    for _ in range(2):
        state, metrics = step(state, digits_batch(cfg.train.batch_size))
    assert int(state.step) == 2
    assert all(np.isfinite(float(v)) for v in metrics.values())
    floats = [np.asarray(x) for x in jax.tree.leaves(state) if jnp.issubdtype(x.dtype, jnp.floating)]
    assert all(np.all(np.isfinite(x)) for x in floats)


@pytest.mark.slow
def test_wgan_gp_learns_conditional_digits(tmp_path):
    """WGAN-GP (the paper's lambda, n_critic, betas; higher lr, small nets): digits-judge class agreement
    of the samples goes from chance to >= 0.6."""
    cfg = config(
        "wgan_gp_cifar10:digits",
        **{
            "train.steps": 300,
            "train.batch_size": 5 * 32,
            "model.g_channels": 16,
            "model.d_channels": 16,
            "optim.g.lr": 5e-4,
            "optim.d.lr": 5e-4,
            "train.ema_decay": 0.9,
            "train.sample_every": 1000,
            "train.checkpoint_every": 1000,
            "train.log_every": 100,
        },
    )
    gan, untrained = built(cfg)
    _, metrics = train(cfg, str(tmp_path), progress=False, devices=ONE_DEVICE)
    z = gan.sample_latents(jax.random.PRNGKey(5), 500)
    labels = jnp.arange(500) % 10
    before = DigitsJudge.fit().class_agreement(
        np.asarray(gan.generate(untrained, z, labels)), np.asarray(labels)
    )
    assert before < 0.3, before  # measured 0.10 at init
    assert metrics["class_agreement"] >= 0.6, metrics  # measured 0.817 after 300 steps
