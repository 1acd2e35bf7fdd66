"""Preemption: SIGINT/SIGTERM finish the step, checkpoint it and stop with status 75; the rerun resumes
exactly. In one process through Python's signal handlers, in two through jax's preemption sync point
(after jax.distributed.initialize SIGTERM reaches jaxlib's notifier, not Python). The single-process
`gans-jax train` subprocess test, timed from SIGTERM to exit, is in test_resume.py."""

import json
import re
import signal

import jax
import numpy as np
import pytest

from gans_jax.training import loop
from gans_jax.training.preemption import EXIT_PREEMPTED, Preempted
from tests.helpers import ONE_DEVICE, experiment_config, signalling_make_dataset, two_processes

RING = {"model.g_hidden": (32, 32), "model.d_hidden": (32, 32), "train.batch_size": 32}


def _ring_config(steps):
    overrides = {"train.steps": steps, "train.log_every": 5, "train.checkpoint_every": 10}
    return experiment_config("gan_ring8", **RING, **overrides, **{"eval.num_samples": 100})


def _logged(workdir):
    return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def _without_rate(records):
    return [{k: v for k, v in r.items() if k != "steps_per_s"} for r in records]


def test_sigint_checkpoints_the_current_step_and_resumes_exactly(tmp_path, monkeypatch, capsys):
    """Ctrl-C as batch 13 is drawn: step 13 is finished and checkpointed (checkpoints every 10), the
    run stops with status 75 naming it, the handlers are put back, and the rerun ends bit-identical
    to an uninterrupted run, with the same metrics.jsonl (the means logged at step 15 span steps
    11-15 across the stop: the aggregate since step 10 is in the checkpoint)."""
    run = tmp_path / "run"
    reference, _ = loop.train(_ring_config(30), str(tmp_path / "ref"), progress=False, devices=ONE_DEVICE)

    monkeypatch.setattr(loop, "make_dataset", signalling_make_dataset(loop.make_dataset, 13, signal.SIGINT))
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(Preempted) as stopped:
        loop.train(_ring_config(30), str(run), progress=False, devices=ONE_DEVICE)
    assert stopped.value.step == 13 and stopped.value.code == EXIT_PREEMPTED == 75
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    err = capsys.readouterr().err
    assert "SIGINT received" in err
    assert "gans-jax: preempted at step 13; checkpoint written, rerun the same command to resume" in err
    assert sorted(int(p.name) for p in (run / "checkpoints").iterdir()) == [10, 13]
    assert [r["step"] for r in _logged(run)] == [5, 10]

    monkeypatch.undo()
    resumed, _ = loop.train(_ring_config(30), str(run), progress=False, devices=ONE_DEVICE)
    for a, b in zip(jax.tree.leaves(reference), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert _without_rate(_logged(run)) == _without_rate(_logged(tmp_path / "ref"))


# The ring of 8 Gaussians with small MLPs: 2 processes x 1 CPU device, 100 steps.
PAIR_STEPS = 100
PAIR_OVERRIDES = {
    **RING, "train.log_every": 10, "train.checkpoint_every": 50, "train.sample_every": 1000,
    "eval.num_samples": 100,
}  # fmt: skip
RESULT = r"RESULT process=\d of=2 step=(\d+) digest=(\w+)(?: restored=(\w+))?"


def _pair(workdir, options):
    args = [workdir, PAIR_STEPS, "gan_ring8", json.dumps(PAIR_OVERRIDES), json.dumps(options)]
    return two_processes("multiprocess_worker.py", *args, timeout=300)


def test_two_processes_agree_on_the_preemption_step_and_resume_exactly(tmp_path):
    """Process 1 alone gets SIGTERM (as one preempted host would) as it draws batch 10; through jax's
    preemption sync point both processes checkpoint the same step and exit with status 75 (the same
    two processes first train an uninterrupted reference). Rerun, the pair ends with the reference's
    parameters and log steps, and every process reads the final checkpoint back (builders.load_run,
    onto its own device) to the same digest."""
    reference, run = tmp_path / "reference", tmp_path / "run"
    sigterm = {"process": 1, "at": 10, "throttle": 0.1}  # time for the notice to reach process 0
    stopped = _pair(run, {"reference": str(reference), "sigterm": sigterm})
    steps, digests = set(), set()
    for rc, out, err in stopped:
        assert rc == EXIT_PREEMPTED, (rc, err[-3000:])
        ((done, digest, _),) = re.findall(RESULT, out)  # the reference run
        assert int(done) == PAIR_STEPS
        digests.add(digest)
        steps.add(int(re.search(r"PREEMPTED process=\d step=(\d+)", out).group(1)))
        assert re.search(r"gans-jax: preempted at step \d+; checkpoint written, rerun the same command", err)
    (step,) = steps  # the same step on both processes
    (digest,) = digests
    assert 10 <= step < PAIR_STEPS
    assert max(int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit()) == step

    resumed = []
    for rc, out, err in _pair(run, {"load_run": True}):
        assert rc == 0, err[-3000:]
        resumed.append(re.search(RESULT, out).groups())
    assert resumed == [(str(PAIR_STEPS), digest, digest)] * 2  # bit-identical, and read back so
    assert [r["step"] for r in _logged(run)] == [r["step"] for r in _logged(reference)]
    print(f"2-process preemption: SIGTERM at batch 10 of process 1; both checkpointed step {step}")
