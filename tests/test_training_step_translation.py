"""Image-to-image GANs in the one train-step factory: the condition reaches both networks, the
reconstruction terms match hand-computed updates, CycleGAN's dict of domains flows through one step."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax import auxiliary_losses as aux
from gans_jax.auxiliary_losses import AuxiliaryInputs, auxiliary_loss
from gans_jax.losses import get_objective
from gans_jax.training.state import GAN
from gans_jax.training.step import make_train_step
from tests.i2i_helpers import PairD, PixelG

NS = get_objective("non_saturating")
LSGAN = get_objective("least_squares")
LR = 1e-2


def paired_gan():
    return GAN(
        PixelG(),
        PairD(),
        optax.sgd(LR),
        optax.sgd(LR),
        latent_shape=(),
        translation="paired",
        condition_shape=(4, 4, 3),
    )


def paired_batch(n=8):
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    return {
        "image": jax.random.uniform(k1, (n, 4, 4, 2), minval=-1, maxval=1),
        "condition": jax.random.uniform(k2, (n, 4, 4, 3), minval=-1, maxval=1),
    }


def test_paired_step_matches_hand_written_update():
    gan, batch = paired_gan(), paired_batch()
    state = gan.init_state(jax.random.PRNGKey(0), (4, 4, 2))
    lam = 100.0
    step = jax.jit(make_train_step(gan, NS, auxiliary_losses=[auxiliary_loss("l1_reconstruction", lam)]))
    new, metrics = step(state, batch)
    x, y = batch["condition"], batch["image"]

    def g_apply(p):
        return gan.generator.apply({"params": p}, None, x)

    def d_apply(p, images):
        return gan.discriminator.apply({"params": p}, images, x)

    fake = g_apply(state.g_params)
    d_grads = jax.grad(lambda p: NS.discriminator_loss(d_apply(p, y), d_apply(p, fake)))(state.d_params)
    d_params = jax.tree.map(lambda p, g: p - LR * g, state.d_params, d_grads)

    def g_loss(p):
        out = g_apply(p)
        return NS.generator_loss(d_apply(d_params, out)) + lam * jnp.mean(jnp.abs(out - y))

    g_params = jax.tree.map(lambda p, g: p - LR * g, state.g_params, jax.grad(g_loss)(state.g_params))
    for got, want in zip(
        jax.tree.leaves((new.d_params, new.g_params)), jax.tree.leaves((d_params, g_params)), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["g_aux_l1_reconstruction"], jnp.mean(jnp.abs(fake - y)), rtol=1e-6)


def test_adversarial_weight_scales_only_the_adversarial_term():
    gan, batch = paired_gan(), paired_batch()
    state = gan.init_state(jax.random.PRNGKey(0), (4, 4, 2))
    l1 = [auxiliary_loss("l1_reconstruction", 1.0)]
    only_l1 = jax.jit(make_train_step(gan, NS, auxiliary_losses=l1, adversarial_weight=0.0))(state, batch)[0]
    grads = jax.grad(
        lambda p: jnp.mean(
            jnp.abs(gan.generator.apply({"params": p}, None, batch["condition"]) - batch["image"])
        )
    )(state.g_params)
    want = jax.tree.map(lambda p, g: p - LR * g, state.g_params, grads)
    for got, w in zip(jax.tree.leaves(only_l1.g_params), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_adversarial_start_is_content_only_before_and_the_given_weight_after():
    """``adversarial_start=2``: steps 0 and 1 update G as ``adversarial_weight=0`` does, step 2 as the
    given weight does (SRResNet pretraining, then SRGAN); D trains in both phases."""
    gan, batch = paired_gan(), paired_batch()
    state = gan.init_state(jax.random.PRNGKey(0), (4, 4, 2))
    l1 = [auxiliary_loss("l1_reconstruction", 1.0)]

    def run(state, **kwargs):
        return jax.jit(make_train_step(gan, NS, auxiliary_losses=l1, **kwargs))(state, batch)

    delayed = dict(adversarial_weight=0.5, adversarial_start=2)
    for step, weight in ((0, 0.0), (1, 0.0), (2, 0.5), (7, 0.5)):
        at = state.replace(step=jnp.asarray(step, state.step.dtype))
        got, metrics = run(at, **delayed)
        want, _ = run(at, adversarial_weight=weight)
        assert float(metrics["g_adversarial_weight"]) == weight
        for a, b in zip(
            jax.tree.leaves((got.g_params, got.d_params)),
            jax.tree.leaves((want.g_params, want.d_params)),
            strict=True,
        ):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    before, _ = run(state, **delayed)
    after, _ = run(state, adversarial_weight=0.5)
    assert not np.allclose(before.g_params["Conv_0"]["kernel"], after.g_params["Conv_0"]["kernel"])
    assert "g_adversarial_weight" not in run(state, adversarial_weight=0.5)[1]
    with pytest.raises(ValueError, match="adversarial_start must be >= 0, got -1"):
        make_train_step(gan, NS, adversarial_start=-1)


class Scale(nn.Module):
    """``x -> a x`` with a learnable scalar ``a``, or its inverse ``x -> x / a`` sharing ``a``."""

    @nn.compact
    def __call__(self, x, inverse=False):
        a = self.param("a", lambda k: jnp.asarray(2.0))
        return x / a if inverse else a * x


class CycleG(nn.Module):
    """G: X -> Y as ``2x`` and F: Y -> X as its exact inverse, in CycleGAN's dict convention."""

    @nn.compact
    def __call__(self, z, domains, train=True):
        s = Scale()
        g, f = (lambda v: s(v)), (lambda v: s(v, inverse=True))
        x, y = domains["x"], domains["y"]
        return {"x": f(y), "y": g(x), "rec_x": f(g(x)), "rec_y": g(f(y)), "idt_x": f(x), "idt_y": g(y)}


