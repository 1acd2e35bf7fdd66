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
