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
    and returns their standard outputs; a process that fails fails the test with its stderr. Both are
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
            [*command, str(i), *map(str, args)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
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
    for rc, _, err in outputs:
        assert rc == 0, err[-3000:]
    return [out for _, out, _ in outputs]
