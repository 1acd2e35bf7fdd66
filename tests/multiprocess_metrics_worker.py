"""One process of a 2-process metrics run (tests/test_multiprocess_metrics.py starts two of these):
FID statistics and in-memory features of generated images, each process extracting its share."""

import os
import sys

os.environ["XLA_FLAGS"] = ""  # one CPU device per process
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

port, process_id, weights, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)

import numpy as np  # noqa: E402

from gans_jax.metrics.features import InceptionExtractor, collect_features  # noqa: E402
from gans_jax.metrics.fid import compute_stats, generator_batches  # noqa: E402
from tests.test_multiprocess_metrics import NUM, SAMPLE_BATCH, sample_fn  # noqa: E402

calls = []


def logged_sample_fn(index, n):
    calls.append(index)
    return sample_fn(index, n)


extractor = InceptionExtractor(weights, batch_size=4)  # 2 rows per process per call
stats = compute_stats(generator_batches(logged_sample_fn, NUM, SAMPLE_BATCH), extractor, progress=False)
features = collect_features(generator_batches(sample_fn, NUM, SAMPLE_BATCH), extractor, progress=False)
np.savez(os.path.join(out, f"process{process_id}.npz"), mu=stats.mu, sigma=stats.sigma, num=stats.num,
         pool3=features["pool3"], calls=np.array(calls))  # fmt: skip
print(f"RESULT process={jax.process_index()} of={jax.process_count()}")
sys.stdout.flush()
jax.distributed.shutdown()
