"""The train-step factory: update order, n_critic, lazy regularisation, EMA, determinism, data parallelism."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax import regularizers as regs
from gans_jax.losses import get_objective
from gans_jax.models import dcgan
from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator
from gans_jax.regularizers import Regularizer, regularizer
from gans_jax.training import sharding
from gans_jax.training.state import GAN
from gans_jax.training.step import make_train_step

NS = get_objective("non_saturating")


def mlp_gan(lr=1e-2, d_tx=None, num_classes=None):
    return GAN(
        MLPGenerator(2, (16,), num_classes=num_classes),
        MLPDiscriminator((16,), num_classes=num_classes),
        optax.sgd(lr),
        d_tx or optax.sgd(lr),
        latent_shape=(3,),
        num_classes=num_classes,
    )


def dcgan_gan(axis_name=None, num_classes=10):
    return GAN(
        dcgan.Generator(16, 8, 1, num_classes=num_classes, axis_name=axis_name),
        dcgan.Discriminator(16, 8, num_classes=num_classes, axis_name=axis_name),
        optax.adam(1e-3, 0.5),
        optax.adam(1e-3, 0.5),
        latent_shape=(8,),
        num_classes=num_classes,
    )


def points(n, seed=0):
    return {"image": jnp.asarray(np.random.default_rng(seed).normal(size=(n, 2)), jnp.float32)}


def digits_batch(n, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": jnp.asarray(rng.uniform(-1, 1, (n, 16, 16, 1)), jnp.float32),
        "label": jnp.asarray(rng.integers(0, 10, n), jnp.int32),
    }


def leaves_close(a, b, **kw):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)


def leaves_equal(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_single_pass_equals_explicit_two_player_update():
    """n_critic = 1: D steps on G(z), then G steps through the *updated* D on the same G(z)."""
    gan = mlp_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (2,))
    batch = points(32)
    new_state, metrics = jax.jit(make_train_step(gan, NS))(state, batch)

    # Reference: the same draws, written as two plain gradient steps.
    key = jax.random.fold_in(state.key, 0)
    _, k_g, _ = jax.random.split(key, 3)
    z = gan.sample_latents(jax.random.split(k_g, 3)[0], 32)
    G = lambda p: gan.generator.apply({"params": p}, z)
    D = lambda p, x: gan.discriminator.apply({"params": p}, x)
    fake = G(state.g_params)
    d_grads = jax.grad(lambda p: NS.discriminator_loss(D(p, batch["image"]), D(p, fake)))(state.d_params)
    d_params = jax.tree.map(lambda p, g: p - 1e-2 * g, state.d_params, d_grads)
    g_grads = jax.grad(lambda p: NS.generator_loss(D(d_params, G(p))))(state.g_params)
    g_params = jax.tree.map(lambda p, g: p - 1e-2 * g, state.g_params, g_grads)

    leaves_close(new_state.d_params, d_params, rtol=1e-5, atol=1e-7)
    leaves_close(new_state.g_params, g_params, rtol=1e-5, atol=1e-7)
    assert int(new_state.step) == 1
    expected = {"d_loss", "g_loss", "d_real", "d_fake", "d_fake_for_g", "d_grad_norm", "g_grad_norm"}
    assert expected <= set(metrics)
    np.testing.assert_allclose(float(metrics["d_grad_norm"]), float(optax.tree.norm(d_grads)), rtol=1e-5)


def test_n_critic_counts_updates_and_splits_the_batch():
    gan = mlp_gan(d_tx=optax.adam(1e-3))
    state = gan.init_state(jax.random.PRNGKey(0), (2,))
    batch = points(30)
    step = jax.jit(make_train_step(gan, NS, n_critic=3))
    out, _ = step(state, batch)
    assert int(out.d_opt_state[0].count) == 3  # three critic updates ...
    assert int(out.step) == 1  # ... per generator update

    # Slice i holds rows i, i+3, ...: shuffling rows within a slice changes nothing
    # (MLP critic, mean losses), moving a row to another slice does.
    x = np.asarray(batch["image"])
    within = x.copy()
    within[[0, 3]] = x[[3, 0]]
    across = x.copy()
    across[[0, 1]] = x[[1, 0]]
    same, _ = step(state, {"image": jnp.asarray(within)})
    other, _ = step(state, {"image": jnp.asarray(across)})
    leaves_close(same.d_params, out.d_params, rtol=1e-6, atol=1e-7)
    with pytest.raises(AssertionError):
        leaves_close(other.d_params, out.d_params, rtol=1e-6, atol=1e-7)

    with pytest.raises(ValueError, match="n_critic=4"):
        jax.jit(make_train_step(gan, NS, n_critic=4))(state, batch)


def test_shared_critic_batches_use_whole_batch_each_update():
    gan = mlp_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (2,))
    step = jax.jit(make_train_step(gan, NS, n_critic=2, critic_batches="shared"))
    out, metrics = step(state, points(8))
    assert int(out.step) == 1 and np.isfinite(float(metrics["d_loss"]))


def test_lazy_regularization_runs_every_k_updates_with_k_times_weight():
    gan = mlp_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (2,))
    batch = points(16)
    lazy = jax.jit(make_train_step(gan, NS, regularizers=[regularizer("r1", 0.5, every=3)]))
    values = []
    s = state
    for _ in range(4):
        s, metrics = lazy(s, batch)
        values.append(float(metrics["reg/r1"]))
    assert values[0] > 0 and values[3] > 0 and values[1] == 0 and values[2] == 0
    # On an active update the penalty enters with weight every * weight = 1.5.
    eager = jax.jit(make_train_step(gan, NS, regularizers=[regularizer("r1", 1.5)]))
    leaves_close(lazy(state, batch)[0].d_params, eager(state, batch)[0].d_params, rtol=1e-6)


def test_gradient_penalty_and_generator_regularizer_enter_the_losses():
    gan = mlp_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (2,))
    batch = points(16)
    plain, _ = jax.jit(make_train_step(gan, NS))(state, batch)
    penalised = make_train_step(
        gan,
        NS,
        regularizers=[regularizer("gradient_penalty", 10.0), regularizer("orthogonal", 1.0)],
    )
    out, metrics = jax.jit(penalised)(state, batch)
    assert float(metrics["reg/gradient_penalty"]) > 0
    expected_ortho = regs.orthogonal_regularization(state.g_params)
    np.testing.assert_allclose(float(metrics["reg/orthogonal"]), float(expected_ortho), rtol=1e-6)
    with pytest.raises(AssertionError):
        leaves_close(out.d_params, plain.d_params, rtol=1e-6)
    with pytest.raises(AssertionError):
        leaves_close(out.g_params, plain.g_params, rtol=1e-6)


def test_regularizer_validation():
    with pytest.raises(ValueError, match="'r3'"):
        regularizer("r3", 1.0)
    with pytest.raises(ValueError, match="player 'critic'"):
        Regularizer("x", lambda r: 0.0, 1.0, player="critic")
    with pytest.raises(ValueError, match="unique"):
        make_train_step(mlp_gan(), NS, regularizers=[regularizer("r1", 1.0), regularizer("r1", 2.0)])


def test_weight_clipping_through_the_step():
    tx = optax.chain(optax.rmsprop(5e-2), regs.weight_clipping(0.01))
    gan = mlp_gan(d_tx=tx)
    state = gan.init_state(jax.random.PRNGKey(0), (2,))
    out, _ = jax.jit(make_train_step(gan, get_objective("wasserstein")))(state, points(16))
    assert max(float(jnp.max(jnp.abs(p))) for p in jax.tree.leaves(out.d_params)) <= 0.01


def test_ema_update_formula_and_start():
    gan = mlp_gan()
    step = make_train_step(gan, NS, ema_decay=0.9)
    state = step.init_state(jax.random.PRNGKey(0), (2,))
    batch = points(16)
    out, _ = jax.jit(step)(state, batch)
    expected = jax.tree.map(lambda e, p: 0.9 * e + 0.1 * p, state.ema_params, out.g_params)
    leaves_close(out.ema_params, expected, rtol=1e-6, atol=1e-8)
    # before ema_start the average tracks the parameters exactly
    out, _ = jax.jit(make_train_step(gan, NS, ema_decay=0.9, ema_start=5))(state, batch)
    leaves_equal(out.ema_params, out.g_params)
    with pytest.raises(ValueError, match=r"has none: make the state with train_step.init_state"):
        jax.jit(make_train_step(gan, NS, ema_decay=0.9))(gan.init_state(jax.random.PRNGKey(0), (2,)), batch)


def test_conditional_step_needs_labels():
    gan = dcgan_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (16, 16, 1))
    with pytest.raises(ValueError, match="label"):
        make_train_step(gan, NS)(state, {"image": digits_batch(8)["image"]})


def _run(step, state, batches):
    for batch in batches:
        state, metrics = step(state, batch)
    return state, metrics


def test_same_seed_gives_bit_identical_parameters():
    gan = dcgan_gan()
    batches = [digits_batch(16, i) for i in range(3)]
    results = []
    for _ in range(2):
        recipe = make_train_step(gan, NS, ema_decay=0.99)
        state = recipe.init_state(jax.random.PRNGKey(3), (16, 16, 1))
        step = sharding.compile_train_step(recipe)
        results.append(_run(step, state, batches)[0])
    leaves_equal(results[0], results[1])


@functools.cache
def _single_device_reference():
    gan = dcgan_gan()
    state = gan.init_state(jax.random.PRNGKey(1), (16, 16, 1))
    batches = [digits_batch(32, i) for i in range(2)]
    step = sharding.compile_train_step(make_train_step(gan, NS))
    return state, batches, _run(step, jax.tree.map(jnp.copy, state), batches)


def test_sharded_step_on_8_devices_equals_single_device():
    if jax.default_backend() == "cpu":  # on a GPU machine (benchmarks/device): its devices, however many
        assert jax.device_count() == 8, "tests/conftest.py sets 8 simulated CPU devices"
    state, batches, (expected, expected_metrics) = _single_device_reference()
    gan = dcgan_gan()
    mesh = sharding.data_mesh()
    step = sharding.compile_train_step(make_train_step(gan, NS), mesh)
    sharded_state = sharding.put_replicated(jax.tree.map(jnp.copy, state), mesh)
    placed = [sharding.put_batch(b, mesh) for b in batches]
    got, metrics = _run(step, sharded_state, placed)
    assert got.g_params["Dense_0"]["kernel"].sharding.is_fully_replicated
    leaves_close(got, expected, rtol=2e-4, atol=2e-6)
    leaves_close(metrics, expected_metrics, rtol=2e-4, atol=2e-6)


def test_generator_is_data_parallel_on_a_mesh():
    """Latents drawn inside the step are sharded like the batch: on 8 devices each runs an eighth of the
    step's FLOPs (XLA's cost analysis of the partitioned program), the generator's passes included."""
    if jax.device_count() == 1:
        pytest.skip("needs several devices")
    gan = dcgan_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (16, 16, 1))
    batch = digits_batch(64)
    step = make_train_step(gan, NS, n_critic=2, reuse_fakes=False)  # fakes drawn in D and G updates

    def flops(mesh):
        compiled = sharding.compile_train_step(step, mesh).lower(state, batch).compile()
        cost = compiled.cost_analysis()
        return (cost[0] if isinstance(cost, list | tuple) else cost)["flops"]

    one, many = flops(None), flops(sharding.data_mesh())
    assert many < 1.25 * one / jax.device_count(), (one, many)


