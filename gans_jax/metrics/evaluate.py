"""Metrics of a trained run, named as StyleGAN2-ADA names them so numbers are comparable.

``fid50k`` is FID between 50,000 generated images and the run's training data; ``kid50k`` KID;
``pr50k3`` precision and recall (Kynkaanniemi et al. 2019) with k = 3 (on Inception features, not yet
NVIDIA's VGG16 ones); ``is50k`` the Inception Score (needs weights with the output layer). ``ppl_zfull``,
``ppl_wfull``, ``ppl_zend``, ``ppl_wend`` (perceptual path length of a style-based generator,
:mod:`gans_jax.metrics.ppl`) read no real images and need LPIPS weights. The generated side is
exactly that many images, drawn deterministically from the EMA generator. The real side is up to as
many images of the dataset as the largest generated set (all of it when smaller), or, with
StyleGAN2-ADA's ``_full`` suffix (``fid50k_full``, ``kid50k_full``, ``pr50k3_full``), the whole
dataset however large; on a dataset no larger than the generated set both read every image and agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import jax
import numpy as np

from gans_jax.metrics.features import collect_features, process_batches
from gans_jax.metrics.fid import FeatureStats, frechet_distance, generator_batches
from gans_jax.metrics.inception_score import inception_score
from gans_jax.metrics.kid import kernel_inception_distance
from gans_jax.metrics.precision_recall import precision_recall

METRIC_PATTERN = re.compile(r"^(fid|kid|pr|is)(\d+)k(\d*)(_full)?$")


def parse_metric(name: str) -> tuple[str, int, int | None]:
    """``"pr50k3"`` -> ``("pr", 50000, 3)``; ``"fid10k"`` and ``"fid10k_full"`` -> ``("fid", 10000,
    None)`` (:func:`is_full` tells them apart)."""
    match = METRIC_PATTERN.match(name)
    if not match or (match.group(3) and match.group(1) != "pr"):
        raise ValueError(f"unknown metric {name!r}; expected e.g. fid50k, fid50k_full, kid50k, pr50k3, is50k")
    kind, thousands, k, full = match.groups()
    if full and kind == "is":
        raise ValueError(f"metric {name!r}: the Inception Score reads no real images; use is{thousands}k")
    return kind, int(thousands) * 1000, int(k) if k else (3 if kind == "pr" else None)


def split_metric_names(names) -> tuple[list[str], list[str]]:
    """``(inception metric names, perceptual path length names)`` of ``names``, each checked:
    :func:`parse_metric` names and :data:`gans_jax.metrics.ppl.PPL_METRICS` (``ppl_zfull``,
    ``ppl_wfull``, ``ppl_zend``, ``ppl_wend``)."""
    from gans_jax.metrics.ppl import PPL_METRICS

    inception, ppl = [], []
    for name in names:
        if name in PPL_METRICS:
            ppl.append(name)
            continue
        try:
            parse_metric(name)
        except ValueError:
            if name.startswith("ppl"):
                raise ValueError(f"unknown metric {name!r}; perceptual path length is one of "
                                 f"{', '.join(PPL_METRICS)}") from None  # fmt: skip
            raise
        inception.append(name)
    return inception, ppl


def is_full(name: str) -> bool:
    """Whether metric ``name`` compares with the whole dataset (StyleGAN2-ADA's ``_full``)."""
    return name.endswith("_full")


def run_sampler(gan, state, *, seed: int = 0, use_ema: bool = True) -> Callable[[int, int], np.ndarray]:
    """``sample_fn(batch_index, n)``: ``n`` images of the run's generator, latents and labels drawn from
    ``fold_in(PRNGKey(seed), batch_index)``, so the same call always gives the same images."""
    generate = jax.jit(lambda z, y: gan.generate(state, z, y, use_ema=use_ema))

    def sample_fn(batch_index: int, n: int) -> np.ndarray:
        k_z, k_y = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), batch_index))
        return np.asarray(generate(gan.sample_latents(k_z, n), gan.sample_labels(k_y, n)))

    return sample_fn


