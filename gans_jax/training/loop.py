"""The training driver: data -> compiled step -> logs, sample grids and final metrics in a workdir.

Writes ``config.json`` (the resolved config), ``metrics.jsonl`` (one JSON object per logged step),
``samples/step_<t>.png`` (a fixed set of latents and labels, raw and EMA generator), ``samples.png``
(the final grid) and ``metrics.json`` (the final evaluation).
"""

from __future__ import annotations

import json
import math
import os
import time

import jax
import numpy as np
from tqdm.auto import tqdm

from gans_jax import experiment, sampling, visualize
from gans_jax.data import ArrayDataset, load_arrays
from gans_jax.training import sharding
from gans_jax.training.state import GAN, GANState


def _fixed_inputs(gan: GAN, key: jax.Array, per_class: int = 10, unconditional: int = 64):
    """Latents (and labels) reused for every sample grid: one row per class when conditional."""
    if gan.conditional:
        labels = sampling.grid_labels(gan.num_classes, per_class)
        return gan.sample_latents(key, len(labels)), labels, per_class
    num = unconditional if len(gan.latent_shape) else 0
    return gan.sample_latents(key, num), None, int(math.sqrt(num))


def write_samples(path: str, gan: GAN, state: GANState, fixed, data: ArrayDataset, use_ema: bool) -> str:
    z, labels, ncols = fixed
    samples = np.asarray(gan.generate(state, z, labels, use_ema=use_ema))
    if samples.ndim == 2:  # vector data: a scatter plot over the real points
        many = np.asarray(
            gan.generate(state, gan.sample_latents(jax.random.PRNGKey(1), 2500), use_ema=use_ema)
        )
        return visualize.save_png(path, visualize.scatter_image(many, data.arrays["image"][:2500]))
    grid = visualize.image_grid(samples, ncols)
    return visualize.save_png(path, grid, upscale=max(1, 128 // samples.shape[1]))


def _check_finite(step: int, metrics: dict[str, float]) -> None:
    bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
    if bad:
        raise FloatingPointError(f"training diverged at step {step}: non-finite {bad}")


def train(config, workdir: str, *, progress: bool = True, devices=None) -> tuple[GANState, dict]:
    """Train the experiment ``config`` in ``workdir``; returns the final state and evaluation metrics.

    ``devices`` (default: all devices of all processes) form the data-parallel mesh; with one device
    the step is compiled without shardings."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(config.to_json_best_effort(indent=2, sort_keys=True))

    arrays, num_classes = load_arrays(config.data, config.model.get("resolution"), config.seed)
    data = ArrayDataset(
        arrays,
        config.train.batch_size,
        seed=config.seed,
        num_classes=num_classes,
        process_index=jax.process_index(),
        process_count=jax.process_count(),
    )
    gan = experiment.build_gan(config, data.sample_shape, num_classes)
    if config.model.get("conditional", False) and not gan.conditional:
        raise ValueError("model.conditional is set but the data source has no labels")
    key = jax.random.PRNGKey(config.seed)
    k_init, k_fixed, k_eval = jax.random.split(key, 3)
    state = gan.init_state(k_init, data.sample_shape, ema=bool(config.train.ema_decay))
    devices = jax.devices() if devices is None else list(devices)
    mesh = sharding.data_mesh(devices) if len(devices) > 1 else None
    step_fn = sharding.compile_train_step(experiment.build_train_step(config, gan), mesh)
    if mesh is not None:
        state = sharding.put_replicated(state, mesh)
    fixed = _fixed_inputs(gan, k_fixed)
    train_cfg = config.train

    def place(batch):
        if not gan.conditional:
            batch = {"image": batch["image"]}
        return batch if mesh is None else sharding.put_batch(batch, mesh)

    log_path = os.path.join(workdir, "metrics.jsonl")
    bar = tqdm(range(train_cfg.steps), desc="train", disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()
    with open(log_path, "a") as log:
        for t in bar:
            state, metrics = step_fn(state, place(data.batch(t)))
            done = t + 1
            if done % train_cfg.log_every == 0 or done == train_cfg.steps:
                values = {k: float(v) for k, v in jax.device_get(metrics).items()}
                _check_finite(done, values)
                elapsed = time.perf_counter() - start
                record = {"step": done, "steps_per_s": done / elapsed, **values}
                log.write(json.dumps(record) + "\n")
                log.flush()
                bar.set_postfix(d=f"{values['d_loss']:.3f}", g=f"{values['g_loss']:.3f}")
            if done % train_cfg.sample_every == 0 or done == train_cfg.steps:
                samples_dir = os.path.join(workdir, "samples")
                write_samples(
                    os.path.join(samples_dir, f"step_{done:07d}.png"), gan, state, fixed, data, False
                )
                if state.ema_params is not None:
                    write_samples(
                        os.path.join(samples_dir, f"step_{done:07d}_ema.png"), gan, state, fixed, data, True
                    )
    bar.close()
    write_samples(os.path.join(workdir, "samples.png"), gan, state, fixed, data, True)
    results = {
        "step": int(state.step),
        "train_seconds": round(time.perf_counter() - start, 2),
        **experiment.evaluate(config, gan, state, k_eval),
    }
    with open(os.path.join(workdir, "metrics.json"), "w") as f:
        json.dump(results, f, indent=2)
    return state, results
