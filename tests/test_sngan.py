"""SNGAN models (Miyato et al. 2018): shapes, determinism, spectral norm on every D layer, the fused
resampling convolutions, the power-iteration state updated by the train step, the configs."""

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.builders import build_gan, build_train_step
from gans_jax.configs import load_config
from gans_jax.layers.resample import ConvMeanPool, UpsampleConv, mean_pool, nearest_upsample
from gans_jax.models import sngan
from tests.helpers import ROOT


def experiment_config(name: str, **overrides):
    """``experiments/<file>.py:<preset>`` with dotted overrides."""
    file, _, preset = name.partition(":")
    return load_config(
        os.path.join(ROOT, "experiments", f"{file}.py") + (f":{preset}" if preset else ""), overrides
    )


ARCHS = {
    "cnn": (sngan.CNNGenerator, sngan.CNNDiscriminator),
    "resnet": (sngan.ResNetGenerator, sngan.ResNetDiscriminator),
}


def _paths(tree):
    return {
        jax.tree_util.keystr(path, simple=True, separator="/")
        for path, _ in jax.tree_util.tree_leaves_with_path(tree)
    }


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("num_classes", [None, 10])
def test_shapes_and_determinism(arch, num_classes):
    gen_cls, disc_cls = ARCHS[arch]
    g, d = gen_cls(16, 8, 1, num_classes), disc_cls(16, 8, num_classes)
    z = jax.random.normal(jax.random.PRNGKey(0), (3, 16))
    labels = jnp.array([0, 4, 9]) if num_classes else None
    g_init = jax.jit(lambda key, z, y: g.init(key, z, y, train=False))
    d_init = jax.jit(lambda key, x, y: d.init(key, x, y, train=False))
    g_apply = jax.jit(lambda v, z, y: g.apply(v, z, y, train=False))
    d_apply = jax.jit(lambda v, x, y: d.apply(v, x, y, train=False))
    g_vars = g_init(jax.random.PRNGKey(1), z, labels)
    x = g_apply(g_vars, z, labels)
    assert x.shape == (3, 16, 16, 1) and float(jnp.max(jnp.abs(x))) <= 1.0
    d_vars = d_init(jax.random.PRNGKey(2), x, labels)
    logits = d_apply(d_vars, x, labels)
    assert logits.shape == (3,) and np.all(np.isfinite(np.asarray(logits)))
    again = d_apply(d_init(jax.random.PRNGKey(2), x, labels), x, labels)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(logits))
    np.testing.assert_array_equal(np.asarray(g_apply(g_init(jax.random.PRNGKey(1), z, labels), z, labels)), x)
    if num_classes:
        # same image, different classes -> different logits (the projection term)
        out = np.asarray(d_apply(d_vars, jnp.tile(x[:1], (3, 1, 1, 1)), labels))
        assert len(set(out.round(6))) == 3
        # conditional BN starts at gamma = 1, beta = 0 for every class; with per-class biases,
        # the same z gives a different image per class
        params = jax.tree_util.tree_map_with_path(
            lambda p, v: (
                v + 0.5 * jnp.arange(v.size).reshape(v.shape) / v.size
                if "beta" in jax.tree_util.keystr(p)
                else v
            ),
            g_vars["params"],
        )
        x_same_z = g_apply({**g_vars, "params": params}, jnp.tile(z[:1], (3, 1)), labels)
        assert not np.allclose(x_same_z[0], x_same_z[1])
        with pytest.raises(ValueError, match="needs labels"):
            d.apply(d_vars, x, None, train=False)


