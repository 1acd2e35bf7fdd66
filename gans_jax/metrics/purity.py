"""Unsupervised class purity of a categorical latent code (InfoGAN, Chen et al. 2016, Sec. 7.1).

Samples are generated for every value ``k`` of the code and labelled by a fixed classifier; each
value's *majority class* is the most frequent label among its samples. Purity is the fraction of all
samples that agree with the majority class of their code value (1 - purity is the paper's
"classification error" of matching code values to classes, 5% on MNIST, when the majority classes are
distinct). ``distinct_classes`` counts the different majority classes over the code values.
"""

from __future__ import annotations

import numpy as np


def code_purity(codes: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """``codes`` and ``predictions``: ``(N,)`` integer code values and predicted classes of N samples."""
    codes, predictions = np.asarray(codes), np.asarray(predictions)
    if codes.shape != predictions.shape or codes.ndim != 1 or len(codes) == 0:
        raise ValueError(
            f"codes {codes.shape} and predictions {predictions.shape} must be equal, non-empty (N,)"
        )
    agree, majorities = 0, []
    for value in np.unique(codes):
        counts = np.bincount(predictions[codes == value])
        majorities.append(int(np.argmax(counts)))
        agree += int(counts.max())
    return {"purity": agree / len(codes), "distinct_classes": len(set(majorities))}
