"""Auxiliary losses: InfoGAN, AC-GAN and feature matching on discriminator heads, and the
reconstruction terms of image-to-image GANs (L1, MSE).

The first part holds the losses as pure functions of head outputs, codes and labels; all return
scalars (float32) and average over the batch. The second holds the :class:`AuxiliaryLoss` terms that
the train step (:func:`gans_jax.training.step.make_train_step`) adds to the players' losses, built by
name with :func:`auxiliary_loss`.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from gans_jax.latent_codes import LatentCodes
from gans_jax.losses import PLAYERS, bind_hyperparameters

LOG_2 = float(jnp.log(2.0))


def categorical_mutual_information(code_logits: jax.Array, codes: Sequence[jax.Array]) -> jax.Array:
    """InfoGAN's variational lower bound L_I for categorical codes (Chen et al. 2016, Eq. 5).

    ``L_I = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c)``, summed over the codes; a uniform code
    with ``K`` values has ``H(c) = log K``. ``code_logits`` is ``(B, sum K_i)`` (the Q head's logits of
    every code, concatenated in order) and ``codes`` the one-hot codes ``[(B, K_i)]`` that made the
    samples. L_I <= I(c; G(z, c)) <= H(c), with equality for a perfect Q: the players *maximise* it.
    """
    total = jnp.zeros((), jnp.float32)
    start = 0
    for onehot in codes:
        size = onehot.shape[-1]
        if code_logits.shape[-1] < start + size:
            raise ValueError(
                f"code_logits of shape {code_logits.shape} hold fewer than {start + size} logits"
            )
        logits = code_logits[:, start : start + size].astype(jnp.float32)
        start += size
        log_q = jnp.mean(jnp.sum(onehot * jax.nn.log_softmax(logits), axis=-1))
        total = total + log_q + jnp.log(float(size))
    if start != code_logits.shape[-1]:
        raise ValueError(f"code_logits of shape {code_logits.shape} but the codes have {start} values")
    return total


def gaussian_mutual_information(mean: jax.Array, log_std: jax.Array, codes: jax.Array) -> jax.Array:
    """InfoGAN's lower bound L_I for continuous codes ``c ~ Unif(-1, 1)^n`` with a factored Gaussian Q.

    Chen et al. 2016, Eq. 5 and Sec. 6 ("for continuous latent codes ... a factored Gaussian"):
    ``L_I = E[sum_j log N(c_j; mu_j(x), sigma_j(x)^2)] + n log 2`` (H of Unif(-1, 1) is log 2). Pass a
    constant ``log_std`` (e.g. 0) for the fixed-variance Q of the authors' code.
    """
    mean, codes = mean.astype(jnp.float32), codes.astype(jnp.float32)
    log_std = jnp.broadcast_to(jnp.asarray(log_std, jnp.float32), mean.shape)
    if mean.shape != codes.shape:
        raise ValueError(
            f"Q mean of shape {mean.shape} does not match continuous codes of shape {codes.shape}"
        )
    z = (codes - mean) * jnp.exp(-log_std)
    log_q = -0.5 * jnp.square(z) - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    return jnp.mean(jnp.sum(log_q, axis=-1)) + codes.shape[-1] * LOG_2


def auxiliary_classifier_loss(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
    """AC-GAN's class term as a loss, ``-E[log P(C = c | X)]`` (Odena et al. 2017, Eq. 2: L_C is its
    negation; D maximises L_S + L_C, G maximises L_C - L_S, so both *minimise* this on fakes)."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits.astype(jnp.float32), labels))


def feature_matching_loss(real_features: jax.Array, fake_features: jax.Array) -> jax.Array:
    """``|| E_x f(x) - E_z f(G(z)) ||_2^2`` over an intermediate discriminator layer ``f`` (Salimans et
    al. 2016, "Improved Techniques for Training GANs", Sec. 3.1); features are flattened per example."""
    real = real_features.reshape(real_features.shape[0], -1).astype(jnp.float32)
    fake = fake_features.reshape(fake_features.shape[0], -1).astype(jnp.float32)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real features {real_features.shape} and fake {fake_features.shape} differ in size")
    return jnp.sum(jnp.square(jnp.mean(real, axis=0) - jnp.mean(fake, axis=0)))


def _matching(a: jax.Array, b: jax.Array, what: str) -> tuple[jax.Array, jax.Array]:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes {a.shape} and {b.shape} differ")
    return a.astype(jnp.float32), b.astype(jnp.float32)


