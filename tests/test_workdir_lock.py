"""One training run per workdir: a second one is refused naming the holder's pid and host, and a holder
killed with SIGKILL leaves no stale lock (the kernel drops a process's flock with its files)."""

import os
import re
import socket
import subprocess
import sys

import pytest

from gans_jax.training import loop
from gans_jax.training.workdir_lock import WorkdirLock, WorkdirLockedError
from tests.helpers import ONE_DEVICE, ROOT, experiment_config

HOLD = """
import sys, time
from gans_jax.training.workdir_lock import WorkdirLock
lock = WorkdirLock(sys.argv[1]).acquire()  # held while its file is open: keep the reference
print("held", flush=True)
time.sleep(600)
"""


def _config(**overrides):
    return experiment_config("gan_ring8", **{"train.steps": 4, "train.log_every": 2, **overrides})


def test_second_run_is_refused_naming_the_holder_and_kill_9_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "XLA_FLAGS": "", "PYTHONPATH": ROOT},
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        named = (
            rf"in use by another training run \(pid {holder.pid} on host {re.escape(socket.gethostname())}"
        )
        with pytest.raises(WorkdirLockedError, match=named):
            loop.train(_config(), str(tmp_path), progress=False, devices=ONE_DEVICE)
        assert sorted(os.listdir(tmp_path)) == ["train.lock"]  # refused before touching anything
    finally:
        holder.kill()  # SIGKILL: no chance to unlock
        holder.wait()
    state, _ = loop.train(_config(), str(tmp_path), progress=False, devices=ONE_DEVICE)
    assert int(state.step) == 4


def test_lock_is_released_when_train_returns_or_raises(tmp_path):
    loop.train(_config(), str(tmp_path), progress=False, devices=ONE_DEVICE)
    with WorkdirLock(str(tmp_path)):  # a second lock in this very process would be refused
        with pytest.raises(WorkdirLockedError, match=f"pid {os.getpid()}"):
            WorkdirLock(str(tmp_path)).acquire()
    with pytest.raises(ValueError, match="different model"):  # raised while the run holds the lock
        loop.train(_config(**{"model.conditional": True}), str(tmp_path), progress=False, devices=ONE_DEVICE)
    with WorkdirLock(str(tmp_path)):
        pass
