"""The six parts of the GPU device check; ``benchmarks/device/run.sh`` runs each in its own process with
its own time cap:

    python -m benchmarks.device.parts PART --out DIR [--dry-run]

writes ``DIR/<part>.json`` (``part``, ``status`` ok/failed, ``seconds``, ``result`` or ``error``,
``environment``) and exits 1 when the part failed. ``--dry-run`` runs the same code at tiny sizes on
the CPU (the test ``tests/test_device_check.py``), so the script cannot rot while no GPU is lent.

- ``smoke``: pytest on the tests that exercise the train step (single pass, n_critic, accumulation,
  bfloat16, determinism), its jit/pmap compilation on the device, the transposed-convolution and
  strided-convolution forms, Inception parity with the reference features and the device defaults,
  and prefetching; float32 matmuls at HIGHEST precision (the tests' tolerances are float32's). The
  dry run only collects them, so a renamed test fails here.
- ``dcgan``: the PyTorch-examples DCGAN-64 step at batch 64 and 256 (``benchmarks/train_step.py``):
  gans-jax float32 against PyTorch float32, gans-jax bfloat16 against PyTorch channels-last + bfloat16
  autocast, on the same GPU; and gans-jax with the sub-pixel upsampling instead of the plain
  transposed convolution (the choice ``method="auto"`` makes on GPUs).
- ``inception``: FID Inception pool3 extraction at batch 200 (``benchmarks/inception.py``): the
  default extractor (HIGHEST precision) and at TF32, against the TorchScript reference on the same GPU
  in strict float32 and with PyTorch's default TF32.
- ``biggan``: BigGAN-128, ch 96 (``experiments/biggan_imagenet.py``), bfloat16, one D and one G update
  of batch 2048 per iteration (BigGAN-PyTorch's ``launch_BigGAN_bs256x8.sh`` iteration, 8.6 s on 8
  V100s), the first gradient accumulation of 4, 8, 16 whose compiled program fits the GPU; seconds
  per iteration and peak memory.
- ``stylegan2``: config F at 256x256, batch 32, bfloat16, 16 timed steps (one R1 and four path-length
  evaluations): s/kimg (StyleGAN2-ADA: 21.6-24.2 s/kimg on one V100, 12.5 on one A100).
- ``fid``: FID of 50,000 generated 64x64 images end to end (DCGAN-64 generator, Inception at batch
  200, streaming statistics, Frechet distance against fixed reference statistics), compile excluded
  and reported apart.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARTS = ("smoke", "dcgan", "inception", "biggan", "stylegan2", "fid")

# (a) The smoke tests: none needs a download, more than one device or torch.
SMOKE_TESTS = (
    "tests/test_training_step.py::test_single_pass_equals_explicit_two_player_update",
    "tests/test_training_step.py::test_n_critic_counts_updates_and_splits_the_batch",
    "tests/test_training_step.py::test_same_seed_gives_bit_identical_parameters",
    "tests/test_training_step.py::test_sharded_step_on_8_devices_equals_single_device",
    "tests/test_training_step.py::test_pmapped_step_equals_jit_sharded_step",
    "tests/test_training_step.py::test_gradient_accumulation_equals_one_big_batch",
    "tests/test_training_step.py::test_bfloat16_compute_keeps_float32_state_and_tracks_the_float32_step",
    "tests/test_layers_upsample.py::test_every_method_is_the_same_function",
    "tests/test_layers_upsample.py::test_cpu_matrix_product_convolution_equals_lax",
    "tests/test_metrics_inception.py::test_parity_with_reference_network[legacy_tf]",
    "tests/test_metrics_inception.py::test_plain_forms_of_accelerators_compute_the_same_function",
    "tests/test_prefetch.py::test_same_batches_and_state_of_the_batches_handed_out",
    "tests/test_prefetch.py::test_training_with_prefetch_equals_training_without",
)


def smoke(dry: bool) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SMOKE_TESTS]
    if dry:
        cmd.append("--collect-only")
    env = dict(os.environ, JAX_DEFAULT_MATMUL_PRECISION="highest")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    found = re.findall(r"(\d+) (passed|failed|errors?|skipped|tests? collected)", output)
    counts = {k: int(n) for n, k in found}
    result = {
        "test_ids": len(SMOKE_TESTS),
        "returncode": proc.returncode,
        "seconds": round(time.perf_counter() - start, 1),
        **{k.replace(" ", "_"): v for k, v in counts.items()},
        "failures": re.findall(r"^(?:FAILED|ERROR) .*$", output, re.M)[:20],
        "output_tail": output[-3000:],
    }
    if proc.returncode != 0:
        raise PartFailed(f"pytest exited {proc.returncode}: {result['failures'] or output[-500:]}", result)
    return result


DRY = {"value": False}  # set by main(): the dry run gives train_step.py a peak instead of measuring one


def _train_step(argv: list[str]) -> dict:
    """``benchmarks/train_step.py`` in this process; its table goes to stdout (the run's log)."""
    from benchmarks import train_step

    if DRY["value"]:
        argv = [*argv, "--peak-flops", "1e11"]
    print("$ train_step.py " + " ".join(argv), flush=True)
    return train_step.main(argv)


def dcgan(dry: bool) -> dict:
    res, batches = (16, [4]) if dry else (64, [64, 256])
    timing = ["--steps", "2", "--warmup", "1", "--repeats", "1"] if dry else ["--steps", "50"]
    rows = []
    for batch in batches:
        common = ["--model", "dcgan", "--resolution", str(res), "--batch", str(batch), *timing]
        if not dry:  # the dry run keeps the row with every option in it
            rows.append(_train_step([*common, "--dtype", "float32"]))
        rows.append(_train_step([*common, "--dtype", "bfloat16", "--torch-amp"]))
    if not dry:  # the sub-pixel form the CPU work chose, against the plain transposed convolution
        common = ["--model", "dcgan", "--resolution", str(res), "--batch", "256", *timing]
        rows.append(_train_step([*common, "--dtype", "float32", "--upsample", "conv", "--no-torch"]))
    keep = (
        "batch", "dtype", "upsample", "compile_s", "steps_per_s", "images_per_s", "torch_steps_per_s",
        "ratio", "torch_mode", "torch_device", "mfu", "torch_mfu", "flops_per_step", "peak_bytes", "device",
    )  # fmt: skip
    return {"rows": [{k: r.get(k) for k in keep} for r in rows]}


def inception(dry: bool) -> dict:
    from benchmarks import inception as bench

    argv = ["--batch-sizes", "1" if dry else "200", "--repeats", "1" if dry else "5"]
    argv += ["--variants", "auto" if dry else "auto,tf32,graph"]
    print("$ inception.py " + " ".join(argv), flush=True)
    return bench.main(argv)


def biggan(dry: bool) -> dict:
    if dry:
        argv = ["--preset", "tiny", "--resolution", "16", "--ch", "8", "--batch", "8", "--accumulation", "2"]
        argv += ["--steps", "1", "--warmup", "0", "--repeats", "1"]
    else:
        argv = ["--resolution", "128", "--ch", "96", "--batch", "2048", "--accumulation", "4,8,16"]
        argv += ["--steps", "3", "--warmup", "1", "--repeats", "1"]
    r = _train_step(["--model", "biggan", "--dtype", "bfloat16", "--n-critic", "1", "--no-torch", *argv])
    keep = (
        "resolution", "ch", "batch", "n_critic", "dtype", "accumulation", "accumulation_tried", "compile_s",
        "steps_per_s", "s_per_iteration_at_2048", "program_bytes", "peak_bytes", "flops_per_step", "mfu",
        "images_per_s", "device",
    )  # fmt: skip
    return {k: r.get(k) for k in keep} | {"goal_s_per_iteration": 8.6}


def stylegan2(dry: bool) -> dict:
    if dry:
        argv = ["--preset", "tiny", "--resolution", "8", "--batch", "4", "--steps", "1", "--warmup", "0"]
    else:
        argv = ["--resolution", "256", "--batch", "32", "--steps", "16", "--warmup", "1"]
    r = _train_step(["--model", "stylegan2", "--dtype", "bfloat16", "--repeats", "1", "--no-torch", *argv])
    keep = ("resolution", "batch", "dtype", "compile_s", "steps_per_s", "s_per_kimg", "peak_bytes", "device")
    return {k: r.get(k) for k in keep} | {"published_s_per_kimg": {"V100": [21.6, 24.2], "A100": 12.5}}


def fid(dry: bool) -> dict:
    import jax
    import numpy as np
    import optax

    from gans_jax.metrics.evaluate import run_sampler
    from gans_jax.metrics.features import InceptionExtractor
    from gans_jax.metrics.fid import fid_of_generator
    from gans_jax.models.dcgan import Discriminator, Generator
    from gans_jax.training.state import GAN

    num, gen_batch, inception_batch = (4, 2, 2) if dry else (50_000, 500, 200)
    gan = GAN(Generator(64, 64, 3), Discriminator(64, 64), optax.adam(2e-4), optax.adam(2e-4), (100,))
    state = gan.init_state(jax.random.PRNGKey(0), (64, 64, 3))  # untrained: the FID value means nothing
    reference = (np.zeros(2048), np.eye(2048))  # fixed statistics: the same work as real ones
    start = time.perf_counter()
    extractor = InceptionExtractor(os.environ.get("GANS_JAX_INCEPTION_WEIGHTS"), batch_size=inception_batch)
    load_s = time.perf_counter() - start
    sampler = run_sampler(gan, state)
    warm = time.perf_counter()  # compile: the generator and Inception at 64x64
    fid_of_generator(sampler, gen_batch, reference, extractor, gen_batch, progress=False)
    compile_s = time.perf_counter() - warm
    start = time.perf_counter()
    result = fid_of_generator(sampler, num, reference, extractor, gen_batch, progress=False)
    seconds = time.perf_counter() - start
    return {
        "num_images": num,
        "seconds": round(seconds, 2),
        "images_per_s": round(num / seconds, 1),
        "compile_and_first_batches_s": round(compile_s, 2),
        "weights_load_s": round(load_s, 2),
        "generator": "DCGAN-64 (ngf 64), untrained",
        "generator_batch": gen_batch,
        "inception_batch": inception_batch,
        "fid": result["fid"],
    }


class PartFailed(RuntimeError):
    """A part ran but its check failed; ``result`` is still recorded."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


def environment() -> dict:
    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    for name in ("jax", "jaxlib", "flax", "optax", "numpy", "torch"):
        module = sys.modules.get(name)
        with contextlib.suppress(Exception):
            module = module or __import__(name)
        env[name] = getattr(module, "__version__", None) if module else None
    with contextlib.suppress(Exception):
        import jax

        env["devices"] = [f"{d.platform}: {d.device_kind}" for d in jax.devices()]
    return env


FUNCTIONS = {"smoke": smoke, "dcgan": dcgan, "inception": inception, "biggan": biggan,
             "stylegan2": stylegan2, "fid": fid}  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("part", choices=PARTS)
    p.add_argument("--out", required=True, help="folder for <part>.json")
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU")
    args = p.parse_args(argv)
    torch_site = os.environ.get("GANS_JAX_TORCH_SITE")  # dry run: a CPU torch from another venv
    if torch_site:
        sys.path.append(torch_site)
    os.makedirs(args.out, exist_ok=True)
    DRY["value"] = args.dry_run
    record = {"part": args.part, "dry_run": args.dry_run, "status": "ok"}
    start = time.perf_counter()
    try:
        record["result"] = FUNCTIONS[args.part](args.dry_run)
    except Exception as e:  # noqa: BLE001 - recorded in the part's JSON, and the exit status says so
        record.update(status="failed", error=f"{type(e).__name__}: {e}"[:2000])
        record["traceback"] = traceback.format_exc()[-4000:]
        if isinstance(e, PartFailed):
            record["result"] = e.result
        print(record["traceback"], file=sys.stderr)
    record["seconds"] = round(time.perf_counter() - start, 1)
    with contextlib.redirect_stdout(io.StringIO()):
        record["environment"] = environment()
    with open(os.path.join(args.out, f"{args.part}.json"), "w") as f:
        json.dump(record, f, indent=1, default=str)
    print(f"part {args.part}: {record['status']} in {record['seconds']} s", flush=True)
    return 0 if record["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
