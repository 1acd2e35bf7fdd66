"""The training driver's guards."""

import jax
import pytest

from gans_jax.training.loop import train
from tests.helpers import experiment_config as load_config


def test_divergence_stops_with_the_step_named(tmp_path):
    config = load_config("gan_ring8", **{"train.steps": 40, "train.log_every": 10})
    config.optim.d.lr = 1e30
    config.optim.g.lr = 1e30
    with pytest.raises(FloatingPointError, match=r"diverged at step 10: non-finite"):
        train(config, str(tmp_path), progress=False, devices=jax.devices()[:1])


def test_conditional_model_needs_labelled_data(tmp_path):
    config = load_config("gan_ring8", **{"model.conditional": True})
    with pytest.raises(ValueError, match="no labels"):
        train(config, str(tmp_path), progress=False, devices=jax.devices()[:1])
