"""The evaluation at the end of training, and held-out examples of image-to-image runs.

:func:`evaluate` computes the quality metrics that need no download: mode coverage for 2-D toy data
and stacked digits (:mod:`gans_jax.metrics.modes`), class agreement and InfoGAN code purity for digits
(:mod:`gans_jax.metrics.digits_classifier`), and for image-to-image GANs held-out L1/PSNR or cycle
consistency (:func:`translation_evaluation`). Inception metrics of a trained run (FID, KID, ...) are
:mod:`gans_jax.metrics.evaluate`'s.
"""

from __future__ import annotations

import jax
import numpy as np

from gans_jax import sampling
from gans_jax.training.state import GAN, GANState, standing_statistics


def evaluate(config, gan: GAN, state: GANState, key: jax.Array) -> dict[str, float]:
    """Quality metrics that need no download: class agreement for digits, mode coverage for toy data.

    ``eval.standing_stats`` > 0 first replaces G's batch-norm statistics by standing statistics over
    that many batches (:func:`gans_jax.training.state.standing_statistics`); ``eval.truncations`` adds
    ``class_agreement@<t>`` for latents truncated at each threshold (BigGAN's truncation sweep)."""
    if gan.translation is not None:
        return translation_evaluation(config, gan, state)
    source = config.data.source
    num = config.eval.num_samples
    if config.eval.standing_stats:
        state = standing_statistics(
            gan, state, jax.random.fold_in(key, 2), num_batches=config.eval.standing_stats
        )
    k_z, k_y = jax.random.split(key)
    z = gan.sample_latents(k_z, num)
    labels = gan.sample_labels(k_y, num)
    generate = jax.jit(gan.generate)  # compiled once: op-by-op, a large generator takes seconds per call
    samples = np.asarray(generate(state, z, labels))
    if source == "toy":
        from gans_jax.data.toy import get_mixture
        from gans_jax.metrics.modes import mode_metrics

        return mode_metrics(samples, get_mixture(config.data.name))
    if source == "offline:stacked_digits" or config.data.get("stacked", False):
        from gans_jax.metrics.digits_classifier import stacked_judge
        from gans_jax.metrics.modes import stacked_modes

        judge = stacked_judge(config.data, config.model.resolution)  # trained on the base digits (MNIST)
        return {**stacked_modes(samples, judge), "real_accuracy": judge.real_accuracy()}
    results = {}
    if source == "digits" and (gan.conditional or (gan.latent_codes and gan.latent_codes.categorical)):
        from gans_jax.metrics.digits_classifier import DigitsJudge

        judge = DigitsJudge.fit()
        results.update(real_accuracy=judge.real_accuracy(), num_samples=num)
        if gan.conditional:
            results["class_agreement"] = judge.class_agreement(samples, np.asarray(labels))
            for t in config.eval.truncations:
                z_t = sampling.truncated_latents(k_z, num, tuple(gan.latent_shape), float(t))
                truncated = np.asarray(generate(state, z_t, labels))
                results[f"class_agreement@{t:g}"] = judge.class_agreement(truncated, np.asarray(labels))
        if gan.latent_codes and gan.latent_codes.categorical:
            results.update(infogan_code_purity(gan, state, judge, jax.random.fold_in(key, 1), num))
    return results


def held_out_examples(config, gan: GAN, num: int, resolution: int | None = None) -> dict[str, np.ndarray]:
    """The first ``num`` examples of the evaluation split (``eval.split``, else ``data.split``) of an
    image-to-image experiment's data, in a fixed order, at ``resolution`` (default ``model.resolution``)."""
    from gans_jax.data.pipeline import make_source

    data = {**dict(config.data), "jitter": False}
    if config.eval.split:
        data["split"] = config.eval.split
    if config.eval.path:
        data["path"] = config.eval.path
    source = make_source(data, resolution=resolution or config.model.resolution, seed=config.seed)
    try:
        count = min(int(num), len(source))
        batch = source.read_batch(np.arange(count))
    finally:
        getattr(source, "close", lambda: None)()
    return {k: np.asarray(batch[k]) for k in ("image", "condition")}


def translator(gan: GAN, *, use_ema: bool = True, batch_stats: bool = False, seed: int = 0):
    """A compiled ``G`` for :func:`translate`: ``fn(state, condition, index)``, where ``index`` holds the
    position of each image in the whole set (it keys each image's dropout when ``batch_stats``).

    ``batch_stats=False``: the generator in evaluation mode (batch norm with its running statistics;
    pix2pix's dropout as its ``test_dropout`` says, the authors' ``test.py --eval``). ``batch_stats=True``:
    as their ``test.py`` without ``--eval`` (batch size 1, the networks left in training mode): each image
    goes through the generator alone in training mode, so batch norm normalises with that image's own
    statistics and dropout is on, its mask drawn from ``fold_in(PRNGKey(seed), index)`` (the same output
    for an image however the set is batched). Nothing is updated."""
    if not batch_stats:
        return jax.jit(lambda s, c, index: gan.generate(s, None, c, use_ema=use_ema))
    base = jax.random.PRNGKey(seed)

    def one(s, c, index):
        one_batch = jax.tree.map(lambda a: a[None], c)
        key = jax.random.fold_in(base, index)
        out = gan.generate(s, None, one_batch, use_ema=use_ema, train=True, dropout_key=key)
        return jax.tree.map(lambda a: a[0], out)

    return jax.jit(jax.vmap(one, in_axes=(None, 0, 0)))


