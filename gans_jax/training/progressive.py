"""Progressive growing (Karras et al. 2018, Sec. 2 and App. A.1): the stage driver.

Training starts at ``progressive.start_resolution`` (4x4) and doubles the resolution stage by stage up
to ``model.resolution``. Stage ``R`` (after the first) fades its new blocks in over
``progressive.fade_images`` real images (``alpha`` rises linearly from 0 to 1), then stabilises for
``progressive.stabilize_images``; the first stage only stabilises. Each stage has its batch size
(``progressive.batch_sizes``, App. A.1: 16 up to 128x128, then 14, 6, 3).

Each stage is one run of the shared training loop (:func:`gans_jax.training.loop.train`) in
``workdir/stage_<R>`` with the stage's config (``model.resolution = R``, its batch size, ``train.steps`` =
the stage's last global step), so it compiles its own step and writes its own checkpoints, samples
and logs. Its train step is the library's one step (:func:`gans_jax.training.step.make_train_step`)
wrapped by :func:`fade_in_step`, which, before each update, sets ``alpha`` in both networks'
``"progress"`` collection from the state's step counter, crossfades the real images between the two
resolutions as the generator's output is (Sec. 2, Fig. 2 caption: ``(1 - alpha) *
upsample(avgpool(x)) + alpha * x``), and resets the Adam moments when the fade ends. Alpha, the step
and the images seen are therefore functions of the checkpointed state: a killed run resumes mid-stage
exactly.

Growing (:func:`grow_state`): the new stage's state is freshly initialised, then every parameter that
existed in the previous stage is copied exactly (the names carry the resolution), likewise the EMA
generator; the step and PRNG key carry over. Adam moments: with ``progressive.reset_optimizer`` (the
default, as the authors' ``reset_opt_for_new_lod=True``) the optimiser states start afresh when new
layers are introduced and again when their fade ends; without it, the moments and counts of the old
parameters carry over and the new parameters' moments start at zero.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gans_jax.layers.resample import mean_pool, nearest_upsample
from gans_jax.models.progressive import PROGRESS, check_resolution
from gans_jax.training.state import GANState
from gans_jax.training.step import TrainStep


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: its resolution, batch size, fade length (0 for the first stage) and global steps
    ``[start_step, end_step)``."""

    resolution: int
    batch_size: int
    fade_images: int
    fade_steps: int
    stabilize_steps: int
    start_step: int

    @property
    def end_step(self) -> int:
        return self.start_step + self.fade_steps + self.stabilize_steps

    @property
    def images(self) -> int:
        return (self.fade_steps + self.stabilize_steps) * self.batch_size


def stage_schedule(
    final_resolution: int,
    *,
    start_resolution: int = 4,
    fade_images: int = 800_000,
    stabilize_images: int = 800_000,
    batch_sizes: Sequence[int] = (16, 16, 16, 16, 16, 16, 14, 6, 3),
) -> list[Stage]:
    """The stages from ``start_resolution`` to ``final_resolution`` (Karras et al. 2018, App. A.1).

    ``batch_sizes[i]`` is the batch size at resolution ``4 * 2**i`` (the last entry serves every higher
    resolution). A phase of ``n`` images lasts ``ceil(n / batch)`` steps."""
    lo, hi = check_resolution(start_resolution), check_resolution(final_resolution)
    if lo > hi:
        raise ValueError(f"start_resolution {start_resolution} exceeds final resolution {final_resolution}")
    if not batch_sizes or any(b < 1 for b in batch_sizes):
        raise ValueError(f"batch_sizes must be positive, got {tuple(batch_sizes)}")
    if fade_images < 0 or stabilize_images < 1:
        raise ValueError(
            f"need fade_images >= 0, stabilize_images >= 1; got {fade_images}, {stabilize_images}"
        )
    stages, step = [], 0
    for level in range(lo, hi + 1):
        batch = int(batch_sizes[min(level - 2, len(batch_sizes) - 1)])
        fade = fade_images if level > lo else 0
        stage = Stage(
            2**level, batch, fade, math.ceil(fade / batch), math.ceil(stabilize_images / batch), step
        )
        stages.append(stage)
        step = stage.end_step
    return stages


def schedule_from_config(config) -> list[Stage]:
    p = config.progressive
    return stage_schedule(
        config.model.resolution,
        start_resolution=p.start_resolution,
        fade_images=p.fade_images,
        stabilize_images=p.stabilize_images,
        batch_sizes=tuple(p.batch_sizes),
    )


