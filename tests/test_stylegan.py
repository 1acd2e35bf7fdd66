"""StyleGAN (v1): sizes, AdaIN, noise inputs, the mapping network, style mixing and truncation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import builders
from gans_jax.layers.equalized import EqualizedDense
from gans_jax.layers.style import MappingNetwork, NoiseInjection, adaptive_instance_norm
from gans_jax.models import stylegan
from tests.helpers import experiment_config

count = lambda tree: sum(int(np.prod(a.shape)) for a in jax.tree.leaves(tree))


def test_parameter_counts_at_1024():
    """26.2M G: 26,212,019 = the official 26,219,627 less the 7,608 parameters of the tRGB layers only
    progressive growing uses; D: 23,077,137 = 23,087,249 less 10,112 of its unused fromRGB layers."""
    g, d = stylegan.Generator(1024), stylegan.Discriminator(1024)
    gv = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0), jnp.zeros((1, 512))))
    dv = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), jnp.zeros((2, 1024, 1024, 3))))
    assert count(gv["params"]) == 26_212_019
    assert round(count(gv["params"]) / 1e6, 1) == 26.2
    assert count(dv["params"]) == 23_077_137
    assert count(gv["params"]["mapping_network"]) == 8 * (512 * 512 + 512)


def test_adaptive_instance_norm_by_hand():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(2, 4, 4, 3)).astype(np.float32)
    ys, yb = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(2, 3)).astype(np.float32)
    mu, sigma = x.mean(axis=(1, 2), keepdims=True), x.std(axis=(1, 2), keepdims=True)
    expected = ys[:, None, None] * (x - mu) / sigma + yb[:, None, None]
    np.testing.assert_allclose(adaptive_instance_norm(x, ys, yb), expected, rtol=1e-4, atol=1e-4)


def test_noise_inputs_have_learned_per_channel_scales():
    layer = NoiseInjection(per_channel=True)
    x = jnp.zeros((2, 4, 4, 3))
    variables = layer.init(jax.random.PRNGKey(0), x)
    assert variables["params"]["strength"].shape == (3,)
    const = variables["noise_const"]["noise_const"]
    assert const.shape == (4, 4)  # the layer's own constant noise, drawn at init
    params = {"params": {"strength": jnp.array([0.0, 1.0, 2.0])}, "noise_const": variables["noise_const"]}
    y = np.asarray(layer.apply(params, x, rngs={"noise": jax.random.PRNGKey(1)}))
    np.testing.assert_array_equal(y[..., 0], 0.0)
    np.testing.assert_allclose(y[..., 2], 2 * y[..., 1], rtol=1e-6)  # one noise image, per-channel scale
    other = np.asarray(layer.apply(params, x, rngs={"noise": jax.random.PRNGKey(2)}))
    assert not np.allclose(other, y)
    # no stream (or noise_mode="const"): the noise_const variable, the same image for every example
    fixed = np.asarray(layer.apply(params, x))
    np.testing.assert_allclose(fixed[..., 1], np.broadcast_to(const, (2, 4, 4)), rtol=1e-6)
    np.testing.assert_array_equal(
        layer.apply(params, x, "const", rngs={"noise": jax.random.PRNGKey(1)}), fixed
    )
    np.testing.assert_array_equal(layer.apply(params, x, "none"), x)
    with pytest.raises(ValueError, match="needs the 'noise' PRNG stream"):
        layer.apply(params, x, "random")
    with pytest.raises(ValueError, match="unknown noise_mode 'fixed'"):
        layer.apply(params, x, "fixed")


def test_mapping_network_lr_multiplier_and_normalised_z():
    """Equalized FC with lr multiplier 0.01: stored weights N(0, 100^2), effective ones N(0, 1/fan_in),
    and the gradient of the stored weight is 0.01x the effective weight's (so Adam steps 0.01x)."""
    dense = EqualizedDense(256, gain=1.0, lr_multiplier=0.01)
    x = jnp.ones((1, 512))
    params = jax.jit(dense.init)(jax.random.PRNGKey(0), x)
    stored = np.asarray(params["params"]["kernel"])
    assert abs(stored.std() - 100.0) < 2.0
    scale = 0.01 / np.sqrt(512)
    assert abs((stored * scale).std() - 1 / np.sqrt(512)) < 1e-3
    grad = jax.grad(lambda p: dense.apply(p, x)[0, 0])(params)["params"]["kernel"]
    np.testing.assert_allclose(grad[:, 0], scale * np.ones(512), rtol=1e-6)
    mapping = MappingNetwork(w_dim=16, num_layers=8, hidden=16, num_ws=4)
    z = jax.random.normal(jax.random.PRNGKey(1), (3, 16))
    variables = jax.jit(mapping.init)(jax.random.PRNGKey(2), z)
    assert len(variables["params"]) == 8
    apply = jax.jit(mapping.apply)
    np.testing.assert_allclose(apply(variables, z), apply(variables, 5.0 * z), atol=1e-5)


def test_style_mixing_probability_crossover_and_truncation_cutoff():
    g = stylegan.Generator(
        16, z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8, out_channels=1
    )
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 8))
    variables = jax.jit(lambda k, z: g.init(k, z, method="mapping"))(jax.random.PRNGKey(1), z)
    w1 = np.asarray(g.apply(variables, z, method="mapping"))

    @jax.jit
    def crossover(key):
        ws, _ = g.apply(variables, z, train=True, mutable=["w_avg"], rngs={"mixing": key}, method="mapping")
        changed = jnp.any(ws != g.apply(variables, z, method="mapping"), axis=(0, 2))
        return jnp.where(changed.any(), jnp.argmax(changed), ws.shape[1])

    cuts = np.asarray(jax.vmap(crossover)(jax.random.split(jax.random.PRNGKey(3), 300)))
    n = w1.shape[1]
    assert n == 6  # 2 log2(16) - 2 styles
    mixed = cuts < n
    assert 0.84 < mixed.mean() < 0.96, mixed.mean()  # p = 0.9 (3.5 standard errors)
    assert cuts[mixed].min() == 1 and cuts[mixed].max() == n - 1
    # truncation in W toward w_avg on layers < cutoff only
    w_avg = jnp.linspace(-1.0, 1.0, 8)
    variables = {**variables, "w_avg": {"mapping_network": {"w_avg": w_avg}}}
    t = np.asarray(g.apply(variables, z, truncation_psi=0.7, truncation_cutoff=2, method="mapping"))
    np.testing.assert_allclose(t[:, :2], w_avg + 0.7 * (w1[:, :2] - w_avg), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t[:, 2:], w1[:, 2:])


def test_tiny_experiment_builds_and_rejects_unknown_presets():
    config = experiment_config("stylegan_ffhq")
    assert config.model.name == "stylegan" and config.model.channel_base == 16384
    tiny = experiment_config("stylegan_ffhq:tiny")
    gan = builders.build_gan(tiny, (16, 16, 1), None)
    extra = {k: v for r in builders.build_regularizers(tiny) for k, v in r.init_extra.items()}
    assert isinstance(gan.generator, stylegan.Generator) and extra == {}
    with pytest.raises(ValueError, match="preset"):
        experiment_config("stylegan_ffhq:x")
