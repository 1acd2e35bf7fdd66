"""One process of a 2-process CPU training run (tests/test_multiprocess.py starts two of these).

multiprocess_worker.py PORT PROCESS_ID WORKDIR STEPS EXPERIMENT[:PRESET] [OVERRIDES_JSON]
"""

import hashlib
import json
import os
import sys

os.environ["XLA_FLAGS"] = ""  # one CPU device per process
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

port, process_id, workdir, steps, name = (
    sys.argv[1],
    int(sys.argv[2]),
    sys.argv[3],
    int(sys.argv[4]),
    sys.argv[5],
)
overrides = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}  # JSON has no tuples
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)

import numpy as np  # noqa: E402

from gans_jax.training import loop, sharding  # noqa: E402
from tests.helpers import experiment_config  # noqa: E402

config = experiment_config(
    name,
    **{
        "train.steps": steps,
        "train.log_every": 5,
        "train.checkpoint_every": 10,
        "train.sample_every": 10,
        **overrides,
    },
)
state, results = loop.train(config, workdir, progress=False)
local = sharding.host_local(state)
digest = hashlib.sha256(b"".join(np.asarray(x).tobytes() for x in jax.tree.leaves(local))).hexdigest()
print(f"RESULT process={jax.process_index()} of={jax.process_count()} step={results['step']} digest={digest}")
sys.stdout.flush()
jax.distributed.shutdown()  # a barrier: neither process leaves while the other still needs the service
