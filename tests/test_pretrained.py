"""Converted checkpoints as (gan, state) and as workdirs, through a stand-in converter of this module
(the real ones, per official format, have their own parity tests): shapes are checked leaf by leaf, the
workdir samples like a trained run (given latents included) and fine-tunes with train.init_from."""

import json
import os

import jax
import numpy as np
import pytest

from gans_jax import builders, configs, pretrained
from gans_jax.cli import main
from gans_jax.training.loop import train
from tests.helpers import ONE_DEVICE, experiment_config

MAGIC = b"stand-in checkpoint\n"


def toy_config():
    config = experiment_config("dcgan_digits")
    config.model.update(g_channels=8, d_channels=8, latent_dim=8)
    return config


def detect(path):
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return "stand-in" if f.read(len(MAGIC)) == MAGIC else None
    return None


def convert(path, kind):
    """The file holds an npz after MAGIC: the generator's and discriminator's variables by path."""
    with open(path, "rb") as f:
        f.read(len(MAGIC))
        arrays = dict(np.load(f))
    nested = pretrained._unflatten(arrays)
    return pretrained.Converted(
        kind=kind,
        config=toy_config(),
        sample_shape=(16, 16, 1),
        num_classes=10,
        generator=nested["generator"],
        discriminator=nested["discriminator"],
        ema=nested["generator"]["params"],
    )


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """A checkpoint of the stand-in kind: the variables of the toy DCGAN initialised from key 5."""
    monkeypatch.setitem(pretrained.CONVERTERS, "stand-in", __name__)
    config = toy_config()
    gan = builders.build_gan(config, (16, 16, 1), 10)
    state = builders.init_state(config, gan, jax.random.PRNGKey(5), (16, 16, 1))
    variables = {
        "generator": {"params": state.g_params, **state.g_collections},
        "discriminator": {"params": state.d_params, **state.d_collections},
    }
    flat = {k: np.asarray(v) for k, v in pretrained._flatten(jax.device_get(variables)).items()}
    path = tmp_path / "model.ckpt"
    with open(path, "wb") as f:
        f.write(MAGIC)
        np.savez(f, **flat)
    return path, state


def leaves_equal(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_load_puts_every_converted_array_in_place(stand_in):
    path, expected = stand_in
    assert pretrained.detect(path) == "stand-in"
    gan, state = pretrained.load(path)
    leaves_equal(
        (state.g_params, state.d_params, state.ema_params),
        (expected.g_params, expected.d_params, expected.g_params),
    )
    leaves_equal(state.g_collections, expected.g_collections)
    z = gan.sample_latents(jax.random.PRNGKey(0), 4)
    np.testing.assert_array_equal(
        gan.generate(state, z, np.arange(4)), gan.generate(expected, z, np.arange(4), use_ema=False)
    )


def test_shapes_and_names_are_checked(stand_in):
    path, _ = stand_in
    converted = pretrained.convert(path)
    kernel = converted.generator["params"]["Dense_0"]["kernel"]
    converted.generator["params"]["Dense_0"]["kernel"] = kernel[:-1]
    with pytest.raises(
        pretrained.ConversionError,
        match=r"generator params Dense_0/kernel has shape \(39, 256\), the network's is \(40, 256\)",
    ):
        pretrained.assemble(converted)
    converted = pretrained.convert(path)
    del converted.discriminator["params"]["Conv_0"]
    with pytest.raises(
        pretrained.ConversionError,
        match=r"discriminator params do not match .*: not converted \['Conv_0/kernel'\]",
    ):
        pretrained.assemble(converted)
    converted = pretrained.convert(path)
    converted.discriminator["params"]["extra_layer"] = {"kernel": np.zeros(3)}
    with pytest.raises(pretrained.ConversionError, match=r"no such variable \['extra_layer/kernel'\]"):
        pretrained.assemble(converted)


def test_unknown_files_and_kinds_are_refused(tmp_path, stand_in):
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(
        pretrained.ConversionError, match="not a checkpoint of a supported kind; expected one of"
    ):
        pretrained.detect(other)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pretrained.convert(tmp_path / "missing.pkl")
    with pytest.raises(pretrained.ConversionError, match="unknown checkpoint kind 'stylegan9'"):
        pretrained.convert(stand_in[0], "stylegan9")


def test_convert_command_writes_a_workdir_that_samples_given_latents(stand_in, tmp_path, capsys):
    path, expected = stand_in
    workdir = tmp_path / "converted"
    main(["gans-jax", "convert", str(path), f"--workdir={workdir}"])
    assert "converted stand-in" in capsys.readouterr().out
    run = json.loads((workdir / "run.json").read_text())
    assert run["kind"] == "stand-in" and run["sample_shape"] == [16, 16, 1] and run["num_classes"] == 10
    config, gan, state = builders.load_run(str(workdir))
    assert config.model.g_channels == 8
    leaves_equal(state.g_params, expected.g_params)

    z = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (5, 8)))
    np.save(tmp_path / "z.npy", z)
    out = tmp_path / "images.npy"
    main(
        [
            "gans-jax",
            "sample",
            f"--workdir={workdir}",
            f"--latents={tmp_path / 'z.npy'}",
            "--labels=3",
            f"--out={out}",
        ]
    )
    want = gan.generate(state, z, np.full(5, 3))
    np.testing.assert_array_equal(np.load(out), np.asarray(want))
    with pytest.raises(SystemExit, match=r"has shape \(8, 5\); the model takes \(N, 8\)"):
        np.save(tmp_path / "bad.npy", z.T)
        main(
            [
                "gans-jax",
                "sample",
                f"--workdir={workdir}",
                f"--latents={tmp_path / 'bad.npy'}",
                f"--out={out}",
            ]
        )
    with pytest.raises(SystemExit, match="already holds checkpoints"):
        main(["gans-jax", "convert", str(path), f"--workdir={workdir}"])


def test_fine_tuning_starts_from_the_converted_networks(stand_in, tmp_path):
    path, expected = stand_in
    workdir = tmp_path / "converted"
    pretrained.write_workdir(pretrained.convert(path), *pretrained.load(path), str(workdir))
    config = toy_config()
    config.train.update(steps=1, log_every=1, sample_every=1, checkpoint_every=1, init_from=str(workdir))
    for player in ("g", "d"):
        config.optim[player].lr = 0.0  # the step leaves the networks as they came
    config.eval.num_samples = 20
    state, _ = train(config, str(tmp_path / "tuned"), progress=False, devices=ONE_DEVICE)
    leaves_equal((state.g_params, state.d_params), (expected.g_params, expected.d_params))
    assert int(state.step) == 1 and int(state.g_opt_state[0][0].count) == 1  # fresh optimiser, one update
    config.model.g_channels = 16
    config.train.init_from = str(workdir)
    with pytest.raises(
        ValueError,
        match=r"g_params\['BatchNorm_0'\]\['bias'\] is \(16,\), this experiment's has shape \(32,\)",
    ):
        train(config, str(tmp_path / "other"), progress=False, devices=ONE_DEVICE)
    assert configs.default_config().train.init_from == ""
