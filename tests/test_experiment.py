"""Config loading and the config -> library builders."""

import os

import optax
import pytest

from gans_jax import experiment
from tests.helpers import ROOT, experiment_config


def test_overrides_apply_and_unknown_keys_are_refused():
    config = experiment_config("dcgan_digits", **{"train.steps": 7, "model.resolution": 32})
    assert config.train.steps == 7 and config.model.resolution == 32
    with pytest.raises(KeyError, match="stepz"):
        experiment_config("dcgan_digits", **{"train.stepz": 7})
    with pytest.raises(FileNotFoundError, match="nope.py"):
        experiment.load_config(os.path.join(ROOT, "experiments", "nope.py"))


def test_builders_refuse_unknown_names():
    with pytest.raises(ValueError, match="'lamb'"):
        experiment.build_optimizer({"name": "lamb", "lr": 1e-3}, 10)
    with pytest.raises(ValueError, match="'exponential'"):
        experiment.build_optimizer({"name": "adam", "lr": 1e-3, "schedule": "exponential"}, 10)
    with pytest.raises(ValueError, match="'stylegan9'"):
        experiment.build_networks({"name": "stylegan9"}, (2,), None)


def test_linear_schedule_decays_to_zero():
    """SNGAN's ResNet runs: the learning rate falls linearly from lr to 0 over the run."""
    tx = experiment.build_optimizer({"name": "sgd", "lr": 2.0, "schedule": "linear"}, 4)
    params, grads = {"w": 0.0}, {"w": 1.0}
    state, steps = tx.init(params), []
    for _ in range(5):
        updates, state = tx.update(grads, state, params)
        steps.append(-float(updates["w"]))
    assert steps == pytest.approx([2.0, 1.5, 1.0, 0.5, 0.0])


def test_weight_clipping_from_config_clips():
    tx = experiment.build_optimizer({"name": "rmsprop", "lr": 1.0, "clip": 0.01}, 10)
    params = {"w": optax.tree.zeros_like({"w": 0.0})["w"] + 0.5}
    updates, _ = tx.update(params, tx.init(params), params)
    assert abs(float(optax.apply_updates(params, updates)["w"])) <= 0.01


def test_gan_from_config_is_conditional_only_when_asked():
    config = experiment_config("dcgan_digits")
    assert experiment.build_gan(config, (16, 16, 1), 10).num_classes == 10
    config.model.conditional = False
    assert experiment.build_gan(config, (16, 16, 1), 10).num_classes is None