def test_paper_widths():
    """Table 3: D convs 64,64,128,128,256,256,512 with 3x3/4x4 alternating, G dense to 4x4x512;
    Table 4 / the authors' resnet_32: G dense to 4x4x256, D 4 blocks of 128, bias-free final dense."""
    x, z = jnp.zeros((1, 32, 32, 3)), jnp.zeros((1, 128))
    shapes = lambda module, *args: jax.eval_shape(
        lambda: module.init(jax.random.PRNGKey(0), *args, train=False)
    )
    params = shapes(sngan.CNNDiscriminator(), x)["params"]
    kernels = [params[f"Conv_{i}"]["kernel"].shape for i in range(7)]
    assert [k[-1] for k in kernels] == [64, 64, 128, 128, 256, 256, 512]
    assert [k[0] for k in kernels] == [3, 4, 3, 4, 3, 4, 3]
    assert params["ProjectionHead_0"]["psi"]["kernel"].shape == (4 * 4 * 512, 1)
    g_params = shapes(sngan.CNNGenerator(), z)["params"]
    assert g_params["Dense_0"]["kernel"].shape == (128, 4 * 4 * 512)
    assert [g_params[f"SubPixelConvTranspose_{i}"]["kernel"].shape[-1] for i in range(3)] == [256, 128, 64]
    g_params = shapes(sngan.ResNetGenerator(), z)["params"]
    assert g_params["Dense_0"]["kernel"].shape == (128, 4 * 4 * 256)
    assert sorted(n for n in g_params if n.startswith("GBlock")) == ["GBlock_0", "GBlock_1", "GBlock_2"]
    params = shapes(sngan.ResNetDiscriminator(), x)["params"]
    assert sorted(n for n in params if n.startswith("DBlock")) == [f"DBlock_{i}" for i in range(4)]
    assert set(params["ProjectionHead_0"]["psi"]) == {"kernel"}
    assert "shortcut" not in params["DBlock_2"] and "shortcut" in params["DBlock_1"]  # identity shortcut


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_discriminator_kernel_is_spectrally_normalised(arch):
    d = ARCHS[arch][1](16, 8, num_classes=5)
    x, labels = jnp.zeros((2, 16, 16, 1)), jnp.zeros((2,), jnp.int32)
    variables = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), x, labels, train=False))
    matrices = {p for p in _paths(variables["params"]) if p.endswith(("kernel", "embedding"))}
    # batch_stats path ".../SpectralNorm_k/<layer>/kernel/u" -> params path ".../<layer>/kernel"
    normalised = set()
    for path in _paths(variables["batch_stats"]):
        if path.endswith("/u"):
            scope, layer = path[: -len("/u")].split("SpectralNorm_")
            normalised.add(scope + layer.split("/", 1)[1])
    assert matrices and normalised == matrices


def test_fused_resampling_convolutions_are_exact():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 4, 3))
    up = UpsampleConv(5)
    variables = up.init(jax.random.PRNGKey(1), x)
    reference = nn.Conv(5, (3, 3), padding=1).apply(variables, nearest_upsample(x))
    np.testing.assert_allclose(np.asarray(up.apply(variables, x)), np.asarray(reference), atol=1e-5)
    down = ConvMeanPool(5)
    variables = down.init(jax.random.PRNGKey(1), x)
    reference = mean_pool(nn.Conv(5, (3, 3), padding=1).apply(variables, x))
    np.testing.assert_allclose(np.asarray(down.apply(variables, x)), np.asarray(reference), atol=1e-5)
    np.testing.assert_array_equal(
        np.asarray(nearest_upsample(jnp.array([[[[1.0], [2.0]]]])))[0, :, :, 0], [[1, 1, 2, 2], [1, 1, 2, 2]]
    )


