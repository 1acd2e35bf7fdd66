"""A fixed digit classifier that judges generated (conditional) digits.

An RBF support-vector classifier (``SVC(gamma=0.001)``, the scikit-learn digits example) is fit
on the 8x8 train split of :mod:`gans_jax.data.digits`; generated images at any resolution that is
a multiple of 8 are block-averaged (area downsampling) back to 8x8 and rescaled to 0..16 before
classification. For class-conditional GANs (Mirza & Osindero, 2014, "Conditional Generative
Adversarial Nets"; Odena et al., 2017, "Conditional Image Synthesis with Auxiliary Classifier
GANs", who judge samples with a pre-trained classifier) the *class agreement* is the fraction of
samples the judge assigns to their conditioning label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.svm import SVC

from gans_jax.data.digits import MAX_VALUE, load_digits_8x8

__all__ = ["DigitsJudge", "images_to_digits_8x8"]


def images_to_digits_8x8(images: np.ndarray) -> np.ndarray:
    """``(N, H, W, 1)`` images in [-1, 1] (H = W, a multiple of 8) -> ``(N, 8, 8)`` in 0..16.

    Downsamples by averaging ``H/8 x W/8`` blocks, maps ``[-1, 1]`` to ``[0, 16]`` and clips.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images must be NHWC with 1 channel, got shape {images.shape}")
    n, h, w, _ = images.shape
    if h != w or h < 8 or h % 8:
        raise ValueError(f"images must be square with a side that is a multiple of 8, got {h}x{w}")
    if not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or infinite values")
    f = h // 8
    small = images[..., 0].reshape(n, 8, f, 8, f).mean(axis=(2, 4))
    return np.clip((small + 1.0) / 2.0 * MAX_VALUE, 0.0, MAX_VALUE)


@dataclass(frozen=True)
class DigitsJudge:
    """An SVC fit on the digits train split; use :meth:`fit` to build one."""

    classifier: SVC
    test_images: np.ndarray  # (N, 8, 8) held-out digits, 0..16
    test_labels: np.ndarray  # (N,)

    @classmethod
    def fit(cls, seed: int = 0, test_fraction: float = 0.2) -> DigitsJudge:
        """Trains on ``load_digits_8x8("train", test_fraction, seed)`` (deterministic)."""
        train_x, train_y = load_digits_8x8("train", test_fraction, seed)
        test_x, test_y = load_digits_8x8("test", test_fraction, seed)
        classifier = SVC(gamma=0.001).fit(train_x.reshape(len(train_x), -1), train_y)
        return cls(classifier=classifier, test_images=test_x, test_labels=test_y)

    def real_accuracy(self) -> float:
        """Accuracy on the held-out 8x8 test split (about 0.99)."""
        pred = self.classifier.predict(self.test_images.reshape(len(self.test_images), -1))
        return float(np.mean(pred == self.test_labels))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted labels ``(N,)`` int32 of ``(N, H, W, 1)`` images in [-1, 1]."""
        digits = images_to_digits_8x8(images)
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
