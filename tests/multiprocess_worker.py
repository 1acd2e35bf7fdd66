"""One process of a 2-process CPU training run (tests/test_multiprocess.py starts two of these).

multiprocess_worker.py PORT PROCESS_ID WORKDIR STEPS EXPERIMENT[:PRESET] [OVERRIDES_JSON [OPTIONS_JSON]]

OPTIONS_JSON: ``"sigterm": {"process": 1, "at": 20, "throttle": 0.05}``: that process sends itself
SIGTERM as it draws batch ``at`` (tests/helpers.SignallingIterator); a preempted process prints
``PREEMPTED process=I step=N`` and exits with the loop's status (75). ``"load_run": true``: the
RESULT line adds ``restored=DIGEST``, the digest of the state ``builders.load_run`` reads back.
``"reference": DIR``: first train the same config, uninterrupted, in DIR (one start-up for two runs).
"""

import hashlib
import json
import os
import signal
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
options = json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}
sigterm = options.get("sigterm")
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)

import numpy as np  # noqa: E402

from gans_jax.training import loop, sharding  # noqa: E402
from gans_jax.training.preemption import Preempted  # noqa: E402
from tests.helpers import experiment_config, signalling_make_dataset  # noqa: E402

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


def digest_of(tree) -> str:
    return hashlib.sha256(b"".join(np.asarray(x).tobytes() for x in jax.tree.leaves(tree))).hexdigest()


def report(workdir, state, results) -> None:
    line = f"RESULT process={jax.process_index()} of={jax.process_count()} step={results['step']}"
    line += f" digest={digest_of(sharding.host_local(state))}"
    if options.get("load_run"):
        from gans_jax import builders

        line += f" restored={digest_of(builders.load_run(workdir)[2])}"
    print(line)
    sys.stdout.flush()


if options.get("reference"):
    report(options["reference"], *loop.train(config, options["reference"], progress=False))
if sigterm and sigterm["process"] == process_id:
    loop.make_dataset = signalling_make_dataset(
        loop.make_dataset, sigterm["at"], signal.SIGTERM, sigterm.get("throttle", 0.0)
    )
try:
    report(workdir, *loop.train(config, workdir, progress=False))
except Preempted as e:
    print(f"PREEMPTED process={jax.process_index()} step={e.step}")
    sys.stdout.flush()
    jax.distributed.shutdown()
    raise
jax.distributed.shutdown()  # a barrier: neither process leaves while the other still needs the service
