"""One training run per workdir: an exclusive ``fcntl.flock`` on ``<workdir>/train.lock``.

Two runs writing one workdir would interleave checkpoints and logs. The lock is held by an open file,
so the kernel releases it when the process ends however it ends (``kill -9`` included): there are no
stale locks to clean up. The file stays (deleting a lock file races with a process about to take it);
while held it names the holder's pid and host, which a refused run reports.

Multi-host: process 0 takes the lock (it writes the logs, the samples and ``config.json``, and commits
each checkpoint the other processes write their shards of) and tells every process whether it got it,
so a refused job stops on all its processes instead of leaving some in a collective. ``flock`` on a
network filesystem locks across machines only where that filesystem supports it (NFSv4, Lustre with
``flock``); on one machine it always does.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket

import jax
import numpy as np

from gans_jax.errors import UserError

LOCK_NAME = "train.lock"


class WorkdirLockedError(UserError, RuntimeError):
    """Another run holds the workdir; the message names its pid and host."""


class WorkdirLock:
    """``with WorkdirLock(workdir):`` — raises :class:`WorkdirLockedError` when another process holds it."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.path = os.path.join(workdir, LOCK_NAME)
        self._file = None

    def acquire(self) -> WorkdirLock:
        os.makedirs(self.workdir, exist_ok=True)
        f = open(self.path, "a+")  # not "w": truncating would erase the holder's name before we know
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = _describe(f.read())
            f.close()
            raise WorkdirLockedError(
                f"workdir {self.workdir} is in use by another training run ({holder}); wait for it to "
                f"finish, stop it, or use another --workdir (the lock, {self.path}, is released when "
                "that process exits, however it exits)"
            ) from None
        f.seek(0)
        f.truncate()
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        f.write(json.dumps(holder) + "\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> WorkdirLock:
        return self if self._file is not None else self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _describe(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']} on host {holder['host']}, since {holder['since']}"
    except (ValueError, KeyError, TypeError):
        return "pid and host not yet written"  # the holder took the lock a moment ago


def lock_workdir(workdir: str) -> contextlib.AbstractContextManager:
    """Take ``workdir``'s lock on process 0 and agree on the outcome across processes: every process
    raises :class:`WorkdirLockedError` when it is held. Returns a context manager that releases it."""
    lock, error = None, None
    if jax.process_index() == 0:
        try:
            lock = WorkdirLock(workdir).acquire()
        except (WorkdirLockedError, OSError) as e:  # raised after the others hear of it, not before
            error = e
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        locked = bool(multihost_utils.broadcast_one_to_all(np.int32(lock is not None)))
        if not locked and error is None:
            error = WorkdirLockedError(
                f"workdir {workdir}: process 0 could not take the lock {os.path.join(workdir, LOCK_NAME)} "
                "(its error names the run holding it, or the problem)"
            )
    if error is not None:
        raise error
    return lock if lock is not None else contextlib.nullcontext()
