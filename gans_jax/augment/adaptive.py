"""What the train step holds (:class:`Augmentation`, built from a config's ``augment`` section by
:func:`augmentation`) and the adaptive probability of StyleGAN2-ADA (:func:`adjust_p`; Karras et al.
2020, Sec. 3; NVlabs ``training/training_loop.py``, the ``ada_stats``/``adjust`` block).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from gans_jax.augment.diffaugment import diff_augment_examples, diffaugment_policy
from gans_jax.augment.pipeline import AugmentSpec, augment_examples, augment_spec
from gans_jax.schedules import is_schedule_spec, make_schedule, schedule_range


def adjust_p(p, sign_sum, rt, step, *, target: float, interval: int, batch_size: int, speed_kimg: float):
    """The ADA heuristic after train step ``step`` (0-based) whose reals gave ``rt = mean(sign(D(x)))``:
    ``sign_sum`` accumulates ``rt``; after every ``interval``-th step, with ``r_t = sign_sum / interval``
    (the mean over the interval's reals, as the official ``ada_stats``),
    ``p <- max(p + sign(r_t - target) * batch_size * interval / (speed_kimg * 1000), 0)`` and the sum
    restarts (Karras et al. 2020, Sec. 3; ``training_loop.py``: ``adjust = np.sign(...) * (batch_size *
    ada_interval) / (ada_kimg * 1000)``, clipped below at 0 only, so p may exceed 1, where every
    transform of multiplier 1 is saturated). Returns ``(p, sign_sum)``."""
    sign_sum = sign_sum + jnp.asarray(rt, jnp.float32)
    due = (step + 1) % interval == 0
    r_t = sign_sum / interval
    step_size = batch_size * interval / (speed_kimg * 1000)
    adjusted = jnp.maximum(p + jnp.sign(r_t - target) * step_size, 0.0)
    return jnp.where(due, adjusted, p), jnp.where(due, jnp.zeros_like(sign_sum), sign_sum)


# ------------------------------------------------------------------------------------- what the step holds

AUGMENT_KINDS = ("ada", "fixed", "diffaugment")
"""``ada``: the pipeline at the adaptive p; ``fixed``: the pipeline at a constant or scheduled p (a schedule
of the step, :mod:`gans_jax.schedules`: R3GAN's cosine ramp); ``diffaugment``."""


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """The augmentation a train step applies to every image its discriminator sees (build it with
    :func:`augmentation`). ``kind="ada"``: the pipeline ``spec`` at probability p, kept in
    ``GANState.extra["augment_p"]`` (from the initial ``p``) and adjusted by :func:`adjust_p` (the running
    sum of r_t in ``extra["augment_signs"]``), both checkpointed with the state. ``kind="fixed"``: the
    pipeline at the constant ``p`` (also kept in ``extra``, never moved), or at a scheduled one: ``p`` a
    schedule ``p(t)`` of the step (:func:`gans_jax.schedules.make_schedule`), step ``t`` augmenting at
    ``p(t)`` (``extra["augment_p"]`` is ``p(0)`` at first and ``p(t + 1)`` after step ``t``), as R3GAN's
    trainer sets ``augment_pipe.p`` from ``cosine_decay_with_warmup(cur_nimg, ...)`` before every step
    (Huang et al. 2024; brownvc/R3GAN ``training/training_loop.py``). ``kind="diffaugment"``: ``policy``,
    applied to every image."""

    kind: str
    spec: AugmentSpec | None = None
    policy: tuple[str, ...] = ()
    p: float = 0.0
    target: float = 0.6
    interval: int = 4
    speed_kimg: float = 500.0

    def __post_init__(self):
        if self.kind not in AUGMENT_KINDS:
            raise ValueError(f"unknown augmentation kind {self.kind!r}; expected one of {AUGMENT_KINDS}")
        if self.kind in ("ada", "fixed") and not isinstance(self.spec, AugmentSpec):
            raise ValueError(
                f"kind={self.kind!r} needs an AugmentSpec (augment_spec('bgc')), got {self.spec!r}"
            )
        if self.kind == "diffaugment":
            object.__setattr__(self, "policy", diffaugment_policy(self.policy))
            if not self.policy:
                raise ValueError("kind='diffaugment' needs a policy, e.g. 'color,translation,cutout'")
        if callable(self.p):
            if self.kind != "fixed":
                raise ValueError(f"a scheduled p serves kind='fixed', not kind={self.kind!r}")
        elif not (isinstance(self.p, (int, float)) and 0.0 <= self.p <= 1.0):
            raise ValueError(f"augmentation p={self.p!r}: expected a probability in [0, 1]")
        if not (isinstance(self.target, (int, float)) and 0.0 <= self.target <= 1.0):
            raise ValueError(f"augmentation target={self.target!r}: expected a value of E[sign(D)] in [0, 1]")
        if not (
            isinstance(self.interval, int) and not isinstance(self.interval, bool) and self.interval >= 1
        ):
            raise ValueError(f"augmentation interval={self.interval!r}: expected an integer >= 1")
        if not (isinstance(self.speed_kimg, (int, float)) and self.speed_kimg > 0):
            raise ValueError(f"augmentation speed_kimg={self.speed_kimg!r}: expected a number > 0")

    @property
    def adaptive(self) -> bool:
        return self.kind == "ada"

    @property
    def scheduled(self) -> bool:
        """Whether p is a schedule of the step (``kind="fixed"`` only)."""
        return callable(self.p)

    @property
    def init_extra(self) -> dict[str, float]:
        """The ``GANState.extra`` entries this augmentation keeps, with their initial values."""
        if self.kind == "diffaugment":
            return {}
        if self.scheduled:
            with jax.ensure_compile_time_eval():  # a constant even while the state's init is traced
                p = float(self.p(0))
        else:
            p = self.p
        return {"augment_p": p, **({"augment_signs": 0.0} if self.adaptive else {})}

    def __call__(
        self, keys: jax.Array, images: jax.Array, extra: Mapping[str, Any], *, axis_name=None
    ) -> jax.Array:
        """``images`` augmented with one key per example, at the state's p (``axis_name``: the step's
        pmap/shard_map axis, over which the pipeline's geometric padding takes its batch maximum)."""
        if self.kind == "diffaugment":
            return diff_augment_examples(keys, images, self.policy)
        return augment_examples(keys, images, extra["augment_p"], self.spec, axis_name=axis_name)

    def update(
        self, extra: Mapping[str, Any], rt, step, batch_size: int
    ) -> tuple[dict, dict[str, jax.Array]]:
        """``(extra updates, metrics)`` after a step whose reals scored ``rt = mean(sign(D(x_real)))``:
        ``augment/rt``, and for the pipeline ``augment/p`` (the step's p) and, for ADA, the adjusted p."""
        metrics = {"augment/rt": jnp.asarray(rt, jnp.float32)}
        if self.kind == "diffaugment":
            return {}, metrics
        p = extra["augment_p"]
        metrics["augment/p"] = p
        if self.scheduled:  # the next step's p
            return {"augment_p": jnp.asarray(self.p(step + 1), jnp.float32)}, metrics
        if not self.adaptive:
            return {}, metrics
        p, signs = adjust_p(
            p, extra["augment_signs"], rt, step, target=self.target, interval=self.interval,
            batch_size=batch_size, speed_kimg=self.speed_kimg,
        )  # fmt: skip
        return {"augment_p": p, "augment_signs": signs}, metrics


def augmentation(
    kind: str,
    *,
    preset: str | Mapping[str, Any] = "bgc",
    policy: str | Sequence[str] = "color,translation,cutout",
    p: Any = 0.0,
    target: float = 0.6,
    interval: int = 4,
    speed_kimg: float = 500.0,
    **options,
) -> Augmentation | None:
    """The :class:`Augmentation` of a config's ``augment`` section (``None`` for ``kind`` ``"none"`` or
    ``""``): ``"ada"`` with ``preset`` (a :data:`PRESETS` name, e.g. the default ``bgc``), initial ``p`` and
    the heuristic's ``target`` (0.6), ``interval`` (4 steps) and ``speed_kimg`` (500: p can go from 0 to 1
    in 500k images), the official ``train.py`` defaults; ``"fixed"``: the same pipeline at constant ``p``;
    or at a schedule of the step, ``p`` = ``{"shape": "cosine", "init": 0, "final": 0.55, "steps": T}``
    (:mod:`gans_jax.schedules`; R3GAN's); ``"diffaugment"`` with ``policy``. ``options`` override
    :class:`AugmentSpec` fields of the preset (``rotate_max=0.5``...)."""
    if kind in ("", "none", None):
        return None
    if kind not in AUGMENT_KINDS:
        raise ValueError(f"unknown augment.kind {kind!r}; expected 'none' or one of {AUGMENT_KINDS}")
    if kind == "diffaugment":
        return Augmentation("diffaugment", policy=diffaugment_policy(policy))
    if is_schedule_spec(p):
        schedule = make_schedule(p, "augment.p")
        if not 0.0 <= min(schedule_range(p)) <= max(schedule_range(p)) <= 1.0:
            raise ValueError(f"augment.p={dict(p)!r}: expected a schedule of probabilities in [0, 1]")
        p = schedule
    return Augmentation(
        kind, spec=augment_spec(preset, **options), p=p, target=target, interval=interval,
        speed_kimg=speed_kimg,
    )  # fmt: skip
