"""Does ADA help with limited data? The conditional DCGAN of ``experiments/dcgan_digits.py`` trained on
only 100 or 200 of the 1,437 training digits (``:limit100`` / ``:limit200``, balanced classes), the same
steps, seed and data order with and without StyleGAN2-ADA's augmentation (``,ada``: the ``bgc`` pipeline
at the adaptive p, target 0.6; Karras et al. 2020, Sec. 3), judged on the 360 held-out test digits.

    python benchmarks/ada_digits.py --limits 100 200 --steps 1500

Metrics of the EMA generator's 1000 samples (100 per class):

- ``fid_judge``: the Frechet distance between the held-out digits and the samples in the feature space of
  the digits judge (``gans_jax.metrics.digits_classifier``: images area-downsampled to 8x8, the RBF SVC's
  10 one-vs-rest decision values); ``fid_pixels``: the same on the 64 pixels of the 8x8 images. Neither is
  the Inception FID (299x299 Inception on 2 CPU cores would cost minutes per run); both compare with the
  held-out split, which no run trained on, so memorising the training digits does not score well.
- ``class_agreement``: the fraction of samples the judge assigns to their conditioning label.
- ``p``: ADA's final probability; ``rt``: the last logged ``E[sign(D(real))]``.

Prints a table, then as the LAST line one JSON list of the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def judge_features(judge, images: np.ndarray) -> np.ndarray:
    """The judge's 10 one-vs-rest decision values of NHWC images in [-1, 1]."""
    from gans_jax.metrics.digits_classifier import images_to_digits_8x8

    digits = images_to_digits_8x8(images).reshape(len(images), -1)
    return np.asarray(judge.classifier.decision_function(digits), np.float64)


def evaluate(config, state, gan, judge, num: int = 1000) -> dict[str, float]:
    """FID (judge features, 8x8 pixels) against the held-out digits and the class agreement."""
    import jax

    from gans_jax.data.digits import load_digits_dataset
    from gans_jax.metrics.digits_classifier import images_to_digits_8x8
    from gans_jax.metrics.fid import fid_from_features

    held = load_digits_dataset(config.model.resolution, split="test")["image"]
    labels = np.arange(num) % 10
    z = gan.sample_latents(jax.random.PRNGKey(123), num)
    samples = np.asarray(jax.jit(gan.generate)(state, z, labels))  # the EMA generator
    pixels = lambda x: images_to_digits_8x8(x).reshape(len(x), -1)
    return {
        "fid_judge": fid_from_features(judge_features(judge, held), judge_features(judge, samples)),
        "fid_pixels": fid_from_features(pixels(held), pixels(samples)),
        "class_agreement": judge.class_agreement(samples, labels),
    }


def run(limit: int, ada: bool, steps: int, seed: int, judge) -> dict:
    from gans_jax.configs import load_config
    from gans_jax.training.loop import train

    preset = f"limit{limit}" + (",ada" if ada else "")
    path = os.path.join(ROOT, "experiments", "dcgan_digits.py")
    overrides = {"train.steps": steps, "seed": seed, "train.log_every": 50}
    overrides.update({"train.sample_every": steps, "train.checkpoint_every": steps})
    config = load_config(f"{path}:{preset}", overrides)
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        state, _ = train(config, workdir, progress=False)
        seconds = time.perf_counter() - start
        logged = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
    from gans_jax.builders import build_gan

    gan = build_gan(config, (config.model.resolution, config.model.resolution, 1), 10)
    row = {"limit": limit, "ada": ada, "steps": steps, "seed": seed, "train_s": round(seconds, 1)}
    row.update(evaluate(config, state, gan, judge))
    row["p"] = float(state.extra["augment_p"]) if ada else 0.0
    row["rt"] = next((r["augment/rt"] for r in reversed(logged) if "augment/rt" in r), None)
    row["d_real_last"] = logged[-1].get("d_real")
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limits", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    from gans_jax.metrics.digits_classifier import DigitsJudge

    judge = DigitsJudge.fit()
    rows = []
    print(
        f"{'images':>6} {'ADA':>4} {'fid_judge':>9} {'fid_pixels':>10} {'agree':>6} {'p':>6} {'train_s':>7}"
    )
    for limit in args.limits:
        for ada in (False, True):
            row = run(limit, ada, args.steps, args.seed, judge)
            rows.append(row)
            print(
                f"{limit:>6} {'yes' if ada else 'no':>4} {row['fid_judge']:>9.3f} {row['fid_pixels']:>10.3f} "
                f"{row['class_agreement']:>6.3f} {row['p']:>6.3f} {row['train_s']:>7.1f}",
                flush=True,
            )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
