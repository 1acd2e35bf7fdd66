"""Optimisers of a config's ``optim.g`` / ``optim.d`` specs, as optax transformations.

A spec names its optimiser (``adam``, ``rmsprop``, ``sgd``: :data:`gans_jax.configs.OPTIMIZERS`, which
also hold every default) and its learning-rate schedule; :func:`scale_learning_rate` lowers the
learning rate of a running optimiser (the training loop's divergence guard). ``lr`` and Adam's ``b2``
may also be schedule specs of the update count (:mod:`gans_jax.schedules`), as R3GAN's trainer decays the
learning rate from 2e-4 to 5e-5 and raises beta2 from 0.9 to 0.99 along a cosine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import optax

from gans_jax import configs
from gans_jax import regularizers as regs
from gans_jax.schedules import is_schedule_spec, make_schedule, schedule_range

SCHEDULES = ("constant", "cosine", "linear", "constant_then_linear")


def learning_rate(opt: Mapping[str, Any], total_steps: int):
    """``opt.lr`` under ``opt.schedule``: ``constant``; ``cosine`` decay to 5% over ``total_steps``;
    ``linear`` decay to 0 over ``total_steps`` (SNGAN's ResNet runs, Miyato et al. 2018); or
    ``constant_then_linear``: constant for the first half, then linear to 0 (pix2pix's and CycleGAN's
    policy, Isola et al. 2017 and Zhu et al. 2017). ``opt.lr`` may instead be a schedule spec
    (:func:`gans_jax.schedules.make_schedule`), which is the whole schedule (``opt.schedule`` then
    ``constant``)."""
    lr, schedule = opt["lr"], opt["schedule"]
    if is_schedule_spec(lr):
        if schedule != "constant":
            raise ValueError(
                f"lr is a schedule {dict(lr)}, so the lr schedule must be 'constant', got {schedule!r}"
            )
        return make_schedule(lr, "lr")
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return optax.cosine_decay_schedule(lr, max(total_steps, 1), alpha=0.05)
    if schedule == "linear":
        return optax.linear_schedule(lr, 0.0, max(total_steps, 1))
    if schedule == "constant_then_linear":
        half = max(total_steps // 2, 1)
        return optax.join_schedules(
            [optax.constant_schedule(lr), optax.linear_schedule(lr, 0.0, max(total_steps - half, 1))], [half]
        )
    expected = ", ".join(repr(s) for s in SCHEDULES[:-1]) + f" or {SCHEDULES[-1]!r}"
    raise ValueError(f"unknown lr schedule {schedule!r}; expected {expected}")


def build_optimizer(opt: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """``opt``: ``name`` in :data:`gans_jax.configs.OPTIMIZERS`, ``lr``, ``b1``/``b2`` (adam),
    ``decay``/``eps`` (rmsprop), ``schedule`` (:func:`learning_rate`), ``clip`` (WGAN weight clipping,
    Arjovsky et al. 2017; 0 = off). Keys it lacks take the defaults of its optimiser's factory in
    :mod:`gans_jax.configs`. Adam's ``b2`` may be a schedule spec: each update then uses its beta2 in the
    moment and in the bias correction ``1 - beta2^t``, as PyTorch's Adam does when R3GAN's trainer sets
    ``betas`` before every step."""
    opt = configs.optimizer_with_defaults(opt)
    lr = learning_rate(opt, total_steps)
    name = opt["name"]
    if name == "adam" and is_schedule_spec(opt["b2"]):  # beta2 of each update from its schedule
        low, high = schedule_range(opt["b2"])
        if not 0.0 <= low <= high < 1.0:
            raise ValueError(f"Adam's b2 schedule must stay in [0, 1), got {dict(opt['b2'])}")
        tx = optax.inject_hyperparams(optax.adam)(lr, b1=opt["b1"], b2=make_schedule(opt["b2"], "b2"))
    elif name == "adam":
        tx = optax.adam(lr, b1=opt["b1"], b2=opt["b2"])
    elif name == "rmsprop":
        # PyTorch's RMSprop (the WGAN authors' optimiser): v <- decay v + (1 - decay) g^2,
        # update -lr g / (sqrt(v) + eps).
        tx = optax.rmsprop(lr, decay=opt["decay"], eps=opt["eps"], eps_in_sqrt=False)
    else:
        tx = optax.sgd(lr)
    # A run-time learning-rate factor (exact for adam, rmsprop and sgd, whose updates are linear in
    # the learning rate) that the divergence guard lowers after restoring a good checkpoint.
    tx = optax.chain(tx, optax.inject_hyperparams(optax.scale)(step_size=1.0))
    if opt["clip"]:
        tx = optax.chain(tx, regs.weight_clipping(opt["clip"]))
    return tx


def scale_learning_rate(opt_state, factor: float):
    """Multiply the run-time learning-rate factor of an optimiser built by :func:`build_optimizer`."""

    def is_factor(node) -> bool:
        return hasattr(node, "hyperparams") and "step_size" in getattr(node, "hyperparams", {})

    def scale(node):
        if not is_factor(node):
            return node
        return node._replace(
            hyperparams={**node.hyperparams, "step_size": node.hyperparams["step_size"] * factor}
        )

    return jax.tree.map(scale, opt_state, is_leaf=is_factor)
