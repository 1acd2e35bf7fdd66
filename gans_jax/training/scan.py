"""Many train steps per compiled call, for data a JAX program can draw itself (the 2-D mixtures).

The train step is the one from :func:`gans_jax.builders.build_train_step`; this module only changes
how it is driven: ``lax.scan`` runs ``steps_per_call`` steps inside one compiled call, each on a real
batch drawn in the program from ``fold_in(data_key, state.step)``, and ``vmap`` runs independent seeds
side by side. On a CPU this removes the per-step dispatch and host-to-device copies that dominate the
cost of tiny 2-D models.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gans_jax.training.state import GAN, GANState

SampleBatch = Callable[[jax.Array, int], jax.Array]


def make_scan_train(
    train_step: Callable, sample_batch: SampleBatch, batch_size: int, steps_per_call: int
) -> Callable[[GANState, jax.Array], tuple[GANState, dict]]:
    """``run(states, data_keys) -> (states, metrics)``, jitted and vmapped over a leading seed axis:
    ``steps_per_call`` applications of ``train_step``, step ``t`` on ``{"image": sample_batch(
    fold_in(data_key, t), batch_size)}``. ``metrics`` are the last step's. ``states`` is donated."""
    if steps_per_call < 1:
        raise ValueError(f"steps_per_call must be >= 1, got {steps_per_call}")

    def run(state: GANState, data_key: jax.Array):
        def body(state, _):
            real = sample_batch(jax.random.fold_in(data_key, state.step), batch_size)
            return train_step(state, {"image": real})

        state, metrics = lax.scan(body, state, None, length=steps_per_call)
        return state, jax.tree.map(lambda m: m[-1], metrics)

    return jax.jit(jax.vmap(run), donate_argnums=0)


def init_states(gan: GAN, seeds: Sequence[int], sample_shape=(2,)) -> tuple[GANState, jax.Array]:
    """Stacked initial states (one per seed, from ``PRNGKey(seed)``) and the seeds' data keys."""
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    states = jax.jit(jax.vmap(lambda k: gan.init_state(k, sample_shape)))(keys)
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 0x5EED))(keys)
    return states, data_keys


def train_seeds(
    gan: GAN,
    train_step: Callable,
    sample_batch: SampleBatch,
    *,
    seeds: Sequence[int],
    steps: int,
    batch_size: int,
    steps_per_call: int = 1000,
    sample_shape=(2,),
) -> tuple[GANState, dict]:
    """Train one model per seed for ``steps`` steps; returns the stacked states and timings
    (``compile_s``: first call including compilation minus a steady call, ``steps_per_s``: per seed)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    steps_per_call = min(steps_per_call, steps)
    if steps % steps_per_call:
        raise ValueError(f"steps={steps} is not a multiple of steps_per_call={steps_per_call}")
    states, data_keys = init_states(gan, seeds, sample_shape)
    run = make_scan_train(train_step, sample_batch, batch_size, steps_per_call)
    durations, metrics = [], {}
    for _ in range(steps // steps_per_call):
        start = time.perf_counter()
        states, metrics = run(states, data_keys)
        jax.block_until_ready(states)
        durations.append(time.perf_counter() - start)
    steady = durations[1:] or durations
    per_call = float(np.median(steady))
    info = {
        "compile_s": max(durations[0] - per_call, 0.0) if len(durations) > 1 else float("nan"),
        "steps_per_s": steps_per_call / per_call,
        "train_s": float(sum(durations)),
        "last_metrics": jax.tree.map(np.asarray, metrics),
    }
    return states, info


def generate_seeds(gan: GAN, states: GANState, key: jax.Array, num: int) -> np.ndarray:
    """``(seeds, num, ...)`` samples of each seed's generator (inference mode: running BN statistics)."""
    num_seeds = jax.tree.leaves(states.step)[0].shape[0]
    keys = jax.random.split(key, num_seeds)
    sample = jax.jit(jax.vmap(lambda s, k: gan.generate(s, gan.sample_latents(k, num))))
    return np.asarray(sample(states, keys))