def test_pmapped_step_equals_jit_sharded_step():
    state, batches, (expected, expected_metrics) = _single_device_reference()
    n = jax.device_count()
    gan = dcgan_gan(axis_name="batch")  # cross-replica batch norm
    step = sharding.pmap_train_step(make_train_step(gan, NS, axis_name="batch"), "batch")
    replicated = sharding.pmap_replicate(state, n)
    per_device = [jax.tree.map(lambda x: x.reshape(n, -1, *x.shape[1:]), b) for b in batches]
    got, metrics = _run(step, replicated, per_device)
    got0 = jax.tree.map(lambda x: x[0], got)
    leaves_close(got0, expected, rtol=2e-4, atol=2e-6)
    leaves_close(jax.tree.map(lambda x: x[0], metrics), expected_metrics, rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("n_critic", [1, 2])
def test_gradient_accumulation_equals_one_big_batch(n_critic):
    """4 micro-batches of 16 give the update of one batch of 64 (networks without batch norm)."""
    gan = mlp_gan(lr=0.1)
    state = gan.init_state(jax.random.PRNGKey(0), (2,))
    batch = points(64 * n_critic)
    results = []
    for k in (1, 4):
        step = jax.jit(make_train_step(gan, NS, n_critic=n_critic, reuse_fakes=False, accumulation_steps=k))
        results.append(step(jax.tree.map(jnp.copy, state), batch))
    (big, big_metrics), (accumulated, metrics) = results
    leaves_close(accumulated, big, rtol=1e-5, atol=1e-7)
    for name in ("d_loss", "g_loss", "d_grad_norm", "g_grad_norm"):
        np.testing.assert_allclose(metrics[name], big_metrics[name], rtol=1e-5)
    assert not np.allclose(big.d_params["Dense_0"]["kernel"], state.d_params["Dense_0"]["kernel"])


def test_gradient_accumulation_with_batch_norm_averages_running_statistics():
    gan = dcgan_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (16, 16, 1))
    step = jax.jit(make_train_step(gan, NS, accumulation_steps=2))
    new, metrics = step(jax.tree.map(jnp.copy, state), digits_batch(16))
    assert all(np.isfinite(float(v)) for v in metrics.values())
    for a, b in zip(jax.tree.leaves(new.g_collections), jax.tree.leaves(state.g_collections), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
    with pytest.raises(ValueError, match="does not split"):
        step(new, digits_batch(15))


def test_bfloat16_compute_keeps_float32_state_and_tracks_the_float32_step():
    gan = dcgan_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (16, 16, 1))
    batch = digits_batch(16)
    full = jax.jit(make_train_step(gan, NS))(jax.tree.map(jnp.copy, state), batch)
    mixed = jax.jit(make_train_step(gan, NS, compute_dtype=jnp.bfloat16))(
        jax.tree.map(jnp.copy, state), batch
    )
    for a, b in zip(jax.tree.leaves(mixed[0]), jax.tree.leaves(state), strict=True):
        assert a.dtype == b.dtype
    for name in ("d_loss", "g_loss"):
        assert mixed[1][name].dtype == jnp.float32
        np.testing.assert_allclose(mixed[1][name], full[1][name], rtol=0.05)
    kernel = lambda s: s.g_params["Dense_0"]["kernel"]
    step_full, step_mixed = kernel(full[0]) - kernel(state), kernel(mixed[0]) - kernel(state)
    cosine = jnp.vdot(step_full, step_mixed) / (jnp.linalg.norm(step_full) * jnp.linalg.norm(step_mixed))
    assert float(cosine) > 0.8  # Adam's first step is ~lr * sign(g): bf16 flips some small ones


def test_fsdp_sharded_parameters_give_the_replicated_update():
    gan = dcgan_gan()
    gan = GAN(gan.generator, gan.discriminator, optax.sgd(0.05), optax.sgd(0.05), (8,), 10)
    state = gan.init_state(jax.random.PRNGKey(2), (16, 16, 1))
    batch = digits_batch(16)
    mesh = sharding.data_mesh()
    train_step = make_train_step(gan, NS)
    expected, _ = sharding.compile_train_step(train_step, mesh)(
        sharding.put_replicated(jax.tree.map(jnp.copy, state), mesh), sharding.put_batch(batch, mesh)
    )
    shardings = sharding.state_shardings(state, mesh, shard_params=True, min_size=64)
    got, _ = sharding.compile_train_step(train_step, mesh, shardings)(
        jax.device_put(jax.tree.map(jnp.copy, state), shardings), sharding.put_batch(batch, mesh)
    )
    kernel = got.g_params["Dense_0"]["kernel"]
    assert not kernel.sharding.is_fully_replicated
    assert kernel.addressable_data(0).size * 8 == kernel.size
    leaves_close(got, expected, rtol=2e-4, atol=2e-6)
