"""Orbax checkpoints of the complete train state plus the data iterator's position.

A checkpoint is written to a temporary directory and renamed when complete (Orbax's atomic commit),
so a run killed at any moment — ``kill -9`` included — leaves the previous checkpoint as the latest;
leftover temporary directories are removed when the next run opens the manager. Saves are
asynchronous: the state is copied to host memory, then written while training continues. Every
process calls :meth:`Checkpointer.save` (writes are collective across hosts).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from gans_jax.training.state import GANState


class Checkpointer:
    """Keeps the last ``max_to_keep`` checkpoints of ``(GANState, data-iterator state)`` in ``directory``."""

    def __init__(self, directory: str, max_to_keep: int = 3):
        self.directory = os.path.abspath(directory)
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, cleanup_tmp_directories=True, create=True
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

    def restore(self, like: GANState, step: int | None = None) -> tuple[GANState, dict[str, Any]]:
        """Restore into the structure, shapes and shardings of ``like`` (a state or its abstract form)."""
        self._manager.wait_until_finished()  # a save of this run may still be in flight
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), data=ocp.args.JsonRestore()),
        )
        return restored.state, dict(restored.data or {})

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()
