"""Checkpoints move between device counts and survive a corrupt latest step.

A run trained on 8 devices samples on 1 (gans-jax sample, a subprocess with one CPU device); a run
trained on 1 resumes on 8 and then on 4 and ends within 1e-5 of the uninterrupted run. A latest
checkpoint with a truncated array file or without its metadata file is set aside as <step>.corrupt
and training resumes from the one before, ending bit-identical to an uninterrupted run."""

import glob
import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from gans_jax import builders, commands
from gans_jax.training import loop
from gans_jax.training.checkpoint import CheckpointRestoreError, CorruptCheckpointWarning
from tests.helpers import ONE_DEVICE, ROOT, experiment_config

# The ring of 8 Gaussians with small MLPs (batch norm in G: its statistics span the devices).
RING = {
    "model.g_hidden": (32, 32), "model.d_hidden": (32, 32), "train.batch_size": 32, "train.log_every": 5,
    "train.checkpoint_every": 10, "train.sample_every": 1000, "eval.num_samples": 100,
}  # fmt: skip


def _ring(steps, **overrides):
    return experiment_config("gan_ring8", **{**RING, **overrides, "train.steps": steps})


def _logged_steps(workdir):
    return [json.loads(line)["step"] for line in open(os.path.join(workdir, "metrics.jsonl"))]


def _max_abs_difference(a, b):
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))) for x, y in pairs)


def test_run_trained_on_8_devices_samples_on_1(tmp_path):
    """The checkpoint holds arrays replicated over 8 devices; `gans-jax sample` on a 1-device machine
    reads them onto its device (Orbax alone refuses: "Topology mismatch detected")."""
    state, _ = loop.train(_ring(10), str(tmp_path), progress=False)
    assert len(state.step.sharding.device_set) == 8
    out = tmp_path / "one_device.npy"
    env = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}  # one CPU device
    sample = ["sample", f"--workdir={tmp_path}", "--num=50", f"--out={out}"]
    result = subprocess.run(
        [sys.executable, "-m", "gans_jax.cli", *sample], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    here, _ = commands.generate_samples(str(tmp_path), 50)  # this process, 8 devices
    np.testing.assert_allclose(np.load(out), here, atol=1e-6)


def test_run_trained_on_1_device_resumes_on_8_then_4(tmp_path):
    """Steps 1-5 on 1 device, 6-10 on 8, 11-15 on 4: the same global batch and data order, so the end
    state is the uninterrupted 1-device run's up to the order of the cross-device float32 sums.

    Measured 2.5e-6 (limit 1e-5). Other batches (a resume under another seed) differ by 3.9e-4 after a
    single step. The rounding differences grow with the horizon, as in any chaotic training run, because
    Adam divides by sqrt(v) and so magnifies gradient entries that nearly cancel: after 1 step on 8
    devices the discriminator differs by 2.5e-7; with 10-step segments (1 -> 8 -> 4 over 30 steps) it
    differs by 4.6e-5. A run resumed on the same device count is bit-identical (the corrupt-checkpoint
    tests below)."""
    ring = {"train.checkpoint_every": 5}
    reference, _ = loop.train(_ring(15, **ring), str(tmp_path / "ref"), progress=False, devices=ONE_DEVICE)
    run = str(tmp_path / "run")
    loop.train(_ring(5, **ring), run, progress=False, devices=ONE_DEVICE)
    on_8, _ = loop.train(_ring(10, **ring), run, progress=False, devices=jax.devices())
    assert len(on_8.step.sharding.device_set) == 8
    on_4, _ = loop.train(_ring(15, **ring), run, progress=False, devices=jax.devices()[:4])
    assert int(on_4.step) == 15 and len(on_4.step.sharding.device_set) == 4
    difference = _max_abs_difference(reference, on_4)
    print(f"1 -> 8 -> 4 devices vs 1 device, 15 steps: max |difference| {difference:.3g}")
    assert difference <= 1e-5
    assert _logged_steps(run) == [5, 10, 15]


@pytest.fixture(scope="module")
def ring_runs(tmp_path_factory):
    """A 30-step run with checkpoints 10, 20, 30, and the uninterrupted 40-step run."""
    base = tmp_path_factory.mktemp("ring")
    loop.train(_ring(30), str(base / "run30"), progress=False, devices=ONE_DEVICE)
    reference, _ = loop.train(_ring(40), str(base / "run40"), progress=False, devices=ONE_DEVICE)
    return base / "run30", reference


def _truncate_largest_array_file(step_dir):
    files = [f for f in glob.glob(f"{step_dir}/state/**/d/*", recursive=True) if os.path.isfile(f)]
    largest = max(files, key=os.path.getsize)
    os.truncate(largest, os.path.getsize(largest) // 2)


def _remove_metadata(step_dir):
    os.remove(os.path.join(step_dir, "state", "_METADATA"))


@pytest.mark.parametrize("corrupt", [_truncate_largest_array_file, _remove_metadata])
def test_corrupt_latest_checkpoint_is_set_aside_and_training_resumes_from_the_one_before(
    ring_runs, tmp_path, corrupt
):
    run30, reference = ring_runs
    workdir = tmp_path / "run"
    shutil.copytree(run30, workdir)
    corrupt(workdir / "checkpoints" / "30")

    with pytest.warns(CorruptCheckpointWarning, match=r"step 30 .* does not restore .*using step 20"):
        _, _, read = builders.load_run(str(workdir))  # a reader falls back, and leaves the files be
    assert int(read.step) == 20 and (workdir / "checkpoints" / "30").is_dir()

    with pytest.warns(
        CorruptCheckpointWarning, match=r"step 30 .*using step 20 instead; moved to .*30\.corrupt"
    ):
        state, _ = loop.train(_ring(40), str(workdir), progress=False, devices=ONE_DEVICE)
    assert sorted(os.listdir(workdir / "checkpoints")) == ["20", "30", "30.corrupt", "40"]
    assert os.listdir(workdir / "checkpoints" / "30.corrupt")  # kept for a post-mortem, not deleted
    for a, b in zip(jax.tree.leaves(reference), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert _logged_steps(workdir) == list(range(5, 41, 5))  # steps 25 and 30 logged once


def test_no_readable_checkpoint_is_an_error_naming_each_step(ring_runs, tmp_path):
    run30, _ = ring_runs
    workdir = tmp_path / "run"
    shutil.copytree(run30, workdir)
    for step in (10, 20, 30):
        _remove_metadata(workdir / "checkpoints" / str(step))
    with pytest.raises(
        CheckpointRestoreError, match=r"no checkpoint .* restores \(step 30: .*; step 20: .*; step 10: "
    ):
        loop.train(_ring(40), str(workdir), progress=False, devices=ONE_DEVICE)
    assert sorted(os.listdir(workdir / "checkpoints")) == ["10", "20", "30"]  # nothing renamed
    with pytest.raises(FileNotFoundError, match=r"no checkpoint of step 15 .* has steps \[10, 20, 30\]"):
        builders.load_run(str(run30), step=15)
