"""Throughput of the VGG16 metrics: fc7 features (``pr50k3``), LPIPS features (``ppl_*``) and the k-NN
precision/recall itself, with compile times.

    .venv/bin/python benchmarks/vgg16_metrics.py [--vgg16 vgg16.pt] [--batch-size 16] [--repeats 3]
                                                 [--lpips-size 256] [--pr-samples 5000] [--record]

NVIDIA's ``vgg16.pt`` is used when given (or found); otherwise random weights in its layout, which
cost the same. fc7: uint8 images of ``--image-size`` (resized to 224 inside, as ``pr50k3``). LPIPS:
the features of ``--lpips-size`` images without resizing, as PPL computes them for a 256x256
generator. Precision/recall: ``--pr-samples`` real and as many generated random 4096-d features, k = 3,
float16 as ``pr50k3`` (the official row/column batches of 10,000). The last line is a JSON object;
``--record`` rewrites the ``## VGG16 metrics`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from benchmarks.results import record_section  # noqa: E402
from gans_jax.metrics import lpips, nvidia_vgg16  # noqa: E402
from gans_jax.metrics.precision_recall import precision_recall  # noqa: E402

SECTION = "## VGG16 metrics: `benchmarks/vgg16_metrics.py`"
NOTE = (
    "fc7 features (`pr50k3`), LPIPS features (`ppl_*`) and the k-NN precision/recall of NVIDIA's metrics\n"
    "VGG16 (`gans_jax.metrics.nvidia_vgg16`), jitted, HIGHEST precision. Without `vgg16.pt` the weights are\n"
    "random in its layout, which costs the same."
)


def random_weights(seed: int = 0) -> dict:
    """:func:`~gans_jax.metrics.nvidia_vgg16.load_nvidia_vgg16`'s weights from random tensors in the
    file's layout (speed does not depend on the values)."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in nvidia_vgg16.expected_shapes().items():
        scale = (
            np.float32(np.sqrt(1.0 / np.prod(shape[1:])))
            if len(shape) > 1 and key.startswith("layers")
            else 1
        )
        state[key] = np.abs(rng.standard_normal(shape, np.float32)) * scale
    return nvidia_vgg16.from_state_dict(state, "random weights")


def _time(fn, *args, repeats: int) -> tuple[float, float]:
    """``(compile seconds, best seconds per call)`` of a jitted ``fn``."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - start)
    return compile_s, best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vgg16", default=None, help="NVIDIA's vgg16.pt (default: looked up, else random)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--lpips-size", type=int, default=256)
    parser.add_argument("--pr-samples", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    try:
        weights, source = nvidia_vgg16.load_nvidia_vgg16(args.vgg16), "vgg16.pt"
    except FileNotFoundError:
        weights, source = random_weights(), "random weights in vgg16.pt's layout"
    weights = jax.tree.map(jnp.asarray, weights)
    highest = jax.lax.Precision.HIGHEST
    rng = np.random.default_rng(0)
    n = args.batch_size
    images = jnp.asarray(rng.integers(0, 256, (n, args.image_size, args.image_size, 3), dtype=np.uint8))
    fc7_compile, fc7_s = _time(
        lambda w, x: nvidia_vgg16.vgg16_fc7(w, x, highest), weights, images, repeats=args.repeats
    )
    lpips_images = jnp.asarray(
        rng.uniform(0, 255, (n, args.lpips_size, args.lpips_size, 3)).astype(np.float32)
    )
    lp = {"vgg": weights["vgg"], "lin": weights["lin"]}
    lpips_compile, lpips_s = _time(
        lambda w, x: lpips.lpips_features(w, x, highest), lp, lpips_images, repeats=args.repeats
    )
    real = rng.standard_normal((args.pr_samples, 4096)).astype(np.float32)
    fake = (real + 0.5 * rng.standard_normal(real.shape)).astype(np.float32)
    start = time.perf_counter()
    pr = precision_recall(real, fake, k=3, float16=True)
    pr_s = time.perf_counter() - start
    result = {
        "device": jax.devices()[0].device_kind,
        "weights": source,
        "batch_size": n,
        "fc7_images_per_s": n / fc7_s,
        "fc7_compile_s": fc7_compile,
        "lpips_images_per_s": n / lpips_s,
        "lpips_compile_s": lpips_compile,
        "pr_samples": args.pr_samples,
        "pr_s": pr_s,
        "pr_precision": pr["precision"],
    }
    lines = [
        f"{result['device']} ({platform.machine()}, {os.cpu_count()} cores), jax {jax.__version__}, "
        f"{source}, batch {n}, best of {args.repeats}",
        f"fc7 ({args.image_size}x{args.image_size} -> 224x224): {result['fc7_images_per_s']:.1f} images/s, "
        f"compile {fc7_compile:.1f} s",
        f"LPIPS features ({args.lpips_size}x{args.lpips_size}): {result['lpips_images_per_s']:.1f} images/s, "
        f"compile {lpips_compile:.1f} s (a PPL sample is 2 images)",
        f"precision/recall k=3, float16, {args.pr_samples} + {args.pr_samples} x 4096: {pr_s:.1f} s",
    ]
    print("\n".join(lines))
    if args.record:
        command = "    .venv/bin/python benchmarks/vgg16_metrics.py " + " ".join(argv or sys.argv[1:])
        text = [SECTION, "", NOTE, "", command.rstrip(), "", *[f"- {line}" for line in lines]]
        record_section(SECTION, "\n".join(text))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
