"""R3GAN's discriminator augmentation: the experiments carry the official settings (brownvc/R3GAN
``train.py``: ``AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
brightness=0.5, contrast=0.5, lumaflip=0.5, hue=0.5, saturation=0.5, cutout=1)`` at a probability on a
cosine from 0 to 0.55 / 0.3 / 0.4 over the schedules' images, and the README's ``--mirror=1`` dataset
x-flips), and a scheduled p moves with the step."""

import dataclasses
import math

import jax
import numpy as np
import pytest

from gans_jax import builders
from gans_jax.augment import AugmentSpec, augmentation
from gans_jax.configs import validate
from tests.helpers import experiment_config
from tests.test_augment_training import _gan_and_step

# train.py line 300 (the multipliers; every strength at AugmentPipe's default)
OFFICIAL_PIPE = AugmentSpec(
    xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
    brightness=0.5, contrast=0.5, lumaflip=0.5, hue=0.5, saturation=0.5, cutout=1,
)  # fmt: skip
# train.py lines 193, 225, 263: aug_scheduler final_value; decay_nimg 2e7, 2e7, 2e8 over the batch
OFFICIAL_P = {
    "r3gan_cifar10": (0.55, 2e7, 512),
    "r3gan_ffhq256": (0.3, 2e7, 256),
    "r3gan_imagenet64": (0.4, 2e8, 4096),
}


def _official_p(t, final, total_images, batch):  # training_loop.cosine_decay_with_warmup(cur_nimg, 0, ...)
    nimg = t * batch
    decay = 0.5 * (1 + math.cos(math.pi * nimg / total_images))
    return final if nimg > total_images else (1 - decay) * final


@pytest.mark.parametrize("name", sorted(OFFICIAL_P))
def test_r3gan_experiments_carry_the_official_augmentation(name):
    final, total, batch = OFFICIAL_P[name]
    config = experiment_config(name)
    validate(config)
    aug = config.augment
    assert aug.kind == "fixed"  # the trainer sets p from a schedule; no ADA heuristic
    assert dict(aug.p) == {"shape": "cosine", "init": 0.0, "final": final, "steps": round(total / batch)}
    assert config.train.steps == round(total / batch) and config.train.batch_size == batch
    built = builders.build_augmentation(config)
    assert built.kind == "fixed" and built.scheduled and built.spec == OFFICIAL_PIPE
    assert built.spec.cutout_size == 0.5 and built.spec.imgfilter == 0 and built.spec.noise == 0
    for t in (0, 1, 1000, config.train.steps // 2, config.train.steps, config.train.steps + 7):
        # the schedule counts round(total / batch) steps (39,062 for 39,062.5 on CIFAR-10): 1e-5 apart
        np.testing.assert_allclose(float(built.p(t)), _official_p(t, final, total, batch), atol=2e-5)
    assert config.data.mirror  # the README's commands: --mirror=1
    tiny = experiment_config(f"{name}:tiny")  # the digits recipe trains without either
    assert tiny.augment.kind == "none" and not tiny.data.mirror


def test_scheduled_p_moves_with_the_step_and_is_checked():
    """Step t augments at p(t): ``augment/p`` reports it and ``extra["augment_p"]`` holds p(t + 1)."""
    spec = {"shape": "linear", "init": 0.0, "final": 1.0, "steps": 4}
    fixed = augmentation("fixed", preset="blit", p=spec)
    assert fixed.init_extra == {"augment_p": 0.0}
    gan, step = _gan_and_step(fixed)
    state = step.init_state(jax.random.PRNGKey(1), (16, 16, 1))
    fn = jax.jit(step)
    batch = {"image": jax.random.uniform(jax.random.PRNGKey(0), (16, 16, 16, 1)) * 2 - 1}
    for t in range(3):
        state, metrics = fn(state, batch)
        assert float(metrics["augment/p"]) == pytest.approx(t / 4)
        assert float(state.extra["augment_p"]) == pytest.approx((t + 1) / 4)
    with pytest.raises(ValueError, match="serves kind='fixed'"):
        augmentation("ada", p=spec)
    with pytest.raises(ValueError, match=r"augment\.p=.*probabilities in \[0, 1\]"):
        augmentation("fixed", p={**spec, "final": 1.5})
    with pytest.raises(ValueError, match="missing"):
        augmentation("fixed", p={"shape": "cosine", "init": 0.0, "final": 0.5})
    config = experiment_config("r3gan_cifar10")
    config.augment.kind = "ada"
    with pytest.raises(ValueError, match=r"augment\.p=.* is a schedule, which serves augment\.kind='fixed'"):
        validate(config)
    config = experiment_config("r3gan_cifar10")
    config.augment.p.final = 1.2
    with pytest.raises(ValueError, match=r"augment\.p=.* is out of range"):
        validate(config)
    assert dataclasses.replace(fixed, p=0.25).init_extra == {"augment_p": 0.25}
