"""PacGAN's 2-D mode-collapse table (Lin et al. 2018, Table 1) with our one train step.

Trains every variant of :mod:`gans_jax.mode_collapse` (GAN minimax and non-saturating, LSGAN, WGAN,
WGAN-GP, hinge + SN, PacGAN2/3/4) on ring8 and grid25 over several seeds, each a config built by
``gans_jax.builders.build_gan`` / ``build_train_step`` (the library's only train step), driven by
``gans_jax.training.scan`` (``lax.scan`` over steps with real batches drawn in the program from the
exact mixture, ``vmap`` over seeds). Scores 2,500 samples per seed with
``gans_jax.metrics.modes.mode_metrics`` and prints modes captured, high-quality fraction and reverse KL
(mean and std over seeds) next to the published rows (mean and standard error over 10 trials).

    PYTHONPATH=. python benchmarks/mode_coverage.py --epochs 400            # the paper's schedule
    PYTHONPATH=. python benchmarks/mode_coverage.py --fast --epochs 3 --markdown out.md
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from gans_jax import builders, mode_collapse
from gans_jax.data.toy import get_mixture
from gans_jax.metrics.modes import mode_metrics
from gans_jax.training import scan


def run_variant(dataset: str, variant: str, *, epochs: float, fast: bool, seeds, steps_per_call: int):
    config = mode_collapse.get_config(dataset, variant, epochs, fast=fast)
    gan = builders.build_gan(config, (2,), None)
    train_step = builders.build_train_step(config, gan)
    mixture = get_mixture(dataset)
    states, info = scan.train_seeds(
        gan,
        train_step,
        mixture.sample_jax,
        seeds=seeds,
        steps=config.train.steps,
        batch_size=config.train.batch_size,
        steps_per_call=steps_per_call,
    )
    samples = scan.generate_seeds(gan, states, jax.random.PRNGKey(2333), config.eval.num_samples)
    per_seed = [mode_metrics(s, mixture) for s in samples]
    return per_seed, info, config.train.steps


def summarize(per_seed):
    modes = np.array([m["modes_captured"] for m in per_seed], float)
    hq = np.array([m["high_quality_fraction"] for m in per_seed]) * 100
    kl = np.array([m["reverse_kl"] for m in per_seed])
    return {k: (float(v.mean()), float(v.std())) for k, v in (("modes", modes), ("hq", hq), ("kl", kl))}


def fmt(pair, digits):
    return f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(mode_collapse.DATASETS))
    parser.add_argument("--variants", nargs="+", default=list(mode_collapse.VARIANTS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=400, help="epochs of 1,000 steps (paper: 400)")
    parser.add_argument("--fast", action="store_true", help="smaller networks, learning rates x10")
    parser.add_argument("--steps-per-call", type=int, default=500)
    parser.add_argument("--markdown", default="", help="write the table here (markdown)")
    parser.add_argument("--json", default="", help="write per-seed metrics here")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    recipe = "fast (G 3x128, D 3x64x5 maxout, lr x10)" if args.fast else "PacGAN (G 4x400 BN, D 3x200x5)"
    lines = [
        f"{recipe}, {args.epochs:g} epochs of 1,000 steps, {len(seeds)} seeds, 2,500 samples; "
        f"ours: mean ± std over seeds; published: mean ± s.e. over 10 trials. jax {jax.__version__}, "
        f"{jax.devices()[0].platform}",
        "",
        "| data | method | modes | high quality % | reverse KL | compile s | steps/s (per seed) |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    records = {}
    for dataset in args.datasets:
        for variant in args.variants:
            start = time.perf_counter()
            per_seed, info, steps = run_variant(
                dataset,
                variant,
                epochs=args.epochs,
                fast=args.fast,
                seeds=seeds,
                steps_per_call=args.steps_per_call,
            )
            s = summarize(per_seed)
            records[f"{dataset}/{variant}"] = {
                "per_seed": per_seed,
                "steps": steps,
                "compile_s": info["compile_s"],
                "steps_per_s": info["steps_per_s"],
                "wall_s": time.perf_counter() - start,
            }
            row = (
                f"| {dataset} | {mode_collapse.DESCRIPTIONS[variant]} | {fmt(s['modes'], 1)} | "
                f"{fmt(s['hq'], 1)} | {fmt(s['kl'], 2)} | {info['compile_s']:.1f} | "
                f"{info['steps_per_s']:.0f} |"
            )
            published = mode_collapse.PUBLISHED_ROW.get(variant)
            out = [row]
            if published:
                (m, hq, kl) = mode_collapse.PUBLISHED[dataset][published]
                out.append(
                    f"| {dataset} | *published {published}* | {fmt(m, 1)} | {fmt(hq, 1)} | {fmt(kl, 2)} | | |"
                )
            print("\n".join(out), flush=True)
            lines.extend(out)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(records, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
