"""Shared test helpers."""

import os

import jax

from gans_jax.configs import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONE_DEVICE = jax.devices()[:1]


def experiment_config(name: str, **overrides):
    """``experiments/<name>.py``'s config (``name`` may end in ``:preset``) with dotted overrides
    (``**{"train.steps": 10}``)."""
    name, _, preset = name.partition(":")
    path = os.path.join(ROOT, "experiments", f"{name}.py")
    return load_config(f"{path}:{preset}" if preset else path, overrides)


def run_two_processes(script: str, *args, timeout: float = 240) -> list[str]:
    """Runs ``tests/<script> PORT PROCESS_ID *args`` as two local processes of one jax.distributed job
    and returns their standard outputs; a process that fails fails the test with its stderr."""
    results = two_processes(script, *args, timeout=timeout)
    for rc, _, err in results:
        assert rc == 0, err[-3000:]
    return [out for _, out, _ in results]


def two_processes(script: str, *args, timeout: float = 240) -> list[tuple[int, str, str]]:
    """``(returncode, stdout, stderr)`` of each process of :func:`run_two_processes`'s job. Both are
    killed with SIGKILL at the end: after jax.distributed.initialize, the preemption notifier catches
    and ignores SIGTERM."""
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": ROOT}
    command = [sys.executable, os.path.join(ROOT, "tests", script), str(port)]
    procs = [
        subprocess.Popen(
            [*command, str(i), *map(str, args)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        for i in range(2)
    ]
    outputs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            outputs.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    return outputs


class SignallingIterator:
    """A data iterator that sends this process ``signum`` as batch ``at`` (1-based) is drawn, then sleeps
    ``throttle`` seconds per batch (time for a multi-host preemption notice to spread); everything else
    (``get_state``, ``set_state``) is the wrapped iterator's."""

    def __init__(self, iterator, at: int, signum: int, throttle: float = 0.0):
        self.iterator, self.at, self.signum, self.throttle = iterator, at, signum, throttle
        self.drawn = 0

    def __iter__(self):
        return self

    def __next__(self):
        import signal
        import time

        self.drawn += 1
        if self.drawn == self.at:
            signal.raise_signal(self.signum)
        if self.drawn >= self.at:
            time.sleep(self.throttle)
        return next(self.iterator)

    def __getattr__(self, name):
        return getattr(self.iterator, name)


def signalling_make_dataset(make_dataset, at: int, signum: int, throttle: float = 0.0):
    """``make_dataset`` whose datasets' iterators are :class:`SignallingIterator` s: patch it over
    ``gans_jax.training.loop.make_dataset`` to deliver a signal at a known step of training."""

    def make(*args, **kwargs):
        dataset = make_dataset(*args, **kwargs)
        plain = dataset.iterator
        dataset.iterator = lambda: SignallingIterator(plain(), at, signum, throttle)
        return dataset

    return make