def translate(
    gan: GAN,
    state: GANState,
    condition,
    *,
    batch_size: int = 32,
    use_ema: bool = True,
    batch_stats: bool = False,
    seed: int = 0,
    generate=None,
    start: int = 0,
):
    """``G(condition)`` in batches (numpy in, numpy out); a dict of arrays for unpaired GANs. The
    generator runs as :func:`translator` describes (``generate``: one made before, else one is made);
    ``start`` is the index of the first image in a larger set."""
    if generate is None:
        generate = translator(gan, use_ema=use_ema, batch_stats=batch_stats, seed=seed)
    n = len(jax.tree.leaves(condition)[0])
    parts = [
        jax.device_get(
            generate(
                state,
                jax.tree.map(lambda a, i=i: a[i : i + batch_size], condition),
                np.arange(start + i, start + min(i + batch_size, n), dtype=np.int32),
            )
        )
        for i in range(0, n, batch_size)
    ]
    return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


def translation_evaluation(config, gan: GAN, state: GANState) -> dict[str, float]:
    """Held-out metrics of an image-to-image GAN on ``eval.num_samples`` examples of the evaluation
    split: L1 and PSNR of ``G(source)`` against the target next to the bicubic/identity baseline
    (paired, :mod:`gans_jax.metrics.translation`); the cycle-consistency L1 in both directions (unpaired).

    Super-resolution (``data.translation="super_resolution"`` or ``offline:sr_photos``) is evaluated as
    in Ledig et al. 2017, Sec. 3.1: on ``eval.resolution`` crops (0 = ``model.resolution``; the
    generator is fully convolutional), without an ``eval.shave``-pixel border, with the PSNR also on
    BT.601 luma (``psnr_y``) for colour images, and against Pillow bicubic upsampling of the
    low-resolution input (the filter that made it). ``eval.batch_stats`` chooses how the generator runs
    (:func:`translate`: running statistics, or each image's own in training mode as the authors' pix2pix
    and CycleGAN ``test.py``)."""
    from gans_jax.data.folder import uint8_to_unit_range
    from gans_jax.data.offline import TASKS
    from gans_jax.data.transforms import bicubic_upsample, unit_range_to_uint8
    from gans_jax.metrics.translation import l1_distance, translation_metrics

    source = str(config.data.source)
    offline_kind = TASKS.get(source.partition(":")[2], "") if source.startswith("offline:") else ""
    super_resolution = (config.data.translation or offline_kind) == "super_resolution"
    resolution = config.eval.resolution if super_resolution else 0
    batch = held_out_examples(config, gan, config.eval.num_samples, resolution or None)
    real, condition = gan.split_batch(batch)
    out = translate(gan, state, condition, batch_stats=config.eval.batch_stats, seed=config.seed)
    results = {"num_samples": int(len(batch["image"]))}
    if gan.translation == "paired" and super_resolution:
        scale = real.shape[1] // condition.shape[1]
        baseline = uint8_to_unit_range(bicubic_upsample(unit_range_to_uint8(condition), scale))
        results.update(
            translation_metrics(
                np.clip(out, -1.0, 1.0),
                real,
                condition,
                baseline=baseline,
                shave=int(config.eval.shave),
                luma=real.shape[-1] == 3,
            )
        )
        results["eval_resolution"] = int(real.shape[1])
    elif gan.translation == "paired":
        results.update(translation_metrics(out, real, condition))
    else:
        results["cycle_l1_x"] = l1_distance(out["rec_x"], real["x"])
        results["cycle_l1_y"] = l1_distance(out["rec_y"], real["y"])
    return results


def infogan_code_purity(gan: GAN, state: GANState, judge, key: jax.Array, num: int) -> dict[str, float]:
    """Unsupervised class purity of InfoGAN's first categorical code (Chen et al. 2016, Sec. 7.1):
    ``num`` samples spread over its values, labelled by ``judge`` (:mod:`gans_jax.metrics.purity`)."""
    from gans_jax.metrics.purity import code_purity

    k_z, k_y = jax.random.split(key)
    size = gan.latent_codes.categorical[0]
    values = np.arange(num) % size
    z = gan.latent_codes.set_categorical(gan.sample_latents(k_z, num), values)
    labels = gan.sample_labels(k_y, num)
    predictions = judge.predict(np.asarray(gan.generate(state, z, labels)))
    return {f"code_{k}": v for k, v in code_purity(values, predictions).items()}
