"""A fixed digit classifier that judges generated (conditional or stacked) digits.

An RBF support-vector classifier judges digits downsampled to ``side x side`` (area averaging of
``H/side x W/side`` blocks) and rescaled to 0..16. The default judge (:meth:`DigitsJudge.fit`) is
``SVC(gamma=0.001)`` (the scikit-learn digits example) fit on the 8x8 train split of
:mod:`gans_jax.data.digits`, for generated images at any resolution that is a multiple of 8. The same
machinery trains a judge on any labelled one-channel data (:meth:`DigitsJudge.fit_images`,
:meth:`DigitsJudge.fit_source`; ``SVC(C=10, gamma="scale")`` on the examples at half their side), which
is how real stacked MNIST is scored: by a classifier trained on MNIST's train split and checked on its test
split (:func:`stacked_judge`). On the bundled digits (16x16 or 32x32, held-out split) this trainer reaches
0.992; on MNIST it has not been measured here (no download); a Gaussian-kernel SVM on MNIST pixels has
1.4% test error with all 60,000 training digits (LeCun et al., the MNIST page's table).

For class-conditional GANs (Mirza & Osindero, 2014, "Conditional Generative Adversarial Nets"; Odena et
al., 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs", who judge samples with a
pre-trained classifier) the *class agreement* is the fraction of samples the judge assigns to their
conditioning label; for stacked digits the judge labels each channel
(:func:`gans_jax.metrics.modes.stacked_modes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.svm import SVC

from gans_jax.data.digits import MAX_VALUE, load_digits_8x8

__all__ = ["DigitsJudge", "images_to_digits", "images_to_digits_8x8", "stacked_judge"]

JUDGE_TRAIN_EXAMPLES = 20_000  # fit_source: an RBF SVC's fit time grows about quadratically with this
JUDGE_TEST_EXAMPLES = 10_000
_READ_CHUNK = 4096


def images_to_digits(images: np.ndarray, side: int) -> np.ndarray:
    """``(N, H, W, 1)`` images in [-1, 1] (H = W, a multiple of ``side``) -> ``(N, side, side)`` in 0..16.

    Downsamples by averaging ``H/side x W/side`` blocks, maps ``[-1, 1]`` to ``[0, 16]`` and clips.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images must be NHWC with 1 channel, got shape {images.shape}")
    n, h, w, _ = images.shape
    if h != w or h < side or h % side:
        raise ValueError(f"images must be square with a side that is a multiple of {side}, got {h}x{w}")
    if not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or infinite values")
    f = h // side
    small = images[..., 0].reshape(n, side, f, side, f).mean(axis=(2, 4))
    return np.clip((small + 1.0) / 2.0 * MAX_VALUE, 0.0, MAX_VALUE)


def images_to_digits_8x8(images: np.ndarray) -> np.ndarray:
    """:func:`images_to_digits` at side 8 (the digits judge's input)."""
    return images_to_digits(images, 8)


