"""Discriminator augmentation on several devices (8 simulated CPU devices, tests/conftest.py): the augmented
global batch does not depend on how it is split (the draws are one key per example of the global batch;
the geometric padding is the official margin of the whole batch, ``pmax`` over a pmap axis), and the ADA
train step, with its adaptive p moving and R1 inside the augmentation, ends a few steps on a data mesh
and under pmap where it ends on one device: state, p, the running sum of r_t and the metrics."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from gans_jax import augment as aug
from gans_jax.regularizers import regularizer
from gans_jax.training import sharding
from gans_jax.training.step import make_train_step
from tests.test_training_step import NS, dcgan_gan, digits_batch, leaves_close


def _noise(batch, size=16, channels=3):
    return jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (batch, size, size, channels)), jnp.float32)


def test_augmented_global_batch_does_not_depend_on_sharding():
    """The pipeline (geometric and colour transforms, additive noise, cutout) on 16 images: on one device,
    with images and keys sharded over 8 (jit; the batch maximum of the margin is a global reduction),
    under pmap and under shard_map with the axis named (``pmax`` of the margin) the same images, to float
    rounding."""
    n = jax.device_count()
    spec = aug.augment_spec("bgc", noise=1, cutout=1)
    x = _noise(2 * n)
    keys = jax.random.split(jax.random.PRNGKey(4), 2 * n)
    fn = lambda k, x, axis_name=None: aug.augment_examples(k, x, 0.6, spec, axis_name=axis_name)
    one = np.asarray(jax.jit(fn)(keys, x))
    assert np.abs(one - np.asarray(x)).max() > 0.5

    mesh = sharding.data_mesh()
    sharded = jax.jit(fn)(*sharding.put_batch((np.asarray(keys), np.asarray(x)), mesh))
    assert not sharded.sharding.is_fully_replicated
    np.testing.assert_allclose(np.asarray(sharded), one, atol=1e-5)

    split = lambda a: a.reshape(n, 2, *a.shape[1:])
    pmapped = jax.pmap(functools.partial(fn, axis_name="batch"), axis_name="batch")(split(keys), split(x))
    np.testing.assert_allclose(np.asarray(pmapped).reshape(one.shape), one, atol=1e-5)
    specs = dict(in_specs=(P("data"), P("data")), out_specs=P("data"))
    mapped = jax.jit(jax.shard_map(functools.partial(fn, axis_name="data"), mesh=mesh, **specs))(keys, x)
    np.testing.assert_allclose(np.asarray(mapped), one, atol=1e-5)


def test_split_batch_pads_by_the_global_margin():
    """Example 2 (on the second device) zooms out by 2 (its own margin 14 pixels), example 0 by 2.5 (margin
    clipped at 15): with the axis named every device pads by 15 as the whole batch does on one device;
    without it the second device pads by 14, as the official code would on its own GPU, and reads zeros
    where the whole batch reads reflected pixels."""
    n = jax.device_count()
    g = np.broadcast_to(np.eye(3, dtype=np.float32), (2 * n, 3, 3)).copy()
    g[0, :2, :2], g[2, :2, :2] = 2.5 * np.eye(2), 2.0 * np.eye(2)
    params = aug.AugmentParams(geometric=jnp.asarray(g))
    x = _noise(2 * n, channels=1)
    one = np.asarray(jax.jit(aug.apply_augmentation)(x, params))
    split = lambda a: a.reshape(n, 2, *a.shape[1:])
    for axis_name in ("batch", None):
        fn = lambda x, g, axis_name=axis_name: aug.apply_augmentation(
            x, aug.AugmentParams(geometric=g), axis_name=axis_name
        )
        got = np.asarray(jax.pmap(fn, axis_name="batch")(split(x), split(jnp.asarray(g)))).reshape(one.shape)
        if axis_name is None:
            assert np.abs(got[2] - one[2]).max() > 1e-4
        else:
            np.testing.assert_allclose(got, one, atol=1e-5)


ADA = aug.Augmentation("ada", spec=aug.augment_spec("bgc"), p=0.5, target=0.0, interval=2, speed_kimg=0.1)
"""p from 0.5, moved by 32 * 2 / 100 = 0.64 (clipped at 0) after every second step towards r_t = 0."""


def _recipe(axis_name=None):
    return make_train_step(
        dcgan_gan(axis_name=axis_name), NS, regularizers=[regularizer("r1", 1.0)], ema_decay=0.9,
        axis_name=axis_name, augment=ADA,
    )  # fmt: skip


def _run(step, state, batches):
    history = []
    for batch in batches:
        state, metrics = step(state, batch)
        history.append({k: float(np.ravel(v)[0]) for k, v in metrics.items() if k.startswith("augment/")})
    return state, metrics, history


@functools.cache
def _single_device():
    recipe = _recipe()
    state = recipe.init_state(jax.random.PRNGKey(1), (16, 16, 1))
    batches = [digits_batch(32, i) for i in range(4)]
    return state, batches, _run(sharding.compile_train_step(recipe), jax.tree.map(jnp.copy, state), batches)


def _check(got, history, expected, expected_history):
    """The state within the data-parallel step's rounding; p and the running sum of r_t exactly (r_t is a
    mean of signs: a multiple of 1/32, and p moves by whole steps of 0.64)."""
    leaves_close(got, expected, rtol=2e-4, atol=2e-6)
    for key in ("augment_p", "augment_signs"):
        assert float(got.extra[key]) == float(expected.extra[key]), key
    assert history == expected_history


def test_ada_step_sharded_on_8_devices_equals_single_device():
    state, batches, (expected, _, expected_history) = _single_device()
    p = [h["augment/p"] for h in expected_history] + [float(expected.extra["augment_p"])]
    assert p[0] == 0.5 and len(set(p)) > 1, p  # augmented from the first step, and p moved
    mesh = sharding.data_mesh()
    step = sharding.compile_train_step(_recipe(), mesh)
    placed = [sharding.put_batch(b, mesh) for b in batches]
    got, _, history = _run(step, sharding.put_replicated(jax.tree.map(jnp.copy, state), mesh), placed)
    _check(got, history, expected, expected_history)


def test_ada_step_under_pmap_equals_single_device():
    state, batches, (expected, _, expected_history) = _single_device()
    n = jax.device_count()
    step = sharding.pmap_train_step(_recipe(axis_name="batch"), "batch")
    per_device = [jax.tree.map(lambda x: x.reshape(n, -1, *x.shape[1:]), b) for b in batches]
    got, _, history = _run(step, sharding.pmap_replicate(state, n), per_device)
    _check(jax.tree.map(lambda x: x[0], got), history, expected, expected_history)
