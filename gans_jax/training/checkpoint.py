"""Orbax checkpoints of the complete train state plus the data iterator's position.

A checkpoint is written to a temporary directory and renamed when complete (Orbax's atomic commit),
so a run killed at any moment — ``kill -9`` included — leaves the previous checkpoint as the latest.
Saves are asynchronous: the state is copied to host memory, then written while training continues.
Every process calls :meth:`Checkpointer.save` (writes are collective across hosts).

Only the run that owns the workdir (``owner=True``: the training loop) changes the directory besides
saving: it removes the temporary directories of saves that never finished. Readers (``gans-jax
sample``, ``metrics``, ...) only read, so they can run beside a training run without deleting the
save it has in flight.

A checkpoint restores on any number of devices: arrays are read into the shardings of the template
(the current mesh's, for a training run) or, where the template has none (an abstract state from
``jax.eval_shape``), onto this process's first device. A run trained on 8 devices samples on 1, and
resumes on 4 with the same global batch.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from gans_jax.training.state import GANState


def restore_target(like: Any) -> Any:
    """The abstract tree Orbax restores into: ``like``'s shapes and dtypes with the shardings of its
    arrays, or this process's first device for leaves without one (``jax.ShapeDtypeStruct`` from
    ``jax.eval_shape``, numpy arrays). Never the shardings stored in the checkpoint, which name the
    devices of the machine that wrote it (Orbax refuses those on another topology)."""
    default = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def leaf(x):
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            return ocp.utils.to_shape_dtype_struct(x)
        sharding = getattr(x, "sharding", None)
        if not isinstance(sharding, jax.sharding.Sharding):
            sharding = default
        return jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=sharding)

    return jax.tree.map(leaf, like)


class Checkpointer:
    """Keeps the last ``max_to_keep`` checkpoints of ``(GANState, data-iterator state)`` in ``directory``.

    ``owner``: this process's run owns the directory: leftover temporary directories are removed on
    opening."""

    def __init__(self, directory: str, max_to_keep: int = 3, *, owner: bool = False):
        self.directory = os.path.abspath(directory)
        self.owner = owner
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, cleanup_tmp_directories=owner, create=True
            ),
            item_names=("state", "data"),
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, state: GANState, data_state: dict[str, Any]) -> None:
        self._manager.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)),
            force=True,
        )

    def _restore_step(self, step: int, target: Any) -> tuple[GANState, dict[str, Any]]:
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardRestore(target), data=ocp.args.JsonRestore()),
        )
        return restored.state, dict(restored.data or {})

    def restore(self, like: GANState, step: int | None = None) -> tuple[GANState, dict[str, Any]]:
        """Restore checkpoint ``step`` (default: the latest) into the structure, shapes and shardings of
        ``like`` (a state or its abstract form; see :func:`restore_target`)."""
        self._manager.wait_until_finished()  # a save of this run may still be in flight
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        return self._restore_step(step, restore_target(like))

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()
