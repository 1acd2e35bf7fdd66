"""Checkpoints: a run killed with SIGKILL, or stopped with SIGTERM, and rerun ends bit-identical to an
uninterrupted run, with the same log lines; a workdir of another model is refused untouched; the
divergence guard restores the last good step."""

import glob
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import builders
from gans_jax.training import loop
from gans_jax.training.preemption import EXIT_PREEMPTED
from tests.helpers import ONE_DEVICE, ROOT, experiment_config

STEPS = 300
COMMAND = [
    sys.executable, "-m", "gans_jax.cli", "train", "--config", "experiments/dcgan_digits.py",
    f"--config.train.steps={STEPS}", "--config.train.checkpoint_every=100", "--config.train.log_every=10",
    "--config.train.sample_every=1000", "--config.model.g_channels=16", "--config.model.d_channels=16",
    "--noprogress",
]  # fmt: skip
ENV = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}


def _train(workdir, **kwargs):
    return subprocess.run(
        [*COMMAND, f"--workdir={workdir}"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600,
        **kwargs,
    )  # fmt: skip


def _start(workdir, **kwargs):
    return subprocess.Popen([*COMMAND, f"--workdir={workdir}"], cwd=ROOT, env=ENV, **kwargs)


def _steps(workdir):
    ckpt = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(ckpt):
        return []
    return sorted(int(d) for d in os.listdir(ckpt) if d.isdigit())


def _logged(workdir):
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path).read().splitlines() if line.endswith("}")]


def _last_logged(workdir):
    return max([r["step"] for r in _logged(workdir)], default=0)


def _without_rate(records):
    return [{k: v for k, v in r.items() if k != "steps_per_s"} for r in records]


def _tensorboard_steps(workdir, tag="d_loss"):
    """The steps of ``tag`` TensorBoard shows: event files read in name order, and a purge event (a
    SessionLog START at step s) hiding the events before it at steps >= s, as TensorBoard does."""
    from tensorboardX.proto import event_pb2

    shown = []
    for path in sorted(glob.glob(os.path.join(workdir, "tensorboard", "events.out.tfevents.*"))):
        data, i = open(path, "rb").read(), 0
        while i < len(data):  # TFRecord: length (8 bytes), its CRC (4), payload, payload CRC (4)
            (n,) = struct.unpack("<Q", data[i : i + 8])
            event = event_pb2.Event.FromString(data[i + 12 : i + 12 + n])
            i += 12 + n + 4
            if event.session_log.status == event_pb2.SessionLog.START:
                shown = [s for s in shown if s < event.step]
            shown += [event.step for v in event.summary.value if v.tag == tag]
    return shown