def dataset_batches(dataset, num: int):
    """The dataset's images, one epoch in its shuffled order, at most ``num``; with several processes,
    this process's share of the batches (:func:`~gans_jax.metrics.features.process_batches`). The
    dataset gives whole global batches (it is made without ``process_index``/``process_count``)."""
    if dataset.process_count != 1:
        raise ValueError(
            f"dataset_batches needs a dataset of whole batches, got one split over {dataset.process_count} "
            "processes; metrics split the batches between processes themselves"
        )
    limit, size = min(num, dataset.num_examples), dataset.batch_size

    def batch(step: int) -> np.ndarray:
        return dataset.batch(step)["image"][: limit - step * size]

    return process_batches(batch, -(-limit // size))


def evaluate_run(
    gan, state, dataset, metrics: list[str], extractor, *, batch_size: int = 64, seed: int = 0,
    progress: bool = True,
) -> dict[str, float | int]:  # fmt: skip
    """Compute the named metrics of a run; features of each side are extracted once for all metrics."""
    parsed = {name: parse_metric(name) for name in metrics}
    num_fake = max(num for _, num, _ in parsed.values())
    needs_real = any(kind != "is" for kind, _, _ in parsed.values())
    keys = ("pool3", "logits_unbiased") if any(k == "is" for k, _, _ in parsed.values()) else ("pool3",)
    fake = collect_features(
        generator_batches(run_sampler(gan, state, seed=seed), num_fake, batch_size),
        extractor, num=num_fake, keys=keys, progress=progress, desc="generated",
    )  # fmt: skip
    real_all = None
    num_real = min(num_fake, dataset.num_examples)  # without _full: up to the largest generated set
    if needs_real:
        extract = dataset.num_examples if any(map(is_full, parsed)) else num_real
        real_all = collect_features(
            dataset_batches(dataset, extract), extractor, num=extract, progress=progress, desc="real"
        )["pool3"]
    results: dict[str, float | int] = {}
    for name, (kind, num, k) in parsed.items():
        fake_feats = fake["pool3"][:num]
        real = None if real_all is None else real_all if is_full(name) else real_all[:num_real]
        if kind == "fid":
            f, r = (
                FeatureStats(fake_feats.shape[1]).update(fake_feats),
                FeatureStats(real.shape[1]).update(real),
            )
            results[name] = frechet_distance(f.mu, f.sigma, r.mu, r.sigma)
        elif kind == "kid":
            kid = kernel_inception_distance(real, fake_feats)
            results[name], results[f"{name}_std"] = kid["kid"], kid["kid_std"]
        elif kind == "pr":
            pr = precision_recall(real, fake_feats, k=k)
            results[f"{name}_precision"], results[f"{name}_recall"] = pr["precision"], pr["recall"]
        else:
            score = inception_score(fake["logits_unbiased"][:num])
            results[name], results[f"{name}_std"] = score["is"], score["is_std"]
        results[f"{name}_num_fake"] = num
        if kind != "is":
            results[f"{name}_num_real"] = len(real)
    return results


class TrainingFID:
    """FID of the EMA generator against precomputed reference statistics, every ``eval.fid_every``
    steps of training (``eval.fid_stats``: a ``mu``/``sigma`` npz from ``gans-jax stats``)."""

    def __init__(self, eval_config):
        from gans_jax.metrics.fid import load_stats

        self.num = eval_config.fid_num
        self.batch_size = eval_config.fid_batch_size
        self.stats_path = eval_config.fid_stats
        self.reference = load_stats(self.stats_path)
        self.resize = eval_config.fid_resize
        self.weights = eval_config.fid_weights or None
        self._extractor = None

    def __call__(self, gan, state) -> dict[str, float | int]:
        from gans_jax.metrics.features import InceptionExtractor
        from gans_jax.metrics.fid import fid_of_generator

        if self._extractor is None:  # compiled once, at the first evaluation
            self._extractor = InceptionExtractor(self.weights, resize=self.resize, batch_size=self.batch_size)
        result = fid_of_generator(
            run_sampler(gan, state),
            self.num,
            self.reference,
            self._extractor,
            self.batch_size,
            progress=False,
        )
        return {"fid": result["fid"], "fid_num_samples": result["num_samples"]}
