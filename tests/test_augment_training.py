"""Discriminator augmentation in the train step (gans_jax.training.step with ``augment``): ADA at p = 0 is
the step without augmentation bit for bit, the adaptive p follows the official rule (training_loop.py),
rises when D overfits a tiny set and stays at 0 when it cannot, survives a resume bit-identically; the
``augment`` config section is validated by name."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import builders
from gans_jax.augment import Augmentation, adjust_p, augment_spec, augmentation
from gans_jax.configs import validate
from gans_jax.training.step import make_train_step
from tests.helpers import experiment_config

SMALL = {"model.g_channels": 8, "model.d_channels": 8, "model.conditional": False, "train.batch_size": 16}


def _gan_and_step(augment, **overrides):
    config = experiment_config("dcgan_digits", **{**SMALL, **overrides})
    gan = builders.build_gan(config, (16, 16, 1), None)
    base = builders.build_train_step(config, gan)
    step = make_train_step(gan, base.objective, ema_decay=None, augment=augment)
    return gan, step


def test_adjust_p_is_the_official_rule():
    """p += sign(r_t - target) * batch * interval / (ada_kimg * 1000) after every interval-th step, r_t the
    mean over the interval; clipped below at 0 only."""
    kw = dict(target=0.6, interval=4, batch_size=64, speed_kimg=500)
    step_size = 64 * 4 / 500_000
    p, signs = jnp.float32(0.0), jnp.float32(0.0)
    for t, rt in enumerate([0.9, 0.9, 0.1, 0.9]):  # mean 0.7 > 0.6: up once, at the 4th step
        p, signs = adjust_p(p, signs, rt, t, **kw)
        assert float(p) == (pytest.approx(step_size) if t == 3 else 0.0)
    for t, rt in enumerate([0.5] * 8, start=4):  # below target: down, and never below 0
        p, signs = adjust_p(p, signs, rt, t, **kw)
    assert float(p) == 0.0 and float(signs) == 0.0
    p, _ = adjust_p(jnp.float32(1.0), jnp.float32(3.0), 1.0, 3, **kw)
    assert float(p) == pytest.approx(1.0 + step_size)  # the official code lets p exceed 1


def test_ada_at_p_zero_is_the_step_without_augmentation_bit_for_bit():
    """``fixed`` at p = 0: every image passes unchanged and the augmentation keys are drawn apart from the
    step's other draws, so the parameters after a step equal those of the plain step exactly."""
    batch = {"image": jax.random.uniform(jax.random.PRNGKey(0), (16, 16, 16, 1)) * 2 - 1}
    fixed = augmentation("fixed", preset="blit", p=0.0)  # bgc/bgcfnc at p = 0: tests/test_augment.py
    results = []
    for augment in (None, fixed):
        gan, step = _gan_and_step(augment)
        state = step.init_state(jax.random.PRNGKey(1), (16, 16, 1))
        fn = jax.jit(step)
        state, metrics = fn(state, batch)
        results.append((state, metrics))
    (plain, m_plain), (aug, m_aug) = results
    leaves = [jax.tree.leaves((s.g_params, s.d_params)) for s in (plain, aug)]
    for a, b in zip(*leaves, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert "augment/p" not in m_plain and float(m_aug["augment/p"]) == 0.0 and "augment/rt" in m_aug


def _final_p(gan, step, reals_fn, steps):
    state = step.init_state(jax.random.PRNGKey(2), (16, 16, 1))
    fn = jax.jit(step)
    for t in range(steps):
        state, _ = fn(state, {"image": reals_fn(t)})
    return float(state.extra["augment_p"])


def test_adaptive_p_rises_when_d_overfits_a_tiny_set_and_stays_at_zero_when_it_cannot():
    """The generator frozen (lr 0) at its initialisation; the reals are either fresh samples of that very
    generator every step (an endless set D cannot tell from the fakes: r_t stays low, p at 0) or the same
    16 of them every step (a tiny set D memorises: r_t rises past 0.6 and p with it, until the
    augmentation brings r_t back to the target)."""
    ada = Augmentation("ada", spec=augment_spec("blit"), p=0.0, target=0.6, interval=4, speed_kimg=0.5)
    gan, step = _gan_and_step(ada, **{"optim.g.lr": 0.0, "optim.d.lr": 2e-3})
    init = step.init_state(jax.random.PRNGKey(2), (16, 16, 1))
    # train-mode G (batch statistics), as the step draws its fakes
    sample = jax.jit(lambda k: gan.generate(init, gan.sample_latents(k, 16), None, use_ema=False, train=True))
    tiny = sample(jax.random.PRNGKey(3))
    steps = 80  # p can move by 16 * 4 / 500 = 0.128 per adjustment
    p_tiny = _final_p(gan, step, lambda t: tiny, steps)
    p_large = _final_p(gan, step, lambda t: sample(jax.random.PRNGKey(100 + t)), steps)
    assert p_tiny >= 0.128 - 1e-6, (p_tiny, p_large)  # at least one adjustment up, none undone
    assert p_large == 0.0, (p_tiny, p_large)


def test_resume_keeps_p_bit_identical(tmp_path):
    """A run checkpointed at step 8 (gans_jax.training.checkpoint, as the training loop saves) and resumed
    to 16 from a fresh process's state ends with the same p, running sum and parameters, bit for bit, as
    the run that never stopped: p and the running sum of r_t live in GANState.extra."""
    from gans_jax.data.digits import load_digits_dataset
    from gans_jax.training.checkpoint import Checkpointer

    # target 0: p moves at every adjustment (up while D scores most reals positive)
    ada = Augmentation("ada", spec=augment_spec("blit"), p=0.0, target=0.0, interval=3, speed_kimg=0.2)
    gan, step = _gan_and_step(ada)
    fn = jax.jit(step)
    images = jnp.asarray(load_digits_dataset(16)["image"][:64]).reshape(4, 16, 16, 16, 1)
    batch = lambda t: {"image": images[t % 4]}

    def run(state, steps):
        for _ in range(steps):
            state, _ = fn(state, batch(int(state.step)))
        return state

    init = lambda: step.init_state(jax.random.PRNGKey(1), (16, 16, 1))
    straight = run(init(), 16)
    first = run(init(), 8)
    ckpt = Checkpointer(str(tmp_path / "checkpoints"), owner=True)
    ckpt.save(8, first, {})
    ckpt.wait()
    restored, _ = ckpt.restore(init())
    ckpt.close()
    resumed = run(restored, 8)
    assert float(first.extra["augment_p"]) > 0  # p moved before the checkpoint
    assert float(resumed.extra["augment_p"]) != float(first.extra["augment_p"])  # ... and after it
    for key in ("augment_p", "augment_signs"):
        assert np.asarray(straight.extra[key]).tobytes() == np.asarray(resumed.extra[key]).tobytes(), key
    for a, b in zip(jax.tree.leaves(straight.d_params), jax.tree.leaves(resumed.d_params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"augment.kind": "adaa"}, "augment.kind='adaa'"),
        ({"augment.kind": "ada", "augment.p": 1.5}, "augment.p=1.5"),
        ({"augment.kind": "ada", "augment.target": -0.1}, "augment.target=-0.1"),
        ({"augment.kind": "ada", "augment.speed_kimg": 0.0}, "augment.speed_kimg=0.0"),
        ({"augment.kind": "ada", "augment.interval": 0}, "augment.interval=0"),
        ({"augment.kind": "ada", "augment.preset": "bgx"}, "augment.preset='bgx'"),
        ({"augment.kind": "fixed", "augment.options": {"rotation": 1}}, "rotation"),
        ({"augment.kind": "diffaugment", "augment.policy": "color,zoom"}, "zoom"),
        ({"data.limit": -1}, "data.limit=-1"),
    ],
)
def test_bad_augment_config_is_refused_naming_the_value(overrides, message):
    config = experiment_config("dcgan_digits", **overrides)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(".", r"\.")):
        validate(config)


