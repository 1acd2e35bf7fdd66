"""The one entry for training an experiment, whatever its model: what ``gans-jax train`` and every
``experiments/*.py`` ``__main__`` call.

A Progressive GAN (``model.name == "progressive"``) grows stage by stage
(:func:`gans_jax.training.progressive.train_progressive`, Karras et al. 2018, Sec. 2 and App. A.1),
each stage a run of the training loop; every other model is one run of the training loop
(:func:`gans_jax.training.loop.train`).
"""

from __future__ import annotations

from typing import Any


def train(config, workdir: str, *, progress: bool = True, devices=None) -> tuple[Any, dict[str, Any]]:
    """Train (or resume) the experiment ``config`` in ``workdir``; returns the final state and the
    final metrics (also written to ``workdir/metrics.json``)."""
    if config.model.name == "progressive":
        from gans_jax.training.progressive import train_progressive

        return train_progressive(config, workdir, progress=progress, devices=devices)
    from gans_jax.training.loop import train as train_run

    return train_run(config, workdir, progress=progress, devices=devices)