def _assert_same_parameters(a, b):
    _, _, a = builders.load_run(str(a))
    _, _, b = builders.load_run(str(b))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of COMMAND."""
    workdir = tmp_path_factory.mktemp("reference")
    result = _train(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_kill_9_and_resume_is_bit_identical(reference, tmp_path):
    """Killed after logging steps past its last checkpoint (step 100), the rerun drops those log lines
    (metrics.jsonl, TensorBoard) and logs them again: one line a step, the uninterrupted run's."""
    resumed = tmp_path / "resumed"
    process = _start(resumed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not (
        _steps(resumed) and [r["step"] for r in _logged(resumed)][-1] >= 130
    ):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at, logged = _steps(resumed), [r["step"] for r in _logged(resumed)]
    assert killed_at and max(killed_at) < STEPS, f"the run was not interrupted mid-way: {killed_at}"
    assert logged[-1] > max(killed_at), f"nothing logged after the last checkpoint: {logged}, {killed_at}"

    result = _train(resumed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _steps(resumed)[-1] == STEPS
    assert _without_rate(_logged(resumed)) == _without_rate(_logged(reference))  # no step twice
    expected = list(range(10, STEPS + 1, 10))
    assert _tensorboard_steps(resumed) == _tensorboard_steps(reference) == expected
    _assert_same_parameters(reference, resumed)


def test_sigterm_checkpoints_and_exits_then_resumes_bit_identical(reference, tmp_path):
    """SIGTERM (a preemptible VM, SLURM) after step 100: the run finishes its step, checkpoints it,
    says so and exits with status 75 within seconds; the rerun ends bit-identical with the same log."""
    resumed = tmp_path / "resumed"
    process = _start(resumed, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not _steps(resumed):
        time.sleep(0.02)
    sent = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    seconds = time.perf_counter() - sent
    assert process.returncode == EXIT_PREEMPTED == 75, err[-3000:]
    match = re.search(r"gans-jax: preempted at step (\d+); checkpoint written, rerun the same command", err)
    assert match, err[-3000:]
    step = int(match.group(1))
    assert 100 <= step < STEPS and max(_steps(resumed)) == step
    assert seconds < 30, f"{seconds:.1f} s from SIGTERM to exit"
    print(f"SIGTERM at step ~{step}: exit {process.returncode} after {seconds:.2f} s")

    result = _train(resumed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _without_rate(_logged(resumed)) == _without_rate(_logged(reference))
    _assert_same_parameters(reference, resumed)


def test_checkpoint_of_another_model_is_refused_untouched(tmp_path):
    config = experiment_config("gan_ring8", **{"train.steps": 4, "train.log_every": 2})
    loop.train(config, str(tmp_path), progress=False, devices=ONE_DEVICE)
    before = {p: p.read_bytes() for p in [tmp_path / "config.json", tmp_path / "metrics.jsonl"]}
    config.model.g_hidden = (64,)
    with pytest.raises(ValueError, match=r"different model: config.model"):
        loop.train(config, str(tmp_path), progress=False, devices=ONE_DEVICE)
    assert {p: p.read_bytes() for p in before} == before
    assert _steps(tmp_path) == [4]


def test_divergence_restores_last_good_checkpoint_with_lower_learning_rate(tmp_path):
    """A step that blows up once (at step 25, full learning rate) is undone: the run restores step 20,
    halves the learning rates and finishes; without retries the run stops naming the step."""

    def exploding(step):
        def wrapped(state, batch):
            state, metrics = step(state, batch)
            factor = state.g_opt_state[1].hyperparams["step_size"]
            blow_up = (state.step == 25) & (factor == 1.0)
            metrics = {**metrics, "g_loss": jnp.where(blow_up, jnp.nan, metrics["g_loss"])}
            return state, metrics

        return wrapped

    overrides = {"train.steps": 40, "train.log_every": 10, "train.checkpoint_every": 10}
    config = experiment_config("gan_ring8", **overrides, **{"train.nonfinite_retries": 1})
    state, _ = loop.train(
        config, str(tmp_path / "retry"), progress=False, devices=ONE_DEVICE, wrap_step=exploding
    )
    assert int(state.step) == 40
    assert float(state.g_opt_state[1].hyperparams["step_size"]) == 0.5
    logged = [json.loads(line) for line in (tmp_path / "retry" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [10, 20, 30, 40]
    assert all(np.isfinite(r["g_loss"]) for r in logged)

    config = experiment_config("gan_ring8", **overrides)
    with pytest.raises(loop.DivergenceError, match="step 25.*last good checkpoint: step 20"):
        loop.train(config, str(tmp_path / "stop"), progress=False, devices=ONE_DEVICE, wrap_step=exploding)
    assert _steps(tmp_path / "stop") == [10, 20]


def test_batch_size_must_divide_over_devices(tmp_path):
    config = experiment_config("gan_ring8", **{"train.batch_size": 12})
    with pytest.raises(ValueError, match="batch_size=12 is not divisible by the 8 devices"):
        loop.train(config, str(tmp_path), progress=False)
    assert not (tmp_path / "config.json").exists()
