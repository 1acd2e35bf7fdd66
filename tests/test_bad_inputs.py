"""Every expected user error of the command line (issue 16): exit status 2, one line ``gans-jax: ...``
naming the bad value, no traceback, and the workdir left as it was. Each case runs ``gans-jax`` in
process (the same ``main`` the console script calls); two run it as a real process for the exit code."""

import os
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest
from PIL import Image

from gans_jax.cli import main
from gans_jax.training.loop import train
from tests.helpers import ONE_DEVICE, ROOT, experiment_config

EXPERIMENTS = os.path.join(ROOT, "experiments")


def png(path, size=(16, 16), mode="RGB", value=128):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, value // 2, 0)).save(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A finished tiny run (ring of 8, 2 steps), a workdir holding something else, image folders
    (empty, mixed channels, a corrupt file), a text file and bad latents."""
    root = tmp_path_factory.mktemp("bad_inputs")
    overrides = {"train.steps": 2, "train.log_every": 1, "eval.num_samples": 50}
    train(experiment_config("gan_ring8", **overrides), str(root / "run"), progress=False, devices=ONE_DEVICE)
    (root / "empty").mkdir()
    (root / "not_a_run").mkdir()
    (root / "not_a_run" / "notes.txt").write_text("not a workdir")
    png(str(root / "mixed" / "a.png"), mode="L")
    png(str(root / "mixed" / "b.png"))
    png(str(root / "corrupt" / "good.png"))
    (root / "corrupt" / "bad.png").write_bytes(Image.new("RGB", (8, 8)).tobytes()[:50])
    (root / "notes.txt").write_text("hello")
    np.save(root / "latents_3d.npy", np.zeros((4, 3, 3), np.float32))
    return root


def snapshot(path):
    """Every file under ``path`` with its size and modification time (None if it does not exist)."""
    if not os.path.exists(path):
        return None
    out = {}
    for dirpath, _, names in os.walk(path):
        for name in names:
            full = os.path.join(dirpath, name)
            stat = os.stat(full)
            out[os.path.relpath(full, path)] = (stat.st_size, stat.st_mtime_ns)
    return out


# (id, argv after "gans-jax" with placeholders: {root} the files, {exp} experiments/, {ring} a ring-of-8
# run in {root}/w1, {folder} a 16x16 folder DCGAN run in {root}/w1 reading data.path=; the workdir that
# must not change, or None; text the one line must contain)
CASES = [
    # train: configs validated before anything is built or written
    ("batch_size_0", "train {ring} --config.train.batch_size=0",
     "{root}/w1", "train.batch_size=0 is out of range: expected an integer >= 1"),
    ("batch_size_negative", "train {ring} --config.train.batch_size=-4",
     "{root}/w1", "train.batch_size=-4"),
    ("resolution_48", "train --config={exp}/dcgan_digits.py --workdir={root}/w1 --config.model.resolution=48",
     "{root}/w1", "resolution must be a power of two in [16, 1024], got 48"),
    ("unknown_preset", "train --config={exp}/dcgan_digits.py:nosuchpreset --workdir={root}/w1",
     "{root}/w1", "'nosuchpreset'"),
    ("unknown_preset_named", "train --config={exp}/stylegan2_ffhq.py:huge --workdir={root}/w1",
     "{root}/w1", "unknown preset 'huge'; expected one of ('1024', '512'"),
    ("missing_config_file", "train --config={exp}/nope.py --workdir={root}/w1", "{root}/w1", "nope.py"),
    ("ema_decay_above_1", "train {ring} --config.train.ema_decay=1.5",
     "{root}/w1", "train.ema_decay=1.5 is out of range: expected a number in [0, 1)"),
    ("negative_lr", "train {ring} --config.optim.g.lr=-0.1",
     "{root}/w1", "optim.g.lr=-0.1"),
    ("unknown_key", "train {ring} --config.train.stepz=3",
     "{root}/w1", "stepz"),
    ("wrong_type", "train {ring} --config.train.steps=many",
     "{root}/w1", "many"),
    ("n_critic_split",
     "train --config={exp}/wgan_cifar10.py:digits --workdir={root}/w1 --config.train.batch_size=32",
     "{root}/w1", "batch_size=32 does not split into train.n_critic=5"),
    ("devices", "train {ring} --config.train.batch_size=12",
     "{root}/w1", "train.batch_size=12 is not divisible by the 8 devices"),
    ("no_labels", "train {ring} --config.model.conditional=True --config.train.batch_size=96",
     "{root}/w1", "model.conditional is set but data.source='toy' has no labels"),
    ("missing_folder", "train {folder}{root}/nowhere",
     "{root}/w1", "nowhere' does not exist"),
    ("empty_folder", "train {folder}{root}/empty",
     "{root}/w1", "no images found in"),
    ("mixed_channels", "train {folder}{root}/mixed",
     "{root}/w1", "mix channel counts"),
    ("corrupt_image", "train {folder}{root}/corrupt",
     "{root}/w1", "cannot read image"),
    ("other_model_on_resume",
     "train --config={exp}/gan_ring8.py --workdir={root}/run --config.model.g_hidden=(8,) "
     "--config.train.batch_size=96",
     "{root}/run", "holds a checkpoint of a different model: config.model"),
    # sample
    ("sample_num_0", "sample --workdir={root}/run --num=0 --out={root}/s.npy", "{root}/run", "--num=0"),
    ("sample_labels_word", "sample --workdir={root}/run --labels=seven --out={root}/s.npy", "{root}/run",
     "--labels given but the model is unconditional"),
    ("sample_not_a_workdir", "sample --workdir={root}/not_a_run --out={root}/s.npy", "{root}/not_a_run",
     "is not a training workdir"),
    ("sample_missing_workdir", "sample --workdir={root}/nowhere --out={root}/s.npy", None, "nowhere"),
    ("sample_no_workdir_flag", "sample --out={root}/s.npy", None, "--workdir is required"),
    ("sample_no_such_step", "sample --workdir={root}/run --step=999 --out={root}/s.npy", "{root}/run",
     "no checkpoint of step 999"),
    ("sample_bad_latents", "sample --workdir={root}/run --latents={root}/latents_3d.npy --out={root}/s.npy",
     "{root}/run", "has shape (4, 3, 3)"),
    ("sample_style_flag", "sample --workdir={root}/run --truncation-psi=0.5 --out={root}/s.npy", "{root}/run",
     "need a StyleGAN run"),
    # interpolate
    ("interpolate_steps_1", "interpolate --workdir={root}/run --steps=1 --out={root}/i.png", "{root}/run",
     "--steps=1"),
    ("interpolate_points", "interpolate --workdir={root}/run --out={root}/i.png", "{root}/run",
     "interpolation strips need an image generator"),
    # stats, fid, metrics
    ("stats_missing", "stats {root}/nowhere -o {root}/st.npz", None, "nowhere"),
    ("stats_empty", "stats {root}/empty -o {root}/st.npz", "{root}/empty", "no images"),
    ("stats_two_paths", "stats {root}/empty {root}/mixed -o {root}/st.npz", None,
     "expected 1 path(s), got 2"),
    ("fid_one_path", "fid {root}/empty", None, "expected 2 path(s), got 1"),
    ("metrics_unknown", "metrics --workdir={root}/run --metrics=fid50x", "{root}/run",
     "unknown metric 'fid50x'"),
    ("metrics_not_a_workdir", "metrics --workdir={root}/not_a_run --metrics=fid1k", "{root}/not_a_run",
     "is not a training workdir"),
    # translate
    ("translate_not_i2i", "translate --workdir={root}/run --input={root}/mixed --out={root}/t", "{root}/run",
     "not an image-to-image model"),
    ("translate_batch_0", "translate --workdir={root}/run --input={root}/mixed --out={root}/t --batch_size=0",
     "{root}/run", "--batch_size=0"),
    # convert
    ("convert_unknown_file", "convert {root}/notes.txt --workdir={root}/c", "{root}/c",
     "not a checkpoint of a supported kind"),
    ("convert_missing", "convert {root}/nowhere.pkl --workdir={root}/c", "{root}/c",
     "nowhere.pkl does not exist"),
    ("convert_unknown_kind", "convert {root}/notes.txt --workdir={root}/c --kind=stylegan9", "{root}/c",
     "unknown checkpoint kind 'stylegan9'"),
    ("unknown_command", "trian --config=x", None, "unknown command 'trian'"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_user_error_is_one_line_exit_2_and_leaves_the_workdir(files, case, capsys):
    _, command, workdir, expected = case
    ring = f"--config={EXPERIMENTS}/gan_ring8.py --workdir={files}/w1"
    folder = f"--config={EXPERIMENTS}/dcgan_folder.py:16 --workdir={files}/w1 --config.data.path="
    fill = lambda text: text.format(root=files, exp=EXPERIMENTS, ring=ring, folder=folder)
    watched = fill(workdir) if workdir else None
    before = snapshot(watched) if watched else None
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning is not the error line (e.g. a corrupt file skipped)
        with pytest.raises(SystemExit) as info:
            main(["gans-jax", *fill(command).split()])
    assert info.value.code == 2, info.value
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    if case[0] != "unknown_command":  # that one prints the usage after its line
        assert len(lines) == 1, err
    assert lines[0].startswith("gans-jax: ") and fill(expected) in lines[0], lines[0]
    assert "Traceback" not in err
    if watched:
        assert snapshot(watched) == before, f"{watched} changed"


def test_as_a_process_exit_status_2_without_traceback_and_debug_shows_it(files):
    env = {**os.environ, "PYTHONPATH": ROOT}
    command = [sys.executable, "-m", "gans_jax.cli", "train", f"--config={EXPERIMENTS}/gan_ring8.py"]
    command += [f"--workdir={files}/p", "--config.train.batch_size=0"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("gans-jax: train.batch_size=0")
    assert not os.path.exists(f"{files}/p")
    result = subprocess.run([*command, "--debug"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1 and "Traceback" in result.stderr and "ValueError" in result.stderr


def test_every_experiment_refuses_an_unknown_preset():
    from gans_jax import configs

    for name, _, _ in configs.list_experiments():
        with pytest.raises(ValueError, match="nosuchpreset"):
            configs.load_config(os.path.join(EXPERIMENTS, f"{name}.py:nosuchpreset"))


def test_zip_entries_outside_the_archive_are_skipped_and_tiny_images_warned(tmp_path):
    """A zip is read in memory: entries with '..' or absolute paths are skipped with a warning; images
    upscaled more than 4x get one warning naming the smallest."""
    from gans_jax.data.folder import ImageFolderSource

    png(str(tmp_path / "img.png"), size=(20, 20))
    png(str(tmp_path / "dot.png"), size=(1, 1))
    data = (tmp_path / "img.png").read_bytes()
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok/a.png", data)
        z.writestr("../escape.png", data)
        z.writestr("/abs/b.png", data)
        z.writestr("ok/c/../../d.png", data)
    with pytest.warns(UserWarning, match=r"skipping 3 archive entries with absolute paths or '\.\.'"):
        source = ImageFolderSource(archive, 16, labels_from_subfolders=False)
    assert source.names == ["ok/a.png"]
    source.close()
    assert not (tmp_path.parent / "escape.png").exists()
    tiny = r"1 of 2 images .* far smaller than the resolution 16 .*dot.png, 1x1"
    with pytest.warns(UserWarning, match=tiny):
        ImageFolderSource(tmp_path, 16, labels_from_subfolders=False, on_corrupt="error").close()
