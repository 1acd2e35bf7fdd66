"""Prefetching batches to the device: same batches, a checkpointable position that ignores the read-ahead,
and a training run equal to one without it."""

import jax
import numpy as np
import pytest

from gans_jax.training.loop import train
from gans_jax.training.prefetch import DEFAULT_SIZE, DevicePrefetcher, default_prefetch
from tests.helpers import ONE_DEVICE, experiment_config


class Counting:
    """Batch t is ``{"image": [t, t]}``; state ``{"next_index": t}`` as grain's; counts what was read."""

    def __init__(self):
        self.next_index, self.read = 0, 0

    def __next__(self):
        batch = {"image": np.full((2,), self.next_index, np.float32)}
        self.next_index += 1
        self.read += 1
        return batch

    def get_state(self):
        return {"next_index": self.next_index}

    def set_state(self, state):
        self.next_index = state["next_index"]


def _put(batch):
    return jax.device_put(batch, ONE_DEVICE[0])


@pytest.mark.parametrize("size", [0, 1, 2, 5])
def test_same_batches_and_state_of_the_batches_handed_out(size):
    source = Counting()
    prefetched = DevicePrefetcher(source, _put, size)
    assert prefetched.get_state() == {"next_index": 0}
    for t in range(4):
        batch = next(prefetched)
        assert isinstance(batch["image"], jax.Array)
        np.testing.assert_array_equal(np.asarray(batch["image"]), [t, t])
        assert prefetched.get_state() == {"next_index": t + 1}  # not t + 1 + size
        assert source.read == t + 1 + size  # `size` batches read and placed ahead
    prefetched.set_state({"next_index": 1})  # rewind (resume, or the divergence guard)
    assert [int(next(prefetched)["image"][0]) for _ in range(3)] == [1, 2, 3]
    assert prefetched.get_state() == {"next_index": 4}


def test_state_is_a_copy():
    prefetched = DevicePrefetcher(Counting(), _put, 2)
    next(prefetched)
    state = prefetched.get_state()
    state["next_index"] = 99
    assert prefetched.get_state() == {"next_index": 1}


def test_prefetch_depth_by_platform():
    assert default_prefetch(-1, "cpu") == 0
    assert default_prefetch(-1, "gpu") == default_prefetch(-1, "tpu") == DEFAULT_SIZE == 2
    assert default_prefetch(3, "cpu") == 3 and default_prefetch(0, "gpu") == 0
    with pytest.raises(ValueError, match=r"train.prefetch=-2 is out of range"):
        default_prefetch(-2, "gpu")
    with pytest.raises(ValueError, match="prefetch size must be >= 0, got -1"):
        DevicePrefetcher(Counting(), _put, -1)


def test_training_with_prefetch_equals_training_without(tmp_path):
    """Same parameters after 6 steps; a run resumed from the step-3 checkpoint of a prefetching run
    continues from batch 3 (the read-ahead is not in the checkpoint) and ends equal."""
    overrides = {"train.steps": 6, "train.log_every": 3, "train.checkpoint_every": 3, "train.batch_size": 64}
    results = {}
    for depth in (0, 2):
        config = experiment_config("gan_ring8", **overrides, **{"train.prefetch": depth})
        results[depth], _ = train(config, str(tmp_path / f"p{depth}"), progress=False, devices=ONE_DEVICE)
    for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[2]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    config = experiment_config("gan_ring8", **{**overrides, "train.steps": 3, "train.prefetch": 2})
    train(config, str(tmp_path / "resumed"), progress=False, devices=ONE_DEVICE)
    config = experiment_config("gan_ring8", **overrides, **{"train.prefetch": 2})
    resumed, _ = train(config, str(tmp_path / "resumed"), progress=False, devices=ONE_DEVICE)
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(results[0]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match=r"train.prefetch=-3 is out of range"):
        train(experiment_config("gan_ring8", **{"train.prefetch": -3}), str(tmp_path / "bad"), progress=False)
