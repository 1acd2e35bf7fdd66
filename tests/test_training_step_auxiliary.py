"""Auxiliary discriminator heads and losses in the one train-step factory, against hand-written updates."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax import auxiliary_losses as aux
from gans_jax.auxiliary_losses import AuxiliaryLoss, auxiliary_loss
from gans_jax.latent_codes import LatentCodes
from gans_jax.losses import get_objective
from gans_jax.models import dcgan
from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator
from gans_jax.training.state import GAN
from gans_jax.training.step import make_train_step

NS = get_objective("non_saturating")
LR = 1e-2
CODES = LatentCodes((4,), 2)


class HeadsMLP(nn.Module):
    """An MLP discriminator with every head (it ignores labels, as AC-GAN's D does)."""

    num_classes: int = 3

    @nn.compact
    def __call__(self, x, labels=None, train=True):
        h = nn.leaky_relu(nn.Dense(16)(x.reshape(x.shape[0], -1)), 0.2)
        return {
            "logits": nn.Dense(1)(h)[:, 0],
            "class_logits": nn.Dense(self.num_classes)(h),
            "code_logits": nn.Dense(sum(CODES.categorical))(h),
            "code_mean": nn.Dense(CODES.continuous)(h),
            "code_log_std": 0.1 * nn.Dense(CODES.continuous)(h),
            "features": h,
        }


class DictMLP(MLPDiscriminator):
    """The plain MLP discriminator returning ``{"logits": ...}``: the same parameters and logits."""

    def __call__(self, x, labels=None, train=True):
        return {"logits": super().__call__(x, labels, train)}


def heads_gan():
    return GAN(
        MLPGenerator(2, (16,), num_classes=3),
        HeadsMLP(),
        optax.sgd(LR),
        optax.sgd(LR),
        latent_shape=(3 + CODES.dim,),
        num_classes=3,
        latent_codes=CODES,
    )


def batch(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": jnp.asarray(rng.normal(size=(n, 2)), jnp.float32),
        "label": jnp.asarray(rng.integers(0, 3, n), jnp.int32),
    }


def draws(gan, state, n):
    """The latents and labels step 0 draws (see make_train_step's generator_pass)."""
    _, k_g, _ = jax.random.split(jax.random.fold_in(state.key, 0), 3)
    k_z, k_y, _ = jax.random.split(k_g, 3)
    return gan.sample_latents(k_z, n), gan.sample_labels(k_y, n)


def close(a, b, **kw):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)


def test_dict_output_with_only_logits_is_the_plain_step():
    plain = GAN(MLPGenerator(2, (16,)), MLPDiscriminator((16,)), optax.sgd(LR), optax.sgd(LR), (3,))
    as_dict = GAN(MLPGenerator(2, (16,)), DictMLP((16,)), optax.sgd(LR), optax.sgd(LR), (3,))
    state = plain.init_state(jax.random.PRNGKey(0), (2,))
    b = {"image": batch()["image"]}
    expected, m1 = jax.jit(make_train_step(plain, NS))(state, b)
    got, m2 = jax.jit(make_train_step(as_dict, NS))(state, b)
    close(got, expected, rtol=0, atol=0)
    close(m1, m2, rtol=0, atol=0)


