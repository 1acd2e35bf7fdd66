"""The InfoGAN paper networks and the InfoGAN/AC-GAN configs wired through gans_jax.builders."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import builders
from tests.helpers import experiment_config


def test_infogan_mnist_config_builds_the_paper_networks_and_steps():
    config = experiment_config(
        "infogan_mnist", **{"model.g_hidden": (32,), "model.d_hidden": (32,), "model.q_hidden": 16}
    )
    gan = builders.build_gan(config, (28, 28, 1), None)
    assert tuple(gan.latent_shape) == (74,)  # 62 noise + 10 + 2 (Chen et al., App. C.1)
    z = gan.sample_latents(jax.random.PRNGKey(0), 100)
    assert float(jnp.min(z[:, :62])) >= -1 and float(jnp.max(z[:, :62])) <= 1  # Unif(-1, 1) noise
    np.testing.assert_array_equal(np.asarray(z[:, 62:72].sum(-1)), 1.0)
    state = gan.init_state(jax.random.PRNGKey(0), (28, 28, 1))
    images = gan.generate(state, z[:4])
    assert images.shape == (4, 28, 28, 1) and float(jnp.max(jnp.abs(images))) <= 1
    out = gan.discriminator.apply({"params": state.d_params, **state.d_collections}, images, train=False)
    assert {k: v.shape for k, v in out.items()} == {
        "logits": (4,),
        "code_logits": (4, 10),
        "code_mean": (4, 2),
        "code_log_std": (4, 2),
    }
    step = jax.jit(builders.build_train_step(config, gan))
    batch = {"image": jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (20, 28, 28, 1)), jnp.float32)}
    _, metrics = step(state, batch)
    assert {"d_aux_mutual_information_categorical", "g_aux_mutual_information_continuous"} <= set(metrics)
    assert all(np.isfinite(float(v)) for v in metrics.values())


def test_acgan_config_builds_a_class_head_and_concat_is_refused_for_infogan_networks():
    config = experiment_config("acgan_digits", **{"model.g_channels": 8, "model.d_channels": 8})
    gan = builders.build_gan(config, (16, 16, 1), 10)
    state = gan.init_state(jax.random.PRNGKey(0), (16, 16, 1))
    x = jnp.zeros((2, 16, 16, 1))
    variables = {"params": state.d_params, **state.d_collections}
    out = gan.discriminator.apply(variables, x, jnp.array([0, 1]), train=False)
    assert out["class_logits"].shape == (2, 10)
    # AC-GAN's D never sees the label: its outputs do not depend on it.
    other = gan.discriminator.apply(variables, x, jnp.array([5, 7]), train=False)
    np.testing.assert_array_equal(np.asarray(out["logits"]), np.asarray(other["logits"]))
    bad = experiment_config("infogan_mnist", **{"model.conditional": True})
    with pytest.raises(ValueError, match="'concat'"):
        builders.build_gan(bad, (28, 28, 1), 10)