@pytest.mark.parametrize("preset", ["resnet", "resnet_conditional", "cnn"])
def test_cifar10_presets_build_and_step(preset):
    """The paper's settings, and one train step of the full-width networks on fake CIFAR-shaped data:
    the step updates every power-iteration vector u in state.d_collections, and the normalised D
    kernels then have spectral norm ~1."""
    config = experiment_config(f"sngan_cifar10:{preset}")
    resnet = preset.startswith("resnet")
    assert config.objective.name == ("hinge" if resnet else "non_saturating")
    assert config.train.n_critic == (5 if resnet else 1)
    assert (config.optim.d.b1, config.optim.d.b2) == ((0.0, 0.9) if resnet else (0.5, 0.999))
    assert config.optim.d.schedule == ("linear" if resnet else "constant")
    assert config.train.batch_size // config.train.n_critic == 64
    # small widths keep the step fast; everything else as configured
    config.model.update(g_channels=8, d_channels=8 if resnet else 4)
    config.train.batch_size = 2 * config.train.n_critic
    gan = build_gan(config, (32, 32, 3), 10)
    assert gan.conditional == (preset == "resnet_conditional")
    state = gan.init_state(jax.random.PRNGKey(0), (32, 32, 3))
    step = jax.jit(build_train_step(config, gan))
    batch = {
        "image": jax.random.uniform(jax.random.PRNGKey(1), (config.train.batch_size, 32, 32, 3), minval=-1),
        "label": jnp.arange(config.train.batch_size) % 10,
    }
    new_state, metrics = step(state, batch)
    assert all(np.isfinite(float(v)) for v in metrics.values())
    old = dict(jax.tree_util.tree_leaves_with_path(state.d_collections))
    new = dict(jax.tree_util.tree_leaves_with_path(new_state.d_collections))
    u_paths = [p for p in old if jax.tree_util.keystr(p).endswith("/u']")]
    assert len(u_paths) == (11 if resnet else 8) + (preset == "resnet_conditional")
    for p in u_paths:
        assert not np.allclose(np.asarray(old[p]), np.asarray(new[p])), jax.tree_util.keystr(p)
    # after a few more steps the stored sigma is the top singular value of each kernel: W / sigma has norm ~1
    for _ in range(30):
        new_state, _ = step(new_state, batch)
    params = dict(jax.tree_util.tree_leaves_with_path(new_state.d_params))
    by_name = {jax.tree_util.keystr(p, simple=True, separator="/"): v for p, v in params.items()}
    stats = {jax.tree_util.keystr(p, simple=True, separator="/"): v for p, v in new.items()}
    checked = 0
    for path, sigma in {
        jax.tree_util.keystr(p, simple=True, separator="/"): v
        for p, v in jax.tree_util.tree_leaves_with_path(new_state.d_collections)
    }.items():
        if not path.endswith("/sigma"):
            continue
        scope, layer = path[len("batch_stats/") : -len("/sigma")].split("SpectralNorm_")
        w = np.asarray(by_name[scope + layer.split("/", 1)[1]], np.float64)
        top = np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0]
        # power iteration's estimate v W u^T never exceeds the top singular value, and is close to it
        # after 2 iterations per discriminator update (real and fake passes) over 31 steps
        assert 0.9 * top <= float(sigma) <= top * 1.01, (path, top, float(sigma))
        checked += 1
    assert checked == len(u_paths) and stats


def test_presets_refuse_unknown_names():
    with pytest.raises(ValueError, match="'dcgan'"):
        experiment_config("sngan_cifar10:dcgan")
    with pytest.raises(ValueError, match="'big'"):
        experiment_config("sngan_digits:big")


@pytest.mark.slow
def test_conditional_sngan_digits_learns_classes(tmp_path):
    """Tiny conditional SNGAN (standard CNN, projection D, conditional BN in G, hinge loss) on digits:
    a real-digits classifier agrees with the conditioning label for >= 75% of samples after 600 steps
    (chance: 10%; measured 0.92), and the stored sigma of D's first layer is its top singular value."""
    from gans_jax.training.loop import train

    config = experiment_config("sngan_digits", **{"train.steps": 600, "train.sample_every": 600})
    state, metrics = train(config, str(tmp_path), progress=False, devices=jax.devices()[:1])
    assert metrics["real_accuracy"] >= 0.95, metrics
    assert metrics["class_agreement"] >= 0.75, metrics
    # the power-iteration vectors in the checkpointed state are the trained ones: sigma ~ top singular value
    stats = {
        jax.tree_util.keystr(p, simple=True, separator="/"): v
        for p, v in jax.tree_util.tree_leaves_with_path(state.d_collections)
    }
    kernel = np.asarray(state.d_params["Conv_0"]["kernel"], np.float64)
    top = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
    assert abs(float(stats["batch_stats/SpectralNorm_0/Conv_0/kernel/sigma"]) / top - 1) < 1e-2