def fade_alpha(step: jax.Array, stage: Stage) -> jax.Array:
    """``alpha = min(images seen in the stage / fade_images, 1)`` before the update at global ``step``
    (1 for a stage without fade)."""
    if stage.fade_steps == 0:
        return jnp.ones((), jnp.float32)
    seen = (step - stage.start_step).astype(jnp.float32) * stage.batch_size
    return jnp.clip(seen / stage.fade_images, 0.0, 1.0)


def fade_reals(images: jax.Array, alpha: jax.Array) -> jax.Array:
    """Real images crossfaded between the previous and the current resolution (Karras et al. 2018,
    Fig. 2): ``(1 - alpha) * upsample(avgpool(x)) + alpha * x``."""
    low = nearest_upsample(mean_pool(images))
    return (1.0 - alpha) * low + alpha * images


def with_alpha(collections: Mapping[str, Any], alpha: jax.Array) -> dict[str, Any]:
    """A network's collections with ``progress/alpha`` set to ``alpha``."""
    if PROGRESS not in collections:
        raise ValueError(f"the network has no {PROGRESS!r} collection; got {sorted(collections)}")
    return {**collections, PROGRESS: {**collections[PROGRESS], "alpha": jnp.asarray(alpha, jnp.float32)}}


def reset_adam(opt_state, where: jax.Array | bool = True):
    """The optimiser state with every Adam moment and count zeroed (where ``where``); other parts (the
    run-time learning-rate factor) keep their values."""
    is_adam = lambda node: isinstance(node, optax.ScaleByAdamState)

    def reset(node):
        if not is_adam(node):
            return node
        return jax.tree.map(lambda a: jnp.where(where, jnp.zeros_like(a), a), node)

    return jax.tree.map(reset, opt_state, is_leaf=is_adam)


def fade_in_step(train_step, stage: Stage, *, reset_optimizer: bool = True):
    """Wrap the library's ``train_step`` for ``stage``: set the fade-in ``alpha`` of both networks and
    crossfade the reals, reset Adam at the end of the fade (``reset_optimizer``), then run the step.
    The metrics gain ``alpha``."""

    def step(state: GANState, batch):
        alpha = fade_alpha(state.step, stage)
        state = state.replace(
            g_collections=with_alpha(state.g_collections, alpha),
            d_collections=with_alpha(state.d_collections, alpha),
        )
        if stage.fade_steps:
            batch = {**batch, "image": fade_reals(batch["image"], alpha)}
            if reset_optimizer:
                fade_ended = state.step == stage.start_step + stage.fade_steps
                state = state.replace(
                    g_opt_state=reset_adam(state.g_opt_state, fade_ended),
                    d_opt_state=reset_adam(state.d_opt_state, fade_ended),
                )
        state, metrics = train_step(state, batch)
        return state, {**metrics, "alpha": alpha}

    return step


def graft(new, old):
    """``new`` with every leaf that also exists in ``old`` (same path) replaced by ``old``'s, which must
    have the same shape: carries parameters, EMA parameters and optimiser moments over to a grown
    network. Dicts are matched by key, tuples (optax states) position by position."""
    if isinstance(new, Mapping):
        if not isinstance(old, Mapping):
            raise ValueError(f"cannot graft a {type(old).__name__} onto a mapping")
        return {k: graft(v, old[k]) if k in old else v for k, v in new.items()}
    if isinstance(new, tuple):
        if type(new) is not type(old) or len(new) != len(old):
            raise ValueError(f"cannot graft {type(old).__name__} onto {type(new).__name__}")
        items = [graft(a, b) for a, b in zip(new, old, strict=True)]
        return type(new)(*items) if hasattr(new, "_fields") else type(new)(items)
    if new is None or old is None:
        return new
    if np.shape(new) != np.shape(old):
        raise ValueError(f"cannot carry a parameter of shape {np.shape(old)} over to shape {np.shape(new)}")
    return old


