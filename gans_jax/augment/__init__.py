"""Discriminator augmentation for training with limited data: StyleGAN2-ADA's pipeline with its adaptive
probability, and DiffAugment.

Both augment every image the discriminator sees, real and generated, in both players' updates and
inside its regularisers, with transforms that are differentiable so that the generator's gradient passes
through them (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data", Sec. 2;
Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training", Sec. 3). The train
step (:mod:`gans_jax.training.step`) holds an :class:`Augmentation` and draws one PRNG key per example
of the global batch, so a sharded or pmapped step augments exactly as the single-device one.

**The ADA pipeline** (:func:`augment`, NVlabs ``training/augment.py``'s ``AugmentPipe``): each transform
is applied to an example with probability ``multiplier * p``, in the official order and with the
official strengths (:class:`AugmentSpec`, presets :data:`PRESETS`):

1. Geometric, composed into one inverse homogeneous transform ``G^-1`` (output pixel -> input pixel,
   centred pixel coordinates) and executed once: x-flip, rotation by ``i * 90`` degrees, integer
   translation ``round(U(-0.125, 0.125) * size)``; isotropic scaling ``2^N(0, 0.2^2)``, pre-rotation
   ``U(-pi, pi)``, anisotropic scaling ``2^N(0, 0.2^2)`` (``s, 1/s``), post-rotation, fractional
   translation ``N(0, 0.125^2) * size``. The two rotations each happen with probability
   ``1 - sqrt(1 - p)`` so that one or the other happens with probability ``p``. Execution: reflect
   padding, 2x upsampling with the ``sym6`` wavelet low-pass filter (``upfirdn2d``), bilinear
   ``grid_sample`` at the transformed positions, filtering with the same filter and 2x downsampling.
2. Colour, composed into one 4x4 matrix ``C`` acting on ``(r, g, b, 1)``: brightness ``+N(0, 0.2^2)``,
   contrast ``x 2^N(0, 0.5^2)``, luma flip (Householder reflection along the luma axis
   ``v = (1, 1, 1) / sqrt(3)``), hue rotation ``U(-pi, pi)`` about ``v``, saturation ``2^N(0, 1)`` of
   the chroma. Single-channel images take the mean of ``C``'s first three rows (brightness, contrast
   and luma flip act; hue and saturation are skipped), as the official code does.
3. Image-space filtering: four frequency bands (from the ``sym2`` wavelet) amplified by ``2^N(0, 1)``
   each, the total power kept against the expected ``1/f`` spectrum ``(10, 1, 1, 1) / 13``.
4. Corruptions: additive Gaussian noise of standard deviation ``|N(0, 0.1^2)|``; cutout of a
   ``0.5 x 0.5`` rectangle centred uniformly at random.

Examples that no transform of a stage touches pass through that stage unchanged, so ``p = 0`` is the
identity bit for bit (the official code resamples them through an identity transform, equal to the
input up to float rounding).

The official padding of the geometric stage depends on the batch's transforms (the margin their most
extreme output corner needs, a data-dependent shape that jit cannot compile). We reflect-pad by the
largest margin it allows (``size - 1`` per side) and zero what lies beyond the official margin, so the
result is the official one (:func:`~gans_jax.augment.transforms.geometric_transform`); the margin is
the maximum over the whole batch, over all replicas under a pmap axis, as on one device.

**The adaptive p** (:func:`adjust_p`, Karras et al. 2020, Sec. 3): the overfitting heuristic
``r_t = E[sign(D(x_real))]`` over the reals D saw in the last ``interval`` steps, and
``p <- max(p + sign(r_t - target) * batch * interval / (speed_kimg * 1000), 0)`` every
``interval`` (4) steps: p can move from 0 to 1 in ``speed_kimg`` (500) thousand images; target 0.6.

**DiffAugment** (:func:`diff_augment`, the authors' ``DiffAugment_pytorch.py``): policies ``color``
(brightness ``+U(-0.5, 0.5)``, saturation ``x U(0, 2)``, contrast ``x U(0.5, 1.5)``), ``translation``
(integer shifts up to 1/8 of the size, zero fill) and ``cutout`` (a zeroed square of half the size),
applied to every image.

Modules: :mod:`~gans_jax.augment.transforms` (matrices, geometric execution, colour, filter, cutout),
:mod:`~gans_jax.augment.pipeline` (options, presets, draws, composition),
:mod:`~gans_jax.augment.diffaugment`, :mod:`~gans_jax.augment.adaptive` (the adaptive p, the step's object).
"""

from gans_jax.augment.adaptive import AUGMENT_KINDS, Augmentation, adjust_p, augmentation
from gans_jax.augment.diffaugment import (
    DIFFAUGMENT_POLICIES,
    diff_augment,
    diff_augment_examples,
    diffaugment_policy,
)
from gans_jax.augment.pipeline import (
    PRESETS,
    AugmentParams,
    AugmentSpec,
    apply_augmentation,
    augment,
    augment_examples,
    augment_parameters,
    augment_spec,
    random_variables,
)

__all__ = [
    "AUGMENT_KINDS",
    "DIFFAUGMENT_POLICIES",
    "PRESETS",
    "AugmentParams",
    "AugmentSpec",
    "Augmentation",
    "adjust_p",
    "apply_augmentation",
    "augment",
    "augment_examples",
    "augment_parameters",
    "augment_spec",
    "augmentation",
    "diff_augment",
    "diff_augment_examples",
    "diffaugment_policy",
    "random_variables",
]
