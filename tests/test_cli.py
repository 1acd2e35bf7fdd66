"""The command line and experiment files: overrides, refusal of unknown keys, outputs in the workdir."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, tmp_path):
    env = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}  # one device in the subprocess
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_cli_train_writes_workdir(tmp_path):
    workdir = tmp_path / "run"
    result = run(
        [
            "-m",
            "gans_jax.cli",
            "train",
            "--config",
            "experiments/gan_ring8.py",
            "--workdir",
            str(workdir),
            "--config.train.steps=20",
            "--config.train.log_every=10",
            "--config.train.sample_every=10",
            "--noprogress",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads((workdir / "config.json").read_text())
    assert config["train"]["steps"] == 20
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [10, 20]
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["step"] == 20 and "modes_captured" in metrics
    assert (workdir / "samples.png").exists() and (workdir / "samples" / "step_0000010.png").exists()
    events = list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 100  # scalars and sample images, no TensorFlow needed


def test_experiment_file_runs_as_script(tmp_path):
    result = run(
        [
            "experiments/gan_ring8.py",
            f"--workdir={tmp_path}",
            "--config.train.steps=4",
            "--config.train.log_every=2",
            "--noprogress",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "metrics.json").read_text())["step"] == 4


@pytest.mark.parametrize(
    "override,message",
    [("--config.train.stepz=3", "stepz"), ("--config.train.steps=many", "many")],
)
def test_cli_refuses_unknown_keys_and_bad_values(tmp_path, override, message):
    result = run(
        [
            "-m",
            "gans_jax.cli",
            "train",
            "--config",
            "experiments/gan_ring8.py",
            "--workdir",
            str(tmp_path),
            override,
        ],
        tmp_path,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_cli_usage_without_command(tmp_path):
    result = run(["-m", "gans_jax.cli"], tmp_path)
    assert result.returncode != 0 and "usage: gans-jax" in result.stderr
