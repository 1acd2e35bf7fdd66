"""Where training metrics go: a JSON-lines file that needs nothing to read, and TensorBoard event files.

TensorBoard events are written by clu's writers when TensorFlow is installed (the ``tf`` extra) and
by tensorboardX otherwise (clu 0.0.12's ``metric_writers`` import TensorFlow at import time;
tensorboardX writes the same event files without it). Metrics between two log
steps are aggregated on device with ``clu.metrics`` (means), plus the first step whose losses or
gradient norms were not finite, so the divergence guard can name it without a host sync per step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

import flax
import jax
import jax.numpy as jnp
import numpy as np
from clu import metrics as clu_metrics

NO_STEP = np.iinfo(np.int32).max


@flax.struct.dataclass
class FirstNonFinite(clu_metrics.Metric):
    """The earliest step (1-based, after the update) whose metrics were not all finite; NO_STEP if none."""

    step: jnp.ndarray

    @classmethod
    def empty(cls) -> FirstNonFinite:
        return cls(jnp.array(NO_STEP, jnp.int32))

    @classmethod
    def from_model_output(cls, finite: jnp.ndarray, step: jnp.ndarray, **_) -> FirstNonFinite:
        return cls(jnp.where(finite, NO_STEP, step).astype(jnp.int32))

    def merge(self, other: FirstNonFinite) -> FirstNonFinite:
        return type(self)(jnp.minimum(self.step, other.step))

    def compute(self) -> jnp.ndarray:
        return self.step


def metrics_collection(names: Sequence[str]) -> type[clu_metrics.Collection]:
    """A clu Collection averaging each named metric, plus ``first_nonfinite_step``.

    Metric names need not be identifiers (``reg/gradient_penalty``): the dataclass fields are
    ``metric_<i>`` and ``compute()`` returns the original names."""
    fields = {f"metric_{i}": clu_metrics.Average.from_output(name) for i, name in enumerate(names)}
    original = {f"metric_{i}": name for i, name in enumerate(names)}

    def compute(self) -> dict[str, jnp.ndarray]:
        return {original.get(k, k): v for k, v in clu_metrics.Collection.compute(self).items()}

    annotations = {"first_nonfinite_step": FirstNonFinite, **fields}
    return flax.struct.dataclass(
        type("_Metrics", (clu_metrics.Collection,), {"__annotations__": annotations, "compute": compute})
    )


def make_accumulator(names: Sequence[str]):
    """``(empty_collection, accumulate)`` where ``accumulate(collection, metrics, step)`` is jitted."""
    collection_cls = metrics_collection(names)

    @jax.jit
    def accumulate(collection, metrics: Mapping[str, jax.Array], step: jax.Array):
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in metrics.values()]))
        update = collection_cls.single_from_model_output(finite=finite, step=step, **metrics)
        return collection.merge(update)

    return collection_cls.empty(), accumulate


class Writer:
    """Scalars and images to TensorBoard and ``metrics.jsonl``; a no-op on processes other than 0."""

    def __init__(self, workdir: str, enabled: bool = True):
        self.enabled = enabled
        self._jsonl = self._tb = self._clu = None
        if not enabled:
            return
        self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")
        logdir = os.path.join(workdir, "tensorboard")
        try:
            import tensorflow  # noqa: F401  (the `tf` extra)
            from clu import metric_writers

            self._clu = metric_writers.SummaryWriter(logdir)
        except ImportError:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(logdir)

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        self._jsonl.write(json.dumps({"step": step, **scalars}) + "\n")
        self._jsonl.flush()
        if self._clu is not None:
            self._clu.write_scalars(step, scalars)
        else:
            for name, value in scalars.items():
                self._tb.add_scalar(name, value, step)

    def write_image(self, step: int, name: str, image: np.ndarray) -> None:
        """A uint8 HWC image."""
        if not self.enabled:
            return
        if self._clu is not None:
            self._clu.write_images(step, {name: image[None]})
        else:
            self._tb.add_image(name, image, step, dataformats="HWC")

    def close(self) -> None:
        if not self.enabled:
            return
        self._jsonl.close()
        (self._clu or self._tb).flush()
        (self._clu or self._tb).close()
