"""The per-step cost of discriminator augmentation: the conditional DCGAN of
``experiments/dcgan_digits.py`` (16x16 digits, batch 64) trained by the library's step without
augmentation, with StyleGAN2-ADA's ``bgc`` pipeline at p = 0.2 (``fixed``) and with DiffAugment
(``color,translation,cutout``), on one fixed batch on the device (the step itself, not data loading).

    python benchmarks/augment_speed.py --steps 50

``compile_s``: the first call (tracing, compilation, one step); ``steps_per_s``: ``--steps`` calls after
two warm-up calls, best of ``--repeats``. Every image D sees is augmented (reals and fakes in D's update,
fakes in G's), so the pipeline runs three times per step, forward and backward through the fakes.
Prints a table, then as the LAST line one JSON list of the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = {
    "none": {},
    "ada bgc p=0.2": {"augment.kind": "fixed", "augment.preset": "bgc", "augment.p": 0.2},
    "diffaugment": {"augment.kind": "diffaugment"},
}


def measure(overrides: dict, steps: int, repeats: int) -> dict:
    import jax
    import numpy as np

    from gans_jax import builders
    from gans_jax.configs import load_config
    from gans_jax.training.sharding import compile_train_step

    config = load_config(os.path.join(ROOT, "experiments", "dcgan_digits.py"), overrides)
    gan = builders.build_gan(config, (16, 16, 1), 10)
    spec = builders.build_train_step(config, gan)
    state = spec.init_state(jax.random.PRNGKey(0), (16, 16, 1))
    rng = np.random.default_rng(0)
    batch = {
        "image": jax.device_put(rng.uniform(-1, 1, (64, 16, 16, 1)).astype(np.float32)),
        "label": jax.device_put(rng.integers(0, 10, 64).astype(np.int32)),
    }
    step = compile_train_step(spec)
    start = time.perf_counter()
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - start
    for _ in range(2):
        state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            state, metrics = step(state, batch)
        jax.block_until_ready(metrics)
        best = max(best, steps / (time.perf_counter() - start))
    return {"compile_s": round(compile_s, 2), "steps_per_s": round(best, 2)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)  # this checkout's gans_jax, not an installed one
    rows = []
    print(f"{'augmentation':<16} {'compile_s':>9} {'steps/s':>8} {'vs none':>8}")
    for name, overrides in KINDS.items():
        row = {"augmentation": name, **measure(overrides, args.steps, args.repeats)}
        row["relative"] = round(row["steps_per_s"] / rows[0]["steps_per_s"], 3) if rows else 1.0
        rows.append(row)
        print(
            f"{name:<16} {row['compile_s']:>9.2f} {row['steps_per_s']:>8.2f} {row['relative']:>8.3f}",
            flush=True,
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
