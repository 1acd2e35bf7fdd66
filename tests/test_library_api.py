"""The library as a researcher composes it (issue 15): conditional regularisers score samples under their
own labels, the state comes from the train step, every argument is checked when a term is built, plain
functions and plain networks are accepted."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax import regularizers as regs
from gans_jax.auxiliary_losses import auxiliary_loss
from gans_jax.losses import get_objective
from gans_jax.models import stylegan2
from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator
from gans_jax.regularizers import regularizer
from gans_jax.training.state import GAN
from gans_jax.training.step import make_train_step

NS = get_objective("non_saturating")
W = np.array([[0.0, 0.0], [3.0, 4.0]], np.float32)  # |W_0|^2 = 0, |W_1|^2 = 25


class LabelG(nn.Module):
    """``G(z, y) = (y, 0)``: a fake shows the label it was generated with (its parameters get no gradient
    beyond the zero-weighted path that keeps them in the update)."""

    @nn.compact
    def __call__(self, z, labels, train=True):
        zero = 0.0 * nn.Dense(2)(z)
        return jnp.stack([labels.astype(jnp.float32), jnp.zeros(labels.shape)], axis=1) + zero


class LinearCritic(nn.Module):
    """``D(x, y) = <x, W[y]>``: its input gradient is ``W[y]``, of squared norm 0 (y = 0) or 25 (y = 1)."""

    @nn.compact
    def __call__(self, x, labels, train=True):
        w = self.param("W", lambda k: jnp.asarray(W))
        return jnp.sum(x * w[labels], axis=1)


def label_gan():
    return GAN(LabelG(), LinearCritic(), optax.sgd(0.0), optax.sgd(0.0), latent_shape=3, num_classes=2)


def run_with_real_labels(label: int, regularizers, n=256):
    gan = label_gan()
    step = make_train_step(gan, NS, regularizers=regularizers)
    batch = {"image": jnp.zeros((n, 2)), "label": jnp.full((n,), label, jnp.int32)}
    _, metrics = jax.jit(step)(step.init_state(jax.random.PRNGKey(0), (2,)), batch)
    return {k: float(v) for k, v in metrics.items()}


def test_conditional_regularizers_score_each_sample_under_its_own_labels():
    """R2 follows the fakes' labels whatever the real labels; R1 and drift follow the real labels.
    (Before the fix, R2 was 0.0 with real labels 0 and 25.0 with real labels 1.)"""
    terms = [regularizer("r1", 1.0), regularizer("r2", 1.0), regularizer("drift", 1.0)]
    zeros, ones = run_with_real_labels(0, terms), run_with_real_labels(1, terms)
    fake_ones = zeros["d_fake"] / 3.0  # d_fake = mean <(y, 0), W[y]> = 3 mean(y_fake)
    assert 0.3 < fake_ones < 0.7 and ones["d_fake"] == zeros["d_fake"]
    for metrics in (zeros, ones):
        np.testing.assert_allclose(metrics["reg/r2"], 25.0 * fake_ones, rtol=1e-5)
    assert zeros["reg/r1"] == 0.0 and ones["reg/r1"] == pytest.approx(25.0)
    assert zeros["reg/drift"] == 0.0 and ones["reg/drift"] == 0.0  # the reals are 0: D(0, y) = 0


def test_gradient_penalty_interpolates_take_the_real_label_with_probability_eps():
    """Each interpolate is scored under the real label where u < eps (u ~ U[0, 1), drawn from
    ``fold_in(key, 1)``), else under the fake label; with equal labels it is the plain penalty."""
    n, key = 4096, jax.random.PRNGKey(7)
    critic = lambda x, y: jnp.sum(x * jnp.asarray(W)[y], axis=1)
    real, fake = jnp.zeros((n, 2)), jnp.ones((n, 2))
    zeros, ones = jnp.zeros((n,), jnp.int32), jnp.ones((n,), jnp.int32)
    same = regs.gradient_penalty(critic, real, fake, key, real_labels=ones, fake_labels=ones)
    assert float(same) == pytest.approx(16.0)  # (|W_1| - 1)^2
    mixed = float(regs.gradient_penalty(critic, real, fake, key, real_labels=zeros, fake_labels=ones))
    eps = np.asarray(jax.random.uniform(key, (n, 1))).ravel()
    from_real = np.asarray(jax.random.uniform(jax.random.fold_in(key, 1), (n,))) < eps
    np.testing.assert_allclose(mixed, np.mean(np.where(from_real, 1.0, 16.0)), rtol=1e-4)
    assert mixed == pytest.approx(8.5, abs=0.4)  # P(real label) = E[eps] = 1/2
    # through the step: real labels 0, fake labels ~ Bernoulli(p): P(label 1) = (1 - eps) p
    metrics = run_with_real_labels(0, [regularizer("gradient_penalty", 1.0)], n=n)
    p = metrics["d_fake"] / 3.0
    assert metrics["reg/gradient_penalty"] == pytest.approx(1.0 + 15.0 * 0.5 * p, abs=0.4)


def mlp_gan(**kw):
    return GAN(MLPGenerator(2, (8,)), MLPDiscriminator((8,)), optax.adam(1e-3), optax.adam(1e-3), **kw)


def test_the_train_step_makes_its_state_ema_and_regularizer_state_included():
    gan = mlp_gan(latent_shape=3)
    key = jax.random.PRNGKey(0)
    plain = make_train_step(gan, NS).init_state(key, (2,))
    assert plain.ema_params is None and plain.extra == {}
    step = make_train_step(gan, NS, ema_decay=0.99, regularizers=[regularizer("path_length", 2.0)])
    state = step.init_state(key, (2,))
    jax.tree.map(np.testing.assert_array_equal, state.ema_params, state.g_params)
    assert float(state.extra["pl_mean"]) == 0.0
    jax.tree.map(np.testing.assert_array_equal, state.g_params, plain.g_params)
    with pytest.raises(TypeError, match="ema"):
        gan.init_state(key, (2,), ema=True)  # one place: the step
    path_length_only = make_train_step(gan, NS, regularizers=[regularizer("path_length", 2.0)])
    with pytest.raises(ValueError, match=r"\['pl_mean'\] that the state lacks: make the state with"):
        jax.jit(path_length_only)(gan.init_state(key, (2,)), {"image": jnp.zeros((4, 2))})


def test_regularizer_arguments_are_checked_when_built():
    assert regularizer("r1", gamma=10.0).weight == 5.0 and regularizer("r2", 0.5).weight == 0.5
    assert regularizer("orthogonal", 1e-4).player == "generator"
    assert regularizer("orthogonal", 1e-4, player="discriminator").player == "discriminator"
    cases = [
        (dict(name="r1", gamma=10.0, weight=5.0), "not both"),
        (dict(name="r1"), "needs a weight"),
        (dict(name="drift", gamma=1.0), "takes no gamma"),
        (dict(name="r1", weight=1.0, foo=1), r"unknown argument\(s\) \['foo'\]"),
        (
            dict(name="gradient_penalty", weight=10.0, player="generator"),
            "discriminator term, not a 'generator'",
        ),
        (dict(name="path_length", weight=2.0, player="discriminator"), "generator term"),
        (dict(name="r1", weight=-1.0), "weight must be a number >= 0, got -1.0"),
        (dict(name="r1", weight=1.0, every=0), "every must be an integer >= 1, got 0"),
        (dict(name="r3", weight=1.0), "unknown regularizer 'r3'"),
    ]
    for kwargs, match in cases:
        name = kwargs.pop("name")
        with pytest.raises(ValueError, match=match):
            regularizer(name, **kwargs)
    assert regularizer("gradient_penalty", 10.0, target=0.0).fn.keywords == {"target": 0.0}
    with pytest.raises(ValueError, match=r"auxiliary loss 'mutual_information_continuous' got unknown"):
        auxiliary_loss("mutual_information_continuous", 1.0, sdt=0.1)


def test_plain_functions_are_regularizers_and_auxiliary_losses():
    """A function of RegularizerInputs (here R1 written by hand) equals the named term; a function of
    AuxiliaryInputs is an auxiliary loss; an unwrapped function is refused with the way to wrap it."""

    def my_r1(r):
        return regs.r1_penalty(lambda x: r.critic(x, r.real_labels), r.real)

    def mean_fake_logit(a):
        return jnp.mean(a.fake["logits"])

    gan = mlp_gan(latent_shape=3)
    step = make_train_step(
        gan,
        NS,
        regularizers=[regularizer("r1", 1.0), regularizer(my_r1, 1.0)],
        auxiliary_losses=[auxiliary_loss(mean_fake_logit, 0.0, players=("generator",))],
    )
    batch = {"image": jnp.asarray(np.random.default_rng(0).normal(size=(16, 2)), jnp.float32)}
    _, metrics = jax.jit(step)(step.init_state(jax.random.PRNGKey(0), (2,)), batch)
    assert float(metrics["reg/my_r1"]) == float(metrics["reg/r1"]) > 0
    assert float(metrics["g_aux_mean_fake_logit"]) == pytest.approx(float(metrics["d_fake_for_g"]))
    with pytest.raises(TypeError, match=r"regularizers\[0\] is a function, not a Regularizer: build it with"):
        make_train_step(gan, NS, regularizers=[my_r1])


class PlainG(nn.Module):
    @nn.compact
    def __call__(self, z):
        return nn.Dense(2)(nn.relu(nn.Dense(16)(z)))


class PlainD(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.relu(nn.Dense(16)(x)))[:, 0]


def test_plain_networks_and_an_int_latent_shape():
    """Networks without ``labels``/``train`` arguments are adapted without nesting their parameters."""
    gan = GAN(PlainG(), PlainD(), optax.adam(1e-2), optax.adam(1e-2), latent_shape=8)
    assert gan.latent_shape == (8,)
    step = make_train_step(
        gan, get_objective("hinge"), regularizers=[regularizer("r1", gamma=1.0)], ema_decay=0.9
    )
    state = step.init_state(jax.random.PRNGKey(0), (2,))
    kernels = {name: p["kernel"].shape for name, p in state.g_params.items()}
    assert kernels == {"Dense_0": (16, 2), "Dense_1": (8, 16)}  # PlainG's own parameter tree
    batch = {"image": jnp.asarray(np.random.default_rng(0).normal(size=(32, 2)), jnp.float32)}
    new, metrics = jax.jit(step)(state, batch)
    assert np.isfinite(float(metrics["reg/r1"])) and int(new.step) == 1
    samples = gan.generate(new, jnp.ones((3, 8)))
    direct = PlainG().apply({"params": new.ema_params}, jnp.ones((3, 8)))
    np.testing.assert_array_equal(samples, direct)
    with pytest.raises(ValueError, match=r"the discriminator PlainD.__call__ takes no labels"):
        GAN(MLPGenerator(2, (8,), num_classes=3), PlainD(), optax.sgd(0.1), optax.sgd(0.1), 3, num_classes=3)


class StreamG(nn.Module):
    """A generator drawing from its own PRNG stream in train mode."""

    rng_streams = ("jitter",)

    @nn.compact
    def __call__(self, z, labels=None, train=True):
        out = nn.Dense(2)(z)
        return out + jax.random.normal(self.make_rng("jitter"), out.shape) if train else out


def test_networks_declare_their_own_prng_streams():
    assert stylegan2.Generator.rng_streams == ("noise", "mixing")
    gan = GAN(StreamG(), MLPDiscriminator((8,)), optax.sgd(0.1), optax.sgd(0.1), latent_shape=3)
    step = make_train_step(gan, NS)
    batch = {"image": jnp.zeros((8, 2))}
    state = step.init_state(jax.random.PRNGKey(0), (2,))
    a, _ = jax.jit(step)(state, batch)
    b, _ = jax.jit(step)(state, batch)
    jax.tree.map(np.testing.assert_array_equal, a.g_params, b.g_params)  # deterministic in the state's key
