"""Networks trained elsewhere: official checkpoints converted into ``(gan, state)``.

:func:`load` reads a supported file (or a folder of them) and returns the :class:`GAN` of its
architecture with a :class:`GANState` holding its weights: ``gan.generate(state, z, labels)`` samples
from it and the discriminator scores images as in a run trained here. :func:`write_workdir` (``gans-jax
convert SRC --workdir OUT``) stores that as a workdir (``config.json``, ``run.json`` and an Orbax
checkpoint at step 0), which ``sample``, ``interpolate``, ``metrics`` and ``translate`` read like a
trained run and ``train --config.train.init_from=OUT`` fine-tunes.

Each supported format has a converter module (:data:`CONVERTERS`). A converter reads its files as data
through :mod:`gans_jax.torch_files` (or a restricted unpickler of its own): nothing from a file is ever
imported or executed. It returns a :class:`Converted`: an experiment config whose networks have the
file's architecture (the config :func:`gans_jax.builders.build_gan` rebuilds them from), the data
shapes, and the variables. :func:`load` checks every converted array against the shapes of the networks
built from that config, so a converter cannot silently drop or mis-shape a weight.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gans_jax.training.state import GAN, GANState

# kind -> converter module; each module has ``detect(path) -> str | None`` (the kind it recognises in a
# file or folder, or None) and ``convert(path, kind) -> Converted``. Imported only when used.
CONVERTERS: dict[str, str] = {
    "stylegan2-ada": "gans_jax.pretrained.stylegan2",  # NVlabs stylegan2-ada-pytorch network pickles
    "pix2pix": "gans_jax.pretrained.pytorch_i2i",
    "cyclegan": "gans_jax.pretrained.pytorch_i2i",
    "dcgan-pytorch": "gans_jax.pretrained.pytorch_dcgan",
    "biggan-pytorch": "gans_jax.pretrained.biggan",
}


class ConversionError(ValueError):
    """The file is not a checkpoint a converter supports; the message says what was found and what
    was expected."""


@dataclasses.dataclass
class Converted:
    """A converted checkpoint.

    ``config``: an experiment config (``gans_jax.configs.default_config()`` with the file's architecture
    set) whose :func:`~gans_jax.builders.build_gan` builds networks of exactly these variables.
    ``generator`` / ``discriminator``: the networks' Flax variables (``{"params": ..., other collections}``;
    a collection left out keeps its initial value, e.g. batch-norm statistics of a file without them);
    ``None`` when the file has no such network (it keeps its random initialisation). ``ema``: the EMA
    generator's parameters (StyleGAN2-ADA's ``G_ema``, BigGAN's ``G_ema.pth``), or ``None``. ``extra``:
    ``GANState.extra`` entries (StyleGAN2's ``pl_mean``). ``source`` names what was read."""

    kind: str
    config: ml_collections.ConfigDict
    sample_shape: tuple[int, ...]
    num_classes: int | None = None
    condition_shape: tuple[int, ...] | None = None
    generator: Mapping[str, Any] | None = None
    discriminator: Mapping[str, Any] | None = None
    ema: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    source: str = ""


def _module(kind: str):
    return importlib.import_module(CONVERTERS[kind])


def detect(path: str | os.PathLike[str]) -> str:
    """The kind of checkpoint at ``path`` (a file, or a folder of an official run's files)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist")
    found = []
    for kind in sorted(set(CONVERTERS.values())):
        found.extend(k for k in [importlib.import_module(kind).detect(path)] if k)
    if not found:
        raise ConversionError(
            f"{path}: not a checkpoint of a supported kind; expected one of {sorted(CONVERTERS)} "
            "(gans-jax convert --help lists the files each reads)"
        )
    if len(set(found)) > 1:
        raise ConversionError(f"{path} looks like several kinds {sorted(set(found))}: give --kind")
    return found[0]


def convert(path: str | os.PathLike[str], kind: str | None = None) -> Converted:
    """The :class:`Converted` checkpoint at ``path``; ``kind`` (one of :data:`CONVERTERS`) is detected
    when not given."""
    path = os.fspath(path)
    if kind is None:
        kind = detect(path)
    elif kind not in CONVERTERS:
        raise ConversionError(f"unknown checkpoint kind {kind!r}; expected one of {sorted(CONVERTERS)}")
    elif not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist")
    converted = _module(kind).convert(path, kind)
    converted.source = converted.source or path
    return converted


def load(path: str | os.PathLike[str], kind: str | None = None) -> tuple[GAN, GANState]:
    """``(gan, state)`` of the checkpoint at ``path`` (:func:`convert`, then :func:`assemble`)."""
    return assemble(convert(path, kind))


def assemble(converted: Converted) -> tuple[GAN, GANState]:
    """The GAN of ``converted.config`` and its state holding the converted variables: every converted
    array must match the shape of the variable it replaces (a :class:`ConversionError` names any that
    does not, or that the networks lack); optimiser states are fresh."""
    from gans_jax import builders

    c = converted
    gan = builders.build_gan(c.config, c.sample_shape, c.num_classes, c.condition_shape)
    state = builders.init_state(c.config, gan, jax.random.PRNGKey(0), c.sample_shape)
    updates = {}
    for role, variables, params_field, collections_field in (
        ("generator", c.generator, "g_params", "g_collections"),
        ("discriminator", c.discriminator, "d_params", "d_collections"),
    ):
        if variables is None:
            continue
        variables = dict(variables)
        if "params" not in variables:
            raise ConversionError(f"{c.source}: the converted {role} has no 'params'")
        params = variables.pop("params")
        updates[params_field] = _fill(getattr(state, params_field), params, f"{role} params", c.source)
        collections = dict(getattr(state, collections_field))
        for name, value in variables.items():
            if name not in collections:
                raise ConversionError(
                    f"{c.source}: the converted {role} has a collection {name!r} that "
                    f"{type(getattr(gan, role)).__name__} lacks (it has {sorted(collections)})"
                )
            collections[name] = _fill(collections[name], value, f"{role} {name}", c.source, partial=True)
        updates[collections_field] = collections
    if c.ema is not None:
        if state.ema_params is None:
            raise ConversionError(
                f"{c.source}: an EMA generator was converted but config.train.ema_decay is 0"
            )
        updates["ema_params"] = _fill(state.ema_params, c.ema, "EMA generator params", c.source)
    if c.extra:
        unknown = sorted(set(c.extra) - set(state.extra))
        if unknown:
            raise ConversionError(
                f"{c.source}: converted state entries {unknown} that the train step does not keep"
            )
        updates["extra"] = {**state.extra, **{k: jnp.asarray(v, jnp.float32) for k, v in c.extra.items()}}
    return gan, state.replace(**updates)


def _fill(template, converted, what: str, source: str, *, partial: bool = False):
    """``template`` (nested dicts of arrays) with the leaves of ``converted`` put in, checked by path and
    shape. Every template leaf must be converted unless ``partial``; extra converted leaves are refused."""
    flat_template = _flatten(template)
    flat = _flatten(converted)
    some = lambda paths: f"{paths[:5]}" + (f" (+{len(paths) - 5} more)" if len(paths) > 5 else "")
    problems = []
    if unknown := sorted(set(flat) - set(flat_template)):
        problems.append(f"no such variable {some(unknown)}")
    if (missing := sorted(set(flat_template) - set(flat))) and not partial:
        problems.append(f"not converted {some(missing)}")
    if problems:
        raise ConversionError(
            f"{source}: the converted {what} do not match the networks built from its config: "
            + "; ".join(problems)
        )
    for path, value in flat.items():
        want = flat_template[path]
        if np.shape(value) != np.shape(want):
            raise ConversionError(
                f"{source}: {what} {path} has shape {np.shape(value)}, the network's is {np.shape(want)}"
            )
    out = dict(flat_template)
    out.update({p: jnp.asarray(v, jnp.asarray(flat_template[p]).dtype) for p, v in flat.items()})
    return _unflatten(out)


def _flatten(tree, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, Mapping):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}/{key}" if prefix else str(key)))
        return out
    return {prefix: tree}


def _unflatten(flat: Mapping[str, Any]) -> dict:
    out: dict = {}
    for path, value in flat.items():
        node = out
        *parents, last = path.split("/")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return out


def write_workdir(converted: Converted, gan: GAN, state: GANState, workdir: str) -> str:
    """Store a converted checkpoint as a workdir that ``sample``, ``interpolate``, ``metrics`` and
    ``translate`` read like a trained run: ``config.json``, ``run.json`` (data shapes, and what was
    converted from) and an Orbax checkpoint of ``state`` at its step (0)."""
    from gans_jax.training.checkpoint import Checkpointer

    checkpoints = os.path.join(workdir, "checkpoints")
    if os.path.isdir(checkpoints) and os.listdir(checkpoints):
        raise FileExistsError(f"{workdir} already holds checkpoints; convert into a new --workdir")
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(converted.config.to_json_best_effort(indent=2, sort_keys=True))
    run = {
        "sample_shape": list(converted.sample_shape),
        "num_classes": gan.num_classes,
        "converted_from": os.path.abspath(converted.source),
        "kind": converted.kind,
    }
    if converted.condition_shape is not None:
        run["condition_shape"] = list(converted.condition_shape)
    with open(os.path.join(workdir, "run.json"), "w") as f:
        json.dump(run, f)
    checkpointer = Checkpointer(checkpoints, owner=True)
    try:
        checkpointer.save(int(state.step), state, {"iterator": {}})
    finally:
        checkpointer.close()
    return workdir


def convert_main(argv: list[str]) -> None:
    """``gans-jax convert SRC --workdir OUT [--kind KIND]``: an official checkpoint (file or folder) as a
    workdir (:func:`write_workdir`); ``--kind`` is detected when omitted."""
    from gans_jax.cli_flags import parse_flags_and_paths, require

    def define(fv):
        from absl import flags

        workdir_help = "Workdir to write (config.json, run.json, checkpoints/)."
        flags.DEFINE_string("workdir", None, workdir_help, flag_values=fv)
        kinds = ", ".join(sorted(CONVERTERS)) or "none yet"
        flags.DEFINE_string(
            "kind", None, f"Checkpoint kind (detected when omitted): {kinds}.", flag_values=fv
        )

    fv, (source,) = parse_flags_and_paths(argv, define, 1, "gans-jax convert SRC --workdir OUT [--kind KIND]")
    require(fv, "workdir")
    converted = convert(source, fv.kind)
    gan, state = assemble(converted)
    write_workdir(converted, gan, state, fv.workdir)
    print(f"converted {converted.kind} {converted.source} to {fv.workdir}")


__all__ = [
    "CONVERTERS",
    "ConversionError",
    "Converted",
    "assemble",
    "convert",
    "convert_main",
    "detect",
    "load",
    "write_workdir",
]