def test_augmentation_objects_and_presets():
    assert augmentation("none") is None
    ada = augmentation("ada", preset="bgc", rotate_max=0.5)
    assert (
        ada.adaptive
        and ada.spec.rotate_max == 0.5
        and ada.init_extra == {"augment_p": 0.0, "augment_signs": 0.0}
    )
    assert augmentation("fixed", p=0.3).init_extra == {"augment_p": 0.3}
    assert augmentation("diffaugment").init_extra == {}
    with pytest.raises(ValueError, match="'adaa'"):
        augmentation("adaa")
    with pytest.raises(TypeError, match="not an Augmentation"):
        _gan_and_step("bgc")
    config = experiment_config("dcgan_digits:limit100,ada")
    assert config.data.limit == 100 and config.augment.kind == "ada"
    assert experiment_config("stylegan2_ffhq:tiny,ada").augment.kind == "ada"
    cifar = experiment_config("stylegan2_ada_cifar10")
    assert (cifar.augment.kind, cifar.augment.preset, cifar.augment.target) == ("ada", "bgc", 0.6)
    assert (cifar.model.mapping_layers, cifar.model.mbstd_group_size, cifar.train.batch_size) == (2, 32, 64)
    with pytest.raises(ValueError, match="exclude each other"):
        experiment_config("dcgan_digits:limit100,limit200")
