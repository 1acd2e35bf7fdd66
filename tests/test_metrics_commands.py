"""``gans-jax stats`` and ``gans-jax fid`` on folders, zips and statistics files."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from gans_jax.metrics import commands
from gans_jax.metrics.fid import frechet_distance, load_stats
from tests.helpers import ROOT
from tests.test_metrics_inception import _weights_path


@pytest.fixture(scope="module")
def image_dirs(tmp_path_factory):
    """Two folders of 6 small PNGs (one greyscale, one RGBA, one in a subfolder) and a zip of the second."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name, low, high in (("a", 0, 256), ("b", 60, 200)):
        (root / name / "sub").mkdir(parents=True)
        for i in range(6):
            img = rng.integers(low, high, (32, 32, 3), dtype=np.uint8)
            sub = "sub/" if i == 5 else ""
            Image.fromarray(img).save(root / name / f"{sub}{i:02d}.png")
        (root / name / ".hidden.png").write_bytes(b"not an image")  # skipped
    Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(root / "a" / "06_grey.png")
    Image.fromarray(rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)).save(root / "a" / "07_rgba.png")
    with zipfile.ZipFile(root / "b.zip", "w") as z:
        for dirpath, _, files in os.walk(root / "b"):
            for f in files:
                full = os.path.join(dirpath, f)
                z.write(full, os.path.relpath(full, root / "b"))
    return root


