"""Progressive GAN (Karras et al. 2018): fade-in, Table 2 sizes, growing, stage driver, resume, learning."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax import regularizers as regs
from gans_jax.layers.resample import mean_pool, nearest_upsample
from gans_jax.metrics.digits_classifier import images_to_digits_8x8
from gans_jax.metrics.fid import frechet_distance
from gans_jax.models.progressive import Discriminator, Generator, channels
from gans_jax.training import progressive as pg
from tests.helpers import ONE_DEVICE, experiment_config

SMALL = dict(channel_base=128, channel_max=16)


def _init(module, x):
    return jax.jit(module.init)(jax.random.PRNGKey(0), x)  # one program, not hundreds of op-by-op ones


def _set_alpha(variables, alpha):
    return {**variables, "progress": {"alpha": jnp.float32(alpha)}}


def _num_params(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_generator_fade_in_endpoints():
    z = jax.random.normal(jax.random.PRNGKey(1), (3, 8))
    big = _init(Generator(16, out_channels=2, **SMALL), z)
    g8 = Generator(8, out_channels=2, **SMALL)
    small_params = pg.graft(_init(g8, z)["params"], big["params"])  # stage 8 = stage 16's shared layers
    small = jax.jit(g8.apply)(_set_alpha({"params": small_params}, 1.0), z)
    g16 = Generator(16, out_channels=2, **SMALL)
    g16_apply = jax.jit(g16.apply)
    at0 = g16_apply(_set_alpha(big, 0.0), z)
    np.testing.assert_allclose(
        at0, nearest_upsample(small), rtol=1e-6, atol=1e-6
    )  # previous stage, upsampled
    at1 = g16_apply(_set_alpha(big, 1.0), z)
    # alpha = 1: the new block alone -- the previous toRGB no longer matters.
    other = {**big["params"], "to_rgb_8": jax.tree.map(lambda w: w + 5.0, big["params"]["to_rgb_8"])}
    np.testing.assert_array_equal(at1, g16_apply(_set_alpha({**big, "params": other}, 1.0), z))
    assert not np.allclose(at1, at0, atol=1e-3)
    half = g16_apply(_set_alpha(big, 0.25), z)
    np.testing.assert_allclose(half, 0.75 * at0 + 0.25 * at1, rtol=1e-5, atol=1e-5)
    assert "alpha" in big["progress"] and float(big["progress"]["alpha"]) == 1.0  # default: grown network


def test_discriminator_fade_in_endpoints():
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 16, 16, 2))
    big = _init(Discriminator(16, **SMALL), x)
    d8 = Discriminator(8, **SMALL)
    small_params = pg.graft(_init(d8, mean_pool(x))["params"], big["params"])
    small = jax.jit(d8.apply)(_set_alpha({"params": small_params}, 1.0), mean_pool(x))
    d16 = Discriminator(16, **SMALL)
    d16_apply = jax.jit(d16.apply)
    at0 = d16_apply(_set_alpha(big, 0.0), x)
    assert at0.shape == (4,)
    np.testing.assert_allclose(at0, small, rtol=1e-5, atol=1e-5)  # previous stage on pooled images
    at1 = d16_apply(_set_alpha(big, 1.0), x)
    other = {**big["params"], "from_rgb_8": jax.tree.map(lambda w: w * 3.0, big["params"]["from_rgb_8"])}
    np.testing.assert_array_equal(at1, d16_apply(_set_alpha({**big, "params": other}, 1.0), x))
    assert not np.allclose(at1, at0, atol=1e-4)


def test_table2_channels_and_23_1M_parameters_at_1024():
    assert [channels(2**k) for k in range(2, 11)] == [512, 512, 512, 512, 256, 128, 64, 32, 16]
    g = jax.eval_shape(lambda: _init(Generator(1024), jnp.zeros((2, 512))))["params"]
    d = jax.eval_shape(lambda: _init(Discriminator(1024), jnp.zeros((2, 1024, 1024, 3))))["params"]
    # Table 2 counts the final network; ours also holds the 512x512 toRGB/fromRGB for the fade (99 and 128).
    assert round(_num_params(g) / 1e6, 1) == 23.1 and round(_num_params(d) / 1e6, 1) == 23.1
    assert _num_params(g) - _num_params(g["to_rgb_512"]) == 23_079_187
    assert _num_params(d) - _num_params(d["from_rgb_512"]) == 23_077_137


def test_drift_penalty_formula():
    real = jnp.array([[1.0], [-2.0], [3.0]])
    value = regs.drift_penalty(lambda x: 2.0 * x[:, 0], real)
    assert float(value) == pytest.approx((4 + 16 + 36) / 3)


def test_paper_stage_schedule():
    stages = pg.stage_schedule(1024)
    assert [s.resolution for s in stages] == [4, 8, 16, 32, 64, 128, 256, 512, 1024]
    assert [s.batch_size for s in stages] == [16, 16, 16, 16, 16, 16, 14, 6, 3]
    assert stages[0].fade_steps == 0 and stages[0].stabilize_steps == 50_000
    assert stages[6].fade_steps == stages[6].stabilize_steps == 57_143  # ceil(800k / 14)
    assert stages[1].start_step == stages[0].end_step == 50_000
    assert all(a.end_step == b.start_step for a, b in zip(stages[:-1], stages[1:], strict=True))


def test_fade_alpha_and_real_crossfade():
    stage = pg.Stage(8, 4, fade_images=40, fade_steps=10, stabilize_steps=10, start_step=100)
    alphas = [float(pg.fade_alpha(jnp.int32(t), stage)) for t in (100, 105, 110, 119)]
    assert alphas == [0.0, 0.5, 1.0, 1.0]
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 1))
    np.testing.assert_array_equal(pg.fade_reals(x, 1.0), x)
    np.testing.assert_allclose(pg.fade_reals(x, 0.0), nearest_upsample(mean_pool(x)), atol=1e-7)


def _tiny(**overrides):
    base = {
        "model.resolution": 8,
        "model.latent_dim": 16,
        "model.channel_base": 64,
        "model.channel_max": 16,
        "progressive.fade_images": 64,
        "progressive.stabilize_images": 32,
        "progressive.batch_sizes": (8,),
        "train.log_every": 2,
        "train.sample_every": 100,
        "train.checkpoint_every": 100,
        "eval.num_samples": 64,  # the sample grid's batch: one set of op-by-op compilations
    }
    return experiment_config("pggan_celebahq:tiny", **{**base, **overrides})


def test_grow_state_carries_parameters_moments_and_ema_exactly(tmp_path):
    from gans_jax import builders

    config = _tiny()
    stages = pg.schedule_from_config(config)
    gan4 = builders.build_gan(pg.stage_config(config, stages[0]), (4, 4, 1), None)
    gan8 = builders.build_gan(pg.stage_config(config, stages[1]), (8, 8, 1), None)
    step4 = builders.build_train_step(pg.stage_config(config, stages[0]), gan4)
    step8 = builders.build_train_step(pg.stage_config(config, stages[1]), gan8)
    old = step4.init_state(jax.random.PRNGKey(0), (4, 4, 1))
    old = old.replace(
        step=jnp.int32(7),
        ema_params=jax.tree.map(lambda p: p + 1.0, old.g_params),
        g_opt_state=jax.tree.map(
            lambda a: a + 2 if jnp.issubdtype(a.dtype, jnp.floating) else a + 3, old.g_opt_state
        ),
    )
    for reset in (True, False):
        new = pg.grow_state(step8, old, jax.random.PRNGKey(5), (8, 8, 1), reset_optimizer=reset)
        assert int(new.step) == 7 and np.array_equal(new.key, old.key)
        for name in old.g_params:
            jax.tree.map(np.testing.assert_array_equal, new.g_params[name], old.g_params[name])
            jax.tree.map(np.testing.assert_array_equal, new.ema_params[name], old.ema_params[name])
        for name in old.d_params:
            jax.tree.map(np.testing.assert_array_equal, new.d_params[name], old.d_params[name])
        assert {"block_8_conv0", "block_8_conv1", "to_rgb_8"} <= set(new.g_params) - set(old.g_params)
        adam_new = new.g_opt_state[0][0]
        assert isinstance(adam_new, optax.ScaleByAdamState)
        if reset:
            assert (
                int(adam_new.count) == 0 and float(jnp.abs(adam_new.mu["block_4_conv"]["kernel"]).max()) == 0
            )
        else:  # old moments carried, new layers' moments zero
            assert int(adam_new.count) == 3
            np.testing.assert_array_equal(adam_new.mu["block_4_conv"]["kernel"], 2.0)
            np.testing.assert_array_equal(adam_new.nu["block_8_conv0"]["kernel"], 0.0)
    reset = pg.reset_adam(old.g_opt_state, jnp.bool_(True))
    assert int(reset[0][0].count) == 0 and float(reset[0][0].mu["block_4_conv"]["bias"].max()) == 0.0


def test_driver_trains_stages_and_resumes_mid_fade_bit_identically(tmp_path, monkeypatch):
    """4x4 (4 steps) then 8x8 (8 fade + 4 stabilise steps); a run interrupted at the stage boundary,
    then at step 7 (mid-fade, alpha 3/8, checkpointed), and rerun ends bit-identical to an uninterrupted
    one."""
    config = _tiny()
    stages = pg.schedule_from_config(config)
    assert [(s.resolution, s.fade_steps, s.stabilize_steps) for s in stages] == [(4, 0, 4), (8, 8, 4)]
    full, results = pg.train_progressive(config, str(tmp_path / "full"), progress=False, devices=ONE_DEVICE)
    assert int(full.step) == 16 and results["step"] == 16
    assert (tmp_path / "full" / "samples.png").exists()
    assert jax.tree.leaves(full.g_params["to_rgb_8"])[0].shape[-1] == 1

    real_stage_config = pg.stage_config
    resumed_dir = str(tmp_path / "resumed")
    # Killed at the stage boundary (step 4: the 8x8 stage grows from the 4x4 checkpoint on rerun), then
    # mid-fade (step 7, checkpointed).
    for stop in (4, 7):

        def interrupted(config, stage, stop=stop):
            c = real_stage_config(config, stage)
            c.train.steps = min(c.train.steps, stop)
            return c

        monkeypatch.setattr(pg, "stage_config", interrupted)
        _, partial = pg.train_progressive(config, resumed_dir, progress=False, devices=ONE_DEVICE)
        assert partial["step"] == stop
    monkeypatch.setattr(pg, "stage_config", real_stage_config)
    resumed, _ = pg.train_progressive(config, resumed_dir, progress=False, devices=ONE_DEVICE)
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    logged = (tmp_path / "resumed" / "stage_0008" / "metrics.jsonl").read_text().splitlines()
    assert '"alpha": 1.0' in logged[-1]


def _digits_fd(images) -> float:
    """Frechet distance between 8x8 block means of ``images`` and of the real digits (64-d pixels)."""
    from gans_jax.data.digits import load_digits_dataset

    real = images_to_digits_8x8(load_digits_dataset(8, split="all")["image"]).reshape(-1, 64)
    fake = images_to_digits_8x8(np.asarray(images)).reshape(-1, 64)
    stats = [(x.mean(0), np.cov(x, rowvar=False)) for x in (real, fake)]
    return frechet_distance(*stats[0], *stats[1])


@pytest.mark.slow
def test_tiny_recipe_learns_digits(tmp_path):
    """4 -> 8 on digits, 1,600 images per phase (300 steps): the Frechet distance of the EMA generator's
    samples to the real digits (64-d pixel space) falls below a third of the untrained generator's
    (measured: 4514 -> 1023; 513 with twice the images)."""
    from gans_jax import builders

    overrides = {"model.resolution": 8, "progressive.fade_images": 1600, "progressive.stabilize_images": 1600}
    overrides.update({"train.sample_every": 10_000, "eval.num_samples": 64})
    config = experiment_config("pggan_celebahq:tiny", **overrides)
    state, _ = pg.train_progressive(config, str(tmp_path), progress=False, devices=ONE_DEVICE)
    gan = builders.build_gan(config, (8, 8, 1), None)
    z = gan.sample_latents(jax.random.PRNGKey(3), 1000)
    untrained = builders.build_train_step(config, gan).init_state(jax.random.PRNGKey(0), (8, 8, 1))
    before = _digits_fd(gan.generate(untrained, z))
    after = _digits_fd(gan.generate(state, z))
    print(f"digits pixel FD: untrained {before:.1f}, trained {after:.1f}")
    assert after < before / 3, (before, after)
