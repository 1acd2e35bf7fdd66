"""Adversarial objectives as pure functions of discriminator logits.

Every discriminator loss is ``fn(real_logits, fake_logits) -> scalar`` and every generator loss is
``fn(fake_logits) -> scalar``, except the relativistic ones, whose generator compares its fakes with real
samples: ``fn(fake_logits, real_logits) -> scalar`` (their :class:`Objective` says ``uses_real``, and
the train step then runs D on the real batch in G's update too). Logits may have any shape ((B,),
(B, 1), a PatchGAN map, ...); each expectation is the mean over all elements. Both players *minimise*
their loss. For the sigmoid-based objectives D(x) = sigmoid(logit) and every log-probability is computed
with ``jax.nn.log_sigmoid`` (log D = log_sigmoid(l), log(1 - D) = log_sigmoid(-l)), so no loss or
gradient ever evaluates log(0). Losses are computed in (at least) float32 whatever the logits' dtype.

Hyper-parameters are keyword-only arguments; ``get_objective`` binds them with
``functools.partial``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

DiscriminatorLoss = Callable[[jax.Array, jax.Array], jax.Array]
GeneratorLoss = Callable[[jax.Array], jax.Array]


def _float(x: jax.Array) -> jax.Array:
    """``x`` as an array of at least float32 precision (bfloat16/float16 logits are upcast)."""
    x = jnp.asarray(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


# --------------------------------------------------------------------------------------------------
# Original GAN (Goodfellow et al. 2014).
# --------------------------------------------------------------------------------------------------


def gan_discriminator_loss(
    real_logits: jax.Array, fake_logits: jax.Array, *, real_label: float = 1.0
) -> jax.Array:
    """Discriminator loss of the original GAN, the negated value function.

    Goodfellow et al. 2014, "Generative Adversarial Nets", Eq. 1: D maximises
    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))], so it minimises

        -E_x[r log D(x) + (1 - r) log(1 - D(x))] - E_z[log(1 - D(G(z)))],

    with D = sigmoid(logit) and r = ``real_label``. r < 1 is one-sided label smoothing (Salimans et
    al. 2016, "Improved Techniques for Training GANs", Sec. 3.4), applied to real examples only;
    r = 1 is the plain GAN loss.
    """
    if isinstance(real_label, int | float) and not 0.0 <= real_label <= 1.0:
        raise ValueError(f"real_label must lie in [0, 1]; got {real_label!r}.")
    real, fake = _float(real_logits), _float(fake_logits)
    real_term = real_label * jax.nn.log_sigmoid(real) + (1.0 - real_label) * jax.nn.log_sigmoid(-real)
    return -jnp.mean(real_term) - jnp.mean(jax.nn.log_sigmoid(-fake))


def minimax_generator_loss(fake_logits: jax.Array) -> jax.Array:
    """Saturating (minimax) generator loss E_z[log(1 - D(G(z)))].

    Goodfellow et al. 2014, Eq. 1: the generator minimises the value function's second term. Its
    gradient with respect to the logit is -D(G(z)), which vanishes when D confidently rejects the
    fakes early in training (Sec. 3), hence ``non_saturating_generator_loss``.
    """
    return jnp.mean(jax.nn.log_sigmoid(-_float(fake_logits)))


def non_saturating_generator_loss(fake_logits: jax.Array) -> jax.Array:
    """Non-saturating generator loss -E_z[log D(G(z))].

    Goodfellow et al. 2014, Sec. 3: "rather than training G to minimize log(1 - D(G(z))) we can
    train G to maximize log D(G(z))". Same fixed point, gradient -(1 - D(G(z))) with respect to
    the logit, which is strong when D rejects the fakes.
    """
    return -jnp.mean(jax.nn.log_sigmoid(_float(fake_logits)))


# --------------------------------------------------------------------------------------------------
# Least squares GAN (Mao et al. 2016). D's output is the raw logit, no sigmoid.
# --------------------------------------------------------------------------------------------------


def least_squares_discriminator_loss(
    real_logits: jax.Array, fake_logits: jax.Array, *, a: float = 0.0, b: float = 1.0
) -> jax.Array:
    """LSGAN discriminator loss 0.5 E_x[(D(x) - b)^2] + 0.5 E_z[(D(G(z)) - a)^2].

    Mao et al. 2016, "Least Squares Generative Adversarial Networks", Eq. 2: a is the target for
    fakes, b the target for reals (a=0, b=1 here; a=-1, b=1, c=0 gives Pearson chi^2, Eq. 9).
    """
    real, fake = _float(real_logits), _float(fake_logits)
    return 0.5 * jnp.mean(jnp.square(real - b)) + 0.5 * jnp.mean(jnp.square(fake - a))


def least_squares_generator_loss(fake_logits: jax.Array, *, c: float = 1.0) -> jax.Array:
    """LSGAN generator loss 0.5 E_z[(D(G(z)) - c)^2] (Mao et al. 2016, Eq. 2).

    c is the value the generator wants D to believe for fake data.
    """
    return 0.5 * jnp.mean(jnp.square(_float(fake_logits) - c))


# --------------------------------------------------------------------------------------------------
# Wasserstein GAN (Arjovsky et al. 2017). The critic's output is unbounded.
# --------------------------------------------------------------------------------------------------


def wasserstein_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """WGAN critic loss E_z[D(G(z))] - E_x[D(x)].

    Arjovsky et al. 2017, "Wasserstein GAN", Eq. 3 / Alg. 1: the critic maximises
    E_x[D(x)] - E_z[D(G(z))], an estimate of the Wasserstein-1 distance when D is 1-Lipschitz
    (enforced with ``regularizers.weight_clipping`` or ``regularizers.gradient_penalty``).
    """
    return jnp.mean(_float(fake_logits)) - jnp.mean(_float(real_logits))


def wasserstein_generator_loss(fake_logits: jax.Array) -> jax.Array:
    """WGAN generator loss -E_z[D(G(z))] (Arjovsky et al. 2017, Alg. 1 line 10)."""
    return -jnp.mean(_float(fake_logits))


# --------------------------------------------------------------------------------------------------
# Hinge loss (Lim & Ye 2017; Miyato et al. 2018; Brock et al. 2019).
# --------------------------------------------------------------------------------------------------


def hinge_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """Hinge discriminator loss E_x[relu(1 - D(x))] + E_z[relu(1 + D(G(z)))].

    Lim & Ye 2017, "Geometric GAN", Eq. 9; Miyato et al. 2018, "Spectral Normalization for GANs",
    Eq. 16; used by SAGAN and BigGAN (Brock et al. 2019).
    """
    real, fake = _float(real_logits), _float(fake_logits)
    return jnp.mean(jax.nn.relu(1.0 - real)) + jnp.mean(jax.nn.relu(1.0 + fake))


def hinge_generator_loss(fake_logits: jax.Array) -> jax.Array:
    """Hinge generator loss -E_z[D(G(z))] (Lim & Ye 2017, Eq. 10; Miyato et al. 2018, Eq. 17)."""
    return -jnp.mean(_float(fake_logits))


# --------------------------------------------------------------------------------------------------
# Relativistic pairing GAN (Jolicoeur-Martineau 2019's RSGAN; R3GAN, Huang et al. 2024).
# --------------------------------------------------------------------------------------------------


def _pairs(first: jax.Array, second: jax.Array, what: str) -> jax.Array:
    """``first - second`` for logits paired element by element (equal shapes required)."""
    first, second = _float(first), _float(second)
    if first.shape != second.shape:
        raise ValueError(
            f"{what} pairs real and fake samples one to one: their logits must have equal shapes, "
            f"got {first.shape} and {second.shape}"
        )
    return first - second


def relativistic_pairing_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """RpGAN discriminator loss E_{(x, z)}[softplus(-(D(x) - D(G(z))))] over pairs of a real and a fake.

    Jolicoeur-Martineau 2019, "The relativistic discriminator: a key element missing from standard GAN"
    (the relativistic standard GAN, RSGAN: D estimates the probability that the real sample is more
    realistic than the fake, sigmoid(D(x) - D(G(z))), and minimises -log of it, i.e.
    softplus(-(D(x) - D(G(z))))); Huang et al. 2024, "The GAN is dead; long live the GAN!", call it
    relativistic pairing (RpGAN) and regularise it with R1 + R2. The i-th real is paired with the i-th
    fake (R3GAN's ``AccumulateDiscriminatorGradients``: ``softplus(-(RealLogits - FakeLogits))``, then the
    mean): the logits must have equal shapes, each pair contributes one term of the mean.
    """
    return jnp.mean(jax.nn.softplus(-_pairs(real_logits, fake_logits, "relativistic_pairing")))


def relativistic_pairing_generator_loss(fake_logits: jax.Array, real_logits: jax.Array) -> jax.Array:
    """RpGAN generator loss E_{(x, z)}[softplus(-(D(G(z)) - D(x)))]: the discriminator's loss with the
    roles of real and fake swapped (Jolicoeur-Martineau 2019's RSGAN generator; R3GAN's
    ``AccumulateGeneratorGradients``: ``softplus(-(FakeLogits - RealLogits))``). ``real_logits`` are D's
    logits of a real batch, a constant for the generator (the train step stops their gradient); pairs as
    in the discriminator's loss.
    """
    return jnp.mean(jax.nn.softplus(-_pairs(fake_logits, real_logits, "relativistic_pairing")))


# --------------------------------------------------------------------------------------------------
# Registry.
# --------------------------------------------------------------------------------------------------


class Objective(NamedTuple):
    """A named pair of losses with their hyper-parameters bound. ``uses_real``: the generator loss is
    ``fn(fake_logits, real_logits)`` (relativistic), so G's update also runs D on the real batch."""

    name: str
    discriminator_loss: DiscriminatorLoss
    generator_loss: GeneratorLoss | Callable[[jax.Array, jax.Array], jax.Array]
    uses_real: bool = False


