"""Shared test helpers."""

import os

import jax

from gans_jax.experiment import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONE_DEVICE = jax.devices()[:1]


def experiment_config(name: str, **overrides):
    """``experiments/<name>.py``'s config (``name`` may end in ``:preset``) with dotted overrides
    (``**{"train.steps": 10}``)."""
    name, _, preset = name.partition(":")
    path = os.path.join(ROOT, "experiments", f"{name}.py")
    return load_config(f"{path}:{preset}" if preset else path, overrides)
