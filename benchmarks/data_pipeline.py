"""Throughput of the image-folder pipeline: images/s of ``make_dataset(source="folder")`` batches.

Writes ``--num-images`` 64x64 PNGs (random crops of scikit-learn's two sample photographs, so the
files compress and decode like photographs rather than noise) into a temporary folder with two
class subfolders, builds the pipeline the training loop uses, discards ``--warmup`` batches
(thread start-up, first epoch permutation) and times windows of ``--batches`` batches, for each
``num_threads`` and output resolution asked for. Prints a table; the last line is a JSON object
whose ``images_per_s`` is the first configuration's rate (64x64 output, the first thread count,
best of ``--repeats`` timed windows: the machine may be shared).

    python benchmarks/data_pipeline.py                      # table + JSON
    python benchmarks/data_pipeline.py --write-results      # also append a section to RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from gans_jax.data import make_dataset


def write_pngs(root: str, n: int, size: int = 64, seed: int = 0) -> None:
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(p) for p in load_sample_images().images]
    rng = np.random.default_rng(seed)
    for i in range(n):
        photo = photos[i % len(photos)]
        side = int(rng.integers(size, min(photo.size) // 2))
        left = int(rng.integers(0, photo.size[0] - side))
        top = int(rng.integers(0, photo.size[1] - side))
        crop = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
        folder = os.path.join(root, f"class{i % 2}")
        os.makedirs(folder, exist_ok=True)
        crop.save(os.path.join(folder, f"{i:05d}.png"))


def measure(
    root: str, resolution: int, batch: int, num_threads: int, warmup: int, batches: int, repeats: int
) -> dict:
    """Times ``repeats`` consecutive windows of ``batches`` batches; reports the best and the median."""
    config = {
        "source": "folder",
        "path": root,
        "crop": "center",
        "on_corrupt": "error",
        "num_threads": num_threads,
    }
    t0 = time.perf_counter()
    dataset = make_dataset(config, resolution=resolution, batch_size=batch, seed=0)
    startup = time.perf_counter() - t0
    iterator = dataset.iterator()
    for _ in range(warmup):
        next(iterator)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(batches):
            out = next(iterator)
        rates.append(batches * batch / (time.perf_counter() - t0))
        assert out["image"].shape == (batch, resolution, resolution, 3)
    dataset.close()
    best = max(rates)
    return {
        "resolution": resolution,
        "num_threads": num_threads,
        "startup_s": round(startup, 3),
        "images_per_s": round(best, 1),
        "median_images_per_s": round(float(np.median(rates)), 1),
        "ms_per_batch": round(1e3 * batch / best, 2),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1, 0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 32])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batches", type=int, default=100, help="batches per timed window")
    parser.add_argument("--repeats", type=int, default=5, help="timed windows per configuration")
    parser.add_argument("--write-results", action="store_true", help="append a section to RESULTS.md")
    args = parser.parse_args(argv)

    rows = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        write_pngs(root, args.num_images)
        print(f"wrote {args.num_images} 64x64 PNGs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        for resolution in args.resolutions:
            for threads in args.threads:
                rows.append(
                    measure(root, resolution, args.batch, threads, args.warmup, args.batches, args.repeats)
                )

    header = (
        "| output | num_threads | start-up scan (s) | ms / batch (best) | images / s (best) "
        "| images / s (median) |"
    )
    lines = [header, "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['resolution']}x{r['resolution']}x3 | {r['num_threads']} | {r['startup_s']} "
            f"| {r['ms_per_batch']} | {r['images_per_s']} | {r['median_images_per_s']} |"
        )
    print("\n".join(lines))
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"
    load = f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(load, file=sys.stderr)
    if args.write_results:
        write_results(lines, args, machine, load)
    summary = {
        "benchmark": "data_pipeline",
        "images_per_s": rows[0]["images_per_s"],
        "resolution": rows[0]["resolution"],
        "num_threads": rows[0]["num_threads"],
        "batch": args.batch,
        "num_images": args.num_images,
        "rows": rows,
        "machine": machine,
        "load": load,
    }
    print(json.dumps(summary))
    return summary


def write_results(lines: list[str], args, machine: str, load: str) -> None:
    """Appends a ``## Data pipeline`` section to RESULTS.md (created with its title if missing)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    new_file = not os.path.exists(path)
    with open(path, "a") as f:
        if new_file:
            f.write("# Benchmark results\n")
        f.write(
            "\n## Data pipeline\n\n"
            f"`python benchmarks/data_pipeline.py` ({time.strftime('%Y-%m-%d')}, {machine}): "
            f"{args.num_images} 64x64 PNGs (crops of scikit-learn's sample photographs) in two class "
            f"subfolders, read by `make_dataset(source='folder')` (lazy per-file PIL decoding, "
            f"grain thread prefetch), global batch {args.batch}, {args.warmup} batches of warm-up, "
            f"then {args.repeats} consecutive windows of {args.batches} batches timed (best and median "
            f"window); the 32x32 rows include a bicubic resize; {load}.\n\n"
        )
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