@pytest.mark.parametrize("continuous_std", [0.0, 1.0])
def test_auxiliary_losses_enter_both_players_as_written_by_hand(continuous_std):
    """D: NS + w_ac L_C(real + fake) - w_cat L_I,cat - w_cont L_I,cont; G (through the updated D): NS +
    w_ac L_C(fake) - w_cat L_I,cat - w_cont L_I,cont + w_fm ||E f(x) - E f(G(z))||^2."""
    w = dict(ac=0.7, cat=1.0, cont=0.3, fm=0.5)
    gan = heads_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (2,))
    b = batch()
    cont_kwargs = {"std": continuous_std} if continuous_std else {}
    losses = [
        auxiliary_loss("auxiliary_classifier", w["ac"]),
        auxiliary_loss("mutual_information_categorical", w["cat"]),
        auxiliary_loss("mutual_information_continuous", w["cont"], **cont_kwargs),
        auxiliary_loss("feature_matching", w["fm"]),
    ]
    new_state, metrics = jax.jit(make_train_step(gan, NS, auxiliary_losses=losses))(state, b)

    z, y_fake = draws(gan, state, 32)
    _, (onehot,), cont = CODES.split(z)
    G = lambda p: gan.generator.apply({"params": p}, z, y_fake)
    D = lambda p, x: gan.discriminator.apply({"params": p}, x)

    def info(out):
        log_std = jnp.log(continuous_std) if continuous_std else out["code_log_std"]
        return (
            -aux.categorical_mutual_information(out["code_logits"], [onehot]),
            -aux.gaussian_mutual_information(out["code_mean"], log_std, cont),
        )

    fake = G(state.g_params)

    def d_loss(p):
        real_out, fake_out = D(p, b["image"]), D(p, fake)
        ac = aux.auxiliary_classifier_loss(real_out["class_logits"], b["label"])
        ac = ac + aux.auxiliary_classifier_loss(fake_out["class_logits"], y_fake)
        cat, cnt = info(fake_out)
        total = NS.discriminator_loss(real_out["logits"], fake_out["logits"])
        return total + w["ac"] * ac + w["cat"] * cat + w["cont"] * cnt, (ac, cat, cnt)

    d_grads, (ac, cat, cnt) = jax.grad(d_loss, has_aux=True)(state.d_params)
    d_params = jax.tree.map(lambda p, g: p - LR * g, state.d_params, d_grads)

    def g_loss(p):
        fake_out = D(d_params, G(p))
        ac_g = aux.auxiliary_classifier_loss(fake_out["class_logits"], y_fake)
        cat_g, cnt_g = info(fake_out)
        fm = aux.feature_matching_loss(D(d_params, b["image"])["features"], fake_out["features"])
        total = NS.generator_loss(fake_out["logits"])
        return total + w["ac"] * ac_g + w["cat"] * cat_g + w["cont"] * cnt_g + w["fm"] * fm, (ac_g, fm)

    g_grads, (ac_g, fm) = jax.grad(g_loss, has_aux=True)(state.g_params)
    g_params = jax.tree.map(lambda p, g: p - LR * g, state.g_params, g_grads)

    close(new_state.d_params, d_params, rtol=1e-5, atol=1e-7)
    close(new_state.g_params, g_params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(float(metrics["d_aux_auxiliary_classifier"]), float(ac), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["d_aux_mutual_information_categorical"]), float(cat), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["d_aux_mutual_information_continuous"]), float(cnt), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["g_aux_auxiliary_classifier"]), float(ac_g), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["g_aux_feature_matching"]), float(fm), rtol=1e-5)
    assert "d_aux_feature_matching" not in metrics  # generator-only term
    # L_I <= H(c) = log 4, so -L_I >= -log 4.
    assert float(cat) >= -np.log(4) - 1e-6


def test_feature_matching_can_replace_the_generator_adversarial_loss():
    gan = heads_gan()
    state = gan.init_state(jax.random.PRNGKey(1), (2,))
    b = batch(16, 1)
    fm = auxiliary_loss("feature_matching", 2.0, replace_adversarial=True)
    new_state, metrics = jax.jit(make_train_step(gan, NS, auxiliary_losses=[fm]))(state, b)
    plain_state, _ = jax.jit(make_train_step(gan, NS))(state, b)
    close(new_state.d_params, plain_state.d_params, rtol=1e-6, atol=1e-8)  # D is unchanged by the term

    z, y_fake = draws(gan, state, 16)
    D = lambda x: gan.discriminator.apply({"params": new_state.d_params}, x)
    real_f = D(b["image"])["features"]

    def g_loss(p):
        fake_out = D(gan.generator.apply({"params": p}, z, y_fake))
        return 2.0 * aux.feature_matching_loss(real_f, fake_out["features"]), fake_out["logits"]

    g_grads, fake_logits = jax.grad(g_loss, has_aux=True)(state.g_params)
    close(
        new_state.g_params,
        jax.tree.map(lambda p, g: p - LR * g, state.g_params, g_grads),
        rtol=1e-5,
        atol=1e-7,
    )
    # g_loss still reports the (unused) adversarial loss.
    np.testing.assert_allclose(float(metrics["g_loss"]), float(NS.generator_loss(fake_logits)), rtol=1e-5)