def grow_state(
    train_step: TrainStep, previous: GANState, key: jax.Array, sample_shape, *, reset_optimizer: bool = True
):
    """The state of the grown GAN (next stage, trained by ``train_step``): fresh initialisation from
    ``key`` for the new layers, the previous stage's parameters, collections and EMA copied exactly, its
    step and run key kept; Adam moments fresh (``reset_optimizer``) or carried over."""
    from gans_jax.training.sharding import host_local

    previous = jax.device_get(host_local(previous))  # multi-host: this process's replica
    fresh = train_step.init_state(key, sample_shape)
    state = fresh.replace(
        step=previous.step,
        key=previous.key,
        g_params=graft(fresh.g_params, previous.g_params),
        d_params=graft(fresh.d_params, previous.d_params),
        g_collections=graft(fresh.g_collections, previous.g_collections),
        d_collections=graft(fresh.d_collections, previous.d_collections),
        ema_params=None if fresh.ema_params is None else graft(fresh.ema_params, previous.ema_params),
        extra=previous.extra,
    )
    if not reset_optimizer:
        state = state.replace(
            g_opt_state=graft(fresh.g_opt_state, previous.g_opt_state),
            d_opt_state=graft(fresh.d_opt_state, previous.d_opt_state),
        )
    return state


def stage_config(config, stage: Stage):
    """The experiment config of one stage: ``model.resolution``, ``train.batch_size`` and ``train.steps``
    (the stage's last global step) set."""
    c = ml_collections.ConfigDict(config.to_dict())
    c.model.resolution = stage.resolution
    c.train.batch_size = stage.batch_size
    c.train.steps = stage.end_step
    return c


def stage_dir(workdir: str, stage: Stage) -> str:
    return os.path.join(workdir, f"stage_{stage.resolution:04d}")


def _latest_step(directory: str) -> int | None:
    from gans_jax.training.checkpoint import Checkpointer

    if not os.path.isdir(os.path.join(directory, "checkpoints")):
        return None
    checkpointer = Checkpointer(os.path.join(directory, "checkpoints"))
    try:
        return checkpointer.latest_step()
    finally:
        checkpointer.close()


def train_progressive(config, workdir: str, *, progress: bool = True, devices=None):
    """Train (or resume) a Progressive GAN experiment stage by stage in ``workdir``; returns the final
    stage's state and metrics (also written to ``workdir/metrics.json`` and ``workdir/samples.png``)."""
    from gans_jax import builders, configs
    from gans_jax.data.pipeline import make_dataset
    from gans_jax.training import loop

    if config.model.name != "progressive":
        raise ValueError(f"progressive training needs model.name='progressive', got {config.model.name!r}")
    configs.validate(config)
    stages = schedule_from_config(config)  # refuses a resolution the networks cannot grow to
    reset = bool(config.progressive.reset_optimizer)
    is_main = jax.process_index() == 0
    if is_main:
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=2, sort_keys=True))
        with open(os.path.join(workdir, "stages.json"), "w") as f:
            json.dump([{**dataclasses.asdict(s), "end_step": s.end_step} for s in stages], f, indent=1)
    state = results = None
    for i, stage in enumerate(stages):
        directory = stage_dir(workdir, stage)
        latest = _latest_step(directory)
        if latest is not None and latest >= stage.end_step and i < len(stages) - 1:
            state = None  # finished; the next stage restores it only if it must grow from it
            continue
        cfg = stage_config(config, stage)
        sample_shape = make_dataset(
            cfg.data, resolution=stage.resolution, batch_size=stage.batch_size, seed=cfg.seed
        ).sample_shape
        train_step = builders.build_train_step(cfg, builders.build_gan(cfg, sample_shape, None))
        if latest is None and i > 0:
            if state is None:
                _, _, state = builders.load_run(stage_dir(workdir, stages[i - 1]), stages[i - 1].end_step)
            key = jax.random.fold_in(jax.random.PRNGKey(config.seed), stage.resolution)
            initial = grow_state(train_step, state, key, sample_shape, reset_optimizer=reset)
        else:  # the first stage's start (the loop's own initialisation key), or a template to resume into
            k_init = jax.random.split(jax.random.PRNGKey(config.seed), 3)[0]
            initial = train_step.init_state(k_init, sample_shape)
        state, results = loop.train(
            stage_config(config, stage),
            directory,
            progress=progress,
            devices=devices,
            initial_state=initial,
            wrap_step=lambda step, s=stage: fade_in_step(step, s, reset_optimizer=reset),
        )
    if is_main:
        final = stage_dir(workdir, stages[-1])
        shutil.copyfile(os.path.join(final, "samples.png"), os.path.join(workdir, "samples.png"))
        with open(os.path.join(workdir, "metrics.json"), "w") as f:
            json.dump({**results, "resolution": stages[-1].resolution}, f, indent=2)
    return state, results


__all__ = [
    "Stage",
    "fade_alpha",
    "fade_in_step",
    "fade_reals",
    "graft",
    "grow_state",
    "reset_adam",
    "stage_schedule",
    "train_progressive",
]
