"""Where training metrics go: a JSON-lines file that needs nothing to read, and TensorBoard event files.

TensorBoard events are written by clu's writers when TensorFlow is installed (the ``tf`` extra) and
by tensorboardX otherwise (clu 0.0.12's ``metric_writers`` import TensorFlow at import time;
tensorboardX writes the same event files without it). Metrics between two log
steps are aggregated on device with ``clu.metrics`` (means), plus the first step whose losses or
gradient norms were not finite, so the divergence guard can name it without a host sync per step.

A resumed run logs each step once: what was logged after the step it resumes from is dropped
(:class:`Writer`'s ``start_step``), and the aggregate since the last log step travels in the checkpoint
(:func:`window_to_json`), so the log lines equal an uninterrupted run's.
"""

from __future__ import annotations

import glob
import json
import os
import time
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


def window_to_json(collection: clu_metrics.Collection) -> dict:
    """The metrics aggregated since the last log step (a host-local collection), as JSON for the checkpoint:
    a run resumed between two log steps logs the same means as one that never stopped. float32 sums
    survive the round trip through JSON's float64 exactly."""
    leaves = jax.tree.leaves(jax.device_get(collection))
    return {"leaves": [np.asarray(x).tolist() for x in leaves]}


def window_from_json(empty: clu_metrics.Collection, saved: Mapping | None) -> clu_metrics.Collection:
    """The collection :func:`window_to_json` wrote, in the structure of ``empty``; ``empty`` itself when
    the checkpoint has none (older checkpoints) or one of another set of metrics."""
    leaves, treedef = jax.tree.flatten(empty)
    values = (saved or {}).get("leaves")
    if values is None or len(values) != len(leaves):
        return empty
    pairs = zip(values, leaves, strict=True)
    arrays = [np.asarray(v, np.asarray(x).dtype).reshape(np.shape(x)) for v, x in pairs]
    return jax.tree.unflatten(treedef, arrays)


def _records_up_to(path: str, step: int) -> tuple[list[str], int]:
    """The lines of a ``metrics.jsonl`` logged at or before ``step`` and how many were dropped (later
    steps, or a last line cut short by a kill)."""
    kept, dropped = [], 0
    with open(path) as f:
        for line in f:
            try:
                record_step = json.loads(line)["step"]
            except (ValueError, KeyError, TypeError):
                record_step = None
            if record_step is None or record_step > step or not line.endswith("\n"):
                dropped += 1
            else:
                kept.append(line)
    return kept, dropped


class Writer:
    """Scalars and images to TensorBoard and ``metrics.jsonl``; a no-op on processes other than 0.

    ``start_step``: the step training (re)starts from. What an earlier attempt logged after it (a run
    killed between a log step and the next checkpoint logs those steps again) is dropped from
    ``metrics.jsonl`` and hidden in TensorBoard (a purge event at ``start_step + 1``), so curves have
    no doubled segments; :meth:`rewind` does the same mid-run."""

    def __init__(self, workdir: str, enabled: bool = True, start_step: int = 0):
        self.enabled = enabled
        self._jsonl = self._tb = self._clu = None
        if not enabled:
            return
        self._path = os.path.join(workdir, "metrics.jsonl")
        self._logdir = os.path.join(workdir, "tensorboard")
        self._truncate_jsonl(start_step)
        self._jsonl = open(self._path, "a")
        self._open_tensorboard(purge_step=start_step + 1)

    def _truncate_jsonl(self, step: int) -> None:
        if not os.path.exists(self._path):
            return
        kept, dropped = _records_up_to(self._path, step)
        if dropped:
            with open(self._path + ".tmp", "w") as f:
                f.writelines(kept)
            os.replace(self._path + ".tmp", self._path)  # atomic: a kill now leaves the old or the new file

    def _open_tensorboard(self, purge_step: int) -> None:
        """TensorBoard hides the events at ``purge_step`` and later that come before a purge event in
        the run's event files (read in name order: tensorboardX names them by the second, then host;
        the suffix keeps two files of one second apart and in order). Written only when earlier event
        files exist."""
        from tensorboardX import SummaryWriter

        suffix = f".{time.time_ns()}"
        if not glob.glob(os.path.join(self._logdir, "events.out.tfevents.*")):
            purge_step = None
        try:
            import tensorflow  # noqa: F401  (the `tf` extra)
            from clu import metric_writers
        except ImportError:
            self._tb = SummaryWriter(self._logdir, purge_step=purge_step, filename_suffix=suffix)
            return
        if purge_step is not None:
            SummaryWriter(self._logdir, purge_step=purge_step, filename_suffix=suffix).close()
            time.sleep(1 - time.time() % 1)  # clu's file must sort after the purge event's: a later second
        self._clu = metric_writers.SummaryWriter(self._logdir)

    def rewind(self, step: int) -> None:
        """Forget what was logged after ``step`` (training went back to the checkpoint of ``step``)."""
        if not self.enabled:
            return
        self._jsonl.close()
        self._truncate_jsonl(step)
        self._jsonl = open(self._path, "a")
        (self._clu or self._tb).close()
        self._clu = self._tb = None
        self._open_tensorboard(purge_step=step + 1)

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

    def flush(self) -> None:
        if not self.enabled:
            return
        self._jsonl.flush()
        os.fsync(self._jsonl.fileno())
        (self._clu or self._tb).flush()

    def close(self) -> None:
        if not self.enabled:
            return
        self.flush()
        self._jsonl.close()
        (self._clu or self._tb).close()
