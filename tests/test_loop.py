"""The training driver's guards."""

import jax
import pytest

from gans_jax.training.loop import train
from tests.helpers import experiment_config as load_config


def test_divergence_stops_with_the_step_named(tmp_path):
    config = load_config("gan_ring8", **{"train.steps": 40, "train.log_every": 10})
    config.optim.d.lr = 1e30
    config.optim.g.lr = 1e30
    # the first bad step is named exactly, though the host only looks every 10 steps
    with pytest.raises(FloatingPointError, match=r"diverged at step 1: non-finite.*checkpoint: step None"):
        train(config, str(tmp_path), progress=False, devices=jax.devices()[:1])
    assert not (tmp_path / "checkpoints" / "10").exists()


def test_conditional_model_needs_labelled_data(tmp_path):
    config = load_config("gan_ring8", **{"model.conditional": True})
    with pytest.raises(ValueError, match="no labels"):
        train(config, str(tmp_path), progress=False, devices=jax.devices()[:1])


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"objective.name": "relativistic"}, "'relativistic'"),
        ({"model.name": "stylegan9"}, "'stylegan9'"),
        ({"data.source": "folder", "data.path": "/no/such/folder"}, "/no/such/folder"),
        ({"data.source": "imagenet"}, "'imagenet'"),
    ],
)
def test_bad_config_fails_before_touching_the_workdir(tmp_path, overrides, message):
    config = load_config("dcgan_digits", **overrides)
    workdir = tmp_path / "run"
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        train(config, str(workdir), progress=False, devices=jax.devices()[:1])
    assert not (workdir / "config.json").exists()


def test_empty_data_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    config = load_config("dcgan_folder", **{"data.path": str(tmp_path / "empty"), "model.resolution": 16})
    with pytest.raises(ValueError, match="empty"):
        train(config, str(tmp_path / "run"), progress=False, devices=jax.devices()[:1])


def test_training_time_fid_is_logged(tmp_path):
    """eval.fid_every: FID of the EMA generator against reference statistics, in metrics.jsonl."""
    import json

    import numpy as np

    from gans_jax.metrics.fid import FeatureStats, save_stats
    from tests.test_metrics_inception import _weights_path

    rng = np.random.default_rng(0)
    save_stats(tmp_path / "ref.npz", FeatureStats(2048).update(rng.normal(size=(64, 2048))))
    config = load_config(
        "dcgan_digits",
        **{
            "train.steps": 4, "train.log_every": 2, "eval.fid_every": 4, "eval.fid_num": 8,
            "eval.fid_stats": str(tmp_path / "ref.npz"), "eval.fid_weights": _weights_path(),
        },
    )  # fmt: skip
    train(config, str(tmp_path / "run"), progress=False, devices=jax.devices()[:1])
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    fid = [r for r in records if "fid" in r]
    assert [r["step"] for r in fid] == [4] and np.isfinite(fid[0]["fid"]) and fid[0]["fid_num_samples"] == 8


def test_fid_every_needs_reference_statistics(tmp_path):
    config = load_config("dcgan_digits", **{"eval.fid_every": 10})
    with pytest.raises(ValueError, match="eval.fid_stats"):
        train(config, str(tmp_path / "run"), progress=False, devices=jax.devices()[:1])
    assert not (tmp_path / "run" / "config.json").exists()


def test_fsdp_run_on_8_devices_checkpoints_and_resumes(tmp_path):
    """train.shard_params: parameters sharded over the data mesh through training, checkpoint and resume."""
    overrides = {"train.steps": 2, "train.batch_size": 16, "train.shard_params": True, "train.log_every": 1}
    config = load_config("dcgan_digits", **overrides)
    state, _ = train(config, str(tmp_path), progress=False, devices=jax.devices())
    kernels = [x for x in jax.tree.leaves(state.d_params) if x.size >= 2**14]
    assert kernels and all(not k.sharding.is_fully_replicated for k in kernels)
    config = load_config("dcgan_digits", **{**overrides, "train.steps": 3})
    resumed, _ = train(config, str(tmp_path), progress=False, devices=jax.devices())
    assert int(resumed.step) == 3
