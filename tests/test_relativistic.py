"""The relativistic pairing loss (RpGAN) and R3GAN's schedules: hand-computed values and gradients, and the
one train step against an update written out by hand (G's update sees D on the real batch)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax import configs, losses, schedules
from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator
from gans_jax.optimizers import build_optimizer
from gans_jax.regularizers import r1_penalty, r2_penalty, regularizer
from gans_jax.training.state import GAN
from gans_jax.training.step import make_train_step

REAL = np.array([1.5, -0.5, 0.0, 3.0], np.float32)
FAKE = np.array([-2.0, 0.5, 1.0, -1.0], np.float32)
RP = losses.get_objective("relativistic_pairing")


def softplus(x):
    return np.log1p(np.exp(np.asarray(x, np.float64)))


def test_rpgan_losses_on_hand_computed_values():
    # pairs (1.5, -2), (-0.5, 0.5), (0, 1), (3, -1): D's differences 3.5, -1, -1, 4
    d = np.mean([softplus(-3.5), softplus(1.0), softplus(1.0), softplus(-4.0)])
    g = np.mean([softplus(3.5), softplus(-1.0), softplus(-1.0), softplus(4.0)])
    assert d == pytest.approx(0.668606, abs=1e-6) and g == pytest.approx(2.043606, abs=1e-6)
    np.testing.assert_allclose(RP.discriminator_loss(REAL, FAKE), d, rtol=1e-6)
    np.testing.assert_allclose(RP.generator_loss(FAKE, REAL), g, rtol=1e-6)
    # softplus(-t) - softplus(t) = -t: the two losses differ by the mean difference of the pairs
    np.testing.assert_allclose(g - d, np.mean(REAL - FAKE), rtol=1e-6)
    # (B, 1) logits, and extreme ones without overflow
    np.testing.assert_allclose(RP.discriminator_loss(REAL[:, None], FAKE[:, None]), d, rtol=1e-6)
    assert float(RP.discriminator_loss(jnp.array([1e4]), jnp.array([-1e4]))) == 0.0
    assert float(RP.generator_loss(jnp.array([-1e4]), jnp.array([1e4]))) == pytest.approx(2e4)
    assert RP.uses_real and not losses.get_objective("non_saturating").uses_real


def test_rpgan_gradients():
    """d/dr softplus(-(r - f)) = -sigmoid(-(r - f)) = -(1 - sigmoid(r - f)), over B pairs."""
    sig = lambda x: 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))
    diff = REAL - FAKE
    d_real, d_fake = jax.grad(RP.discriminator_loss, argnums=(0, 1))(REAL, FAKE)
    np.testing.assert_allclose(d_real, -sig(-diff) / 4, rtol=1e-6)
    np.testing.assert_allclose(d_fake, sig(-diff) / 4, rtol=1e-6)
    g_fake, g_real = jax.grad(RP.generator_loss, argnums=(0, 1))(FAKE, REAL)
    np.testing.assert_allclose(g_fake, -sig(diff) / 4, rtol=1e-6)
    np.testing.assert_allclose(g_real, sig(diff) / 4, rtol=1e-6)


def test_rpgan_refuses_unpaired_logits():
    with pytest.raises(ValueError, match=r"pairs real and fake.*\(4,\) and \(3,\)"):
        RP.discriminator_loss(REAL, FAKE[:3])
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        losses.get_objective("relativistic_pairing", c=1.0)


def test_cosine_and_linear_schedules_match_r3gans_formula():
    def r3gan(t, base, final, total):  # training_loop.cosine_decay_with_warmup without warm-up
        decay = 0.5 * (1 + np.cos(np.pi * t / total))
        return float(np.where(t > total, final, base + (1 - decay) * (final - base)))

    lr = schedules.make_schedule({"shape": "cosine", "init": 2e-4, "final": 5e-5, "steps": 100})
    beta2 = schedules.make_schedule({"shape": "cosine", "init": 0.9, "final": 0.99, "steps": 100})
    for t in (0, 1, 25, 50, 99, 100, 101, 10_000):
        np.testing.assert_allclose(float(lr(t)), r3gan(t, 2e-4, 5e-5, 100), rtol=1e-6)
        np.testing.assert_allclose(float(beta2(t)), r3gan(t, 0.9, 0.99, 100), rtol=1e-6)
    np.testing.assert_allclose(float(lr(50)), 1.25e-4, rtol=1e-6)
    line = schedules.make_schedule({"shape": "linear", "init": 1.0, "final": 0.0, "steps": 4})
    np.testing.assert_allclose([float(line(t)) for t in range(6)], [1, 0.75, 0.5, 0.25, 0, 0])
    assert schedules.make_schedule(0.5) == 0.5  # a number stays a number
    # EMA: the half-life (images) of R3GAN's CIFAR-10 config at 1/4 of its ramp, batch 512
    h = r3gan(10_000, 0.0, 5e6, 40_000)
    decay = schedules.ema_decay_schedule({"shape": "cosine", "init": 0, "final": 5e6, "steps": 40_000}, 512)
    np.testing.assert_allclose(float(decay(10_000)), 0.5 ** (512 / h), rtol=1e-6)
    assert float(decay(0)) == 0.0  # a zero half-life: the EMA copies the parameters


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"shape": "cosine", "init": 1.0, "final": 0.0}, r"missing \['steps'\]"),
        ({"shape": "cosine", "init": 1.0, "final": 0.0, "steps": 0}, "steps must be an integer >= 1, got 0"),
        ({"shape": "exp", "init": 1.0, "final": 0.0, "steps": 3}, "shape must be one of"),
        ({"shape": "linear", "init": "a", "final": 0.0, "steps": 3}, "init must be a finite number, got 'a'"),
        ("0.1", "must be a number or a schedule"),
    ],
)
def test_bad_schedules_are_named(spec, match):
    with pytest.raises(ValueError, match=match):
        schedules.make_schedule(spec, "gamma")


def test_adam_with_scheduled_lr_and_beta2_is_pytorchs_adam_with_betas_set_every_step():
    lr = {"shape": "cosine", "init": 2e-4, "final": 5e-5, "steps": 4}
    b2 = {"shape": "cosine", "init": 0.9, "final": 0.99, "steps": 4}
    tx = build_optimizer(configs.adam(lr, b1=0.0, b2=b2), total_steps=100)
    grads = [np.array([0.3, -1.0, 2.0], np.float32) * (k + 1) for k in range(6)]
    params, state = jnp.zeros(3), None
    state = tx.init(params)
    p, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
    lr_at, b2_at = schedules.make_schedule(lr), schedules.make_schedule(b2)
    for t, g in enumerate(grads):
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        # torch.optim.Adam with betas (0, beta2_t) and lr_t set before step t + 1
        beta2, rate = float(b2_at(t)), float(lr_at(t))
        m = g.astype(np.float64)
        v = beta2 * v + (1 - beta2) * g.astype(np.float64) ** 2
        p = p - rate * m / (np.sqrt(v) / np.sqrt(1 - beta2 ** (t + 1)) + 1e-8)
    np.testing.assert_allclose(np.asarray(params), p, rtol=2e-5)
    with pytest.raises(ValueError, match="b2 schedule must stay in"):
        build_optimizer(configs.adam(1e-3, b2={**b2, "final": 1.0}), 10)
    with pytest.raises(ValueError, match="lr schedule must be 'constant'"):
        build_optimizer(configs.adam(lr, schedule="cosine"), 10)
    c = configs.default_config()
    c.optim.d = configs.adam({**lr, "final": -1.0})
    with pytest.raises(ValueError, match="optim.d.lr=.* out of range"):
        configs.validate(c)


def test_scheduled_gamma_on_the_regularizer():
    gamma = {"shape": "linear", "init": 0.4, "final": 0.2, "steps": 2}
    r1 = regularizer("r1", gamma=gamma)
    assert [float(r1.weight_at(t)) for t in (0, 1, 2, 7)] == pytest.approx([0.2, 0.15, 0.1, 0.1])
    assert regularizer("r1", gamma=0.4).weight_at(jnp.int32(5)) == 0.2  # a number: a plain float
    with pytest.raises(ValueError, match="gamma schedule must stay >= 0"):
        regularizer("r2", gamma={**gamma, "final": -0.1})
    with pytest.raises(ValueError, match="scheduled weight"):
        _ = r1.effective_weight


def test_rpgan_r1_r2_step_against_a_hand_written_update():
    """D: RpGAN + gamma_t / 2 (R1 + R2) with gamma_t from its schedule; then G through the updated D,
    softplus(-(D(G(z)) - D(x))) with D(x) on this step's reals; EMA with the ramped half-life."""
    lr = 0.05
    gan = GAN(MLPGenerator(2, (16,)), MLPDiscriminator((16,)), optax.sgd(lr), optax.sgd(lr), (3,))
    gamma = {"shape": "cosine", "init": 0.8, "final": 0.1, "steps": 3}
    regs = [regularizer("r1", gamma=gamma), regularizer("r2", gamma=gamma)]
    halflife = {"shape": "cosine", "init": 0, "final": 64, "steps": 3}
    step = make_train_step(gan, RP, regularizers=regs, ema_decay=schedules.ema_decay_schedule(halflife, 8))
    state = step.init_state(jax.random.PRNGKey(0), (2,))
    rng = np.random.default_rng(0)
    batches = [{"image": jnp.asarray(rng.normal(size=(8, 2)), jnp.float32)} for _ in range(2)]
    run = jax.jit(step)
    got = state
    for b in batches:
        got, metrics = run(got, b)

    G = lambda p, z: gan.generator.apply({"params": p}, z)
    D = lambda p, x: gan.discriminator.apply({"params": p}, x)
    g_params, d_params, ema = state.g_params, state.d_params, state.g_params
    gamma_at, decay_at = schedules.make_schedule(gamma), schedules.ema_decay_schedule(halflife, 8)
    for t, b in enumerate(batches):
        _, k_g, _ = jax.random.split(jax.random.fold_in(state.key, t), 3)
        z = gan.sample_latents(jax.random.split(k_g, 3)[0], 8)
        real, fake = b["image"], G(g_params, z)

        def d_loss(p, real=real, fake=fake, t=t):
            critic = lambda x: D(p, x)
            penalty = r1_penalty(critic, real) + r2_penalty(critic, fake)
            return RP.discriminator_loss(D(p, real), D(p, fake)) + gamma_at(t) / 2 * penalty

        d_before_last = d_params
        d_params = jax.tree.map(lambda p, g: p - lr * g, d_params, jax.grad(d_loss)(d_params))
        real_logits = D(d_params, real)  # the updated D on the reals, a constant for G

        def g_loss(p, z=z, real_logits=real_logits, d_params=d_params):
            return RP.generator_loss(D(d_params, G(p, z)), real_logits)

        g_before = g_params
        g_params = jax.tree.map(lambda p, g: p - lr * g, g_params, jax.grad(g_loss)(g_params))
        ema = jax.tree.map(lambda e, p, t=t: decay_at(t) * e + (1 - decay_at(t)) * p, ema, g_params)

    for a, b in ((got.d_params, d_params), (got.g_params, g_params), (got.ema_params, ema)):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(float(metrics["g_loss"]), float(g_loss(g_before)), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["d_real"]), float(jnp.mean(D(d_before_last, real))), rtol=1e-5)
    # G's update used D(real): with the reals' logits set to 0 it would have been another update
    blind = jax.grad(lambda p: RP.generator_loss(D(d_params, G(p, z)), jnp.zeros(8)))(g_before)
    moved = jax.tree.map(lambda p, g: p - lr * g, g_before, blind)
    gap = max(
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(moved), jax.tree.leaves(g_params), strict=True)
    )
    assert gap > 1e-4
    assert math.isfinite(float(metrics["reg/r1"])) and float(metrics["reg/r2"]) > 0
