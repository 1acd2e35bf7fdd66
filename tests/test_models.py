"""Shapes, conditioning and determinism of the MLP and DCGAN networks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.models import dcgan
from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator


def _init_apply(module, x, labels=None):
    variables = module.init(jax.random.PRNGKey(0), x, labels, train=False)
    out, _ = module.apply(variables, x, labels, train=True, mutable=["batch_stats"])
    return variables, out


@pytest.mark.parametrize("resolution", [16, 32, 64, 128])
def test_dcgan_shapes_any_power_of_two(resolution):
    g = dcgan.Generator(resolution, base_channels=8, out_channels=3)
    d = dcgan.Discriminator(resolution, base_channels=8)
    z = jax.random.normal(jax.random.PRNGKey(1), (2, 20))
    g_vars, x = _init_apply(g, z)
    assert x.shape == (2, resolution, resolution, 3)
    assert float(jnp.max(jnp.abs(x))) <= 1.0  # tanh output
    _, logits = _init_apply(d, x)
    assert logits.shape == (2,)
    # channel schedule: 4x4 map has base * 2**(n-1) channels for n = log2(res) - 2 stages
    stages = int(np.log2(resolution)) - 2
    assert g_vars["params"]["Dense_0"]["kernel"].shape == (20, 16 * 8 * 2 ** (stages - 1))


def test_dcgan_discriminator_has_no_hidden_dense_and_batch_norm_counts():
    d = dcgan.Discriminator(32, base_channels=4)
    variables = d.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 1)), train=False)
    names = set(variables["params"])
    assert not any(n.startswith("Dense") for n in names)
    # BN on every conv but the input layer and the logit layer (Radford et al. 2016, Sec. 3)
    assert sum(n.startswith("BatchNorm") for n in names) == 2


@pytest.mark.parametrize("bad", [8, 24, 2048])
def test_dcgan_rejects_bad_resolution(bad):
    with pytest.raises(ValueError, match=str(bad)):
        dcgan.Generator(bad).init(jax.random.PRNGKey(0), jnp.zeros((1, 4)), train=False)


def test_dcgan_discriminator_rejects_wrong_image_size():
    d = dcgan.Discriminator(32, base_channels=4)
    with pytest.raises(ValueError, match=r"32x32.*\(1, 16, 16, 1\)"):
        d.init(jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 1)), train=False)


def test_conditional_networks_use_labels():
    g = dcgan.Generator(16, base_channels=8, out_channels=1, num_classes=10)
    z = jnp.tile(jax.random.normal(jax.random.PRNGKey(0), (1, 8)), (2, 1))
    labels = jnp.array([3, 7])
    variables = g.init(jax.random.PRNGKey(0), z, labels, train=False)
    x = g.apply(variables, z, labels, train=False)
    assert not np.allclose(x[0], x[1])  # same z, different class -> different image
    with pytest.raises(ValueError, match="labels"):
        g.apply(variables, z, None, train=False)
    d = dcgan.Discriminator(16, base_channels=8, num_classes=10)
    d_vars = d.init(jax.random.PRNGKey(0), x, labels, train=False)
    same_x = jnp.tile(x[:1], (2, 1, 1, 1))
    logits = d.apply(d_vars, same_x, labels, train=False)
    assert logits[0] != logits[1]


def test_mlp_shapes_and_determinism():
    g, d = MLPGenerator(out_dim=2, hidden=(16, 16)), MLPDiscriminator(hidden=(16,))
    z = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
    v1 = g.init(jax.random.PRNGKey(4), z)
    v2 = g.init(jax.random.PRNGKey(4), z)
    x = g.apply(v1, z)
    assert x.shape == (5, 2)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(g.apply(v2, z)))
    logits = d.apply(d.init(jax.random.PRNGKey(1), x), x)
    assert logits.shape == (5,)


def test_dcgan_init_is_deterministic_and_dcgan_scaled():
    g = dcgan.Generator(32, base_channels=16, out_channels=3)
    z = jnp.zeros((1, 100))
    a = g.init(jax.random.PRNGKey(7), z, train=False)["params"]
    b = g.init(jax.random.PRNGKey(7), z, train=False)["params"]
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    kernel = np.asarray(a["SubPixelConvTranspose_0"]["kernel"])
    assert abs(kernel.std() - 0.02) < 0.002  # N(0, 0.02) (Radford et al. 2016, Sec. 4)