def _cli(*args, cache):
    """The installed command in a fresh process (one device), converted weights cached in ``cache``."""
    env = {
        **os.environ,
        "XLA_FLAGS": "",
        "JAX_PLATFORMS": "cpu",
        "GANS_JAX_INCEPTION_WEIGHTS": _weights_path(),
        "GANS_JAX_CACHE": str(cache),
    }
    command = [sys.executable, "-m", "gans_jax.cli", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_stats_then_fid_end_to_end(image_dirs, tmp_path):
    out = tmp_path / "a.npz"
    _cli("stats", str(image_dirs / "a"), "-o", str(out), "--batch_size", "4", "--noprogress", cache=tmp_path)
    mu, sigma, num = load_stats(out)
    assert mu.shape == (2048,) and sigma.shape == (2048, 2048) and num == 8
    result = _cli(
        "fid", str(out), str(image_dirs / "b.zip"), "--batch_size", "4", "--noprogress", cache=tmp_path
    )
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["num_a"] == 8 and line["num_b"] == 6 and line["resize"] == "legacy_tf"
    assert line["fid"] > 0


def test_folder_and_its_zip_agree(image_dirs, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GANS_JAX_INCEPTION_WEIGHTS", _weights_path())
    monkeypatch.setenv("GANS_JAX_CACHE", str(tmp_path))  # the converted weights go here, not to ~/.cache
    commands.fid_main(["gans-jax fid", str(image_dirs / "b"), str(image_dirs / "b.zip"), "--batch_size", "8",
                       "--resize", "clean", "--noprogress"])  # fmt: skip
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["num_a"] == line["num_b"] == 6 and line["resize"] == "clean"
    assert abs(line["fid"]) < 1e-3  # the same features: zero up to round-off on rank-5 covariances


def test_fid_of_two_stats_files(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for name, shift in (("x", 0.0), ("y", 0.5)):
        np.savez(tmp_path / f"{name}.npz", mu=np.full(4, shift), sigma=np.eye(4), num_samples=10)
    commands.fid_main(["gans-jax fid", str(tmp_path / "x.npz"), str(tmp_path / "y.npz")])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["fid"] == pytest.approx(frechet_distance(np.zeros(4), np.eye(4), np.full(4, 0.5), np.eye(4)))
    assert line["num_a"] == line["num_b"] == 10
    del rng


def test_user_errors(image_dirs, tmp_path):
    with pytest.raises(NotImplementedError, match="TFDS"):
        commands.image_source("cifar10")
    with pytest.raises(SystemExit, match="cifar10"):  # not prepared on this machine
        commands.stats_main(["gans-jax stats", "cifar10:train", "-o", str(tmp_path / "c.npz")])
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.json").write_text("{}")
    with pytest.raises(SystemExit, match="training workdir"):
        commands.fid_main(["gans-jax fid", str(workdir), str(image_dirs / "a")])
    with pytest.raises(SystemExit, match="does not exist"):
        commands.fid_main(["gans-jax fid", str(tmp_path / "missing"), str(image_dirs / "a")])
    with pytest.raises(SystemExit, match="--output"):
        commands.stats_main(["gans-jax stats", str(image_dirs / "a")])
    with pytest.raises(SystemExit, match="expected 2 path"):
        commands.fid_main(["gans-jax fid", str(image_dirs / "a")])
    np.savez(tmp_path / "s.npz", mu=np.zeros(2), sigma=np.eye(2), resize="legacy_tf")
    with pytest.raises(SystemExit, match="'legacy_tf'-resized"):
        commands.fid_main(
            ["gans-jax fid", str(tmp_path / "s.npz"), str(tmp_path / "s.npz"), "--resize", "clean"]
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no images found"):
        next(commands.iter_image_batches(empty, 4, progress=False))


def test_batches_group_images_by_size(tmp_path):
    rng = np.random.default_rng(2)
    for i, (h, w) in enumerate([(8, 8), (8, 12), (8, 8), (8, 8), (8, 12)]):
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    shapes = [b.shape for b in commands.iter_image_batches(tmp_path, 2, progress=False)]
    assert shapes == [(2, 8, 8, 3), (2, 8, 12, 3), (1, 8, 8, 3)]
    assert [b.shape[0] for b in commands.iter_image_batches(tmp_path, 8, num=3, progress=False)] == [2, 1]


def test_fid_of_a_training_workdir_samples_its_generator(image_dirs, tmp_path, capsys):
    from gans_jax.training import loop
    from tests.helpers import ONE_DEVICE, experiment_config

    workdir = tmp_path / "digits"
    config = experiment_config("dcgan_digits", **{"train.steps": 2, "train.log_every": 1})
    loop.train(config, str(workdir), progress=False, devices=ONE_DEVICE)
    args = ["gans-jax fid", str(workdir), str(image_dirs / "a"), "--num=8", "--noprogress"]
    commands.fid_main([*args, f"--weights={_weights_path()}"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["num_a"] == 8 and result["num_b"] == 8 and np.isfinite(result["fid"])


def test_stats_of_a_tfds_dataset(tmp_path, capsys):
    import tensorflow_datasets as tfds

    out = tmp_path / "cifar.npz"
    with tfds.testing.mock_data(num_examples=6):
        commands.stats_main(
            ["gans-jax stats", "cifar10:test", "-o", str(out), "--num=6", "--noprogress",
             f"--weights={_weights_path()}"]
        )  # fmt: skip
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["num_samples"] == 6
    mu, sigma, num = load_stats(out)
    assert mu.shape == (2048,) and sigma.shape == (2048, 2048) and num == 6


def test_metrics_against_other_data(tmp_path, monkeypatch, capsys):
    """``gans-jax metrics --data``: a folder (or zip) of images or a TFDS dataset in place of the run's
    data, read at the run's resolution and channel count (a stand-in extractor keeps this fast)."""
    from gans_jax.metrics import features
    from gans_jax.training import loop
    from tests.helpers import ONE_DEVICE, experiment_config
    from tests.test_metrics_evaluate import PixelFeatures

    seen = []

    class Recording(PixelFeatures):
        def __call__(self, images):
            seen.append(images.shape[1:])
            return super().__call__(images)

    monkeypatch.setattr(features, "InceptionExtractor", lambda *args, **kwargs: Recording())
    workdir = tmp_path / "digits"
    config = experiment_config("dcgan_digits", **{"train.steps": 2, "train.log_every": 1})
    loop.train(config, str(workdir), progress=False, devices=ONE_DEVICE)
    rng, real = np.random.default_rng(3), tmp_path / "real"
    real.mkdir()
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(real / f"{i}.png")
    base = ["gans-jax metrics", f"--workdir={workdir}", "--batch_size=50"]
    commands.metrics_main([*base, "--metrics=fid1k,fid1k_full,kid1k", f"--data={real}"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["data"] == str(real) and result["fid1k_num_real"] == result["fid1k_full_num_real"] == 12
    assert result["fid1k_num_fake"] == 1000 and np.isfinite(result["kid1k"])
    assert set(seen) == {(16, 16, 1)}  # the colour files read as the run's 16x16 greyscale images
    assert json.loads((workdir / "metrics-2-real.json").read_text())["fid1k"] == result["fid1k"]

    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        commands.metrics_main([*base, "--metrics=fid1k_full", "--data=tfds:mnist:test"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["data"] == "tfds:mnist:test" and result["fid1k_full_num_real"] == 6
    with pytest.raises(SystemExit, match="does not exist"):
        commands.metrics_main([*base, f"--data={tmp_path / 'missing'}"])  # before anything is computed
    with pytest.raises(SystemExit, match="reads no real images"):
        commands.metrics_main([*base, "--metrics=is1k_full"])
