"""Orbax checkpoints of the complete train state plus the data iterator's position.

A checkpoint is written to a temporary directory and renamed when complete (Orbax's atomic commit),
so a run killed at any moment — ``kill -9`` included — leaves the previous checkpoint as the latest.
Saves are asynchronous: the state is copied to host memory, then written while training continues.
Every process calls :meth:`Checkpointer.save` (writes are collective across hosts).

Only the run that owns the workdir (``owner=True``: the training loop, which holds the workdir lock of
:mod:`gans_jax.training.workdir_lock`) changes the directory besides saving: it removes the temporary
directories of saves that never finished and sets corrupt checkpoints aside. Readers (``gans-jax
sample``, ``metrics``, ...) only read, so they can run beside a training run without deleting the
save it has in flight.

A checkpoint restores on any number of devices: arrays are read into the shardings of the template
(the current mesh's, for a training run) or, where the template has none (an abstract state from
``jax.eval_shape``), onto this process's first device. A run trained on 8 devices samples on 1, and
resumes on 4 with the same global batch.

Restoring the latest checkpoint falls back to the newest one that restores when it is unreadable (a
truncated array file, a missing metadata file): a :class:`CorruptCheckpointWarning` names the bad
step and the owner renames its directory ``<step>.corrupt`` (outside Orbax's step-name pattern, kept
for inspection, never deleted).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import warnings
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from gans_jax.errors import UserError
from gans_jax.training.state import GANState

CORRUPT_SUFFIX = ".corrupt"


class CorruptCheckpointWarning(RuntimeWarning):
    """A checkpoint did not restore; an older one was used instead."""


class CheckpointRestoreError(UserError, RuntimeError):
    """No checkpoint of the directory restores; the message names each step and its error."""


def _first_line(error: BaseException, limit: int = 300) -> str:
    """The error's type and first line (tensorstore errors run to hundreds of lines)."""
    text = str(error).strip().splitlines()
    line = text[0].split(" See full TensorStore details")[0] if text else ""
    if len(line) > limit:
        line = line[:limit] + "..."
    return f"{type(error).__name__}: {line}"


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


@contextlib.contextmanager
def _quiet_abandoned_reads():
    """Orbax reads arrays in coroutines that turn any ``BaseException`` into ``Exception("Encountered error
    while reading array index ...")``; when one read fails, the reads still pending are closed with
    ``GeneratorExit`` and each prints that error with its TensorStore spec ("Exception ignored in
    <coroutine ...>", hundreds of lines) whenever it is collected. Only those are silenced, and only
    while a corrupt checkpoint's leftovers are collected; the read error itself is reported."""
    previous = sys.unraisablehook

    def hook(unraisable):
        if not isinstance(getattr(unraisable.exc_value, "__cause__", None), GeneratorExit):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        gc.collect()
        sys.unraisablehook = previous


class Checkpointer:
    """Keeps the last ``max_to_keep`` checkpoints of ``(GANState, data-iterator state)`` in ``directory``.

    ``owner``: this process's run owns the directory (it holds the workdir lock): leftover temporary
    directories are removed on opening and corrupt checkpoints are set aside."""

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
        """Restore checkpoint ``step`` (default: the newest that restores) into the structure, shapes and
        shardings of ``like`` (a state or its abstract form; see :func:`restore_target`)."""
        self._manager.wait_until_finished()  # a save of this run may still be in flight
        target = restore_target(like)
        steps = sorted(self.all_steps(), reverse=True)
        if step is not None:
            if step not in steps:
                raise FileNotFoundError(
                    f"no checkpoint of step {step} in {self.directory}; it has steps {sorted(steps)}"
                )
            return self._restore_step(step, target)
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        failures: list[tuple[int, Exception]] = []
        with _quiet_abandoned_reads():
            for candidate in steps:
                try:
                    state, data = self._restore_step(candidate, target)
                except Exception as e:  # an unreadable checkpoint: try the one before (reported below)
                    failures.append((candidate, e))
                    continue
                break
            else:
                details = "; ".join(f"step {s}: {_first_line(e)}" for s, e in failures)
                raise CheckpointRestoreError(
                    f"no checkpoint in {self.directory} restores ({details})"
                ) from failures[0][1]
            failures = [(s, _first_line(e)) for s, e in failures]  # drop the tracebacks before collecting
        self._agree_across_processes(candidate)
        if failures:
            self._report_corrupt(failures, candidate)
        return state, data

    def _agree_across_processes(self, step: int) -> None:
        """Every process of a multi-host run must have restored the same step (a checkpoint one process
        cannot read but another can would otherwise leave them with different states)."""
        if jax.process_count() == 1:
            return
        from jax.experimental import multihost_utils

        steps = np.asarray(multihost_utils.process_allgather(np.int32(step))).reshape(-1)
        if len(set(steps.tolist())) > 1:
            raise CheckpointRestoreError(
                f"processes restored different checkpoints of {self.directory}: steps {steps.tolist()} "
                "(by process index); move the newer ones out of the directory and rerun"
            )

    def _report_corrupt(self, failures: list[tuple[int, str]], used: int) -> None:
        moved: dict[int, str] = {}
        if self.owner:
            if jax.process_index() == 0:
                moved = {s: self._set_aside(s) for s, _ in failures}
            if jax.process_count() > 1:
                from jax.experimental import multihost_utils

                multihost_utils.sync_global_devices("gans_jax_checkpoint_set_aside")
            self._manager.reload()
        for s, e in failures:
            kept = f"; moved to {moved[s]}" if s in moved else ""
            warnings.warn(
                f"checkpoint step {s} in {self.directory} does not restore ({e}); "
                f"using step {used} instead{kept}",
                CorruptCheckpointWarning,
                stacklevel=3,
            )

    def _set_aside(self, step: int) -> str:
        """Rename ``<step>`` to ``<step>.corrupt`` (``.corrupt.1``, ... if taken): out of Orbax's sight."""
        source = os.path.join(self.directory, str(step))
        target = source + CORRUPT_SUFFIX
        n = 0
        while os.path.exists(target):
            n += 1
            target = f"{source}{CORRUPT_SUFFIX}.{n}"
        os.rename(source, target)
        return target

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()
