"""Hyper-parameter schedules as data: a number, or a mapping that names a schedule of the update count.

A schedule is what optax calls one, ``fn(count) -> value``, pure and jit-able. Configs hold them as data,
``{"shape": "cosine", "init": 0.05, "final": 0.005, "steps": 39062}``, and :func:`make_schedule` turns
that into the function; a plain number stays a plain number (a constant, and the code that takes it is
exactly the code that took numbers before schedules existed). The optimisers (learning rate, Adam's
beta2: :mod:`gans_jax.optimizers`), the regularisers' weights (R1/R2's gamma:
:func:`gans_jax.regularizers.regularizer`) and the EMA half-life (:func:`ema_decay_schedule`) take them.

Shapes (``t`` = count, ``T`` = ``steps``, ``v0`` = ``init``, ``v1`` = ``final``; the value stays ``v1`` for
``t >= T``):

- ``cosine``: ``v1 + (v0 - v1) * (1 + cos(pi * min(t, T) / T)) / 2``. This is R3GAN's
  ``cosine_decay_with_warmup`` without warm-up (Huang et al. 2024, brownvc/R3GAN
  ``training/training_loop.py``), which it applies to the learning rate, Adam's beta2, gamma, the EMA
  half-life and the augmentation probability, all as functions of the images shown; it also ramps a
  value *up* (beta2 0.9 -> 0.99, the half-life 0 -> 5M images).
- ``linear``: ``v0 + (v1 - v0) * min(t, T) / T``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp

Schedule = Callable[[Any], Any]
SHAPES = ("cosine", "linear")
KEYS = ("shape", "init", "final", "steps")


def cosine_schedule(init: float, final: float, steps: int) -> Schedule:
    """``v(t) = final + (init - final) * (1 + cos(pi * min(t, steps) / steps)) / 2`` (module doc):
    ``init`` at 0, ``final`` from ``steps`` on."""
    _check_steps(steps)

    def schedule(count):
        t = jnp.minimum(jnp.asarray(count, jnp.float32), float(steps))
        return final + (init - final) * 0.5 * (1.0 + jnp.cos(jnp.pi * t / float(steps)))

    return schedule


def linear_schedule(init: float, final: float, steps: int) -> Schedule:
    """``v(t) = init + (final - init) * min(t, steps) / steps``."""
    _check_steps(steps)

    def schedule(count):
        t = jnp.minimum(jnp.asarray(count, jnp.float32), float(steps))
        return init + (final - init) * t / float(steps)

    return schedule


def _check_steps(steps) -> None:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"a schedule's steps must be an integer >= 1, got {steps!r}")


def is_schedule_spec(value: Any) -> bool:
    """Whether ``value`` is a schedule spec (a mapping, a ``ConfigDict`` included) rather than a number."""
    return isinstance(value, Mapping) or (hasattr(value, "keys") and hasattr(value, "__getitem__"))


def make_schedule(spec: Any, what: str = "schedule") -> float | Schedule:
    """A number -> that number (a constant); a mapping ``{"shape", "init", "final", "steps"}`` -> the
    schedule it names (module doc); a callable -> itself. ``what`` names the config key in errors."""
    if callable(spec):
        return spec
    if not is_schedule_spec(spec):
        if isinstance(spec, bool) or not isinstance(spec, numbers.Real):
            raise ValueError(f"{what} must be a number or a schedule {{{', '.join(KEYS)}}}, got {spec!r}")
        return spec
    spec = {k: spec[k] for k in spec.keys()}
    missing, unknown = sorted(set(KEYS) - set(spec)), sorted(set(spec) - set(KEYS))
    if missing or unknown:
        raise ValueError(
            f"{what}: a schedule has exactly the keys {list(KEYS)}; got {sorted(spec)}"
            + (f" (missing {missing})" if missing else "")
            + (f" (unknown {unknown})" if unknown else "")
        )
    for key in ("init", "final"):
        value = spec[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{what}.{key} must be a finite number, got {value!r}")
    if spec["shape"] not in SHAPES:
        raise ValueError(f"{what}.shape must be one of {SHAPES}, got {spec['shape']!r}")
    try:
        return (cosine_schedule if spec["shape"] == "cosine" else linear_schedule)(
            float(spec["init"]), float(spec["final"]), spec["steps"]
        )
    except ValueError as err:
        raise ValueError(f"{what}: {err}") from None


def schedule_range(spec: Any) -> tuple[float, float]:
    """``(low, high)`` of the values a number or schedule spec takes (its ``init`` and ``final``)."""
    if is_schedule_spec(spec):
        return min(spec["init"], spec["final"]), max(spec["init"], spec["final"])
    return spec, spec


def scaled(schedule: float | Schedule, factor: float) -> float | Schedule:
    """``factor * schedule`` (a number stays a number)."""
    if callable(schedule):
        return lambda count: factor * schedule(count)
    return factor * schedule


def ema_decay_schedule(halflife_images: Any, batch_size: int) -> Schedule:
    """The EMA decay of each step from a schedule of its half-life in images: ``beta(t) = 0.5 **
    (batch_size / max(h(t), 1e-8))`` (Karras et al. 2020's half-life form, as R3GAN's trainer computes it
    every step; a half-life of 0 gives beta = 0, the EMA copying the parameters)."""
    halflife = make_schedule(halflife_images, "train.ema_halflife")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")

    def decay(count):
        h = halflife(count) if callable(halflife) else halflife
        return jnp.power(0.5, batch_size / jnp.maximum(jnp.asarray(h, jnp.float32), 1e-8))

    return decay