OBJECTIVES: dict[str, Objective] = {
    objective.name: objective
    for objective in (
        Objective("minimax", gan_discriminator_loss, minimax_generator_loss),
        Objective("non_saturating", gan_discriminator_loss, non_saturating_generator_loss),
        Objective("least_squares", least_squares_discriminator_loss, least_squares_generator_loss),
        Objective("wasserstein", wasserstein_discriminator_loss, wasserstein_generator_loss),
        Objective("hinge", hinge_discriminator_loss, hinge_generator_loss),
        Objective(
            "relativistic_pairing",
            relativistic_pairing_discriminator_loss,
            relativistic_pairing_generator_loss,
            uses_real=True,
        ),
    )
}
"""Objectives by name, with default hyper-parameters."""


PLAYERS = ("discriminator", "generator")
"""The two players; regularisers and auxiliary losses name the one(s) whose loss they join."""


def hyperparameters(fn: Callable[..., Any]) -> list[str]:
    """Names of ``fn``'s keyword-only parameters, its hyper-parameters."""
    params = inspect.signature(fn).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def bind_hyperparameters(fn: Callable[..., Any], kwargs: dict[str, Any], what: str) -> Callable[..., Any]:
    """``fn`` with ``kwargs`` bound, refusing (ValueError naming ``what``) any that is not one of its
    keyword-only parameters, so a misspelt hyper-parameter fails when a loss is built, not when traced."""
    accepted = hyperparameters(fn)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"{what} got unknown argument(s) {unknown}; it accepts {sorted(accepted) or 'none'}")
    return functools.partial(fn, **kwargs) if kwargs else fn