class CycleD(nn.Module):
    """D_X and D_Y (linear), their logits concatenated over the batch."""

    @nn.compact
    def __call__(self, images, domains, train=True):
        flat = lambda v: v.reshape(v.shape[0], -1)
        return jnp.concatenate([nn.Dense(1)(flat(images["x"]))[:, 0], nn.Dense(1)(flat(images["y"]))[:, 0]])


def test_unpaired_step_cycle_is_zero_for_inverse_mappings_and_identity_is_hand_value():
    gan = GAN(
        CycleG(),
        CycleD(),
        optax.sgd(LR),
        optax.sgd(LR),
        latent_shape=(),
        translation="unpaired",
        condition_shape=(3, 3, 1),
    )
    batch = paired_batch()
    batch = {"image": batch["image"][..., :1][:, :3, :3], "condition": batch["condition"][..., :1][:, 1:, 1:]}
    state = gan.init_state(jax.random.PRNGKey(0), (3, 3, 1))
    losses = [auxiliary_loss("cycle_consistency", 10.0), auxiliary_loss("identity", 5.0)]
    new, metrics = jax.jit(make_train_step(gan, LSGAN, auxiliary_losses=losses))(state, batch)
    assert float(metrics["g_aux_cycle_consistency"]) < 1e-7
    x, y = batch["condition"], batch["image"]
    identity = jnp.mean(jnp.abs(x / 2 - x)) + jnp.mean(jnp.abs(2 * y - y))
    np.testing.assert_allclose(metrics["g_aux_identity"], identity, rtol=1e-6)
    # Both discriminators and the shared generator parameter were updated in the one step.
    assert not np.allclose(new.g_params["Scale_0"]["a"], 2.0)
    for name in ("Dense_0", "Dense_1"):
        assert not np.allclose(new.d_params[name]["kernel"], state.d_params[name]["kernel"])


def test_translation_gan_needs_the_condition():
    gan = paired_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (4, 4, 2))
    with pytest.raises(ValueError, match="batch\\['condition'\\]"):
        make_train_step(gan, NS)(state, {"image": paired_batch()["image"]})
    with pytest.raises(ValueError, match="condition_shape"):
        GAN(PixelG(), PairD(), optax.sgd(LR), optax.sgd(LR), latent_shape=(), translation="paired")
    with pytest.raises(ValueError, match="'sideways'"):
        GAN(
            PixelG(),
            PairD(),
            optax.sgd(LR),
            optax.sgd(LR),
            latent_shape=(),
            translation="sideways",
            condition_shape=(1,),
        )