def test_auxiliary_losses_with_n_critic_and_dcgan_heads():
    """n_critic > 1 (fresh fakes per critic update) and the DCGAN discriminator's AC-GAN + Q heads."""
    codes = LatentCodes((10,), 2)
    gan = GAN(
        dcgan.Generator(16, 8, 1, num_classes=10),
        dcgan.Discriminator(
            16,
            8,
            10,
            conditioning="acgan",
            categorical_codes=(10,),
            continuous_codes=2,
            q_hidden=16,
            return_features=True,
        ),
        optax.adam(1e-3, 0.5),
        optax.adam(1e-3, 0.5),
        latent_shape=(8 + codes.dim,),
        num_classes=10,
        latent_codes=codes,
    )
    state = gan.init_state(jax.random.PRNGKey(0), (16, 16, 1))
    out = gan.discriminator.apply(
        {"params": state.d_params, **state.d_collections}, jnp.zeros((3, 16, 16, 1)), None, train=False
    )
    shapes = {k: v.shape for k, v in out.items()}
    assert shapes == {
        "logits": (3,),
        "class_logits": (3, 10),
        "code_logits": (3, 10),
        "code_mean": (3, 2),
        "code_log_std": (3, 2),
        "features": (3, 4, 4, 16),
    }
    rng = np.random.default_rng(0)
    b = {
        "image": jnp.asarray(rng.uniform(-1, 1, (16, 16, 16, 1)), jnp.float32),
        "label": jnp.asarray(rng.integers(0, 10, 16), jnp.int32),
    }
    names = ["auxiliary_classifier", "mutual_information_categorical", "mutual_information_continuous"]
    step = jax.jit(
        make_train_step(gan, NS, n_critic=2, auxiliary_losses=[auxiliary_loss(n, 1.0) for n in names])
    )
    new_state, metrics = step(state, b)
    assert int(new_state.d_opt_state[0].count) == 2
    for name in names:
        assert np.isfinite(float(metrics[f"d_aux_{name}"])) and np.isfinite(float(metrics[f"g_aux_{name}"]))
    # Untrained Q: the categorical bound is near 0 (-L_I near 0), far from the perfect -log 10.
    assert abs(float(metrics["d_aux_mutual_information_categorical"])) < 0.5


def test_auxiliary_loss_validation():
    with pytest.raises(ValueError, match="'info'"):
        auxiliary_loss("info", 1.0)
    with pytest.raises(ValueError, match="critic"):
        AuxiliaryLoss("x", lambda a: 0.0, 1.0, players=("critic",))
    with pytest.raises(ValueError, match="replace_adversarial"):
        auxiliary_loss("auxiliary_classifier", 1.0, players=("discriminator",), replace_adversarial=True)
    with pytest.raises(ValueError, match="unique"):
        make_train_step(heads_gan(), NS, auxiliary_losses=[auxiliary_loss("feature_matching", 1.0)] * 2)
    # A missing head or missing codes is named.
    plain = GAN(MLPGenerator(2, (16,)), MLPDiscriminator((16,)), optax.sgd(LR), optax.sgd(LR), (3,))
    state = plain.init_state(jax.random.PRNGKey(0), (2,))
    step = make_train_step(plain, NS, auxiliary_losses=[auxiliary_loss("feature_matching", 1.0)])
    with pytest.raises(ValueError, match="'features'"):
        step(state, {"image": batch()["image"]})
    heads_plain = GAN(MLPGenerator(2, (16,)), HeadsMLP(), optax.sgd(LR), optax.sgd(LR), (3,))
    state = heads_plain.init_state(jax.random.PRNGKey(0), (2,))
    step = make_train_step(
        heads_plain, NS, auxiliary_losses=[auxiliary_loss("mutual_information_categorical", 1.0)]
    )
    with pytest.raises(ValueError, match="latent codes"):
        step(state, {"image": batch()["image"]})
