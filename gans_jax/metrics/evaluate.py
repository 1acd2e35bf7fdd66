"""Metrics of a trained run, named as StyleGAN2-ADA names them so numbers are comparable.

``fid50k`` is FID between 50,000 generated images and the run's training data; ``kid50k`` KID;
``pr50k3`` precision and recall (Kynkaanniemi et al. 2019) with k = 3 on the fc7 features of NVIDIA's
VGG16 (:mod:`gans_jax.metrics.nvidia_vgg16`, needs its ``vgg16.pt``) in float16 as the official code;
``pr50k3_inception`` the same on Inception pool3 features (a different number, under its own name);
``is50k`` the Inception Score (needs weights with the output layer). ``ppl_zfull``, ``ppl_wfull``,
``ppl_zend``, ``ppl_wend`` (perceptual path length of a style-based generator,
:mod:`gans_jax.metrics.ppl`) read no real images and need LPIPS weights. The generated side is
exactly that many images, drawn deterministically from the EMA generator. The real side is up to as
many images of the dataset as the largest generated set (all of it when smaller), or, with
StyleGAN2-ADA's ``_full`` suffix (``fid50k_full``, ``kid50k_full``, ``pr50k3_full``,
``pr50k3_inception_full``), the whole dataset however large; on a dataset no larger than the
generated set both read every image and agree.
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

METRIC_PATTERN = re.compile(r"^(fid|kid|pr|is)(\d+)k(\d*)(_inception)?(_full)?$")
FEATURES = {"fid": "pool3", "kid": "pool3", "is": "logits_unbiased", "pr": "fc7", "pr_inception": "pool3"}


def parse_metric(name: str) -> tuple[str, int, int | None]:
    """``"pr50k3"`` -> ``("pr", 50000, 3)`` (VGG16 features), ``"pr50k3_inception"`` ->
    ``("pr_inception", 50000, 3)``; ``"fid10k"`` and ``"fid10k_full"`` -> ``("fid", 10000, None)``
    (:func:`is_full` tells them apart)."""
    match = METRIC_PATTERN.match(name)
    if not match or ((match.group(3) or match.group(4)) and match.group(1) != "pr"):
        raise ValueError(
            f"unknown metric {name!r}; expected e.g. fid50k, fid50k_full, kid50k, pr50k3, "
            "pr50k3_inception, is50k"
        )
    kind, thousands, k, inception, full = match.groups()
    if full and kind == "is":
        raise ValueError(f"metric {name!r}: the Inception Score reads no real images; use is{thousands}k")
    kind = f"{kind}_inception" if inception else kind
    return kind, int(thousands) * 1000, int(k) if k else (3 if kind.startswith("pr") else None)


def needs_vgg16(names) -> bool:
    """Whether any of the metric ``names`` is precision/recall on NVIDIA's VGG16 features."""
    return any(parse_metric(name)[0] == "pr" for name in names if not name.startswith("ppl"))


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
    gan, state, dataset, metrics: list[str], extractor, *, vgg16_extractor=None, batch_size: int = 64,
    seed: int = 0, progress: bool = True,
) -> dict[str, float | int]:  # fmt: skip
    """Compute the named metrics of a run; features of each side are extracted once for all metrics, in
    one pass over the images: Inception features by ``extractor`` (FID, KID, IS, ``pr*_inception``),
    fc7 features by ``vgg16_extractor`` (``pr*``: a :class:`~gans_jax.metrics.nvidia_vgg16.VGG16Extractor`,
    required when such a metric is asked for)."""
    parsed = {name: parse_metric(name) for name in metrics}
    if needs_vgg16(metrics) and vgg16_extractor is None:
        names = [name for name, (kind, _, _) in parsed.items() if kind == "pr"]
        raise ValueError(
            f"{names[0]} uses the fc7 features of NVIDIA's VGG16 (vgg16.pt), and no VGG16 extractor was "
            f"given; give its path (--vgg16), or ask for {names[0].replace('_full', '')}_inception"
            f"{'_full' if is_full(names[0]) else ''} for precision/recall on Inception features"
        )
    num_fake = max(num for _, num, _ in parsed.values())
    fake_keys = sorted({FEATURES[kind] for kind, _, _ in parsed.values()})
    real_keys = sorted({FEATURES[kind] for kind, _, _ in parsed.values() if kind != "is"})

    def extract(images):
        out = {}
        if any(k != "fc7" for k in fake_keys):
            out.update(extractor(images))
        if "fc7" in fake_keys:
            out.update(vgg16_extractor(images))
        return out

    fake = collect_features(
        generator_batches(run_sampler(gan, state, seed=seed), num_fake, batch_size),
        extract, num=num_fake, keys=fake_keys, progress=progress, desc="generated",
    )  # fmt: skip
    real_all = {}
    num_real = min(num_fake, dataset.num_examples)  # without _full: up to the largest generated set
    if real_keys:
        count = dataset.num_examples if any(map(is_full, parsed)) else num_real
        real_all = collect_features(
            dataset_batches(dataset, count),
            extract,
            num=count,
            keys=real_keys,
            progress=progress,
            desc="real",
        )
    results: dict[str, float | int] = {}
    for name, (kind, num, k) in parsed.items():
        fake_feats = fake[FEATURES[kind]][:num]
        real = None if kind == "is" else real_all[FEATURES[kind]]
        real = real if real is None or is_full(name) else real[:num_real]
        if kind == "fid":
            f, r = (
                FeatureStats(fake_feats.shape[1]).update(fake_feats),
                FeatureStats(real.shape[1]).update(real),
            )
            results[name] = frechet_distance(f.mu, f.sigma, r.mu, r.sigma)
        elif kind == "kid":
            kid = kernel_inception_distance(real, fake_feats)
            results[name], results[f"{name}_std"] = kid["kid"], kid["kid_std"]
        elif kind in ("pr", "pr_inception"):
            pr = precision_recall(real, fake_feats, k=k, float16=kind == "pr")
            results[f"{name}_precision"], results[f"{name}_recall"] = pr["precision"], pr["recall"]
        else:
            score = inception_score(fake_feats)
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
