"""'It learns': short CPU runs of the shipped experiments that must measurably improve a quality metric."""

import json

import jax
import numpy as np
import pytest

from gans_jax.training.loop import train
from tests.helpers import ONE_DEVICE
from tests.helpers import experiment_config as load_config


@pytest.mark.slow
def test_original_gan_captures_ring_modes(tmp_path):
    """Non-saturating GAN with MLPs on the ring of 8: >= 6 modes and >= 50% high-quality samples.

    gan_ring8 is PacGAN's recipe (400k steps); this short run shrinks it: LeakyReLU MLPs of 128, no
    batch norm, lr 1e-3 with cosine decay, batch 256, EMA 0.99, 3000 steps (about 6 s)."""
    shrink = {"model.g_hidden": (128, 128), "model.d_hidden": (128, 128), "model.g_batch_norm": False}
    shrink.update({"model.d_maxout_pieces": 0, "model.init_std": 0.0, "train.steps": 3000})
    shrink.update({"train.batch_size": 256, "train.ema_decay": 0.99, "train.sample_every": 1000})
    for player in ("g", "d"):
        shrink.update(
            {f"optim.{player}.lr": 1e-3, f"optim.{player}.b1": 0.5, f"optim.{player}.schedule": "cosine"}
        )
    config = load_config("gan_ring8", **shrink)
    _, metrics = train(config, str(tmp_path), progress=False, devices=ONE_DEVICE)
    assert metrics["modes_captured"] >= 6, metrics
    assert metrics["high_quality_fraction"] >= 0.5, metrics
    assert (tmp_path / "samples.png").exists()


@pytest.mark.slow
def test_conditional_dcgan_digits_class_agreement(tmp_path):
    """Conditional DCGAN on digits: a real-digits classifier agrees with the conditioning label >= 80%."""
    config = load_config("dcgan_digits", **{"train.steps": 600, "train.sample_every": 300})
    _, metrics = train(config, str(tmp_path), progress=False, devices=ONE_DEVICE)
    assert metrics["class_agreement"] >= 0.8, metrics
    assert metrics["real_accuracy"] >= 0.95, metrics
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["class_agreement"] == metrics["class_agreement"]
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1]["step"] == 600 and {"d_loss", "g_loss", "steps_per_s"} <= set(logged[-1])
    assert (tmp_path / "samples" / "step_0000300_ema.png").exists()


def test_same_config_and_seed_are_bit_identical(tmp_path):
    config = load_config("dcgan_digits", **{"train.steps": 5, "train.log_every": 5})
    states = [train(config, str(tmp_path / str(i)), progress=False, devices=ONE_DEVICE)[0] for i in range(2)]
    for a, b in zip(jax.tree.leaves(states[0]), jax.tree.leaves(states[1]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
