"""DCGAN options for the GAN variants: critic normalisation, spectral norm, minibatch discrimination,
virtual batch norm in the generator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.models import dcgan

X = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 1))


def apply_train(module, variables, x, *args):
    mutable = [k for k in variables if k != "params"]
    out, _ = module.apply(variables, x, *args, train=True, mutable=mutable)
    return out


def test_layer_norm_and_no_norm_critics_have_no_batch_stats_and_treat_examples_independently():
    for normalization in ("layer", "none"):
        d = dcgan.Discriminator(16, 8, normalization=normalization)
        variables = d.init(jax.random.PRNGKey(1), X, train=False)
        assert set(variables) == {"params"}, normalization
        has_ln = any("LayerNorm" in k for k in variables["params"])
        assert has_ln == (normalization == "layer")
        full = d.apply(variables, X, train=True)
        np.testing.assert_allclose(d.apply(variables, X[:1], train=True), full[:1], rtol=1e-5, atol=1e-6)
    d = dcgan.Discriminator(16, 8)  # batch norm: training-mode output depends on the batch
    variables = d.init(jax.random.PRNGKey(1), X, train=False)
    assert "batch_stats" in variables
    assert not np.allclose(apply_train(d, variables, X[:2])[:1], apply_train(d, variables, X)[:1], atol=1e-4)


def test_spectral_norm_adds_u_vectors_and_normalises_every_conv():
    d = dcgan.Discriminator(16, 8, normalization="none", spectral_norm=True)
    variables = d.init(jax.random.PRNGKey(1), X, train=False)
    stats = variables["batch_stats"]
    kernels = {k: v["kernel"] for k, v in variables["params"].items()}
    assert sorted(kernels) == ["Conv_0", "Conv_1", "Conv_2"]  # same parameter names as without SN
    us = {name: leaf for sn in stats.values() for name, leaf in sn.items() if name.endswith("/u")}
    assert sorted(us) == ["Conv_0/kernel/u", "Conv_1/kernel/u", "Conv_2/kernel/u"]
    for name, u in us.items():
        assert u.shape == (1, kernels[name.split("/")[0]].shape[-1])
    # Power iteration runs in training mode only; after enough of it sigma = top singular value.
    _, frozen = d.apply(variables, X, train=False, mutable=["batch_stats"])
    jax.tree.map(np.testing.assert_array_equal, frozen["batch_stats"], stats)
    step = jax.jit(lambda v: {**v, **d.apply(v, X, train=True, mutable=["batch_stats"])[1]})
    for _ in range(50):
        variables = step(variables)
    for sn in variables["batch_stats"].values():
        for name, sigma in sn.items():
            if name.endswith("/sigma"):
                w = np.asarray(kernels[name.split("/")[0]]).reshape(-1, kernels[name.split("/")[0]].shape[-1])
                np.testing.assert_allclose(sigma, np.linalg.svd(w, compute_uv=False)[0], rtol=1e-3)
    # The plain network with kernels divided by their sigma gives the same logits.
    plain = dcgan.Discriminator(16, 8, normalization="none")
    scaled = {
        k: {"kernel": v["kernel"] / sn[f"{k}/kernel/sigma"]}
        for (k, v), sn in zip(variables["params"].items(), variables["batch_stats"].values(), strict=True)
    }
    np.testing.assert_allclose(
        d.apply(variables, X, train=False),
        plain.apply({"params": scaled}, X, train=False),
        rtol=1e-4,
        atol=1e-5,
    )


def test_minibatch_discrimination_feeds_the_output_conv():
    d = dcgan.Discriminator(16, 8, minibatch_kernels=6, minibatch_kernel_dim=3)
    variables = d.init(jax.random.PRNGKey(1), X, train=False)
    params = variables["params"]
    assert params["MinibatchDiscrimination_0"]["T"].shape == (4 * 4 * 16, 6 * 3)
    assert params["Conv_2"]["kernel"].shape == (4, 4, 16 + 6, 1)
    # In evaluation mode (running BN statistics) an example's logit still depends on its batch.
    a = d.apply(variables, X, train=False)[0]
    b = d.apply(variables, X.at[1:].set(X[1:] * 3.0), train=False)[0]
    assert abs(float(a - b)) > 1e-6


@pytest.mark.parametrize("conditional", [False, True])
def test_virtual_batch_norm_generator(conditional):
    num_classes = 10 if conditional else None
    g = dcgan.Generator(16, 8, 1, num_classes, normalization="virtual_batch", vbn_reference_size=5)
    z = jax.random.normal(jax.random.PRNGKey(2), (3, 16))
    y = jnp.array([1, 2, 3]) if conditional else None
    variables = g.init(jax.random.PRNGKey(1), z, y, train=False)
    assert "batch_stats" not in variables
    ref = variables["vbn_reference"]
    assert ref["z"].shape == (5, 16)
    # Drawn once from a fixed key: the same for any init key.
    other = g.init(jax.random.PRNGKey(7), z, y, train=False)["vbn_reference"]
    np.testing.assert_array_equal(other["z"], ref["z"])
    if conditional:
        np.testing.assert_array_equal(ref["labels"], [0, 1, 2, 3, 4])
    out = apply_train(g, variables, z, y)
    assert out.shape == (3, 16, 16, 1)
    # Example 0's output depends on the reference batch and itself only: not on the rest of its batch,
    # not on the batch size, and train and eval modes agree.
    z2 = jnp.concatenate([z[:1], 5.0 * jax.random.normal(jax.random.PRNGKey(3), (6, 16))])
    y2 = jnp.array([1, 9, 9, 9, 9, 9, 9]) if conditional else None
    np.testing.assert_allclose(apply_train(g, variables, z2, y2)[0], out[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        g.apply(variables, z[:1], None if y is None else y[:1], train=False)[0], out[0], atol=1e-6
    )
    # ... but it does depend on the reference batch.
    moved = {**variables, "vbn_reference": {**ref, "z": ref["z"] + 1.0}}
    assert not np.allclose(apply_train(g, moved, z, y)[0], out[0], atol=1e-4)


def test_bad_option_values_are_named():
    with pytest.raises(ValueError, match="'group'"):
        dcgan.Discriminator(16, 8, normalization="group").init(jax.random.PRNGKey(0), X)
    with pytest.raises(ValueError, match="'instance'"):
        dcgan.Generator(16, 8, 1, normalization="instance").init(jax.random.PRNGKey(0), jnp.zeros((1, 8)))


def test_salimans_options_train_through_the_one_step():
    """VBN generator + minibatch discrimination from a config: a train step updates G, keeps the
    reference batch fixed, and the EMA generator samples with it."""
    from gans_jax import builders
    from tests.helpers import experiment_config

    cfg = experiment_config(
        "dcgan_digits",
        **{
            "model.g_channels": 8,
            "model.d_channels": 8,
            "model.g_normalization": "virtual_batch",
            "model.vbn_reference_size": 6,
            "model.minibatch_kernels": 4,
            "model.minibatch_kernel_dim": 3,
        },
    )
    gan = builders.build_gan(cfg, (16, 16, 1), 10)
    state = builders.init_state(cfg, gan, jax.random.PRNGKey(0), (16, 16, 1))
    assert set(state.g_collections) == {"vbn_reference"}
    assert "MinibatchDiscrimination_0" in state.d_params
    batch = {"image": jnp.tanh(X).repeat(2, 0), "label": jnp.arange(8) % 10}
    new, metrics = jax.jit(builders.build_train_step(cfg, gan))(state, batch)
    assert np.isfinite(float(metrics["g_loss"])) and np.isfinite(float(metrics["d_loss"]))
    jax.tree.map(np.testing.assert_array_equal, new.g_collections, state.g_collections)
    assert not np.allclose(new.g_params["Dense_0"]["kernel"], state.g_params["Dense_0"]["kernel"])
    samples = gan.generate(new, jnp.ones((2, cfg.model.latent_dim)), jnp.array([3, 4]))
    assert samples.shape == (2, 16, 16, 1) and np.all(np.abs(np.asarray(samples)) <= 1)


def test_projection_conditioning_uses_the_projection_head():
    """conditioning="projection": psi(phi(x)) + <embed(y), phi(x)> on the flattened last features."""
    d = dcgan.Discriminator(16, 8, num_classes=10, conditioning="projection", spectral_norm=True)
    x = jax.random.normal(jax.random.key(0), (4, 16, 16, 1))
    y = jnp.array([0, 1, 2, 3])
    variables = d.init(jax.random.key(1), x, y, train=False)
    assert "ProjectionHead_0" in variables["params"] and "Embed_0" not in variables["params"]
    out = d.apply(variables, x, y, train=False)
    assert out.shape == (4,)
    other = d.apply(variables, x, (y + 1) % 10, train=False)
    assert float(jnp.max(jnp.abs(other - out))) > 1e-4  # the label changes the logit
    head = variables["params"]["ProjectionHead_0"]
    assert head["psi"]["kernel"].shape == (4 * 4 * 16, 1) and head["embed"]["embedding"].shape == (10, 256)
