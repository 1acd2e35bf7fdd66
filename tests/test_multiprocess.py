"""Two processes on one machine through jax.distributed (Gloo on CPU): the run completes, both agree
on the parameters, only process 0 writes logs, and the run resumes from its checkpoint. One CPU device per
process: two processes of 4 simulated devices each hang in collectives on a 2-core machine unless NPROC
is at least twice the local device count. SIGTERM is ignored after jax.distributed.initialize (its
preemption notifier catches it), so leftover workers are killed with SIGKILL."""

import json
import re

from tests.helpers import run_two_processes


def _run_pair(workdir, steps, name, overrides):
    outputs = run_two_processes(
        "multiprocess_worker.py", workdir, steps, name, json.dumps(overrides), timeout=300
    )
    results = []
    for out in outputs:
        match = re.search(r"RESULT process=(\d) of=2 step=(\d+) digest=(\w+)", out)
        assert match, out
        results.append(match.groups())
    return results


# BigGAN's recipe at its smallest (20 steps, then resumed to 30): hinge, 2 D steps on split batches,
# orthogonal regularisation, EMA (from step 5), spectral norm, class-conditional batch norm whose
# statistics span both processes' halves of the batch, the projection discriminator.
NAME = "biggan_imagenet:tiny"
OVERRIDES = {
    "model.g_channels": 4,
    "model.d_channels": 4,
    "model.attention": "0",
    "train.batch_size": 8,
    "train.ema_decay": 0.9,
    "train.ema_start": 5,
    "train.sample_every": 1000,  # one sample grid, at the end
    "eval.num_samples": 20,
    "eval.standing_stats": 0,
    "eval.truncations": (),
}


def test_two_process_biggan_run_agrees_and_resumes(tmp_path):
    """BigGAN only: it covers everything the former 2-process ring-of-8 GAN run did (completion, equal
    parameters in both processes, logs from process 0 only, resuming from the checkpoint) and adds the
    recipe's state (EMA, spectral-norm vectors, batch-norm statistics, two optimisers after n_critic D
    steps) to what must agree and round-trip. Any experiment runs through the same worker
    (``multiprocess_worker.py PORT ID WORKDIR STEPS EXPERIMENT[:PRESET] [OVERRIDES_JSON]``)."""
    first = _run_pair(tmp_path, 20, NAME, OVERRIDES)
    assert sorted(r[0] for r in first) == ["0", "1"]
    assert {r[1] for r in first} == {"20"}
    assert first[0][2] == first[1][2], "processes disagree on the parameters"
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [5, 10, 15, 20]  # logged once: only process 0 writes
    assert all(r["reg/orthogonal"] > 0 for r in logged)

    resumed = _run_pair(tmp_path, 30, NAME, OVERRIDES)
    assert {r[1] for r in resumed} == {"30"} and resumed[0][2] == resumed[1][2]
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [5, 10, 15, 20, 25, 30]  # resumed at 20, not 0
