"""gans-jax sample / interpolate / describe on short trained runs."""

import json

import numpy as np
import pytest
from PIL import Image

from gans_jax import commands
from gans_jax.training import loop
from tests.helpers import ONE_DEVICE, experiment_config


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("digits")
    config = experiment_config("dcgan_digits", **{"train.steps": 4, "train.log_every": 2})
    loop.train(config, str(workdir), progress=False, devices=ONE_DEVICE)
    return str(workdir)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ring")
    config = experiment_config("gan_ring8", **{"train.steps": 4, "train.log_every": 2})
    loop.train(config, str(workdir), progress=False, devices=ONE_DEVICE)
    return str(workdir)


def test_sample_is_deterministic_and_writes_every_format(digits_run, tmp_path):
    a, labels = commands.generate_samples(digits_run, 6, seed=3, labels=["1", "7"])
    b, _ = commands.generate_samples(digits_run, 6, seed=3, labels=["1", "7"])
    c, _ = commands.generate_samples(digits_run, 6, seed=4, labels=["1", "7"])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert list(np.asarray(labels)) == [1, 7, 1, 7, 1, 7]
    assert a.shape == (6, 16, 16, 1)

    commands.sample_main(["gans-jax sample", f"--workdir={digits_run}", "--num=5", f"--out={tmp_path}/s.npy"])
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), commands.generate_samples(digits_run, 5)[0])
    commands.sample_main(["gans-jax sample", f"--workdir={digits_run}", "--num=4", f"--out={tmp_path}/g.png"])
    assert Image.open(tmp_path / "g.png").size == (2 * 17 + 1, 2 * 17 + 1)
    commands.sample_main(["gans-jax sample", f"--workdir={digits_run}", "--num=3", f"--out={tmp_path}/dir"])
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["000000.png", "000001.png", "000002.png"]


def test_sample_truncation_and_label_errors(digits_run):
    wide, _ = commands.generate_samples(digits_run, 4, seed=0)
    narrow, _ = commands.generate_samples(digits_run, 4, seed=0, truncation=0.5)
    assert not np.array_equal(wide, narrow)
    with pytest.raises(SystemExit, match=r"labels \[12\]"):
        commands.generate_samples(digits_run, 4, labels=["12"])


def test_sample_two_dimensional_data(ring_run, tmp_path):
    commands.sample_main(["gans-jax sample", f"--workdir={ring_run}", "--num=100", f"--out={tmp_path}/p.npy"])
    points = np.load(tmp_path / "p.npy")
    assert points.shape == (100, 2) and points.dtype == np.float32
    with pytest.raises(SystemExit, match="unconditional"):
        commands.generate_samples(ring_run, 4, labels=["1"])


def test_interpolate_writes_slerp_and_lerp_rows(digits_run, tmp_path):
    out = tmp_path / "strip.png"
    commands.interpolate_main(
        ["gans-jax interpolate", f"--workdir={digits_run}", "--num=2", "--steps=5", f"--out={out}"]
    )
    assert Image.open(out).size == (5 * 17 + 1, 4 * 17 + 1)  # 2 pairs x (slerp, lerp) rows


def test_interpolation_endpoints_and_slerp_norm():
    import jax

    z0, z1 = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 8))
    rows = np.asarray(commands.interpolation_latents(z0, z1, 5)).reshape(3, 2, 5, 8)
    for kind in range(2):
        np.testing.assert_allclose(rows[:, kind, 0], z0, atol=1e-5)
        np.testing.assert_allclose(rows[:, kind, -1], z1, atol=1e-5)
    linear_mid = (np.asarray(z0) + np.asarray(z1)) / 2
    np.testing.assert_allclose(rows[:, 1, 2], linear_mid, atol=1e-6)
    # the spherical path keeps a larger norm than the chord between two random Gaussians
    assert np.all(np.linalg.norm(rows[:, 0, 2], axis=-1) > np.linalg.norm(linear_mid, axis=-1))


def test_describe_reports_parameters_and_flops(capsys):
    config = experiment_config("dcgan_digits")
    commands.describe_main(["gans-jax describe", "--config=experiments/dcgan_digits.py", "--flops"])
    out = capsys.readouterr().out
    info = json.loads(out.strip().splitlines()[-1])
    assert "Generator" in out and "Discriminator" in out
    assert info["generator_params"] > 10_000 and info["discriminator_params"] > 10_000
    assert info["step_flops"] > 1e6
    assert config.model.resolution == 16


def test_describe_works_from_shapes_without_data(capsys):
    """StyleGAN2 config F at 1024x1024 with no data.path: the parameter counts of its docstring (30.4M G,
    29.0M D) from abstract shapes, no dataset opened and no step compiled (no FLOPs without --flops)."""
    commands.describe_main(["gans-jax describe", "--config=experiments/stylegan2_ffhq.py"])
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["generator_params"] == 30_370_060 and info["discriminator_params"] == 29_012_513
    assert info["sample_shape"] == [1024, 1024, 3] and "step_flops" not in info


def test_describe_asks_for_what_the_config_cannot_tell(capsys):
    with pytest.raises(SystemExit, match="--sample-shape"):
        commands.describe_main(["gans-jax describe", "--config=experiments/dcgan_folder.py:32"])
    commands.describe_main(
        ["gans-jax describe", "--config=experiments/dcgan_folder.py:32", "--sample-shape=32,32,1"]
    )
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["sample_shape"] == [32, 32, 1] and info["num_classes"] is None
    pix2pix = commands.describe(experiment_config("pix2pix_facades:tiny"))
    assert pix2pix["condition_shape"] == pix2pix["sample_shape"] == [32, 32, 1]


def test_seed_lists_and_ranges():
    assert commands.parse_seeds("0-3,7,9-10") == [0, 1, 2, 3, 7, 9, 10]
    assert commands.parse_seeds("5") == [5]
    for bad in ("3-1", "a", "", "1,,2", "-2"):
        with pytest.raises(SystemExit, match="bad seed list"):
            commands.parse_seeds(bad)


def test_sample_seeds_draw_one_image_per_seed(digits_run, tmp_path):
    """``--seeds``: seed s's image depends on s alone (the same in any list), its latent is the one
    style_sampling.seed_latents draws for s, and a folder output names the files by seed."""
    from gans_jax import builders, style_sampling

    both, labels = commands.generate_samples(digits_run, None, seeds=[3, 7])
    alone, label = commands.generate_samples(digits_run, None, seeds=[7])
    np.testing.assert_allclose(both[1], alone[0], atol=1e-5)
    assert int(labels[1]) == int(label[0]) and both.shape == (2, 16, 16, 1)
    _, gan, _ = builders.load_run(digits_run)
    z, _ = commands.seed_inputs(gan, [3, 7])
    np.testing.assert_array_equal(z, style_sampling.seed_latents(gan, [3, 7]))
    commands.sample_main(
        ["gans-jax sample", f"--workdir={digits_run}", "--seeds=0-2,5", f"--out={tmp_path}/s"]
    )
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [f"seed000{i}.png" for i in (0, 1, 2, 5)]
    with pytest.raises(SystemExit, match="without --num"):
        commands.sample_main(
            ["gans-jax sample", f"--workdir={digits_run}", "--seeds=0-2", "--num=3", "--out=x.png"]
        )