def l1_loss(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """Mean absolute error ``E |target - prediction|`` over all elements: pix2pix's L1 term (Isola et al.
    2017, Eq. 3) and CycleGAN's cycle-consistency and identity terms (Zhu et al. 2017, Eq. 2)."""
    prediction, target = _matching(prediction, target, "l1_loss")
    return jnp.mean(jnp.abs(target - prediction))


def l2_loss(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error over all elements: SRGAN's pixel-wise (or feature-wise) content loss
    (Ledig et al. 2017, Eq. 4-5)."""
    prediction, target = _matching(prediction, target, "l2_loss")
    return jnp.mean(jnp.square(target - prediction))


# --------------------------------------------------------------------------------------------------
# Auxiliary terms of the train step.
# --------------------------------------------------------------------------------------------------


class AuxiliaryInputs(NamedTuple):
    """What an auxiliary loss may look at: the discriminator's outputs (dicts with ``"logits"`` and its
    heads) on the real batch (``None`` in the generator update unless the loss ``uses_real``) and on the
    fakes, both batches' labels or conditions (``None`` when unconditional), the latents ``z`` that made
    the fakes, the GAN's InfoGAN :class:`LatentCodes` (or ``None``), the player being updated, and the
    samples themselves: the generator's output (differentiable in the generator update) and the real
    batch (image-to-image reconstruction terms)."""

    fake: Mapping[str, jax.Array]
    player: str
    real: Mapping[str, jax.Array] | None = None
    real_labels: Any = None
    fake_labels: Any = None
    z: jax.Array | None = None
    codes: LatentCodes | None = None
    fake_samples: Any = None
    real_samples: Any = None


@dataclasses.dataclass(frozen=True)
class AuxiliaryLoss:
    """A term ``weight * fn(inputs)`` added to the loss of each player in ``players`` (build it with
    :func:`auxiliary_loss`).

    ``uses_real``: the generator update also runs D on the real batch (feature matching).
    ``replace_adversarial``: the generator minimises this term *instead of* its adversarial loss
    (Salimans et al. 2016, Sec. 3.1); the adversarial value is still reported as ``g_loss``.
    """

    name: str
    fn: Callable[[AuxiliaryInputs], jax.Array]
    weight: float
    players: tuple[str, ...] = PLAYERS
    uses_real: bool = False
    replace_adversarial: bool = False

    def __post_init__(self):
        object.__setattr__(self, "players", tuple(self.players))
        bad = [p for p in self.players if p not in PLAYERS]
        if bad or not self.players:
            raise ValueError(f"auxiliary loss {self.name!r}: players {self.players} must be among {PLAYERS}")
        if not isinstance(self.weight, numbers.Real):
            raise ValueError(f"auxiliary loss {self.name!r}: weight must be a number, got {self.weight!r}")
        if self.replace_adversarial and "generator" not in self.players:
            raise ValueError(f"auxiliary loss {self.name!r}: replace_adversarial needs the generator player")


def _head(outputs: Mapping[str, jax.Array] | None, key: str, loss: str) -> jax.Array:
    if outputs is None or key not in outputs:
        have = None if outputs is None else sorted(outputs)
        raise ValueError(
            f"auxiliary loss {loss!r} needs the discriminator output {key!r}; it returned {have}"
        )
    return outputs[key]


def _codes(a: AuxiliaryInputs, loss: str) -> LatentCodes:
    if not a.codes:
        raise ValueError(
            f"auxiliary loss {loss!r} needs InfoGAN latent codes (GAN.latent_codes), got {a.codes}"
        )
    return a.codes


def mutual_information_categorical_term(a: AuxiliaryInputs) -> jax.Array:
    name = "mutual_information_categorical"
    _, onehots, _ = _codes(a, name).split(a.z)
    return -categorical_mutual_information(_head(a.fake, "code_logits", name), onehots)


def mutual_information_continuous_term(a: AuxiliaryInputs, *, std: float = 0.0) -> jax.Array:
    name = "mutual_information_continuous"
    _, _, continuous = _codes(a, name).split(a.z)
    mean = _head(a.fake, "code_mean", name)
    log_std = jnp.log(std) if std > 0 else _head(a.fake, "code_log_std", name)
    return -gaussian_mutual_information(mean, log_std, continuous)


def auxiliary_classifier_term(a: AuxiliaryInputs) -> jax.Array:
    name = "auxiliary_classifier"
    if a.fake_labels is None:
        raise ValueError(f"auxiliary loss {name!r} needs a class-conditional GAN (num_classes set)")
    loss = auxiliary_classifier_loss(_head(a.fake, "class_logits", name), a.fake_labels)
    if a.player == "discriminator":  # the real term is constant for G
        loss = loss + auxiliary_classifier_loss(_head(a.real, "class_logits", name), a.real_labels)
    return loss


def feature_matching_term(a: AuxiliaryInputs) -> jax.Array:
    name = "feature_matching"
    real = lax.stop_gradient(_head(a.real, "features", name))
    return feature_matching_loss(real, _head(a.fake, "features", name))


def _samples(a: AuxiliaryInputs, loss: str):
    if a.fake_samples is None or a.real_samples is None:
        raise ValueError(f"auxiliary loss {loss!r} needs the generator's output and the real samples")
    return a.fake_samples, a.real_samples


def _entry(samples, key: str, loss: str) -> jax.Array:
    if not isinstance(samples, Mapping) or key not in samples:
        have = sorted(samples) if isinstance(samples, Mapping) else type(samples).__name__
        raise ValueError(f"auxiliary loss {loss!r} needs the generator output {key!r}; it returned {have}")
    return samples[key]


def l1_reconstruction_term(a: AuxiliaryInputs) -> jax.Array:
    fake, real = _samples(a, "l1_reconstruction")
    return l1_loss(fake, real)


def cycle_consistency_term(a: AuxiliaryInputs) -> jax.Array:
    name = "cycle_consistency"
    fake, real = _samples(a, name)
    return sum(l1_loss(_entry(fake, f"rec_{d}", name), _entry(real, d, name)) for d in ("x", "y"))


def identity_term(a: AuxiliaryInputs) -> jax.Array:
    name = "identity"
    fake, real = _samples(a, name)
    return sum(l1_loss(_entry(fake, f"idt_{d}", name), _entry(real, d, name)) for d in ("x", "y"))


def content_term(
    a: AuxiliaryInputs, *, features: Callable[[jax.Array], jax.Array] | None = None
) -> jax.Array:
    fake, real = _samples(a, "content")
    if features is None:
        return l2_loss(fake, real)
    return l2_loss(features(fake), lax.stop_gradient(features(real)))


class _Term(NamedTuple):
    fn: Callable[..., jax.Array]
    players: tuple[str, ...]  # by default
    uses_real: bool = False


AUXILIARY_LOSSES: dict[str, _Term] = {
    "mutual_information_categorical": _Term(mutual_information_categorical_term, PLAYERS),
    "mutual_information_continuous": _Term(mutual_information_continuous_term, PLAYERS),
    "auxiliary_classifier": _Term(auxiliary_classifier_term, PLAYERS),
    "feature_matching": _Term(feature_matching_term, ("generator",), uses_real=True),
    "l1_reconstruction": _Term(l1_reconstruction_term, ("generator",)),
    "cycle_consistency": _Term(cycle_consistency_term, ("generator",)),
    "identity": _Term(identity_term, ("generator",)),
    "content": _Term(content_term, ("generator",)),
}
"""Named auxiliary terms: function of :class:`AuxiliaryInputs`, default players, whether the generator
update needs D on the real batch."""


def auxiliary_loss(
    name: str | Callable[[AuxiliaryInputs], jax.Array],
    weight: float,
    *,
    players: Sequence[str] | None = None,
    replace_adversarial: bool = False,
    uses_real: bool | None = None,
    **kwargs,
) -> AuxiliaryLoss:
    """An auxiliary term for :func:`gans_jax.training.step.make_train_step`, every argument checked now
    (each player *minimises* it):

    - ``mutual_information_categorical``: ``-L_I`` of InfoGAN's categorical codes (Chen et al. 2016,
      Eq. 5-6; lambda = 1), both players; needs the ``"code_logits"`` head.
    - ``mutual_information_continuous``: ``-L_I`` of the Unif(-1, 1) codes with a Gaussian Q
      (``"code_mean"`` and ``"code_log_std"``, or a fixed ``std=...``), both players.
    - ``auxiliary_classifier``: AC-GAN's ``-L_C`` (Odena et al. 2017, Eq. 2-3) on the ``"class_logits"``
      head: real + fake cross-entropy for D, fake for G.
    - ``feature_matching``: ``||E f(x) - E f(G(z))||^2`` on the ``"features"`` output (Salimans et al.
      2016, Sec. 3.1), generator only; ``replace_adversarial=True`` as in the paper.
    - ``l1_reconstruction``: pix2pix's ``E ||y - G(x)||_1`` (Isola et al. 2017, Eq. 3; lambda = 100).
    - ``cycle_consistency``: CycleGAN's ``E ||F(G(x)) - x||_1 + E ||G(F(y)) - y||_1`` (Zhu et al. 2017,
      Eq. 2; lambda = 10) on the generator outputs ``"rec_x"``/``"rec_y"``.
    - ``identity``: ``E ||F(x) - x||_1 + E ||G(y) - y||_1`` (Zhu et al. 2017, Sec. 5.2; 0.5 lambda) on
      ``"idt_x"``/``"idt_y"``.
    - ``content``: SRGAN's content loss ``E ||phi(y) - phi(G(x))||^2`` (Ledig et al. 2017, Eq. 5-6) for a
      feature extractor ``features=phi``, pixel MSE without one.

    ``name`` may instead be a plain function ``fn(inputs: AuxiliaryInputs) -> scalar`` (both players
    unless ``players`` says otherwise; ``uses_real=True`` when its generator update reads ``inputs.real``).
    """
    if callable(name):
        label = getattr(name, "__name__", type(name).__name__)
        term = _Term(name, PLAYERS, bool(uses_real))
    elif name in AUXILIARY_LOSSES:
        if uses_real is not None:
            raise ValueError(f"auxiliary loss {name!r}: uses_real is fixed for named losses")
        term, label = AUXILIARY_LOSSES[name], name
    else:
        raise ValueError(
            f"unknown auxiliary loss {name!r}; expected one of {sorted(AUXILIARY_LOSSES)} or a function"
        )
    fn = bind_hyperparameters(term.fn, kwargs, f"auxiliary loss {label!r}")
    return AuxiliaryLoss(
        label, fn, weight, tuple(players or term.players), term.uses_real, replace_adversarial
    )
