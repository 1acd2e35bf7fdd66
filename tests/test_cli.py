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


def test_help_lists_every_command_with_its_line(capsys):
    from gans_jax import cli

    cli.main(["gans-jax", "--help"])
    out = capsys.readouterr().out
    for name, (_, summary) in cli.COMMANDS.items():
        assert f"  {name}" in out and summary in out
    with pytest.raises(SystemExit) as info:
        cli.main(["gans-jax"])
    assert "usage: gans-jax" in str(info.value) and cli.COMMANDS["metrics"][1] in str(info.value)


def test_train_help_lists_flags_experiments_and_config_sections(capsys):
    from gans_jax import cli, configs

    with pytest.raises(SystemExit) as info:
        cli.main(["gans-jax", "train", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    flags = [line.split(":")[0].strip() for line in out.splitlines() if line.startswith("  --")]
    assert len(flags) > 4 and "--config" in flags and "--workdir" in flags
    assert (
        "stylegan2_ffhq[:1024|512|256|128|64|32|paper256|cifar|tiny]" in out
        and "gan_ring8[:<variant>|epochs=<N>]" in out
    )
    assert "StyleGAN2 config F on FFHQ 1024x1024" in out
    assert len(configs.list_experiments()) == len(os.listdir(os.path.join(ROOT, "experiments"))) - (
        "__pycache__" in os.listdir(os.path.join(ROOT, "experiments"))
    )
    for section in configs.default_config():
        assert f"  {section} " in out
    assert "gans-jax configs NAME" in out and "gans-jax describe" in out


def test_configs_prints_an_experiments_full_config(capsys):
    from gans_jax import cli, configs

    cli.main(["gans-jax", "configs", "stylegan2_ffhq:tiny", "--config.train.steps=5"])
    printed = json.loads(capsys.readouterr().out)
    expected = configs.load_config(
        os.path.join(ROOT, "experiments", "stylegan2_ffhq.py:tiny"), {"train.steps": 5}
    )
    assert printed == json.loads(expected.to_json_best_effort())
    assert printed["model"]["resolution"] == 16 and printed["eval"]["fid_batch_size"] == 64
    cli.main(["gans-jax", "configs"])
    assert "pix2pix_facades[:tiny]" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no experiment named 'nope'"):
        cli.main(["gans-jax", "configs", "nope"])


def test_a_bug_in_get_config_shows_its_own_traceback(tmp_path):
    """Not 'bad command-line flag: missing': the experiment file's exception, with a traceback that
    points into the file."""
    import traceback

    from gans_jax import cli

    path = tmp_path / "buggy.py"
    path.write_text(
        "from gans_jax.configs import default_config\n\n\ndef get_config(arg=None):\n"
        "    c = default_config()\n    return c.model.missing\n"
    )
    with pytest.raises(AttributeError, match="missing") as info:
        cli.main(["gans-jax", "train", f"--config={path}", f"--workdir={tmp_path / 'run'}"])
    frames = traceback.extract_tb(info.tb)
    assert any(f.filename == str(path) and f.name == "get_config" and f.lineno == 6 for f in frames)
    if sys.version_info >= (3, 11):
        assert "get_config" in "".join(info.value.__notes__)
    with pytest.raises(SystemExit, match="bad command-line flag: 'stepz'"):  # a bad flag stays one line
        cli.main(
            [
                "gans-jax",
                "train",
                "--config=experiments/gan_ring8.py",
                "--workdir=x",
                "--config.train.stepz=3",
            ]
        )
