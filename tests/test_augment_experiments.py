"""The ADA experiments end to end: ``stylegan2_ffhq:tiny,ada`` and ``stylegan2_ada_cifar10:tiny`` train a few
steps through the training loop on the bundled digits, log p and r_t every step to ``metrics.jsonl``, and
p follows the official rule (training_loop.py): up by ``batch * interval / (speed_kimg * 1000)`` after an
interval whose mean r_t exceeded the target. The target (0) and speed (0.1 kimg) are forced so that a D
trained with a raised learning rate scores the reals positive within the first interval or two.

At 8 x 8 (the digits' own resolution, two StyleGAN2 blocks): compiling the StyleGAN2 step takes most of
the time, about 30 s at 8 x 8 against 45 s at 16 x 16 on a shared 2-core machine."""

import json

import jax
import numpy as np
import pytest

from gans_jax.augment import adjust_p
from gans_jax.training import loop
from tests.helpers import experiment_config

STEPS, INTERVAL, SPEED_KIMG = 6, 2, 0.1
FORCED = {
    "model.resolution": 8,
    "train.steps": STEPS,
    "train.log_every": 1,
    "train.sample_every": 1000,
    "train.checkpoint_every": 1000,
    "eval.num_samples": 64,
    "optim.d.lr": 0.02,
    "augment.target": 0.0,
    "augment.interval": INTERVAL,
    "augment.speed_kimg": SPEED_KIMG,
}


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["stylegan2_ffhq:tiny,ada", "stylegan2_ada_cifar10:tiny"])
def test_ada_experiment_trains_logs_p_and_rt_and_moves_p(experiment, tmp_path):
    config = experiment_config(experiment, **FORCED)
    assert (config.augment.kind, config.augment.preset, config.data.source) == ("ada", "bgc", "digits")
    state, _ = loop.train(config, str(tmp_path), progress=False, devices=jax.devices()[:1])
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in logged] == list(range(1, STEPS + 1))
    p = [m["augment/p"] for m in logged] + [float(state.extra["augment_p"])]
    rt = [m["augment/rt"] for m in logged]
    assert all(-1 <= r <= 1 for r in rt) and p[0] == 0.0
    # the official rule, replayed from the logged r_t (each logged p is the one its step used)
    want, signs = np.float32(0.0), np.float32(0.0)
    for t, r in enumerate(rt):
        assert p[t] == pytest.approx(float(want), abs=1e-6), (t, p, rt)
        want, signs = adjust_p(
            want, signs, r, t, target=0.0, interval=INTERVAL, batch_size=config.train.batch_size,
            speed_kimg=SPEED_KIMG,
        )  # fmt: skip
    assert p[-1] == pytest.approx(float(want), abs=1e-6)
    step_size = config.train.batch_size * INTERVAL / (SPEED_KIMG * 1000)
    assert max(p) >= step_size - 1e-6, (p, rt)  # r_t passed the target and p rose with it
