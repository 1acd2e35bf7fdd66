"""Metrics over two processes (jax.distributed on CPU, Gloo): each process extracts Inception features of
its share of the generated batches, and both get the statistics and features one process computes.

10 images in sample batches of 4 (4, 4, 2): process 0 takes batches 0 and 2, process 1 batch 1 and then
an empty one; the extractor's 4-image calls are 2 rows per process, so the processes make different
numbers of calls of their own and must agree on the collective ones."""

import numpy as np
import pytest

from tests.helpers import ONE_DEVICE, run_two_processes
from tests.test_metrics_inception import _weights_path

NUM, SAMPLE_BATCH = 10, 4


def sample_fn(index: int, n: int) -> np.ndarray:
    """Deterministic 'generated' images of batch ``index``."""
    return np.random.default_rng(index).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@pytest.mark.slow
def test_two_processes_share_the_work_and_agree_with_one(tmp_path):
    from gans_jax.metrics.features import InceptionExtractor, collect_features
    from gans_jax.metrics.fid import compute_stats, generator_batches

    outputs = run_two_processes("multiprocess_metrics_worker.py", _weights_path(), tmp_path)
    assert all("RESULT" in out for out in outputs), outputs
    got = [np.load(tmp_path / f"process{i}.npz") for i in range(2)]
    assert list(got[0]["calls"]) == [0, 2] and list(got[1]["calls"]) == [1]  # each its share
    for key in ("mu", "sigma", "num", "pool3"):  # every process ends with the same numbers
        np.testing.assert_array_equal(got[0][key], got[1][key])

    extractor = InceptionExtractor(_weights_path(), batch_size=4, devices=ONE_DEVICE)
    stats = compute_stats(generator_batches(sample_fn, NUM, SAMPLE_BATCH), extractor, progress=False)
    pool3 = collect_features(generator_batches(sample_fn, NUM, SAMPLE_BATCH), extractor, progress=False)
    pool3 = pool3["pool3"]
    assert int(got[0]["num"]) == NUM == len(got[0]["pool3"])
    np.testing.assert_allclose(got[0]["pool3"], pool3, rtol=1e-4, atol=1e-4 * np.abs(pool3).max())
    np.testing.assert_allclose(got[0]["mu"], stats.mu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got[0]["sigma"], stats.sigma, rtol=1e-3, atol=1e-6)
