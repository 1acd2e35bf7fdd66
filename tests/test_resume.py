"""Checkpoints: a run killed with SIGKILL and rerun ends bit-identical to an uninterrupted run;
a workdir of another model is refused untouched; the divergence guard restores the last good step."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import builders
from gans_jax.training import loop
from tests.helpers import ONE_DEVICE, ROOT, experiment_config

STEPS = 300
COMMAND = [
    sys.executable, "-m", "gans_jax.cli", "train", "--config", "experiments/dcgan_digits.py",
    f"--config.train.steps={STEPS}", "--config.train.checkpoint_every=50", "--config.train.log_every=25",
    "--config.train.sample_every=1000", "--config.model.g_channels=16", "--config.model.d_channels=16",
    "--noprogress",
]  # fmt: skip
ENV = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}


def _train(workdir, **kwargs):
    return subprocess.run(
        [*COMMAND, f"--workdir={workdir}"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600,
        **kwargs,
    )  # fmt: skip


def _steps(workdir):
    ckpt = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(ckpt):
        return []
    return sorted(int(d) for d in os.listdir(ckpt) if d.isdigit())


def test_kill_9_and_resume_is_bit_identical(tmp_path):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    result = _train(reference)
    assert result.returncode == 0, result.stderr[-3000:]

    process = subprocess.Popen(
        [*COMMAND, f"--workdir={resumed}"], cwd=ROOT, env=ENV,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline and not [s for s in _steps(resumed) if s >= 100]:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = _steps(resumed)
    assert killed_at and max(killed_at) < STEPS, f"the run was not interrupted mid-way: {killed_at}"

    result = _train(resumed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _steps(resumed)[-1] == STEPS
    logged = [json.loads(line)["step"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1] == STEPS

    _, _, a = builders.load_run(str(reference))
    _, _, b = builders.load_run(str(resumed))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_checkpoint_of_another_model_is_refused_untouched(tmp_path):
    config = experiment_config("gan_ring8", **{"train.steps": 4, "train.log_every": 2})
    loop.train(config, str(tmp_path), progress=False, devices=ONE_DEVICE)
    before = {p: p.read_bytes() for p in [tmp_path / "config.json", tmp_path / "metrics.jsonl"]}
    config.model.g_hidden = (64,)
    with pytest.raises(ValueError, match=r"different model: config.model"):
        loop.train(config, str(tmp_path), progress=False, devices=ONE_DEVICE)
    assert {p: p.read_bytes() for p in before} == before
    assert _steps(tmp_path) == [4]


def test_divergence_restores_last_good_checkpoint_with_lower_learning_rate(tmp_path, monkeypatch):
    """A step that blows up once (at step 25, full learning rate) is undone: the run restores step 20,
    halves the learning rates and finishes; without retries the run stops naming the step."""
    build = builders.build_train_step

    def exploding(config, gan, axis_name=None):
        step = build(config, gan, axis_name)

        def wrapped(state, batch):
            state, metrics = step(state, batch)
            factor = state.g_opt_state[1].hyperparams["step_size"]
            blow_up = (state.step == 25) & (factor == 1.0)
            metrics = {**metrics, "g_loss": jnp.where(blow_up, jnp.nan, metrics["g_loss"])}
            return state, metrics

        return wrapped

    monkeypatch.setattr(builders, "build_train_step", exploding)
    overrides = {"train.steps": 40, "train.log_every": 10, "train.checkpoint_every": 10}
    config = experiment_config("gan_ring8", **overrides, **{"train.nonfinite_retries": 1})
    state, _ = loop.train(config, str(tmp_path / "retry"), progress=False, devices=ONE_DEVICE)
    assert int(state.step) == 40
    assert float(state.g_opt_state[1].hyperparams["step_size"]) == 0.5
    logged = [json.loads(line) for line in (tmp_path / "retry" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [10, 20, 30, 40]
    assert all(np.isfinite(r["g_loss"]) for r in logged)

    config = experiment_config("gan_ring8", **overrides)
    with pytest.raises(loop.DivergenceError, match="step 25.*last good checkpoint: step 20"):
        loop.train(config, str(tmp_path / "stop"), progress=False, devices=ONE_DEVICE)
    assert _steps(tmp_path / "stop") == [10, 20]


def test_batch_size_must_divide_over_devices(tmp_path):
    config = experiment_config("gan_ring8", **{"train.batch_size": 12})
    with pytest.raises(ValueError, match="batch_size=12 is not divisible by the 8 devices"):
        loop.train(config, str(tmp_path), progress=False)
    assert not (tmp_path / "config.json").exists()