def _bind(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Callable[..., Any]:
    bound = {k: v for k, v in kwargs.items() if k in hyperparameters(fn)}
    return functools.partial(fn, **bound) if bound else fn


def get_objective(name: str, **kwargs: Any) -> Objective:
    """The objective called ``name`` with hyper-parameters ``kwargs`` bound.

        Accepted hyper-parameters: ``real_label`` for "minimax" and "non_saturating"; ``a``, ``b``,
        ``c`` for "least_squares"; none for "wasserstein", "hinge" and "relativistic_pairing" (RpGAN, whose
    generator loss also takes D's real logits: ``uses_real``).

        Raises:
          ValueError: for an unknown name or a hyper-parameter the objective does not take.
    """
    if name not in OBJECTIVES:
        raise ValueError(f"Unknown objective {name!r}; expected one of {sorted(OBJECTIVES)}.")
    objective = OBJECTIVES[name]
    accepted = hyperparameters(objective.discriminator_loss) + hyperparameters(objective.generator_loss)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"Objective {name!r} got unknown hyper-parameter(s) {unknown}; "
            f"it accepts {sorted(accepted) or 'none'}."
        )
    return objective._replace(
        discriminator_loss=_bind(objective.discriminator_loss, kwargs),
        generator_loss=_bind(objective.generator_loss, kwargs),
    )