@dataclass(frozen=True)
class DigitsJudge:
    """An SVC on ``side x side`` digits in 0..16; build one with :meth:`fit` (bundled digits),
    :meth:`fit_images` or :meth:`fit_source` (any labelled one-channel data, e.g. MNIST)."""

    classifier: SVC
    test_images: np.ndarray  # (N, side, side) held-out digits, 0..16
    test_labels: np.ndarray  # (N,)
    side: int = 8

    @classmethod
    def fit(cls, seed: int = 0, test_fraction: float = 0.2) -> DigitsJudge:
        """Trains on ``load_digits_8x8("train", test_fraction, seed)`` (deterministic)."""
        train_x, train_y = load_digits_8x8("train", test_fraction, seed)
        test_x, test_y = load_digits_8x8("test", test_fraction, seed)
        classifier = SVC(gamma=0.001).fit(train_x.reshape(len(train_x), -1), train_y)
        return cls(classifier=classifier, test_images=test_x, test_labels=test_y)

    @classmethod
    def fit_images(
        cls, train_images, train_labels, test_images, test_labels, *, side: int, c: float = 10.0
    ) -> DigitsJudge:
        """``SVC(C=c, gamma="scale")`` (``gamma = 1 / (features * Var(x))``) fit on ``(N, H, W, 1)``
        ``train_images`` in [-1, 1] downsampled to ``side`` (:func:`images_to_digits`), with held-out
        ``test_images`` for :meth:`real_accuracy` (deterministic)."""
        train_x = images_to_digits(train_images, side)
        train_y = np.asarray(train_labels, np.int64)
        if train_y.shape != (len(train_x),) or len(np.unique(train_y)) < 2:
            raise ValueError(
                f"need one label per training image and at least two classes, got labels of shape "
                f"{train_y.shape} with classes {np.unique(train_y)[:10]} for {len(train_x)} images"
            )
        classifier = SVC(C=c, gamma="scale").fit(train_x.reshape(len(train_x), -1), train_y)
        test_x = images_to_digits(test_images, side)
        return cls(classifier, test_x, np.asarray(test_labels, np.int64), side=side)

    @classmethod
    def fit_source(
        cls,
        train_source,
        test_source,
        *,
        side: int | None = None,
        num_train: int = JUDGE_TRAIN_EXAMPLES,
        num_test: int = JUDGE_TEST_EXAMPLES,
    ) -> DigitsJudge:
        """:meth:`fit_images` on the first ``num_train`` examples of a fixed permutation (seed 0) of a
        labelled random-access source of one-channel ``(H, W, 1)`` images (e.g. a TFDS MNIST split), held
        out on ``num_test`` of ``test_source``; ``side`` defaults to ``H / 2`` (14 for MNIST's 28, 16 at 32)
        when ``H`` is even, else ``H``."""
        height = int(tuple(train_source.sample_shape)[0])
        side = side or (height // 2 if height % 2 == 0 else height)
        train, test = (_read_examples(s, n) for s, n in ((train_source, num_train), (test_source, num_test)))
        return cls.fit_images(train["image"], train["label"], test["image"], test["label"], side=side)

    def real_accuracy(self) -> float:
        """Accuracy on the held-out test images (about 0.99 for the digits judge)."""
        pred = self.classifier.predict(self.test_images.reshape(len(self.test_images), -1))
        return float(np.mean(pred == self.test_labels))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted labels ``(N,)`` int32 of ``(N, H, W, 1)`` images in [-1, 1]."""
        digits = images_to_digits(images, self.side)
        if len(digits) == 0:
            return np.zeros((0,), np.int32)
        return self.classifier.predict(digits.reshape(len(digits), -1)).astype(np.int32)

    def class_agreement(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Fraction of ``images`` whose predicted label equals the conditioning ``labels``."""
        labels = np.asarray(labels)
        images_len = np.shape(images)[0]
        if labels.shape != (images_len,):
            raise ValueError(f"labels must have shape ({images_len},) to match images, got {labels.shape}")
        if images_len == 0:
            raise ValueError("class_agreement needs at least one image, got 0")
        return float(np.mean(self.predict(images) == labels))


def _read_examples(source, num: int) -> dict[str, np.ndarray]:
    """The first ``num`` examples of the seed-0 permutation of ``source``, read in chunks."""
    order = np.random.default_rng(0).permutation(len(source))[: int(num)]
    parts = [source.read_batch(order[i : i + _READ_CHUNK]) for i in range(0, len(order), _READ_CHUNK)]
    return {k: np.concatenate([p[k] for p in parts]) for k in ("image", "label")}


def stacked_judge(data: Mapping[str, Any], resolution: int | None) -> DigitsJudge:
    """The per-channel judge of a stacked data config (:mod:`gans_jax.data.stacked`): the digits judge
    (:meth:`DigitsJudge.fit`) for ``offline:stacked_digits`` and stacked ``digits``; otherwise a judge
    trained (:meth:`DigitsJudge.fit_source`) on the base data's ``"train"`` split and held out on its
    ``"test"`` split at ``resolution`` (real stacked MNIST: ``tfds:mnist``, prepared locally)."""
    from gans_jax.data.sources import make_basic_source, option

    source = option(data, "source", "")
    if source in ("offline:stacked_digits", "digits"):
        return DigitsJudge.fit()
    base = {**dict(data), "stacked": False, "limit": 0}
    train, test = (make_basic_source({**base, "split": s}, resolution=resolution) for s in ("train", "test"))
    try:
        return DigitsJudge.fit_source(train, test)
    finally:
        for s in (train, test):
            getattr(s, "close", lambda: None)()
