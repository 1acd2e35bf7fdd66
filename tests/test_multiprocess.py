"""Two processes on one machine through jax.distributed (Gloo on CPU): the run completes, both agree
on the parameters, only process 0 writes logs, and the run resumes from its checkpoint."""

import json
import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_pair(workdir, steps, name, overrides):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": ROOT}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                os.path.join(ROOT, "tests", "multiprocess_worker.py"),
                str(port),
                str(i),
                str(workdir),
                str(steps),
                name,
                json.dumps(overrides),
            ],
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
            out, err = p.communicate(timeout=240)
            outputs.append((p.returncode, out, err))
    finally:
        for p in procs:  # SIGTERM is ignored after jax.distributed.initialize: kill hard
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    results = []
    for rc, out, err in outputs:
        assert rc == 0, err[-3000:]
        match = re.search(r"RESULT process=(\d) of=2 step=(\d+) digest=(\w+)", out)
        assert match, out + err[-2000:]
        results.append(match.groups())
    return results


# experiment -> config overrides of a short, cheap run (20 steps, then resumed to 30).
RUNS = {
    "gan_ring8": {},
    # BigGAN's recipe at its smallest: hinge, 2 D steps on split batches, orthogonal regularisation, EMA
    # (from step 5), spectral norm, conditional and cross-replica batch norm, self-attention, projection D.
    "biggan_imagenet:tiny": {
        "model.g_channels": 4,
        "model.d_channels": 4,
        "train.batch_size": 8,
        "train.ema_decay": 0.9,
        "train.ema_start": 5,
        "eval.num_samples": 20,
        "eval.standing_stats": 2,
        "eval.truncations": (1.0,),
    },
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_two_process_run_agrees_and_resumes(tmp_path, name):
    overrides = RUNS[name]
    first = _run_pair(tmp_path, 20, name, overrides)
    assert sorted(r[0] for r in first) == ["0", "1"]
    assert {r[1] for r in first} == {"20"}
    assert first[0][2] == first[1][2], "processes disagree on the parameters"
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4  # steps 5, 10, 15, 20 logged once: only process 0 writes

    resumed = _run_pair(tmp_path, 30, name, overrides)
    assert {r[1] for r in resumed} == {"30"} and resumed[0][2] == resumed[1][2]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 6  # resumed at 20, not 0
