"""Sampling tools of style generators: truncation in W, the style-mixing grid, interpolation in W,
noise control, and their command-line parsing."""

import jax
import numpy as np
import pytest

from gans_jax import style_sampling
from gans_jax.cli_flags import _underscored
from gans_jax.commands import _split_pair_flag
from tests.test_stylegan2 import small_gan


@pytest.fixture(scope="module")
def gan_and_state():
    gan = small_gan()
    state = gan.init_state(jax.random.PRNGKey(0), (16, 16, 1))
    # noise strengths start at 0: give them a value so that noise modes show
    params = jax.tree_util.tree_map_with_path(
        lambda path, x: x + 0.5 if "strength" in jax.tree_util.keystr(path) else x, state.g_params
    )
    return gan, state.replace(g_params=params, ema_params=params)


def test_truncation_psi_zero_collapses_to_w_avg_and_noise_modes(gan_and_state):
    gan, state = gan_and_state
    z = style_sampling.seed_latents(gan, [1, 2, 3])
    ws = style_sampling.mapping(gan, state, z, psi=0.0)
    w_avg = state.g_collections["w_avg"]["mapping_network"]["w_avg"]
    np.testing.assert_allclose(ws, np.broadcast_to(w_avg, ws.shape), atol=1e-6)
    const = style_sampling.synthesis(gan, state, ws)
    np.testing.assert_allclose(const, style_sampling.synthesis(gan, state, ws), atol=0)  # deterministic
    random = style_sampling.synthesis(gan, state, ws, noise="random", key=jax.random.PRNGKey(5))
    assert np.abs(np.asarray(random) - np.asarray(const)).max() > 1e-4
    with pytest.raises(ValueError, match="PRNG key"):
        style_sampling.synthesis(gan, state, ws, noise="random")


def test_style_mixing_grid_takes_coarse_styles_from_the_column_seed(gan_and_state):
    gan, state = gan_and_state
    rows, cols = [10, 11], [20, 21, 22]
    num_ws = style_sampling.mapping(gan, state, style_sampling.seed_latents(gan, rows)).shape[1]
    grid = style_sampling.style_mixing_grid(gan, state, rows, cols, mix_layers=2)
    assert grid.shape == (3 * 4, 16, 16, 1)
    np.testing.assert_allclose(grid[0], 1.0)  # the blank corner
    every = style_sampling.style_mixing_grid(gan, state, rows, cols, mix_layers=num_ws)
    ws_cols = style_sampling.mapping(gan, state, style_sampling.seed_latents(gan, cols))
    col_images = np.asarray(style_sampling.synthesis(gan, state, ws_cols))
    np.testing.assert_allclose(every[1:4], col_images, atol=1e-5)  # header row = column seeds
    np.testing.assert_allclose(every[5], col_images[0], atol=1e-5)  # all styles from the column
    assert np.abs(grid[5] - col_images[0]).max() > 1e-4  # only the coarse ones
    with pytest.raises(ValueError, match="mix_layers"):
        style_sampling.style_mixing_grid(gan, state, rows, cols, mix_layers=num_ws + 1)


def test_interpolation_in_w_ends_at_both_latents(gan_and_state):
    gan, state = gan_and_state
    z0, z1 = style_sampling.seed_latents(gan, [1]), style_sampling.seed_latents(gan, [2])
    strip = style_sampling.interpolate_w(gan, state, z0, z1, 5)
    assert strip.shape == (5, 16, 16, 1)
    for end, z in ((0, z0), (4, z1)):
        want = style_sampling.synthesis(gan, state, style_sampling.mapping(gan, state, z))
        np.testing.assert_allclose(strip[end], want[0], atol=1e-5)


def test_flag_spelling():
    assert _underscored("--truncation-psi=0.7") == "--truncation_psi=0.7"
    assert _underscored("--config.data.path=a-b") == "--config.data.path=a-b"
    assert _split_pair_flag(["x", "--style-mix", "1,2", "3", "--out", "g.png"], "style_mix") == [
        "x",
        "--style_mix=1,2:3",
        "--out",
        "g.png",
    ]
    with pytest.raises(SystemExit, match="two seed lists"):
        _split_pair_flag(["x", "--style-mix", "1,2"], "style_mix")


def test_sample_and_interpolate_commands_on_a_stylegan2_workdir(tmp_path):
    """The CLI on a StyleGAN2 workdir (config, run.json and a checkpoint of the initial state)."""
    import json

    from PIL import Image

    from gans_jax import builders
    from gans_jax.commands import interpolate_main, sample_main
    from gans_jax.training.checkpoint import Checkpointer
    from tests.helpers import experiment_config

    config = experiment_config("stylegan2_ffhq:tiny", **{"model.channel_max": 16, "model.w_dim": 16})
    shape = (config.model.resolution, config.model.resolution, 1)
    gan = builders.build_gan(config, shape, None)
    state = builders.init_state(config, gan, jax.random.PRNGKey(0), shape)
    (tmp_path / "config.json").write_text(config.to_json_best_effort())
    (tmp_path / "run.json").write_text(json.dumps({"sample_shape": list(shape), "num_classes": None}))
    checkpointer = Checkpointer(str(tmp_path / "checkpoints"))
    checkpointer.save(0, state, {"iterator": {}})
    checkpointer.close()

    run = ["gans-jax sample", f"--workdir={tmp_path}"]
    sample_main([*run, "--style-mix", "1,2", "3,4,5", "--mix-layers", "2", f"--out={tmp_path / 'mix.png'}"])
    side = shape[0] + 1
    assert np.asarray(Image.open(tmp_path / "mix.png")).shape[:2] == (3 * side + 1, 4 * side + 1)
    sample_main([*run, "--num=4", "--truncation-psi=0", f"--out={tmp_path / 'psi0.npy'}"])
    psi0 = np.load(tmp_path / "psi0.npy")
    np.testing.assert_allclose(psi0, np.broadcast_to(psi0[:1], psi0.shape), atol=1e-5)  # all = w_avg's image
    interpolate_main(["gans-jax interpolate", f"--workdir={tmp_path}", "--num=2", "--steps=3",
                      "--noise-mode=random", f"--out={tmp_path / 'strip.png'}"])  # fmt: skip
    assert np.asarray(Image.open(tmp_path / "strip.png")).shape[:2] == (2 * side + 1, 3 * side + 1)
