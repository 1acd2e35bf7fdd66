"""The training driver: data -> compiled step -> logs, sample grids, checkpoints and final metrics.

A workdir holds ``config.json`` (the resolved config), ``run.json`` (what rebuilding the model needs:
sample shape, number of classes), ``checkpoints/`` (Orbax, the last ``train.keep_checkpoints``),
``train.lock`` (held while a run trains here),
``metrics.jsonl`` and ``tensorboard/`` (metrics aggregated with clu between log steps),
``samples/step_<t>.png`` and ``samples/step_<t>_ema.png`` (fixed latents and labels, raw and EMA
generator), ``samples.png`` (the final grid) and ``metrics.json`` (the final evaluation).

Rerunning the same command on a workdir with a checkpoint resumes from it: the state (both networks,
their collections, optimiser states, EMA, step, PRNG key), the data iterator's position and the metrics
aggregated since the last log step are restored, and every draw is a function of the step, so the
resumed run is bit-identical to an uninterrupted one and logs the same lines (what an earlier attempt
logged after the checkpoint is dropped). It may resume on another number of devices (same global
batch, same data; equal up to the order of cross-device sums). A corrupt latest checkpoint is set
aside and the one before it used (:mod:`gans_jax.training.checkpoint`). SIGTERM or SIGINT checkpoint
the current step and stop the run with status 75 (:mod:`gans_jax.training.preemption`). A run holds
``train.lock`` in the workdir; a second run is refused (:mod:`gans_jax.training.workdir_lock`).
Only process 0 writes logs and pictures; every process takes part in checkpoints.

The loop never waits for the device between log steps: metrics are aggregated on the device, and on
GPUs and TPUs the next batches are already on their way to the devices while a step runs
(``train.prefetch``, :mod:`gans_jax.training.prefetch`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from gans_jax import builders, configs, evaluation, optimizers, sampling, visualize
from gans_jax.data.pipeline import make_dataset
from gans_jax.errors import UserError
from gans_jax.metrics.translation import match_to
from gans_jax.training import sharding
from gans_jax.training.checkpoint import Checkpointer
from gans_jax.training.preemption import Preempted, PreemptionWatcher, preempted_message
from gans_jax.training.prefetch import DevicePrefetcher, default_prefetch
from gans_jax.training.state import GAN, GANState
from gans_jax.training.workdir_lock import lock_workdir
from gans_jax.training.writers import NO_STEP, Writer, make_accumulator, window_from_json, window_to_json

# Parts of the config that fix the shapes of the state: a checkpoint from another is refused.
SHAPE_KEYS = ("model", "objective", "optim", "regularizers")


class DivergenceError(UserError, FloatingPointError):
    """Losses or gradients became NaN/inf; the message names the first bad step."""


def _fixed_inputs(gan: GAN, key: jax.Array, per_class: int = 10, unconditional: int = 64):
    """Latents (and labels) reused for every sample grid: one row per class when conditional, one row per
    value of the first categorical code for InfoGAN (the same noise down each column)."""
    codes = gan.latent_codes
    if codes and codes.categorical and not gan.conditional:
        size = codes.categorical[0]
        z = jnp.tile(gan.sample_latents(key, per_class), (size, 1))
        z = codes.set_categorical(z, jnp.repeat(jnp.arange(size), per_class))
        return z, None, per_class
    if gan.conditional:
        labels = sampling.grid_labels(gan.num_classes, per_class)
        return gan.sample_latents(key, len(labels)), labels, per_class
    return gan.sample_latents(key, unconditional), None, int(math.sqrt(unconditional))


def sample_picture(
    gan: GAN, state: GANState, fixed, reference: np.ndarray, use_ema: bool, batch_stats: bool = False
) -> np.ndarray:
    """A uint8 picture of the generator: an image grid, or a scatter plot over the data for 2-D points;
    for translation GANs (``fixed`` is a batch of held-out examples) one column per example, rows
    source / translation / target (paired) or x / G(x) / F(G(x)) / y / F(y) / G(F(y)) (unpaired), the
    generator run as ``eval.batch_stats`` says (:func:`gans_jax.evaluation.translate`)."""
    if gan.translation is not None:
        return translation_picture(gan, state, fixed, use_ema, batch_stats)
    z, labels, ncols = fixed
    samples = np.asarray(gan.generate(state, z, labels, use_ema=use_ema))
    if samples.ndim == 2:
        many = gan.generate(state, gan.sample_latents(jax.random.PRNGKey(1), 2500), use_ema=use_ema)
        return visualize.scatter_image(np.asarray(many), reference)
    grid = visualize.image_grid(samples, ncols)
    scale = max(1, 128 // samples.shape[1])
    return grid.repeat(scale, 0).repeat(scale, 1)


def translation_picture(
    gan: GAN, state: GANState, batch, use_ema: bool, batch_stats: bool = False
) -> np.ndarray:
    real, condition = gan.split_batch(batch)
    if batch_stats and jax.tree.leaves(state.g_collections):  # batch norm: each image's own statistics
        out = evaluation.translate(gan, state, condition, use_ema=use_ema, batch_stats=True)
    else:  # without batch norm only dropout masks would differ
        out = jax.device_get(gan.generate(state, None, condition, use_ema=use_ema))
    if gan.translation == "paired":
        target = np.asarray(real)
        rows = [match_to(np.asarray(condition), target.shape), np.asarray(out), target]
    else:
        rows = [real["x"], out["y"], out["rec_x"], real["y"], out["x"], out["rec_y"]]
        shape = np.shape(rows[0])
        rows = [match_to(np.asarray(r), shape) for r in rows]
    grid = visualize.image_grid(np.concatenate(rows), ncols=len(rows[0]))
    scale = max(1, 128 // rows[0].shape[1])
    return grid.repeat(scale, 0).repeat(scale, 1)


def _check_workdir(workdir: str, config) -> None:
    """Refuse a workdir holding checkpoints of a different model, reading only (before anything is
    written or locked)."""
    checkpoints = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(checkpoints) or not any(name.isdigit() for name in os.listdir(checkpoints)):
        return
    path = os.path.join(workdir, "config.json")
    if os.path.exists(path):
        with open(path) as f:  # completed with keys added since, as load_run reads it
            saved = json.loads(configs.with_defaults(json.load(f)).to_json_best_effort())
        now = json.loads(configs.with_defaults(config.to_dict()).to_json_best_effort())
        for key in SHAPE_KEYS:
            if saved.get(key) != now.get(key):
                raise ValueError(
                    f"workdir {workdir} holds a checkpoint of a different model: config.{key} was "
                    f"{saved.get(key)} and is now {now.get(key)}; use a new --workdir"
                )


def initialized_from(state: GANState, workdir: str) -> GANState:
    """``state`` with the networks of the run (or converted checkpoint) in ``workdir``: its generator,
    discriminator, collections, EMA generator and regulariser state, for fine-tuning; the optimiser
    states, step and PRNG key stay ``state``'s (fresh). The networks must have the same variables and
    shapes (a ``ValueError`` names the first that differs)."""
    _, _, source = builders.load_run(workdir)
    for field in ("g_params", "g_collections", "d_params", "d_collections"):
        mine, theirs = getattr(state, field), getattr(source, field)
        ours = jax.tree_util.tree_flatten_with_path(mine)[0]
        other = dict(jax.tree_util.tree_flatten_with_path(theirs)[0])
        for path, leaf in ours:
            if path not in other or np.shape(other[path]) != np.shape(leaf):
                found = np.shape(other[path]) if path in other else "nothing"
                raise ValueError(
                    f"train.init_from={workdir}: its {field}{jax.tree_util.keystr(path)} is {found}, this "
                    f"experiment's has shape {np.shape(leaf)}; fine-tune with the same model config"
                )
    ema = None
    if state.ema_params is not None:
        ema = source.ema_params if source.ema_params is not None else source.g_params
    extra = {
        k: source.extra[k] if k in source.extra and k != "image_pool" else v for k, v in state.extra.items()
    }
    return state.replace(
        g_params=source.g_params,
        g_collections=source.g_collections,
        d_params=source.d_params,
        d_collections=source.d_collections,
        ema_params=ema,
        extra=extra,
    )


def _validate(config, num_devices: int) -> None:
    configs.validate(config)
    batch = config.train.batch_size
    if batch % num_devices:
        raise ValueError(
            f"train.batch_size={batch} is not divisible by the {num_devices} devices of the data mesh"
        )
    if config.train.n_critic > 1 and config.train.critic_batches == "split":
        if batch % (config.train.n_critic * num_devices):
            raise ValueError(
                f"train.batch_size={batch} must split into n_critic={config.train.n_critic} slices "
                f"that divide over {num_devices} devices"
            )


class _Run(NamedTuple):
    """What a run is made of, built before anything is written to its workdir."""

    dataset: Any
    gan: GAN
    train_step: Any
    state: GANState
    fid: Any


def _prepare(config, initial_state, wrap_step) -> _Run:
    """The data, networks, train step and initial state of ``config``: every error in the config or the
    data surfaces here, before the workdir is touched."""
    dataset = make_dataset(
        config.data,
        resolution=config.model.resolution,
        batch_size=config.train.batch_size,
        seed=config.seed,
        process_index=jax.process_index(),
        process_count=jax.process_count(),
    )
    if config.model.conditional and not dataset.num_classes:
        raise ValueError(f"model.conditional is set but data.source={config.data.source!r} has no labels")
    condition_shape = getattr(dataset, "condition_shape", None)
    gan = builders.build_gan(config, dataset.sample_shape, dataset.num_classes, condition_shape)
    recipe = builders.build_train_step(config, gan)  # bad objective/regulariser names fail here
    fid = None
    if config.eval.fid_every:
        if not config.eval.fid_stats:
            raise ValueError("eval.fid_every is set but eval.fid_stats (a mu/sigma npz) is not")
        from gans_jax.metrics.evaluate import TrainingFID

        fid = TrainingFID(config.eval)
    if initial_state is None:  # the networks are built here: a model's own limits (resolution) are checked
        k_init = jax.random.split(jax.random.PRNGKey(config.seed), 3)[0]
        initial_state = recipe.init_state(k_init, dataset.sample_shape)
    train_step = recipe if wrap_step is None else wrap_step(recipe)
    return _Run(dataset, gan, train_step, initial_state, fid)


def train(
    config,
    workdir: str,
    *,
    progress: bool = True,
    devices=None,
    initial_state: GANState | None = None,
    wrap_step=None,
) -> tuple[GANState, dict[str, Any]]:
    """Train (or resume) the experiment ``config`` in ``workdir``; returns the final state and metrics.

    ``devices`` (default: all devices of all processes) form the data-parallel mesh; with one device
    the step is compiled without shardings. A checkpoint written on any number of devices resumes on
    these, with the same global batch and data order. ``initial_state`` replaces the freshly
    initialised state: training starts from it when ``workdir`` has no checkpoint (a grown Progressive
    GAN stage starts from the previous stage's state and step), else it is the template the checkpoint
    is restored into; ``wrap_step(train_step) -> train_step`` adapts the step before it is compiled.

    The config is validated (:func:`gans_jax.configs.validate`) and the data, networks and state are
    built before the workdir is created or written, so a bad config leaves it as it was. The run holds
    ``workdir``'s lock (:class:`~gans_jax.training.workdir_lock.WorkdirLockedError` if another run
    does). On SIGTERM or SIGINT it checkpoints the step it is on and raises
    :class:`~gans_jax.training.preemption.Preempted` (``SystemExit(75)``).
    """
    devices = jax.devices() if devices is None else list(devices)
    _validate(config, len(devices))
    _check_workdir(workdir, config)
    run = _prepare(config, initial_state, wrap_step)
    with lock_workdir(workdir), PreemptionWatcher() as preemption:
        return _train(config, workdir, progress, devices, run, preemption)


def _train(config, workdir, progress, devices, run: _Run, preemption):
    is_main = jax.process_index() == 0
    checkpointer = Checkpointer(
        os.path.join(workdir, "checkpoints"), max_to_keep=config.train.keep_checkpoints, owner=True
    )
    resuming = checkpointer.latest_step() is not None
    dataset, gan, train_step, state, fid = run
    condition_shape = getattr(dataset, "condition_shape", None)
    if is_main:
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=2, sort_keys=True))
        with open(os.path.join(workdir, "run.json"), "w") as f:
            run = {"sample_shape": list(dataset.sample_shape), "num_classes": gan.num_classes}
            if condition_shape is not None:
                run["condition_shape"] = list(condition_shape)
            json.dump(run, f)

    _, k_fixed, k_eval = jax.random.split(jax.random.PRNGKey(config.seed), 3)
    if config.train.init_from and not resuming:
        state = initialized_from(state, config.train.init_from)
    mesh = sharding.data_mesh(devices) if len(devices) > 1 else None
    state_sharding = None
    if mesh is not None:
        state_sharding = sharding.state_shardings(state, mesh, config.train.shard_params)
        state = jax.device_put(state, state_sharding)
    keep = (
        ("image", "label") if gan.conditional else ("image", "condition") if gan.translation else ("image",)
    )

    # Batches read and placed on the devices ahead of the step (train.prefetch; none on CPU).
    depth = default_prefetch(config.train.prefetch, devices[0].platform)

    def place(batch):  # device_put is asynchronous: the copy overlaps the steps still running
        batch = {k: batch[k] for k in keep}
        if mesh is not None:
            return sharding.put_batch(batch, mesh)
        return jax.device_put(batch, devices[0]) if depth else batch

    iterator = DevicePrefetcher(dataset.iterator(), place, depth)
    window = None  # metrics aggregated since the last log step, from the checkpoint
    if resuming:
        state, data_state = checkpointer.restore(state)
        iterator.set_state(data_state["iterator"])
        window = data_state.get("log_window")
    step_fn = sharding.compile_train_step(train_step, mesh, state_sharding)
    train_cfg = config.train

    start_step = int(jax.device_get(sharding.host_local(state.step)))
    writer = Writer(workdir, enabled=is_main, start_step=start_step)
    if gan.translation is not None:
        fixed = evaluation.held_out_examples(config, gan, 8)
    else:
        fixed = _fixed_inputs(gan, k_fixed)
    reference = dataset.reference_arrays(2500)["image"]
    empty = accumulate = None
    retries_left = train_cfg.nonfinite_retries
    bar = tqdm(
        total=train_cfg.steps,
        initial=start_step,
        desc="train",
        disable=not (progress and is_main),
        dynamic_ncols=True,
    )
    run_start = t0 = time.perf_counter()
    window_start = done = start_step
    preemption.arm()
    preempt = False
    while done < train_cfg.steps:
        state, metrics = step_fn(state, next(iterator))
        done += 1
        bar.update(1)
        if accumulate is None:  # built once, from the step's metric names
            empty, accumulate = make_accumulator(sorted(metrics))
            collection = window_from_json(empty, window)
        collection = accumulate(collection, metrics, np.int32(done))
        preempt = preemption.reached()  # every process, every step: multi-host runs agree on the step
        log_now = done % train_cfg.log_every == 0 or done == train_cfg.steps
        save_now = done % train_cfg.checkpoint_every == 0 or done == train_cfg.steps or preempt
        sample_now = done % train_cfg.sample_every == 0 or done == train_cfg.steps
        fid_now = fid is not None and (done % config.eval.fid_every == 0 or done == train_cfg.steps)
        if not (log_now or save_now or sample_now or fid_now):
            continue
        computed = jax.device_get(sharding.host_local(collection.compute()))
        values = {k: float(v) for k, v in computed.items()}
        bad_step = int(values.pop("first_nonfinite_step"))
        if bad_step != NO_STEP:
            message = f"training diverged at step {bad_step}: non-finite losses or gradients"
            last_good = checkpointer.latest_step()
            if retries_left <= 0 or last_good is None:
                checkpointer.close()
                writer.close()
                bar.close()
                raise DivergenceError(f"{message}; last good checkpoint: step {last_good}")
            retries_left -= 1
            factor = train_cfg.nonfinite_lr_factor
            state, data_state = checkpointer.restore(state)
            iterator.set_state(data_state["iterator"])
            writer.rewind(last_good)
            state = state.replace(
                g_opt_state=optimizers.scale_learning_rate(state.g_opt_state, factor),
                d_opt_state=optimizers.scale_learning_rate(state.d_opt_state, factor),
            )
            tqdm.write(f"{message}; restored step {last_good}, learning rates x{factor}")
            done = window_start = last_good
            bar.reset(total=train_cfg.steps)
            bar.update(done)
            collection = window_from_json(empty, data_state.get("log_window"))
            continue
        if log_now:
            elapsed = time.perf_counter() - t0
            values["steps_per_s"] = (done - window_start) / max(elapsed, 1e-9)
            writer.write_scalars(done, values)
            bar.set_postfix(d=f"{values['d_loss']:.3f}", g=f"{values['g_loss']:.3f}")
            collection, t0, window_start = empty, time.perf_counter(), done
        if save_now:
            since_log = window_to_json(sharding.host_local(collection))
            checkpointer.save(done, state, {"iterator": iterator.get_state(), "log_window": since_log})
        if is_main and sample_now:
            local = sharding.host_local(state)
            for suffix, use_ema in [("", False), ("_ema", True)]:
                if use_ema and local.ema_params is None:
                    continue
                picture = sample_picture(gan, local, fixed, reference, use_ema, config.eval.batch_stats)
                visualize.save_png(os.path.join(workdir, "samples", f"step_{done:07d}{suffix}.png"), picture)
                writer.write_image(done, f"samples{suffix}", picture)
        if fid_now:
            writer.write_scalars(done, fid(gan, sharding.host_local(state)))
        if preempt:
            break
    preemption.disarm()
    bar.close()
    checkpointer.close()
    writer.close()
    if preempt:
        print(preempted_message(done), file=sys.stderr, flush=True)
        raise Preempted(done)

    local = sharding.host_local(state)
    results = {
        "step": int(local.step),
        "train_seconds": round(time.perf_counter() - run_start, 2),
        **evaluation.evaluate(config, gan, local, k_eval),
    }
    if is_main:
        picture = sample_picture(gan, local, fixed, reference, True, config.eval.batch_stats)
        visualize.save_png(os.path.join(workdir, "samples.png"), picture)
        with open(os.path.join(workdir, "metrics.json"), "w") as f:
            json.dump(results, f, indent=2)
    return state, results
