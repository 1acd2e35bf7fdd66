"""Config loading, defaults and the config -> library builders (gans_jax.builders, models.registry,
optimizers)."""

import os

import jax.numpy as jnp
import optax
import pytest

from gans_jax import builders, configs, optimizers
from gans_jax.models import registry
from tests.helpers import ROOT, experiment_config


def test_overrides_apply_and_unknown_keys_are_refused():
    config = experiment_config("dcgan_digits", **{"train.steps": 7, "model.resolution": 32})
    assert config.train.steps == 7 and config.model.resolution == 32
    with pytest.raises(KeyError, match="stepz"):
        experiment_config("dcgan_digits", **{"train.stepz": 7})
    with pytest.raises(FileNotFoundError, match="nope.py"):
        configs.load_config(os.path.join(ROOT, "experiments", "nope.py"))


def test_builders_refuse_unknown_names():
    with pytest.raises(ValueError, match="'lamb'"):
        optimizers.build_optimizer({"name": "lamb", "lr": 1e-3}, 10)
    with pytest.raises(ValueError, match="'exponential'"):
        optimizers.build_optimizer({"name": "adam", "lr": 1e-3, "schedule": "exponential"}, 10)
    with pytest.raises(ValueError, match="'stylegan9'"):
        registry.build_networks({"name": "stylegan9"}, (2,), None)


def test_linear_schedule_decays_to_zero():
    """SNGAN's ResNet runs: the learning rate falls linearly from lr to 0 over the run."""
    tx = optimizers.build_optimizer({"name": "sgd", "lr": 2.0, "schedule": "linear"}, 4)
    params, grads = {"w": jnp.zeros(())}, {"w": jnp.ones(())}
    state, steps = tx.init(params), []
    for _ in range(5):
        updates, state = tx.update(grads, state, params)
        steps.append(-float(updates["w"]))
    assert steps == pytest.approx([2.0, 1.5, 1.0, 0.5, 0.0])


def test_weight_clipping_from_config_clips():
    tx = optimizers.build_optimizer({"name": "rmsprop", "lr": 1.0, "clip": 0.01}, 10)
    params = {"w": optax.tree.zeros_like({"w": 0.0})["w"] + 0.5}
    updates, _ = tx.update(params, tx.init(params), params)
    assert abs(float(optax.apply_updates(params, updates)["w"])) <= 0.01


def test_gan_from_config_is_conditional_only_when_asked():
    config = experiment_config("dcgan_digits")
    assert builders.build_gan(config, (16, 16, 1), 10).num_classes == 10
    config.model.conditional = False
    assert builders.build_gan(config, (16, 16, 1), 10).num_classes is None


def test_optimizer_defaults_live_in_configs():
    """An Adam spec without betas takes configs.adam's beta1 = 0.5 (DCGAN's), not optax's 0.9: with
    gradients +1 then -1, Adam's second bias-corrected step is lr (1 - b1) / (1 + b1) = lr / 3."""
    assert configs.optimizer_with_defaults({"name": "adam", "lr": 0.1}) == configs.adam(0.1)
    tx = optimizers.build_optimizer({"name": "adam", "lr": 1.0}, 10)
    params = {"w": jnp.zeros(())}
    state = tx.init(params)
    steps = []
    for g in (1.0, -1.0):
        updates, state = tx.update({"w": jnp.asarray(g)}, state, params)
        steps.append(float(updates["w"]))
    assert steps == pytest.approx([-1.0, 1.0 / 3.0], rel=1e-4)  # float32 bias corrections; b1 = 0.9: 0.053


def test_builders_read_keys_without_fallbacks():
    """A config missing a key fails naming it: the builders hold no defaults of their own."""
    config = experiment_config("dcgan_digits")
    model = config.model.to_dict()
    del model["minibatch_kernels"]
    config.model = model
    with pytest.raises(KeyError, match="minibatch_kernels"):
        builders.build_gan(config, (16, 16, 1), 10)


def test_registry_names_every_model_family():
    assert sorted(registry.NETWORKS) == sorted(
        ["mlp", "dcgan", "infogan", "sngan_cnn", "sngan_resnet", "biggan", "progressive", "stylegan",
         "stylegan2", "pix2pix", "cyclegan", "srgan", "r3gan"]
    )  # fmt: skip
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("dcgan")(registry.dcgan)


def test_saved_config_is_completed_with_new_defaults():
    """A config.json written before a key existed loads with that key's default; saved values,
    free-form sections and optimiser specs are kept as saved."""
    saved = configs.default_config().to_dict()
    del saved["eval"]["fid_batch_size"], saved["model"]["icnr"]
    saved["train"]["steps"] = 7
    saved["regularizers"] = {"r1": {"weight": 5.0, "every": 16}}
    saved["optim"]["d"] = {"name": "rmsprop", "lr": 5e-5, "b1": 0.9, "clip": 0.01}
    config = configs.with_defaults(saved)
    assert config.eval.fid_batch_size == 64 and config.model.icnr is False and config.train.steps == 7
    assert config.regularizers.to_dict() == {"r1": {"weight": 5.0, "every": 16}}
    assert config.optim.d.to_dict() == {"name": "rmsprop", "lr": 5e-5, "b1": 0.9, "clip": 0.01}
    assert configs.optimizer_with_defaults(config.optim.d)["decay"] == 0.99


def test_load_run_of_an_older_workdir(tmp_path):
    import json

    from gans_jax.training import loop
    from tests.helpers import ONE_DEVICE

    config = experiment_config("gan_ring8", **{"train.steps": 2, "train.log_every": 1})
    loop.train(config, str(tmp_path), progress=False, devices=ONE_DEVICE)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["eval"]["fid_batch_size"], saved["train"]["image_pool_size"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    loaded, gan, state = builders.load_run(str(tmp_path))
    assert loaded.eval.fid_batch_size == 64 and int(state.step) == 2 and gan.latent_shape == (2,)


def test_fid_batch_size_is_a_config_key():
    config = experiment_config("dcgan_digits", **{"eval.fid_batch_size": 16})
    assert config.eval.fid_batch_size == 16