def test_reconstruction_losses_hand_values():
    a, b = jnp.array([[1.0, -1.0], [0.5, 0.0]]), jnp.array([[0.0, 1.0], [0.5, 1.0]])
    np.testing.assert_allclose(aux.l1_loss(a, b), (1 + 2 + 0 + 1) / 4)
    np.testing.assert_allclose(aux.l2_loss(a, b), (1 + 4 + 0 + 1) / 4)
    with pytest.raises(ValueError, match="differ"):
        aux.l1_loss(a, b[:1])


def test_image_pool_lives_in_the_state_and_feeds_the_discriminator():
    gan = GAN(
        CycleG(),
        CycleD(),
        optax.sgd(0.0),
        optax.sgd(LR),
        latent_shape=(),
        translation="unpaired",
        condition_shape=(3, 3, 1),
        image_pool_size=4,
    )
    state = gan.init_state(jax.random.PRNGKey(0), (3, 3, 1))
    assert set(state.extra["image_pool"]) == {"x", "y"}
    batch = paired_batch()
    batch = {"image": batch["image"][..., :1][:, :3, :3], "condition": batch["condition"][..., :1][:, 1:, 1:]}
    new, _ = jax.jit(make_train_step(gan, LSGAN))(state, batch)
    pool = new.extra["image_pool"]
    fakes = {"x": batch["image"] / 2, "y": 2 * batch["condition"]}  # F(y), G(x) with a = 2 (G frozen)
    for domain in ("x", "y"):
        assert int(pool[domain]["count"]) == 4
        stored = np.asarray(pool[domain]["images"]).reshape(4, -1)
        made = np.asarray(fakes[domain]).reshape(8, -1)
        # every stored image is one of this step's fakes
        assert all(np.min(np.abs(made - row).max(axis=1)) < 1e-6 for row in stored)
    with pytest.raises(ValueError, match="image pool"):
        make_train_step(gan, LSGAN, n_critic=2)
    with pytest.raises(ValueError, match="image_pool_size"):
        GAN(
            PixelG(),
            PairD(),
            optax.sgd(LR),
            optax.sgd(LR),
            latent_shape=(),
            translation="paired",
            condition_shape=(4, 4, 3),
            image_pool_size=50,
        )


def test_content_loss_on_features_and_the_inception_extractor():
    """SRGAN's content loss: MSE of phi(G(x)) and phi(y) for a feature map phi (hand value), pixels
    without one; the config's ``features="inception"`` builds the FID Inception port as phi."""
    from gans_jax.builders import auxiliary_loss_kwargs
    from tests.helpers import experiment_config
    from tests.test_metrics_inception import _weights_path

    pool = lambda v: v.reshape(v.shape[0], 2, 2, 2, 2, -1).mean(axis=(2, 4))  # 4x4 -> 2x2 mean pool
    fake, real = paired_batch()["image"], paired_batch(8)["condition"][..., :2]
    loss = auxiliary_loss("content", 1.0, features=pool)
    inputs = AuxiliaryInputs(None, {}, None, None, None, None, "generator", fake, real)
    np.testing.assert_allclose(loss.fn(inputs), jnp.mean(jnp.square(pool(fake) - pool(real))), rtol=1e-6)
    pixel = auxiliary_loss("content", 1.0).fn(inputs)
    np.testing.assert_allclose(pixel, jnp.mean(jnp.square(fake - real)), rtol=1e-6)

    config = experiment_config("srgan_folder:tiny", **{"eval.fid_weights": _weights_path()})
    spec = auxiliary_loss_kwargs(config, "content", {"weight": 1.0, "features": "inception"})
    out = jax.eval_shape(spec["features"], jax.ShapeDtypeStruct((2, 32, 32, 1), jnp.float32))
    assert out.shape == (2, 2048)
    with pytest.raises(ValueError, match="'vgg'"):
        auxiliary_loss_kwargs(config, "content", {"weight": 1.0, "features": "vgg"})
