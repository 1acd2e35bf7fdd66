"""Mode coverage on stacked digits (1000 modes): the stacked MNIST comparison of PacGAN (Lin et al. 2018,
Table 2) and R3GAN's loss ablation (Huang et al. 2024, Table 1), on the offline stacked digits of
:mod:`gans_jax.data.stacked` at 16x16x3.

Variants, each built by ``gans_jax.builders`` (the library's one train step) and driven by
``gans_jax.training.scan`` (``lax.scan`` over steps, real batches drawn in the program from the digits,
``vmap`` over seeds):

- ``dcgan``: DCGAN, non-saturating loss, Adam 2e-4 (0.5, 0.999).
- ``pacdcgan2``: the same with PacGAN packing m = 2 (``model.pack = 2``: D sees two samples stacked along
  channels, :mod:`gans_jax.layers.packing`).
- ``ns_r1r2``: non-saturating + R1 + R2 (gamma 1) on the small R3GAN network ("GAN + R1 + R2").
- ``rpgan_r1r2``: RpGAN + R1 + R2 (gamma 1) on the small R3GAN network.
- ``hinge_sn``: hinge loss, spectral norm in D (DCGAN networks).

Each seed's generator gives ``--samples`` images (PacGAN: 26,000), scored by
:func:`gans_jax.metrics.modes.stacked_modes` (modes of 1000, KL to uniform). The published numbers are
stacked MNIST at 28x28 with much longer training, printed beside for reference only.

    PYTHONPATH=. python benchmarks/stacked_digits.py --steps 2000 --seeds 3 --markdown out.md
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp

from gans_jax import builders
from gans_jax.configs import adam, default_config
from gans_jax.data.stacked import StackedDigitsSource
from gans_jax.metrics.modes import stacked_modes
from gans_jax.training import scan

PUBLISHED = {  # stacked MNIST: modes / KL
    "dcgan": "99 / 3.40 (PacGAN Table 2)",
    "pacdcgan2": "1000 / 0.06 (PacGAN Table 2)",
    "ns_r1r2": "693 / 0.93 (R3GAN Table 1, GAN + R1 + R2)",
    "rpgan_r1r2": "1000 / 0.08 (R3GAN Table 1, RpGAN + R1 + R2)",
    "hinge_sn": "-",
}
VARIANTS = tuple(PUBLISHED)


def variant_config(variant: str, steps: int, batch_size: int):
    c = default_config()
    c.model.update(resolution=16, latent_dim=64, conditional=False)
    c.data.update(source="offline:stacked_digits", split="train")
    c.train.update(steps=steps, batch_size=batch_size, ema_decay=0.0)
    c.optim.g = adam(2e-4, b1=0.5, b2=0.999)
    c.optim.d = adam(2e-4, b1=0.5, b2=0.999)
    if variant in ("dcgan", "pacdcgan2", "hinge_sn"):
        c.model.update(name="dcgan", g_channels=32, d_channels=32)
        c.objective.name = "hinge" if variant == "hinge_sn" else "non_saturating"
        c.model.pack = 2 if variant == "pacdcgan2" else 1  # PacGAN packing (gans_jax.layers.packing)
        if variant == "hinge_sn":
            c.model.update(d_spectral_norm=True, d_normalization="none")
    else:
        c.model.update(
            name="r3gan", stage_widths=(32, 32, 16), stage_cardinalities=(4, 4, 2), stage_blocks=(1, 1, 1)
        )
        c.objective.name = "relativistic_pairing" if variant == "rpgan_r1r2" else "non_saturating"
        c.optim.g = adam(2e-4, b1=0.0, b2=0.99)
        c.optim.d = adam(2e-4, b1=0.0, b2=0.99)
        c.regularizers = {"r1": {"gamma": 1.0}, "r2": {"gamma": 1.0}}
    return c


def run_variant(variant, *, steps, batch_size, seeds, samples, judge, steps_per_call):
    config = variant_config(variant, steps, batch_size)
    gan = builders.build_gan(config, (16, 16, 3), None)
    train_step = builders.build_train_step(config, gan)
    source = StackedDigitsSource(16, "train")
    digits = jnp.asarray(source.digits)

    def sample_batch(key, num):
        rows = jax.random.randint(key, (num, 3), 0, digits.shape[0])
        return jnp.moveaxis(digits[rows], 1, -1)

    states, info = scan.train_seeds(
        gan, train_step, sample_batch, seeds=seeds, steps=steps, batch_size=batch_size,
        steps_per_call=steps_per_call, sample_shape=(16, 16, 3),
    )  # fmt: skip
    images = scan.generate_seeds(gan, states, jax.random.PRNGKey(2333), samples)
    return [stacked_modes(im, judge) for im in images], info


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds FIRST..FIRST+SEEDS-1 (one seed per process: no vmap)"
    )
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=26_000)
    parser.add_argument("--steps-per-call", type=int, default=100)
    parser.add_argument("--markdown", default="")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    from gans_jax.metrics.digits_classifier import DigitsJudge

    judge = DigitsJudge.fit()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    lines = [
        f"16x16x3 stacked digits, {args.steps} steps of batch {args.batch_size}, seeds {seeds}, "
        f"{args.samples} samples per seed; jax {jax.__version__}, {jax.devices()[0].platform}",
        "",
        "| method | modes per seed | KL per seed | steps/s (per seed) | published stacked MNIST |",
        "|---|---|---|---|---|",
    ]
    results = {}
    for variant in args.variants:
        per_seed, info = run_variant(
            variant, steps=args.steps, batch_size=args.batch_size, seeds=seeds, samples=args.samples,
            judge=judge, steps_per_call=args.steps_per_call,
        )  # fmt: skip
        results[variant] = {"per_seed": per_seed, "steps_per_s": info["steps_per_s"]}
        modes = ", ".join(str(m["modes"]) for m in per_seed)
        kl = ", ".join(f"{m['kl']:.2f}" for m in per_seed)
        row = f"| {variant} | {modes} | {kl} | {info['steps_per_s']:.2f} | {PUBLISHED[variant]} |"
        lines.append(row)
        print(row, flush=True)
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
