"""PacGAN packing for any discriminator (gans_jax.layers.packing, ``model.pack``): the pack is m consecutive
samples concatenated along the last axis, a packed D is the inner D on those packs (same parameter tree),
``model.pack`` wraps the discriminator of any model, and bad batches and models are refused by name."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import builders
from gans_jax.configs import validate
from gans_jax.layers.packing import Packed, pack_samples
from gans_jax.models.mlp import MLPDiscriminator
from tests.helpers import experiment_config


def test_pack_is_the_concatenation_of_m_consecutive_samples():
    x = jnp.arange(24.0).reshape(12, 2)  # 2-D points: (B, 2) -> (B / m, 2 m)
    for m in (1, 2, 3, 4):
        packed = pack_samples(x, m)
        assert packed.shape == (12 // m, 2 * m)
        for i in range(12 // m):
            np.testing.assert_array_equal(packed[i], jnp.concatenate([x[i * m + j] for j in range(m)]))
    images = jax.random.normal(jax.random.PRNGKey(0), (6, 4, 5, 3))  # NHWC: channels j C .. j C + C - 1
    packed = pack_samples(images, 3)
    assert packed.shape == (2, 4, 5, 9)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(packed[i, ..., 3 * j : 3 * j + 3], images[3 * i + j])
    with pytest.raises(ValueError, match="a batch of 12 samples does not split into packs of m=5"):
        pack_samples(x, 5)
    with pytest.raises(ValueError, match="integer >= 1, got 0"):
        pack_samples(x, 0)


def test_packed_discriminator_is_the_inner_one_on_packs():
    """``Packed(D, m)`` returns B / m logits, has the parameters of D built for m times the features, and
    equals D applied to the packs; a batch that does not split is refused."""
    x = jax.random.normal(jax.random.PRNGKey(0), (12, 2))
    inner = MLPDiscriminator(hidden=(8,), maxout_pieces=2, spectral_norm=True)
    d3 = Packed(inner, 3)
    variables = d3.init(jax.random.PRNGKey(1), x[:1])  # init with one sample: a whole pack is made up
    assert variables["params"]["Dense_0"]["kernel"].shape == (6, 16)  # the inner D's own tree
    same = inner.init(jax.random.PRNGKey(1), jnp.tile(x[:1], (1, 3)))
    for a, b in zip(jax.tree.leaves(variables), jax.tree.leaves(same), strict=True):
        np.testing.assert_array_equal(a, b)
    logits = d3.apply(variables, x, train=False)
    assert logits.shape == (4,)
    np.testing.assert_allclose(inner.apply(variables, x.reshape(4, 6), train=False), logits, rtol=1e-6)
    with pytest.raises(ValueError, match="a batch of 10 samples does not split into packs of m=3"):
        d3.apply(variables, x[:10], train=False)
    with pytest.raises(ValueError, match="class-conditional"):
        d3.apply(variables, x, jnp.zeros(12, jnp.int32), train=False)


def test_model_pack_wraps_any_discriminator_and_trains():
    """``model.pack = 2`` on the DCGAN and on R3GAN: D's first layer takes 2 C channels, D sees the packs
    of consecutive samples, and a train step runs (a batch of 16 samples: 8 packs of each kind)."""
    for name in ("dcgan_digits", "r3gan_cifar10:tiny"):
        config = experiment_config(
            name, **{"model.pack": 2, "model.conditional": False, "train.batch_size": 16}
        )
        gan = builders.build_gan(config, (16, 16, 1), None)
        assert isinstance(gan.discriminator, Packed) and gan.discriminator.pack == 2
        step = builders.build_train_step(config, gan)
        state = step.init_state(jax.random.PRNGKey(0), (16, 16, 1))
        plain = builders.build_gan(experiment_config(name, **{"model.conditional": False}), (16, 16, 2), None)
        like = plain.discriminator.init(jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 2)), None, train=False)
        assert jax.tree.map(jnp.shape, like["params"]) == jax.tree.map(jnp.shape, state.d_params)
        images = jax.random.uniform(jax.random.PRNGKey(1), (8, 16, 16, 1)) * 2 - 1
        variables = {"params": state.d_params, **state.d_collections}
        packed_out = gan.discriminator.apply(variables, images, None, train=False)
        by_hand = jnp.concatenate([images[0::2], images[1::2]], axis=-1)  # samples 2i, 2i + 1
        inner_out = plain.discriminator.apply(variables, by_hand, None, train=False)
        np.testing.assert_allclose(packed_out, inner_out, rtol=1e-5, atol=1e-6)
        state, metrics = jax.jit(step)(state, {"image": jnp.concatenate([images, images])})
        assert np.isfinite(float(metrics["d_loss"]))
        with pytest.raises(ValueError, match="a batch of 7 samples does not split into packs of m=2"):
            gan.discriminator.apply(variables, images[:7], None, train=False)


def test_packing_refuses_what_it_does_not_define():
    config = experiment_config("dcgan_digits", **{"model.pack": 2})  # class-conditional
    with pytest.raises(ValueError, match=r"model\.pack=2 .* class-conditional"):
        builders.build_gan(config, (16, 16, 1), 10)
    config = experiment_config("infogan_digits", **{"model.pack": 2})
    with pytest.raises(ValueError, match=r"model\.pack=2 .* InfoGAN"):
        builders.build_gan(config, (16, 16, 1), None)
    with pytest.raises(ValueError, match=r"model\.pack=0 is out of range"):
        validate(experiment_config("dcgan_digits", **{"model.pack": 0}))
