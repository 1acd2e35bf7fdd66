"""BigGAN: the paper's parameter count, shapes, spectral norm everywhere, the recipe's step, sharding."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import builders
from gans_jax.data.digits import load_digits_dataset
from gans_jax.models import biggan
from gans_jax.training import sharding
from gans_jax.training.loop import train
from tests.helpers import ONE_DEVICE, experiment_config


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def init_shapes(module, *args):
    return jax.eval_shape(lambda: module.init(jax.random.key(0), *args, train=False))


def test_biggan_128_ch96_parameter_count_matches_the_paper():
    """BigGAN-PyTorch counts G 70,433,988 and D 87,982,370 for BigGAN-128 (ch 96, shared + skip-z); the
    paper's Table 1 lists 158.3M, the same total without G's 1000 x 128 shared embedding."""
    g = init_shapes(biggan.Generator(), jnp.zeros((1, 120)), jnp.zeros((1,), jnp.int32))
    d = init_shapes(biggan.Discriminator(), jnp.zeros((1, 128, 128, 3)), jnp.zeros((1,), jnp.int32))
    assert count(g["params"]) == 70_433_988
    assert count(d["params"]) == 87_982_370
    without_shared = count(g["params"]) + count(d["params"]) - count(g["params"]["shared"])
    assert round(without_shared / 1e6, 1) == 158.3

    # Spectral norm on every G weight but the shared embedding, and on every D weight.
    def kernels(tree):
        return [p for p, x in jax.tree_util.tree_leaves_with_path(tree) if len(x.shape) >= 2]

    assert len(jax.tree.leaves(g["batch_stats"])) >= 2 * (len(kernels(g["params"])) - 1)
    assert len([k for k in jax.tree.leaves(d["batch_stats"])]) == 2 * len(kernels(d["params"]))


@pytest.mark.parametrize("resolution", [16, 32, 64, 256, 512])
def test_every_resolution_builds_with_the_right_shapes(resolution):
    g = biggan.Generator(resolution, ch=8, num_classes=5, latent_dim=120, shared_dim=16)
    d = biggan.Discriminator(resolution, ch=8, num_classes=5)
    z, y = jnp.zeros((2, 120 // g.num_chunks * g.num_chunks)), jnp.zeros((2,), jnp.int32)
    g_out = jax.eval_shape(lambda: g.apply(g.init(jax.random.key(0), z, y, train=False), z, y, train=False))
    assert g_out.shape == (2, resolution, resolution, 3)
    x = jnp.zeros((2, resolution, resolution, 3))
    d_out = jax.eval_shape(lambda: d.apply(d.init(jax.random.key(0), x, y, train=False), x, y, train=False))
    assert d_out.shape == (2,)


def test_generator_output_range_determinism_and_class_dependence():
    g = biggan.Generator(32, ch=4, num_classes=10, latent_dim=40, shared_dim=8, attention=16)
    z = jax.random.normal(jax.random.key(1), (4, 40))
    y = jnp.array([0, 1, 2, 3])
    variables = g.init(jax.random.key(0), z, y, train=False)
    out = g.apply(variables, z, y, train=False)
    np.testing.assert_array_equal(out, g.apply(variables, z, y, train=False))
    assert float(jnp.max(jnp.abs(out))) <= 1.0
    other = g.apply(variables, z, (y + 1) % 10, train=False)
    assert float(jnp.max(jnp.abs(other - out))) > 1e-4  # labels change the image
    with pytest.raises(ValueError, match="z of size 40"):
        g.apply(variables, z[:, :39], y, train=False)


def test_without_hierarchical_latents_the_first_layer_takes_all_of_z():
    g = biggan.Generator(32, ch=4, num_classes=10, latent_dim=24, shared_dim=8, hierarchical=False)
    variables = init_shapes(g, jnp.zeros((1, 24)), jnp.zeros((1,), jnp.int32))
    assert variables["params"]["linear"]["kernel"].shape == (24, 16 * 4 * 4)
    with pytest.raises(ValueError, match="shared embedding"):
        init_shapes(biggan.Generator(32, ch=4, shared_dim=0), jnp.zeros((1, 24)), jnp.zeros((1,), jnp.int32))


def tiny_setup(**overrides):
    config = experiment_config(
        "biggan_imagenet:tiny",
        **{"model.g_channels": 8, "model.d_channels": 8, "train.batch_size": 16, **overrides},
    )
    res = config.model.resolution
    gan = builders.build_gan(config, (res, res, 1), 10)
    digits = load_digits_dataset(res)
    batch = {"image": jnp.asarray(digits["image"][:16]), "label": jnp.asarray(digits["label"][:16])}
    return config, gan, batch


def test_recipe_step_sharded_on_8_devices_equals_single_device():
    """The BigGAN recipe's step, and sharded over a data mesh it equals the single-device step (batch
    norm over the global batch). SGD: Adam's first update, lr * sign(g), would turn float noise in
    near-zero gradients into whole steps of lr."""
    config, gan, batch = tiny_setup(
        **{"optim.g.name": "sgd", "optim.d.name": "sgd", "train.ema_decay": 0.999}
    )
    state = builders.init_state(config, gan, jax.random.PRNGKey(0), batch["image"].shape[1:])
    train_step = builders.build_train_step(config, gan)
    expected, expected_metrics = sharding.compile_train_step(train_step)(jax.tree.map(jnp.copy, state), batch)
    mesh = sharding.data_mesh()
    got, metrics = sharding.compile_train_step(train_step, mesh)(
        sharding.put_replicated(jax.tree.map(jnp.copy, state), mesh), sharding.put_batch(batch, mesh)
    )
    # The recipe's step: 2 D updates, orthogonal regularisation reported, power iterations stored.
    assert {"d_loss", "g_loss", "reg/orthogonal"} <= set(expected_metrics)
    assert float(expected_metrics["reg/orthogonal"]) > 0 and int(expected.step) == 1
    assert not np.allclose(expected.ema_params["linear"]["kernel"], expected.g_params["linear"]["kernel"])
    changed = [
        not np.allclose(a, b)
        for a, b in zip(
            jax.tree.leaves(expected.d_collections), jax.tree.leaves(state.d_collections), strict=True
        )
    ]
    assert any(changed)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-5)
    np.testing.assert_allclose(metrics["d_loss"], expected_metrics["d_loss"], rtol=1e-4)


def test_standing_statistics_average_the_batch_statistics():
    """With one BN layer right after a linear map, the standing mean is the mean over passes of that
    layer's batch means, computed here directly."""
    import flax.linen as nn

    from gans_jax.training.state import GAN, standing_statistics

    class TinyG(nn.Module):
        @nn.compact
        def __call__(self, z, labels=None, train=True):
            h = nn.Dense(3, name="dense")(z)
            return nn.BatchNorm(use_running_average=not train, momentum=0.7, name="bn")(h)

    import optax

    gan = GAN(TinyG(), TinyG(), optax.sgd(0.1), optax.sgd(0.1), latent_shape=(4,))
    state = gan.init_state(jax.random.key(0), (3,))
    key = jax.random.key(5)
    new = standing_statistics(gan, state, key, num_batches=3, batch_size=8, use_ema=False)
    kernel = state.g_params["dense"]["kernel"]
    means, variances = [], []
    for k in jax.random.split(key, 3):
        z = gan.sample_latents(jax.random.split(k, 3)[0], 8)
        h = z @ kernel + state.g_params["dense"]["bias"]
        means.append(h.mean(0))
        variances.append(h.var(0))
    bn = new.g_collections["batch_stats"]["bn"]
    np.testing.assert_allclose(bn["mean"], np.mean(means, 0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn["var"], np.mean(variances, 0), rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_tiny_preset_learns_class_conditioning(tmp_path):
    """``biggan_imagenet:tiny`` (16x16 digits, ch 16, attention at 8x8, hinge, 2 D steps, orthogonal
    reg.) for 200 steps: samples follow their labels. Measured class agreement 0.904 (chance 0.1)."""
    cheap = {"train.sample_every": 200, "train.checkpoint_every": 200, "eval.truncations": ()}
    config = experiment_config("biggan_imagenet:tiny", **{"train.steps": 200, **cheap})
    _, metrics = train(config, str(tmp_path), progress=False, devices=ONE_DEVICE)
    assert metrics["class_agreement"] >= 0.5, metrics


class _LabelImage(nn.Module):
    """G(z, y): a 2x2 image filled with ``y`` (plus ``w * mean(z)``, ``w`` = 0, so G has a parameter)."""

    @nn.compact
    def __call__(self, z, labels, train=True):
        w = self.param("w", nn.initializers.zeros, ())
        fill = labels.astype(jnp.float32) + w * jnp.mean(z, axis=-1)
        return jnp.broadcast_to(fill[:, None, None, None], (z.shape[0], 2, 2, 1))


class _LabelMismatch(nn.Module):
    """D(x, y) = v * mean((x - y)^2), v = 1: zero exactly when the image shows the label it is scored with."""

    @nn.compact
    def __call__(self, x, labels, train=True):
        v = self.param("v", nn.initializers.ones, ())
        return v * jnp.mean((x - labels.astype(jnp.float32)[:, None, None, None]) ** 2, axis=(1, 2, 3))


@pytest.mark.parametrize(
    "n_critic, critic_batches, accumulation_steps",
    [(1, "split", 1), (2, "shared", 2), (2, "split", 2)],
)
def test_discriminator_scores_every_sample_with_its_own_label(n_critic, critic_batches, accumulation_steps):
    """The projection head's label is the scored sample's: reals with their labels, fakes with the labels G
    was given, through split critic batches and gradient accumulation (all D outputs exactly 0 here)."""
    import optax

    from gans_jax.losses import get_objective
    from gans_jax.training.state import GAN
    from gans_jax.training.step import make_train_step

    gan = GAN(
        _LabelImage(), _LabelMismatch(), optax.sgd(0.1), optax.sgd(0.1), latent_shape=(3,), num_classes=10
    )
    state = gan.init_state(jax.random.key(0), (2, 2, 1))
    step = jax.jit(
        make_train_step(
            gan,
            get_objective("hinge"),
            n_critic=n_critic,
            critic_batches=critic_batches,
            accumulation_steps=accumulation_steps,
        )
    )
    labels = jnp.arange(8) % 10
    batch = {"image": jnp.broadcast_to(labels[:, None, None, None].astype(jnp.float32), (8, 2, 2, 1))}
    for _ in range(2):
        state, metrics = step(state, {**batch, "label": labels})
        assert {k: float(metrics[k]) for k in ("d_real", "d_fake", "d_fake_for_g")} == {
            "d_real": 0.0,
            "d_fake": 0.0,
            "d_fake_for_g": 0.0,
        }
    _, metrics = step(state, {**batch, "label": jnp.roll(labels, 1)})  # reals shown with wrong labels
    assert float(metrics["d_real"]) > 0.5


def test_generator_loss_reaches_the_shared_and_projection_embeddings():
    """The class signal's path: the G loss -D(G(z, y), y) has nonzero gradients on the shared embedding rows
    of the batch's classes (zero on the others) and on the projection embedding rows of those classes."""
    g = biggan.Generator(16, ch=4, num_classes=10, latent_dim=48, shared_dim=8, attention=0)
    d = biggan.Discriminator(16, ch=4, num_classes=10, attention=0)
    z, y = jax.random.normal(jax.random.key(1), (8, 48)), jnp.array([0, 1, 2, 3] * 2)
    g_vars = g.init(jax.random.key(2), z, y, train=False)
    d_vars = d.init(jax.random.key(3), jnp.zeros((8, 16, 16, 3)), y, train=False)

    def g_loss(g_params, d_params):
        x, _ = g.apply({**g_vars, "params": g_params}, z, y, train=True, mutable=["batch_stats"])
        logits, _ = d.apply({**d_vars, "params": d_params}, x, y, train=True, mutable=["batch_stats"])
        return -jnp.mean(logits)

    g_grads, d_grads = jax.jit(jax.grad(g_loss, argnums=(0, 1)))(g_vars["params"], d_vars["params"])
    shared = np.abs(np.asarray(g_grads["shared"]["embedding"])).sum(axis=1)
    assert np.all(shared[:4] > 1e-6) and np.all(shared[4:] == 0), shared
    embed = np.abs(np.asarray(d_grads["embed"]["embedding"])).sum(axis=1)
    assert np.all(embed[:4] > 1e-6), embed
